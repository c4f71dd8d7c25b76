"""Carry out a SyncPlan against the API server.

Writes run concurrently, bounded by an operator-wide semaphore. A write that fails (409, 422,
5xx, ...) fails only its own model: it is counted and reported, and the rest of the plan goes
on. A VersionChanged Event is posted on each ModelRef whose version moved, and on the sync
that owns it (one each, or one summary beyond plan/events.py MAX_SYNC_VERSION_EVENTS; the
sync is known from the plan's desired ModelRefs, so a plan without them, such as a single
drift repair, posts on the ModelRef only).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from modelsync.api.constants import API_VERSION, KIND_MODELREF
from modelsync.kube.client import KubeApi
from modelsync.kube.errors import (
    KubeApiError,
    KubeConflict,
    KubeForbidden,
    KubeInvalid,
    KubeNotFound,
)
from modelsync.kube.events import post_event, sync_reference
from modelsync.kube.modelrefs import (
    create_modelref,
    delete_modelref,
    patch_modelref,
    patch_modelref_status,
)
from modelsync.kube.wire import WrittenObject
from modelsync.plan.events import (
    MovedRef,
    PlannedEvent,
    modelref_version_event,
    sync_version_events,
)
from modelsync.plan.types import CreateRef, DeleteRef, RetainRef, SyncPlan, UpdateRef

__all__ = ["ApplyResult", "WriteFailure", "apply_plan", "write_failure_reason"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriteFailure:
    """A planned write the API server refused; `reason` is CamelCase, `action` one of
    create/update/mark/delete, `error` the typed API error."""

    name: str
    model_fqn: str | None
    action: str
    reason: str
    message: str
    error: KubeApiError


@dataclass
class ApplyResult:
    """What was written. `written` maps ModelRef names to the resourceVersions our writes
    produced (to recognise their watch events as our own); `moved`: the ModelRefs whose
    version the writes moved; `events`: the Events posted (each one a create request)."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    marked_removed: int = 0
    events: int = 0
    moved: list[MovedRef] = field(default_factory=list)
    failures: list[WriteFailure] = field(default_factory=list)
    written: dict[str, list[str]] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)  # names deleted (or found gone)

    def record(self, obj: WrittenObject | None) -> None:
        if obj is not None and obj.name and obj.resource_version:
            self.written.setdefault(obj.name, []).append(obj.resource_version)


def write_failure_reason(error: KubeApiError) -> str:
    if isinstance(error, KubeConflict):
        return "Conflict"
    if isinstance(error, KubeInvalid):
        return "Invalid"
    if isinstance(error, KubeForbidden):
        return "Forbidden"
    return "WriteFailed"


async def apply_plan(
    api: KubeApi,
    namespace: str,
    plan: SyncPlan,
    *,
    writes: asyncio.Semaphore,
) -> ApplyResult:
    """Apply creates, updates, removal marks and deletes; never raises for a single item."""
    result = ApplyResult()

    async def bounded(call: Callable[[], Awaitable[Any]]) -> Any:
        async with writes:
            return await call()

    async def post(involved: dict[str, Any], event: PlannedEvent) -> None:
        posted = await bounded(
            lambda: post_event(
                api,
                involved,
                event_type=event.event_type,
                reason=event.reason,
                message=event.message,
            )
        )
        result.events += int(bool(posted))

    async def guarded(
        name: str, fqn: str | None, action: str, step: Callable[[], Awaitable[None]]
    ) -> None:
        try:
            await step()
        except KubeApiError as exc:
            if not (action == "create" and isinstance(exc, KubeConflict)):
                logger.warning("%s", exc)  # a create conflict is resolved by the caller
            reason = write_failure_reason(exc)
            result.failures.append(WriteFailure(name, fqn, action, reason, str(exc), exc))

    async def create(item: CreateRef) -> None:
        result.record(await bounded(lambda: create_modelref(api, namespace, item.body)))
        result.created += 1
        # Status is ignored on create when the status subresource is enabled.
        result.record(
            await bounded(lambda: patch_modelref_status(api, namespace, item.name, item.status))
        )

    async def update(item: UpdateRef) -> None:
        written: WrittenObject | None = None
        change = None
        if item.patch is not None:
            patch = item.patch
            written = await bounded(lambda: patch_modelref(api, namespace, item.name, patch))
            result.record(written)
            # The spec moved: announced even if the status write fails (the next pass sees
            # the new version as the one held and would not announce it).
            change = item.version_change
            if change is not None:
                result.moved.append(MovedRef(item.name, change))
        status_failed: KubeApiError | None = None
        if item.status is not None:
            status = item.status
            try:
                written = await bounded(
                    lambda: patch_modelref_status(api, namespace, item.name, status)
                )
                result.record(written)
            except KubeApiError as exc:
                status_failed = exc
        if change is not None:
            involved = written.reference() if written is not None else _modelref(namespace, item)
            await post(involved, modelref_version_event(change))
        if status_failed is not None:
            raise status_failed
        result.updated += 1

    async def mark_removed(item: RetainRef) -> None:
        result.record(
            await bounded(lambda: patch_modelref_status(api, namespace, item.name, item.status))
        )
        result.marked_removed += 1

    async def delete(item: DeleteRef) -> None:
        with contextlib.suppress(KubeNotFound):  # already gone: the desired state
            await bounded(lambda: delete_modelref(api, namespace, item.name, uid=item.uid))
        result.deleted += 1
        result.removed.append(item.name)

    steps: list[Awaitable[None]] = [
        *(guarded(i.name, i.model_fqn, "create", partial(create, i)) for i in plan.creates),
        *(guarded(i.name, i.model_fqn, "update", partial(update, i)) for i in plan.updates),
        *(guarded(i.name, i.model_fqn, "mark", partial(mark_removed, i)) for i in plan.retained),
        *(guarded(i.name, i.model_fqn, "delete", partial(delete, i)) for i in plan.deletes),
    ]
    await asyncio.gather(*steps)
    owner = next((d.owner for m in result.moved if (d := plan.desired.get(m.name))), None)
    if owner is not None:
        for event in sync_version_events(result.moved):
            await post(sync_reference(owner), event)
    return result


def _modelref(namespace: str, item: UpdateRef) -> dict[str, Any]:
    """The updated ModelRef when the write's answer did not say which it is."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND_MODELREF,
        "metadata": {"name": item.name, "namespace": namespace, "uid": item.uid},
    }
