"""ModelCatalogSync I/O: read one or list them, merge-patch its status, set the manual-trigger
annotation or spec.suspend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from modelsync.api.constants import (
    ANNOTATION_RECONCILE_MODELS,
    ANNOTATION_RECONCILE_REQUESTED_AT,
    GROUP,
    PLURAL_SYNC,
    VERSION,
)
from modelsync.api.model_names import format_reconcile_models
from modelsync.kube.client import KubeApi

__all__ = ["get_sync", "list_syncs", "patch_sync_status", "request_reconcile", "set_suspend"]

JsonDict = dict[str, Any]

_MERGE_PATCH = "application/merge-patch+json"


def _where(namespace: str, name: str) -> str:
    return f'ModelCatalogSync "{name}" in namespace "{namespace}"'


async def get_sync(api: KubeApi, namespace: str, name: str) -> JsonDict:
    return cast(
        JsonDict,
        await api.call(
            "get",
            PLURAL_SYNC,
            f"get {_where(namespace, name)}",
            api.custom.get_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL_SYNC,
            name,
        ),
    )


async def list_syncs(api: KubeApi, namespace: str | None) -> list[JsonDict]:
    """The syncs of `namespace` (None: of every namespace), in the API server's order."""
    if namespace is None:
        found = await api.call(
            "list",
            PLURAL_SYNC,
            "list ModelCatalogSyncs in all namespaces",
            api.custom.list_cluster_custom_object,
            GROUP,
            VERSION,
            PLURAL_SYNC,
        )
    else:
        found = await api.call(
            "list",
            PLURAL_SYNC,
            f'list ModelCatalogSyncs in namespace "{namespace}"',
            api.custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL_SYNC,
        )
    return list(cast(JsonDict, found).get("items") or [])


async def patch_sync_status(
    api: KubeApi,
    namespace: str,
    name: str,
    current: Mapping[str, Any],
    desired: Mapping[str, Any],
) -> JsonDict | None:
    """Merge-patch /status from `current` to `desired`; no request when they are equal."""
    # Imported here: the plan package loads the catalog client, which the commands that
    # only read or annotate syncs (`modelsync get`, ...) never need.
    from modelsync.plan.compare import merge_diff

    patch = merge_diff(current, desired)
    if not patch:
        return None
    return cast(
        JsonDict,
        await api.call(
            "patch",
            f"{PLURAL_SYNC}/status",
            f"patch status of {_where(namespace, name)}",
            api.custom.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            namespace,
            PLURAL_SYNC,
            name,
            {"status": patch},
            _content_type=_MERGE_PATCH,
        ),
    )


async def request_reconcile(
    api: KubeApi, namespace: str, name: str, value: str, *, models: Sequence[str] = ()
) -> JsonDict:
    """Set the `modelsync.dev/reconcile-requested-at` annotation (the manual trigger), in the
    same merge patch `modelsync.dev/reconcile-models` to the named `models` (a refresh of
    those alone), or removed when there are none (a full sync)."""
    annotations: dict[str, str | None] = {
        ANNOTATION_RECONCILE_REQUESTED_AT: value,
        ANNOTATION_RECONCILE_MODELS: format_reconcile_models(models) if models else None,
    }
    return cast(
        JsonDict,
        await api.call(
            "patch",
            PLURAL_SYNC,
            f"annotate {_where(namespace, name)}",
            api.custom.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL_SYNC,
            name,
            {"metadata": {"annotations": annotations}},
            _content_type=_MERGE_PATCH,
        ),
    )


async def set_suspend(api: KubeApi, namespace: str, name: str, suspend: bool) -> JsonDict:
    """Merge-patch spec.suspend to `suspend`; the sync as the API server then holds it."""
    return cast(
        JsonDict,
        await api.call(
            "patch",
            PLURAL_SYNC,
            f"{'suspend' if suspend else 'resume'} {_where(namespace, name)}",
            api.custom.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL_SYNC,
            name,
            {"spec": {"suspend": suspend}},
            _content_type=_MERGE_PATCH,
        ),
    )
