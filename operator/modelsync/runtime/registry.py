"""All sync loops of this operator process, keyed by (namespace, name).

Fed from the watch of ModelCatalogSyncs: a new object starts a loop, a changed one is passed
on (the loop decides whether it is a reason to sync), a deleted one stops its loop.
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


class SyncRegistry:
    def __init__(
        self,
        factory: WorkerFactory,
        on_forget: Callable[[WorkerKey], None] | None = None,
    ) -> None:
        self._factory = factory
        self._on_forget = on_forget
        self._workers: dict[WorkerKey, SyncWorker] = {}
        # (namespace, value of the modelsync.dev/sync label) -> key; they differ for long names
        self._by_label: dict[tuple[str, str], WorkerKey] = {}

    def __len__(self) -> int:
        return len(self._workers)

    def get(self, namespace: str, name: str) -> SyncWorker | None:
        return self._workers.get((namespace, name))

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
            await self.forget(key, uid)
            return
        worker = self._workers.get(key)
        if worker is not None and worker.uid != uid:
            await self.forget(key, worker.uid)  # deleted and recreated under the same name
            worker = None
        if worker is None:
            worker = self._factory(key, body)
            self._workers[key] = worker
            self._by_label[(key[0], sanitize_label_value(key[1]))] = key
            worker.start()
            logger.debug("started the sync loop of %s/%s", *key)
        else:
            worker.observe(body)

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

    async def stop_all(self) -> None:
        workers = list(self._workers.values())
        self._workers.clear()
        self._by_label.clear()
        await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
