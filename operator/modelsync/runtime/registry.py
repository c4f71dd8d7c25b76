"""All sync loops of this operator process, keyed by (namespace, name).

Fed from the watch of ModelCatalogSyncs: a new object starts a loop, a changed one is passed
on (the loop decides whether it is a reason to sync), a deleted one stops its loop.

Loops run only while the registry is active (this replica leads). A standby registry still
follows the watch, keeping the latest object of every sync, so that `activate()` can start
all loops at once; `deactivate()` stops them all at once and drops their state (a new term
starts with fresh loops: another replica may have changed everything meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from modelsync.api.labels import sanitize_label_value
from modelsync.runtime.worker import SyncWorker, WorkerKey

__all__ = ["SyncRegistry", "WorkerFactory"]

logger = logging.getLogger(__name__)

WorkerFactory = Callable[[WorkerKey, Mapping[str, Any]], SyncWorker]


def _key(body: Mapping[str, Any]) -> tuple[WorkerKey, str]:
    meta = body.get("metadata") or {}
    return (str(meta.get("namespace", "")), str(meta.get("name", ""))), str(meta.get("uid", ""))


def _uid(body: Mapping[str, Any]) -> str:
    return _key(body)[1]


class SyncRegistry:
    def __init__(
        self,
        factory: WorkerFactory,
        on_forget: Callable[[WorkerKey], None] | None = None,
        *,
        active: bool = True,
    ) -> None:
        self._factory = factory
        self._on_forget = on_forget
        self._active = active
        self._closed = False
        self._known: dict[WorkerKey, Mapping[str, Any]] = {}  # latest object of every sync
        self._workers: dict[WorkerKey, SyncWorker] = {}
        # (namespace, value of the modelsync.dev/sync label) -> key; they differ for long names
        self._by_label: dict[tuple[str, str], WorkerKey] = {}

    def __len__(self) -> int:
        return len(self._workers)

    @property
    def active(self) -> bool:
        return self._active

    @property
    def known(self) -> int:
        """ModelCatalogSyncs seen (running or not)."""
        return len(self._known)

    def get(self, namespace: str, name: str) -> SyncWorker | None:
        return self._workers.get((namespace, name))

    def known_sync(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The latest object of a sync the watch shows (leader or standby), or None."""
        return self._known.get((namespace, name))

    def by_uid(self, uid: str) -> SyncWorker | None:
        return next((w for w in self._workers.values() if w.uid == uid), None)

    def by_label(self, namespace: str, label_value: str) -> SyncWorker | None:
        """The loop whose ModelRefs carry `modelsync.dev/sync=<label_value>`."""
        key = self._by_label.get((namespace, label_value))
        return self._workers.get(key) if key is not None else None

    async def observe(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        key, uid = _key(body)
        meta = body.get("metadata") or {}
        if event_type == "DELETED" or meta.get("deletionTimestamp"):
            known = self._known.get(key)
            if known is not None and (not uid or _uid(known) == uid):
                del self._known[key]
            await self.forget(key, uid)
            return
        self._known[key] = body
        if not self._active:
            return
        worker = self._workers.get(key)
        if worker is not None and worker.uid != uid:
            await self.forget(key, worker.uid)  # deleted and recreated under the same name
            worker = None
        if worker is None:
            self._start(key, body)
        else:
            worker.observe(body)

    def _start(self, key: WorkerKey, body: Mapping[str, Any]) -> None:
        worker = self._factory(key, body)
        self._workers[key] = worker
        self._by_label[(key[0], sanitize_label_value(key[1]))] = key
        worker.start()
        logger.debug("started the sync loop of %s/%s", *key)

    async def forget(self, key: WorkerKey, uid: str | None = None) -> None:
        worker = self._workers.get(key)
        if worker is None or (uid and worker.uid != uid):
            return
        del self._workers[key]
        self._by_label.pop((key[0], sanitize_label_value(key[1])), None)
        await worker.stop()
        if self._on_forget is not None:
            self._on_forget(key)
        logger.debug("stopped the sync loop of %s/%s", *key)

    async def activate(self) -> None:
        """Start a loop for every known sync (each syncs at once); no-op once closed."""
        if self._active or self._closed:
            return
        self._active = True
        for key, body in list(self._known.items()):
            if key not in self._workers:
                self._start(key, body)

    async def deactivate(self) -> None:
        """Stop every loop at once, cancelling syncs in flight; keep following the watch."""
        self._active = False
        await self._stop_workers()

    async def stop_all(self) -> None:
        """Stop every loop for good (shutdown): later activate() calls do nothing."""
        self._closed = True
        await self.deactivate()

    async def _stop_workers(self) -> None:
        workers = list(self._workers.values())
        self._workers.clear()
        self._by_label.clear()
        await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
        if self._on_forget is not None:
            for worker in workers:
                self._on_forget(worker.key)
