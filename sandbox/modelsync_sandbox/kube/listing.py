"""List queries: selectors, namespace, limit/continue, resourceVersion semantics."""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from modelsync_sandbox.kube import errors
from modelsync_sandbox.kube.errors import JsonObject
from modelsync_sandbox.kube.resources import EVENTS_V1, ResourceType
from modelsync_sandbox.kube.selectors import (
    FieldRequirement,
    FieldSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from modelsync_sandbox.kube.store import Store

# Field labels each resource supports (pkg/registry/*/strategy.go GetAttrs /
# AddFieldLabelConversionFunc); every resource supports metadata.name/namespace.
_BASE_FIELDS = ("metadata.name", "metadata.namespace")
_EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "/events": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "/secrets": ("type",),
    "/namespaces": ("status.phase",),
}
# events.k8s.io/v1 has field labels of its own, mapped onto the core ones the shared storage
# indexes (pkg/apis/events/v1 AddFieldLabelConversionsForEvent); the core names are refused.
_EVENTS_V1_FIELDS = {
    "metadata.name": "metadata.name",
    "metadata.namespace": "metadata.namespace",
    "reason": "reason",
    "type": "type",
    "reportingController": "reportingComponent",
    **{
        f"regarding.{key}": f"involvedObject.{key}"
        for key in (
            "kind",
            "namespace",
            "name",
            "uid",
            "apiVersion",
            "resourceVersion",
            "fieldPath",
        )
    },
}
_FIELD_TERM = re.compile(r"^\s*([^=!\s]+)\s*(?:==|!=|=)")

Matcher = Callable[[JsonObject], bool]


@dataclass(frozen=True)
class ListQuery:
    matches: Matcher | None
    limit: int
    start_after: tuple[str, str] | None
    continue_rv: int
    resource_version: str
    resource_version_match: str


def _allowed_fields(rt: ResourceType) -> tuple[str, ...]:
    if rt.representation == EVENTS_V1:
        return tuple(_EVENTS_V1_FIELDS)
    return _BASE_FIELDS + _EXTRA_FIELDS.get(rt.storage_key, ()) + rt.selectable_fields


def _uses_conversion_function(rt: ResourceType) -> bool:
    """Kinds with a field label conversion function of their own answer an unknown label
    with "field label not supported" (custom resources always have one); the others with
    DefaultMetaV1FieldSelectorConversion's text."""
    return rt.custom or rt.representation == EVENTS_V1 or rt.storage_key in _EXTRA_FIELDS


def _check_default_field_labels(rt: ResourceType, text: str) -> None:
    """Kinds without a field label conversion function answer as
    DefaultMetaV1FieldSelectorConversion does; the others (events, secrets, namespaces)
    with "field label not supported", which parse_field_selector raises."""
    allowed = _allowed_fields(rt)
    for term in text.split(","):
        match = _FIELD_TERM.match(term)
        if match and match.group(1) not in allowed:
            known = ", ".join(f'"{f}"' for f in allowed)
            raise errors.bad_request(
                f'"{match.group(1)}" is not a known field selector: only {known}'
            )


def build_matcher(rt: ResourceType, query: Mapping[str, str]) -> Matcher | None:
    """Label and field selectors as one predicate on stored objects; 400 if malformed."""
    label_text = query.get("labelSelector", "")
    field_text = query.get("fieldSelector", "")
    try:
        labels = parse_label_selector(label_text) if label_text.strip() else None
        if field_text:
            if not _uses_conversion_function(rt):
                _check_default_field_labels(rt, field_text)
            fields = parse_field_selector(field_text, allowed=_allowed_fields(rt))
            if rt.representation == EVENTS_V1:
                fields = FieldSelector(
                    tuple(
                        FieldRequirement(_EVENTS_V1_FIELDS[r.field], r.operator, r.value)
                        for r in fields.requirements
                    )
                )
        else:
            fields = None
    except SelectorError as exc:
        raise errors.bad_request(str(exc)) from None
    if labels is None and fields is None:
        return None

    def matches(obj: JsonObject) -> bool:
        if labels is not None and not labels.matches(
            (obj.get("metadata") or {}).get("labels") or {}
        ):
            return False
        return fields is None or fields.matches(obj)

    return matches


def encode_continue(rv: int, last: tuple[str, str]) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(last)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data: Any = json.loads(raw)
        ns, name = data["start"]
        return int(data["rv"]), (str(ns), str(name))
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise errors.bad_request(
            "continue key is not valid: incorrect encoded start "
            "resourceVersion (version meta.k8s.io/v1)"
        ) from None


def parse_list_query(rt: ResourceType, query: Mapping[str, str]) -> ListQuery:
    limit_text = query.get("limit", "")
    try:
        limit = int(limit_text) if limit_text else 0
    except ValueError:
        raise errors.bad_request(f"invalid limit: {limit_text!r}") from None
    token = query.get("continue", "")
    continue_rv, start = decode_continue(token) if token else (0, None)
    if token and query.get("resourceVersion"):
        raise errors.bad_request("specifying resource version is not allowed when using continue")
    return ListQuery(
        matches=build_matcher(rt, query),
        limit=max(limit, 0),
        start_after=start,
        continue_rv=continue_rv,
        resource_version=query.get("resourceVersion", ""),
        resource_version_match=query.get("resourceVersionMatch", ""),
    )


@dataclass
class ListResult:
    items: list[JsonObject]
    resource_version: str
    continue_token: str = ""
    remaining: int | None = None


def run_list(store: Store, rt: ResourceType, namespace: str | None, q: ListQuery) -> ListResult:
    rv = store.resource_version
    if q.start_after is not None:
        # Later pages report the first page's resourceVersion but read the current
        # state: the sandbox keeps no snapshots (a documented gap).
        rv = q.continue_rv
    elif q.resource_version_match == "Exact" and q.resource_version not in ("", str(rv)):
        raise errors.expired(f"too old resource version: {q.resource_version} ({rv})")
    coll = store.collections.get(rt.storage_key)
    if coll is None:
        return ListResult([], str(rv))
    keys = coll.sorted_keys()
    objects = coll.objects
    if namespace is not None:
        lo = bisect.bisect_left(keys, (namespace, ""))
        hi = bisect.bisect_left(keys, (namespace + "\x00", ""))
    else:
        lo, hi = 0, len(keys)
    if q.start_after is not None:
        lo = max(lo, bisect.bisect_right(keys, q.start_after))
    items: list[JsonObject] = []
    i = lo
    matches = q.matches
    while i < hi:
        obj = objects[keys[i]]
        i += 1
        if matches is None or matches(obj):
            items.append(obj)
            if q.limit and len(items) >= q.limit:
                break
    if q.limit and len(items) >= q.limit and i < hi:
        remaining = (hi - i) if matches is None else None
        return ListResult(items, str(rv), encode_continue(rv, keys[i - 1]), remaining)
    return ListResult(items, str(rv))
