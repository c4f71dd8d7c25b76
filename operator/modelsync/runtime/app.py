"""The operator's state for one process: API connection, limits, and all sync loops.

Kopf-free: handlers.py feeds it watch events, cli/kopf_main.py starts it under Kopf.

With leader election the runtime starts as a standby (`leading=False`): it follows the
watches but runs no sync loop, repairs no drift and sends no write (the API connection's
write gate is closed) until `start_leading()`; `stop_leading()` closes the gate and stops
every loop at once. The gate also asks the elector's fence (`set_write_fence`), which closes by
the clock when the Lease was not renewed in time, before the elector gets to stop the loops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from kubernetes import client as k8s

from modelsync.api.constants import LABEL_SYNC
from modelsync.api.label_selector import LabelSelector
from modelsync.kube.client import KubeApi, WriteGate
from modelsync.kube.secrets import secret_version
from modelsync.runtime.bodies import metadata_of
from modelsync.runtime.config import OperatorConfig
from modelsync.runtime.gates import SyncGates
from modelsync.runtime.observers import NullObserver, SyncObserver
from modelsync.runtime.registry import SyncRegistry
from modelsync.runtime.runner import RuntimeContext, SyncRunner
from modelsync.runtime.worker import SyncWorker, WorkerKey

__all__ = ["OperatorRuntime"]

logger = logging.getLogger(__name__)


class OperatorRuntime:
    def __init__(
        self,
        config: OperatorConfig,
        configuration: k8s.Configuration,
        observer: SyncObserver | None = None,
        *,
        leading: bool = True,
        sync_selector: LabelSelector | None = None,
    ) -> None:
        self.config = config
        self.sync_selector = sync_selector
        self.configuration = configuration
        self.observer: SyncObserver = observer or NullObserver()
        self.leading = leading
        self._write_fence: WriteGate | None = None
        threads = config.max_concurrent_writes + config.max_concurrent_syncs + 4
        self.api = KubeApi(
            configuration,
            max_workers=threads,
            on_request=self._on_request,
            may_write=self._may_write,
        )
        self.writes = asyncio.Semaphore(config.max_concurrent_writes)
        self.gates = SyncGates(config.max_concurrent_syncs, config.max_concurrent_syncs_per_host)
        self.context = RuntimeContext(
            api=self.api,
            config=config,
            writes=self.writes,
            observer=self.observer,
            sync_gates=self.gates,
        )
        self.syncs = SyncRegistry(self._new_worker, on_forget=self._forgotten, active=leading)
        self._closed = False
        self.observer.leader_changed(leading)

    def set_write_fence(self, fence: WriteGate) -> None:
        """With leader election: writes are sent only while `fence()` (asked on the API
        pool's threads, e.g. `LeaderElector.may_write`) is True, besides `leading`."""
        self._write_fence = fence

    def _may_write(self) -> bool:
        # Read on the API pool's threads: plain attributes, no lock.
        fence = self._write_fence
        return self.leading and (fence is None or fence())

    async def start_leading(self) -> None:
        """This replica now holds the Lease: run every sync loop."""
        self.leading = True
        self.observer.leader_changed(True)
        await self.syncs.activate()

    async def stop_leading(self) -> None:
        """This replica lost (or gave up) the Lease: no write from now on, every loop
        stopped (syncs in flight cancelled) before this returns."""
        self.leading = False
        self.observer.leader_changed(False)
        await self.syncs.deactivate()

    def _on_request(self, verb: str, resource: str, status: int | None) -> None:
        self.observer.kube_request(verb, resource, status)

    def _new_worker(self, key: WorkerKey, body: Mapping[str, Any]) -> SyncWorker:
        namespace, name = key
        return SyncWorker(
            key,
            body,
            runner=SyncRunner(namespace, name, self.context),
            probe_secret=partial(secret_version, self.api),
            secret_check_interval=self.config.secret_check_interval,
        )

    def _forgotten(self, key: WorkerKey) -> None:
        self.observer.sync_forgotten(*key)

    def takes(self, body: Mapping[str, Any]) -> bool:
        """Is this ModelCatalogSync this operator's (its labels match --sync-selector)?"""
        if self.sync_selector is None:
            return True
        labels = metadata_of(body).get("labels")
        return self.sync_selector.matches(labels if isinstance(labels, Mapping) else None)

    async def sync_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """A ModelCatalogSync watch event (type None: seen in the initial listing). A sync
        that is not this shard's is to it as if deleted: one whose labels stop matching is
        released (its loop stopped; nothing deleted, no ModelRef touched)."""
        if self.sync_selector is not None:
            event_type = self._shard_event(event_type, body)
        await self.syncs.observe(event_type, body)

    def _shard_event(self, event_type: str | None, body: Mapping[str, Any]) -> str | None:
        """The event as this shard sees it, and a line in the log when a sync joins or leaves
        the shard (with the selector on the server, a relabelled sync comes as DELETED)."""
        meta = metadata_of(body)
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        known = self.syncs.known_sync(namespace, name) is not None
        if not self.takes(body):
            event_type = "DELETED"
        if event_type == "DELETED" and known:
            logger.info(
                "ModelCatalogSync %s/%s left this shard (--sync-selector %s): deleted or "
                "relabelled; its loop is stopped, its ModelRefs are left as they are",
                namespace,
                name,
                self.sync_selector,
            )
        elif event_type != "DELETED" and not known:
            (logger.debug if event_type is None else logger.info)(
                "ModelCatalogSync %s/%s is in this shard (--sync-selector %s)",
                namespace,
                name,
                self.sync_selector,
            )
        return event_type

    def modelref_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """A watch event of a modelsync-managed ModelRef: route it to its sync for repair
        (by the controller ownerReference, else by the `modelsync.dev/sync` label)."""
        meta = body.get("metadata")
        if not isinstance(meta, Mapping):
            return
        worker = None
        for ref in meta.get("ownerReferences") or ():
            if isinstance(ref, Mapping) and ref.get("controller") is True:
                worker = self.syncs.by_uid(str(ref.get("uid", "")))
                break
        if worker is None:
            labels = meta.get("labels")
            owner = labels.get(LABEL_SYNC) if isinstance(labels, Mapping) else None
            if isinstance(owner, str):
                worker = self.syncs.by_label(str(meta.get("namespace", "")), owner)
        if worker is not None and worker.key[0] == meta.get("namespace"):
            worker.note_modelref(event_type, body)

    async def shutdown(self) -> None:
        """Stop every loop and the API pool; safe to call more than once."""
        self.leading = False
        await self.syncs.stop_all()
        if not self._closed:
            self._closed = True
            await self.api.aclose()
