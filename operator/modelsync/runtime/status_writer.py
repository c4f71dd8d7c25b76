"""The status of one ModelCatalogSync: written only when it says something new (or the
heartbeat is due), and the Event of a Ready transition (plan/events.py condition_events): a
Warning when a failure starts or changes its reason, `Synced` when Ready turns True after a
failure. The Event goes out only once the API server holds the new status: a status write
that failed leaves the transition to the next pass, which would otherwise post it twice.

The new status is the typed ModelCatalogSyncStatus; it is merge-patched against the status
the API server holds (as last read or written), so fields the model does not know are
cleared and a sync that changed nothing sends nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelsync.api.conditions import get_condition
from modelsync.api.constants import CONDITION_READY
from modelsync.api.modelcatalogsync import ModelCatalogSyncStatus
from modelsync.api.timestamps import parse_time
from modelsync.kube.client import KubeApi
from modelsync.kube.errors import KubeApiError
from modelsync.kube.events import post_event
from modelsync.kube.modelcatalogsyncs import patch_sync_status
from modelsync.plan import SyncResult, sync_status
from modelsync.plan.events import condition_events
from modelsync.runtime.bodies import metadata_of, status_of, trigger_value

__all__ = ["StatusWrite", "StatusWriter"]

logger = logging.getLogger(__name__)

_TIMESTAMP_FIELDS = ("lastSyncTime", "lastSuccessfulSyncTime", "nextSyncTime")
# Counters of what one pass did rather than of what the cluster holds.
_ACTIVITY_FIELDS = {
    "modelRefs": ("created", "updated", "unchanged", "deleted"),
    "catalog": ("requests",),
}


def _comparable(status: Mapping[str, Any], with_activity: bool) -> dict[str, Any]:
    """The status without the fields that change on every pass (and, unless `with_activity`,
    without the counters of what the last pass did)."""
    out = {k: v for k, v in status.items() if k not in _TIMESTAMP_FIELDS}
    if not with_activity:
        for block, keys in _ACTIVITY_FIELDS.items():
            if isinstance(out.get(block), Mapping):
                out[block] = {k: v for k, v in out[block].items() if k not in keys}
    return out


@dataclass(frozen=True)
class StatusWrite:
    """The status after a pass and the requests sent for it (status patch, Event)."""

    status: ModelCatalogSyncStatus
    writes: int

    @property
    def ready_reason(self) -> str:
        ready = get_condition(self.status.conditions, CONDITION_READY)
        return ready.reason if ready is not None else ""

    @property
    def ready(self) -> bool:
        ready = get_condition(self.status.conditions, CONDITION_READY)
        return ready is not None and ready.status == "True"


class StatusWriter:
    """Writes the status of one ModelCatalogSync; `heartbeat`: seconds after which an
    unchanged status is written anyway (so its timestamps show the operator is alive)."""

    def __init__(self, api: KubeApi, namespace: str, name: str, *, heartbeat: float) -> None:
        self._api = api
        self._namespace = namespace
        self._name = name
        self._heartbeat = heartbeat
        # The status as the API server holds it: last written, or found equal to the new one.
        self._held: dict[str, Any] | None = None
        self._written_at: datetime | None = None

    async def record(
        self,
        body: Mapping[str, Any],
        result: SyncResult,
        *,
        now: datetime,
        next_sync_time: datetime | None,
        wrote_refs: bool,
    ) -> StatusWrite:
        """Write the status after a pass with `result`; a failed write is logged, not raised.

        `wrote_refs`: the pass wrote ModelRefs, so its activity counters are news too.
        """
        held = self._held if self._held is not None else status_of(body)
        generation = metadata_of(body).get("generation")
        new = sync_status(
            held,
            result,
            generation=generation if isinstance(generation, int) else 0,
            now=now,
            next_sync_time=next_sync_time,
            reconcile_requested_at=trigger_value(body),
        )
        wire = new.to_k8s()
        writes = 0
        if self._write_due(held, wire, now, with_activity=wrote_refs):
            try:
                await patch_sync_status(self._api, self._namespace, self._name, held, wire)
                self._held, self._written_at = wire, now
                writes += 1
            except KubeApiError as exc:
                logger.warning("%s", exc)
                return StatusWrite(new, writes)
        else:
            self._held = held
        for event in condition_events(held.get("conditions") or [], new.conditions):
            posted = await post_event(
                self._api,
                body,
                event_type=event.event_type,
                reason=event.reason,
                message=event.message,
            )
            writes += int(posted)
        return StatusWrite(new, writes)

    async def echo_trigger(self, body: Mapping[str, Any]) -> int:
        """Record the trigger a named-model refresh handled: one merge patch of
        status.lastHandledReconcileAt alone (conditions and counters stay as the last full
        sync wrote them); none when it is already there. Writes sent (0 or 1); a failed
        write is logged, not raised (the next full sync echoes the trigger anyway)."""
        value = trigger_value(body)
        held = self._held if self._held is not None else status_of(body)
        if value is None or held.get("lastHandledReconcileAt") == value:
            return 0
        new = {**held, "lastHandledReconcileAt": value}
        try:
            await patch_sync_status(self._api, self._namespace, self._name, held, new)
        except KubeApiError as exc:
            logger.warning("%s", exc)
            return 0
        self._held = new
        return 1

    def _write_due(
        self,
        held: Mapping[str, Any],
        new: Mapping[str, Any],
        now: datetime,
        *,
        with_activity: bool,
    ) -> bool:
        """Write when the status says something new. A pass that wrote no ModelRef compares
        without the per-pass activity counters too, so a sync that changed nothing writes
        nothing (the counters and timestamps catch up with the heartbeat or the next change).
        """
        if _comparable(held, with_activity) != _comparable(new, with_activity):
            return True
        last = self._written_at
        if last is None:
            stamp = held.get("lastSyncTime")
            try:
                last = parse_time(stamp) if isinstance(stamp, str) else None
            except ValueError:
                last = None
        if last is None:
            return True
        return (now - last).total_seconds() >= self._heartbeat
