"""Drift repair: a ModelRef someone else changed or deleted is restored to the last plan's
desired object between passes (writes of the operator itself are told apart by their
resourceVersion)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from modelsync.kube.client import KubeApi
from modelsync.kube.errors import KubeApiError, KubeNotFound
from modelsync.kube.modelcatalogsyncs import get_sync
from modelsync.kube.modelrefs import get_modelref
from modelsync.plan import DesiredRef, repair_plan
from modelsync.runtime.bodies import metadata_of
from modelsync.runtime.modelref_writes import ModelRefWriter
from modelsync.runtime.worker import DriftEvent

__all__ = ["DriftRepairer"]

logger = logging.getLogger(__name__)


class DriftRepairer:
    """Repairs the ModelRefs of one ModelCatalogSync against `desired` (the last plan's)."""

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        sync_name: str,
        writer: ModelRefWriter,
        clock: Callable[[], datetime],
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._sync_name = sync_name
        self._writer = writer
        self._clock = clock

    def wants_repair(
        self,
        desired: Mapping[str, DesiredRef],
        event_type: str | None,
        body: Mapping[str, Any],
    ) -> bool:
        wanted = desired.get(str(metadata_of(body).get("name", "")))
        if wanted is None:
            return False
        if event_type == "DELETED":
            return True
        if self._writer.is_own_write(body):
            return False
        return repair_plan(wanted, body, now=self._clock()) is not None

    async def repair(
        self, desired: Mapping[str, DesiredRef], events: Mapping[str, DriftEvent]
    ) -> None:
        namespace = self._namespace
        sync_checked = False
        for name, (event_type, body) in events.items():
            wanted = desired.get(name)
            if wanted is None or (event_type != "DELETED" and self._writer.is_own_write(body)):
                continue
            observed: Mapping[str, Any] | None = body
            if event_type == "DELETED":
                if not sync_checked:
                    if not await self._sync_alive(wanted.owner.uid):
                        return  # the sync is going away: its ModelRefs go with it
                    sync_checked = True
                # Also sent when an object stops matching the watch's label selector.
                try:
                    observed = await get_modelref(self._api, namespace, name)
                except KubeNotFound:
                    observed = None
                except KubeApiError as exc:
                    logger.warning("drift repair of %s/%s: %s", namespace, name, exc)
                    continue
            action = repair_plan(wanted, observed, now=self._clock())
            if action is None:
                continue
            logger.info(
                "ModelRef %s/%s was %s by someone else; restoring it",
                namespace,
                name,
                "deleted" if observed is None else "changed",
            )
            applied = await self._writer.apply_one(action)
            for failure in applied.failures:
                if failure.action == "create" and failure.reason == "Conflict":
                    continue  # already back (our own sync or another writer won the race)
                logger.warning("drift repair of %s/%s failed: %s", namespace, name, failure)

    async def _sync_alive(self, uid: str) -> bool:
        try:
            current = await get_sync(self._api, self._namespace, self._sync_name)
        except KubeApiError:  # KubeNotFound included
            return False
        meta = metadata_of(current)
        return meta.get("uid") == uid and not meta.get("deletionTimestamp")
