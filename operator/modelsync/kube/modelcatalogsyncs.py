"""ModelCatalogSync I/O: read one, merge-patch its status, set the manual-trigger annotation."""

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
from modelsync.plan.compare import merge_diff

__all__ = ["get_sync", "patch_sync_status", "request_reconcile"]

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


async def patch_sync_status(
    api: KubeApi,
    namespace: str,
    name: str,
    current: Mapping[str, Any],
    desired: Mapping[str, Any],
) -> JsonDict | None:
    """Merge-patch /status from `current` to `desired`; no request when they are equal."""
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
