"""What the built-in kinds add to the generic rules: defaults, checks, conversions.

Each `prepare_*` function gets a fresh object it may change and returns causes
(422); malformed bodies raise `ApiError` 400, as decoding errors do upstream.
Sources: k8s.io/kubernetes pkg/apis/core/validation (Secret, ConfigMap, Namespace,
Event), pkg/registry/core/namespace/strategy.go, and apiextensions-apiserver
pkg/apis/apiextensions/validation (CRD).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

from modelsync_sandbox.kube import causes as c
from modelsync_sandbox.kube.errors import JsonObject, bad_request
from modelsync_sandbox.kube.resources import CRDS, EVENTS_V1, NAMESPACES, ResourceType
from modelsync_sandbox.kube.validation import Cause, NameRule, validate_object_name

# pkg/apis/core/validation: ValidateConfigMap / ValidateSecret size limit (1 MiB).
MAX_DATA_BYTES = 1024 * 1024
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
NAMESPACE_FINALIZER = "kubernetes"
CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def name_rule(rt: ResourceType) -> NameRule:
    """Which name validation the real API applies to the type."""
    return "label" if rt is NAMESPACES else "subdomain"


def prepare_create(rt: ResourceType, obj: JsonObject) -> list[Cause]:
    hook = _CREATE.get(rt.storage_key)
    return hook(rt, obj, None) if hook else []


def prepare_update(rt: ResourceType, new: JsonObject, old: JsonObject) -> list[Cause]:
    hook = _UPDATE.get(rt.storage_key)
    return hook(rt, new, old) if hook else []


# -- Secrets and ConfigMaps --------------------------------------------------------


def _config_key_causes(field: str, keys: Any) -> list[Cause]:
    return [
        c.invalid(
            f"{field}[{key}]",
            key,
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
            "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
            "'[-._a-zA-Z0-9]+')",
        )
        for key in keys
        if not _CONFIG_KEY.match(str(key))
    ]


def _decode_base64_map(kind: str, value: Any) -> int:
    """Check the values of a `data`/`binaryData` map are base64; returns decoded size."""
    if value is None:
        return 0
    if not isinstance(value, dict):
        raise bad_request(
            f'{kind} in version "v1" cannot be handled as a {kind}: '
            "json: cannot unmarshal into Go struct field of type map[string][]uint8"
        )
    size = 0
    for item in value.values():
        if not isinstance(item, str):
            raise bad_request(
                f'{kind} in version "v1" cannot be handled as a {kind}: illegal base64 data'
            )
        try:
            size += len(base64.b64decode(item, validate=True))
        except (binascii.Error, ValueError):
            raise bad_request(
                f'{kind} in version "v1" cannot be handled as a {kind}: illegal base64 data'
            ) from None
    return size


def _immutable_causes(
    new: JsonObject, old: JsonObject | None, fields: tuple[str, ...]
) -> list[Cause]:
    if old is None or not old.get("immutable"):
        return []
    found = []
    if not new.get("immutable"):
        found.append(c.forbidden("immutable", "field is immutable when `immutable` is set"))
    for name in fields:
        if new.get(name) != old.get(name):
            found.append(c.forbidden(name, "field is immutable when `immutable` is set"))
    return found


def _secret(_rt: ResourceType, obj: JsonObject, old: JsonObject | None) -> list[Cause]:
    data = obj.get("data")
    _decode_base64_map("Secret", data)
    string_data = obj.pop("stringData", None)
    found: list[Cause] = []
    if string_data is not None:
        if not isinstance(string_data, dict):
            raise bad_request(
                'Secret in version "v1" cannot be handled as a Secret: '
                "stringData must be a map of strings"
            )
        merged = dict(data or {})
        for key, value in string_data.items():
            merged[str(key)] = base64.b64encode(str(value).encode()).decode()
        data = merged
        obj["data"] = merged
    if data is not None and not data:
        obj.pop("data")
    found += _config_key_causes("data", (data or {}).keys())
    size = sum(len(k) + len(base64.b64decode(v)) for k, v in (data or {}).items())
    if size > MAX_DATA_BYTES:
        found.append(c.too_long("data", MAX_DATA_BYTES))
    obj["type"] = obj.get("type") or "Opaque"
    if old is not None and obj["type"] != old.get("type", "Opaque"):
        found.append(c.immutable("type", obj["type"]))
    found += _immutable_causes(obj, old, ("data",))
    return found


def _configmap(_rt: ResourceType, obj: JsonObject, old: JsonObject | None) -> list[Cause]:
    data = obj.get("data") or {}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise bad_request(
            'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
            "data values must be strings"
        )
    binary = obj.get("binaryData") or {}
    size = _decode_base64_map("ConfigMap", binary)
    found = _config_key_causes("data", data.keys()) + _config_key_causes("binaryData", binary)
    for key in sorted(set(data) & set(binary)):
        found.append(c.invalid("data", key, "duplicate of key present in binaryData"))
    size += sum(len(k) + len(v.encode()) for k, v in data.items()) + sum(len(k) for k in binary)
    if size > MAX_DATA_BYTES:
        found.append(
            Cause("FieldValueTooLong", f"Too long: must have at most {MAX_DATA_BYTES} bytes", "")
        )
    found += _immutable_causes(obj, old, ("data", "binaryData"))
    return found


# -- Namespaces --------------------------------------------------------------------


def _namespace_create(_rt: ResourceType, obj: JsonObject, _old: JsonObject | None) -> list[Cause]:
    meta = obj["metadata"]
    meta.setdefault("labels", {})[NAMESPACE_NAME_LABEL] = meta.get("name", "")
    obj["spec"] = {"finalizers": [NAMESPACE_FINALIZER]}
    obj["status"] = {"phase": "Active"}
    return []


def _namespace_update(_rt: ResourceType, obj: JsonObject, old: JsonObject | None) -> list[Cause]:
    assert old is not None
    meta = obj["metadata"]
    meta.setdefault("labels", {})[NAMESPACE_NAME_LABEL] = meta.get("name", "")
    return []


# -- Events ------------------------------------------------------------------------

# core/v1 field <-> events.k8s.io/v1 field (pkg/apis/events/v1/conversion.go).
_EVENT_FIELDS = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
)
_CORE_TO_V1 = dict(_EVENT_FIELDS)
_V1_TO_CORE = {v: k for k, v in _EVENT_FIELDS}


def to_wire(rt: ResourceType, obj: JsonObject) -> JsonObject:
    """The stored object as the requested resource shows it."""
    if rt.representation == EVENTS_V1:
        out = {_CORE_TO_V1.get(k, k): v for k, v in obj.items()}
        out["apiVersion"] = rt.api_version
        return out
    if obj.get("apiVersion") != rt.api_version:
        out = dict(obj)
        out["apiVersion"] = rt.api_version
        return out
    return obj


def from_wire(rt: ResourceType, obj: JsonObject) -> JsonObject:
    if rt.representation == EVENTS_V1:
        out = {_V1_TO_CORE.get(k, k): v for k, v in obj.items()}
        out["apiVersion"] = "v1"
        return out
    return obj


def _event(rt: ResourceType, obj: JsonObject, _old: JsonObject | None) -> list[Cause]:
    found: list[Cause] = []
    namespace = obj["metadata"].get("namespace", "")
    involved = obj.get("involvedObject") or {}
    involved_ns = involved.get("namespace") if isinstance(involved, dict) else None
    if involved_ns and involved_ns != namespace:
        found.append(
            c.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
        )
    if obj.get("eventTime"):
        # "New" events (events.k8s.io semantics) need their reporter.
        for core, v1 in (
            ("reportingComponent", "reportingController"),
            ("reportingInstance", "reportingInstance"),
            ("action", "action"),
            ("reason", "reason"),
        ):
            if not obj.get(core):
                name = v1 if rt.representation == EVENTS_V1 else core
                found.append(c.required(name))
    elif rt.representation == EVENTS_V1:
        found.append(c.required("eventTime"))
    return found


# -- CustomResourceDefinitions -----------------------------------------------------


def _crd_causes(obj: JsonObject) -> list[Cause]:
    found: list[Cause] = []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [c.required("spec")]
    group = spec.get("group")
    raw_names = spec.get("names")
    names: JsonObject = raw_names if isinstance(raw_names, dict) else {}
    plural = names.get("plural")
    kind = names.get("kind")
    if not group:
        found.append(c.required("spec.group"))
    elif "." not in str(group):
        found.append(c.invalid("spec.group", group, "should be a domain with at least one dot"))
    else:
        found += validate_object_name(str(group), "subdomain", field="spec.group")
    if not plural:
        found.append(c.required("spec.names.plural"))
    elif not _DNS_LABEL.match(str(plural)):
        found.append(
            c.invalid(
                "spec.names.plural",
                plural,
                "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-', and must start and end with an alphanumeric "
                "character",
            )
        )
    singular = names.get("singular")
    if singular and not _DNS_LABEL.match(str(singular)):
        found.append(
            c.invalid(
                "spec.names.singular",
                singular,
                "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-'",
            )
        )
    if not kind:
        found.append(c.required("spec.names.kind"))
    name = obj["metadata"].get("name", "")
    if plural and group and name != f"{plural}.{group}":
        found.append(c.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        found.append(c.not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    found += _crd_version_causes(spec.get("versions"))
    return found


def _crd_version_causes(versions: Any) -> list[Cause]:
    if not isinstance(versions, list) or not versions:
        return [
            c.invalid(
                "spec.versions",
                versions or [],
                "must have exactly one version marked as storage version",
            )
        ]
    found: list[Cause] = []
    seen: set[str] = set()
    storage = 0
    for i, version in enumerate(versions):
        field = f"spec.versions[{i}]"
        if not isinstance(version, dict):
            found.append(c.invalid(field, version, "must be an object"))
            continue
        vname = str(version.get("name") or "")
        if not vname:
            found.append(c.required(f"{field}.name"))
        elif not _DNS_LABEL.match(vname):
            found.append(
                c.invalid(
                    f"{field}.name",
                    vname,
                    "a DNS-1035 label must consist of lower case alphanumeric characters or '-'",
                )
            )
        if vname in seen:
            found.append(c.duplicate(f"{field}.name", vname))
        seen.add(vname)
        if version.get("storage"):
            storage += 1
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            found.append(c.required(f"{field}.schema.openAPIV3Schema", "schemas are required"))
        elif schema.get("type") != "object":
            found.append(
                c.invalid(
                    f"{field}.schema.openAPIV3Schema.type",
                    schema.get("type", ""),
                    "must be object at the root",
                )
            )
    if storage != 1:
        found.append(
            c.invalid(
                "spec.versions",
                [v.get("name") for v in versions if isinstance(v, dict)],
                "must have exactly one version marked as storage version",
            )
        )
    if not any(isinstance(v, dict) and v.get("served") for v in versions):
        found.append(
            c.invalid(
                "spec.versions",
                [v.get("name") for v in versions if isinstance(v, dict)],
                "must have at least one version marked as served",
            )
        )
    return found


def _crd_create(_rt: ResourceType, obj: JsonObject, _old: JsonObject | None) -> list[Cause]:
    obj.pop("status", None)
    return _crd_causes(obj)


def _crd_update(_rt: ResourceType, obj: JsonObject, old: JsonObject | None) -> list[Cause]:
    assert old is not None
    found = _crd_causes(obj)
    old_spec = old.get("spec") or {}
    spec = obj.get("spec") or {}
    if spec.get("scope") != old_spec.get("scope"):
        found.append(c.immutable("spec.scope", spec.get("scope")))
    if spec.get("group") != old_spec.get("group"):
        found.append(c.immutable("spec.group", spec.get("group")))
    return found


def crd_storage_version(crd: JsonObject) -> str:
    for version in (crd.get("spec") or {}).get("versions") or []:
        if isinstance(version, dict) and version.get("storage"):
            return str(version.get("name"))
    return ""


def crd_accepted_status(crd: JsonObject, now: str) -> JsonObject:
    """The status the CRD controllers write once names are accepted and the API is up."""
    names = dict((crd.get("spec") or {}).get("names") or {})
    kind = str(names.get("kind", ""))
    names.setdefault("singular", kind.lower())
    names.setdefault("listKind", f"{kind}List")
    old = crd.get("status") or {}
    stored = list(old.get("storedVersions") or [])
    storage = crd_storage_version(crd)
    if storage and storage not in stored:
        stored.append(storage)
    return {
        "acceptedNames": names,
        "conditions": [
            {
                "lastTransitionTime": now,
                "message": "no conflicts found",
                "reason": "NoConflicts",
                "status": "True",
                "type": "NamesAccepted",
            },
            {
                "lastTransitionTime": now,
                "message": "the initial names have been accepted",
                "reason": "InitialNamesAccepted",
                "status": "True",
                "type": "Established",
            },
        ],
        "storedVersions": stored,
    }


def is_established(crd: JsonObject) -> bool:
    return any(
        x.get("type") == "Established" and x.get("status") == "True"
        for x in (crd.get("status") or {}).get("conditions") or []
    )


def with_condition(status: JsonObject, condition: JsonObject) -> JsonObject:
    conditions = [x for x in status.get("conditions") or [] if x.get("type") != condition["type"]]
    return {**status, "conditions": [*conditions, condition]}


_Hook = Callable[[ResourceType, JsonObject, JsonObject | None], list[Cause]]
_CREATE: dict[str, _Hook] = {
    "/secrets": _secret,
    "/configmaps": _configmap,
    "/namespaces": _namespace_create,
    "/events": _event,
    CRDS.storage_key: _crd_create,
}
_UPDATE: dict[str, _Hook] = {
    "/secrets": _secret,
    "/configmaps": _configmap,
    "/namespaces": _namespace_update,
    "/events": _event,
    CRDS.storage_key: _crd_update,
}


# Top-level fields each built-in kind decodes; anything else is dropped (and warned about),
# as decoding into the Go types does.
_COMMON = ("apiVersion", "kind", "metadata")
KNOWN_FIELDS: dict[str, frozenset[str]] = {
    "/secrets": frozenset((*_COMMON, "data", "stringData", "type", "immutable")),
    "/configmaps": frozenset((*_COMMON, "data", "binaryData", "immutable")),
    "/namespaces": frozenset((*_COMMON, "spec", "status")),
    "/events": frozenset(
        (
            *_COMMON,
            "involvedObject",
            "reason",
            "message",
            "source",
            "firstTimestamp",
            "lastTimestamp",
            "count",
            "type",
            "eventTime",
            "series",
            "action",
            "related",
            "reportingComponent",
            "reportingInstance",
        )
    ),
    "coordination.k8s.io/leases": frozenset((*_COMMON, "spec")),
    CRDS.storage_key: frozenset((*_COMMON, "spec", "status")),
}
