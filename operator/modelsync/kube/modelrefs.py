"""ModelRef I/O: one labelled LIST per sync, and the writes a plan needs.

Objects travel as plain JSON dicts; the API server validates them against the CRD schema.
The writes go through `KubeApi.send` (bodies encoded once, answers decoded only as far as
the caller needs: a write returns the identity of what it stored, a read the whole object).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from modelsync.api.constants import GROUP, LABEL_SYNC, PLURAL_MODELREF, VERSION
from modelsync.api.labels import sanitize_label_value
from modelsync.kube.client import KubeApi
from modelsync.kube.wire import (
    WrittenObject,
    decode_object,
    decode_written,
    encode,
    ignore_answer,
)

__all__ = [
    "create_modelref",
    "delete_modelref",
    "get_modelref",
    "list_modelrefs",
    "patch_modelref",
    "patch_modelref_status",
]

JsonDict = dict[str, Any]

_LIST_PAGE = 500
_MERGE_PATCH = "application/merge-patch+json"


def _where(namespace: str, name: str) -> str:
    return f'ModelRef "{name}" in namespace "{namespace}"'


async def list_modelrefs(api: KubeApi, namespace: str, sync_name: str) -> list[JsonDict]:
    """All ModelRefs labelled `modelsync.dev/sync=<sync_name>` (as a valid label value) in
    the namespace.

    One LIST request unless the server paginates (limit/continue) a very large result.
    """
    selector = f"{LABEL_SYNC}={sanitize_label_value(sync_name)}"
    items: list[JsonDict] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "label_selector": selector,
            "limit": _LIST_PAGE,
        }
        if token:
            kwargs["_continue"] = token
        page = await api.call(
            "list",
            PLURAL_MODELREF,
            f'list ModelRefs of sync "{sync_name}" in namespace "{namespace}"',
            api.custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL_MODELREF,
            **kwargs,
        )
        listing = cast(JsonDict, page)
        items.extend(cast(list[JsonDict], listing.get("items") or []))
        token = (listing.get("metadata") or {}).get("continue") or None
        if not token:
            return items


async def get_modelref(api: KubeApi, namespace: str, name: str) -> JsonDict:
    return await api.send(
        "get",
        PLURAL_MODELREF,
        f"get {_where(namespace, name)}",
        api.custom.get_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        PLURAL_MODELREF,
        name,
        decode=decode_object,
    )


async def create_modelref(
    api: KubeApi, namespace: str, body: Mapping[str, Any]
) -> WrittenObject | None:
    """Create; what was stored (None: the answer did not say)."""
    name = str(body.get("metadata", {}).get("name", ""))
    return await api.send(
        "create",
        PLURAL_MODELREF,
        f"create {_where(namespace, name)}",
        api.custom.create_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        PLURAL_MODELREF,
        decode=decode_written,
        body=encode(body),
    )


async def patch_modelref(
    api: KubeApi, namespace: str, name: str, patch: Mapping[str, Any]
) -> WrittenObject | None:
    """JSON merge patch (RFC 7386) of metadata/spec."""
    return await api.send(
        "patch",
        PLURAL_MODELREF,
        f"patch {_where(namespace, name)}",
        api.custom.patch_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        PLURAL_MODELREF,
        name,
        decode=decode_written,
        body=encode(patch),
        content_type=_MERGE_PATCH,
    )


async def patch_modelref_status(
    api: KubeApi, namespace: str, name: str, patch: Mapping[str, Any]
) -> WrittenObject | None:
    """Merge-patch the status subresource; `patch` is `{"status": {...}}`."""
    return await api.send(
        "patch",
        f"{PLURAL_MODELREF}/status",
        f"patch status of {_where(namespace, name)}",
        api.custom.patch_namespaced_custom_object_status,
        GROUP,
        VERSION,
        namespace,
        PLURAL_MODELREF,
        name,
        decode=decode_written,
        body=encode(patch),
        content_type=_MERGE_PATCH,
    )


async def delete_modelref(
    api: KubeApi,
    namespace: str,
    name: str,
    *,
    uid: str | None = None,
    resource_version: str | None = None,
) -> None:
    """Delete with preconditions: a ModelRef that was recreated or changed since it was
    listed answers 409 instead of being deleted."""
    preconditions: JsonDict = {}
    if uid:
        preconditions["uid"] = uid
    if resource_version:
        preconditions["resourceVersion"] = resource_version
    body: JsonDict = {"apiVersion": "v1", "kind": "DeleteOptions"}
    if preconditions:
        body["preconditions"] = preconditions
    await api.send(
        "delete",
        PLURAL_MODELREF,
        f"delete {_where(namespace, name)}",
        api.custom.delete_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        PLURAL_MODELREF,
        name,
        decode=ignore_answer,
        body=encode(body),
    )
