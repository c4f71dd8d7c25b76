"""Start the operator: Kopf settings, the handler registry, the runtime and (optionally) leader
election, in one event loop.

Kopf is told to stay silent and stateless: no Kubernetes Events for handler results, no
finalizers, no progress or diff-base annotations (only watching handlers are registered),
and no peering (always standalone): replicas coordinate through a Lease instead, which,
unlike Kopf's peering, also stops the operator's own sync loops on a standby. Kopf watches
the ModelCatalogSyncs; the ModelRefs are watched by kube.modelref_watch (handlers.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import kopf

from modelsync.api.constants import GROUP, PLURAL_SYNC
from modelsync.api.label_selector import LabelSelector
from modelsync.handlers import register
from modelsync.kube.client import KubeApi, load_configuration
from modelsync.kube.modelref_watch import ModelRefWatches
from modelsync.runtime.app import OperatorRuntime
from modelsync.runtime.config import OperatorConfig
from modelsync.runtime.leader_loop import LeaderElectionConfig, LeaderElector
from modelsync.runtime.observers import SyncObserver
from modelsync.runtime.webhook import WebhookConfig, WebhookServer

__all__ = ["KopfOptions", "kopf_settings", "run_operator"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KopfOptions:
    """How this process joins the cluster. No namespaces: all namespaces (cluster-wide).

    `leader_election`: None runs the sync loops at once (a single replica); otherwise they
    run only while this process holds that Lease.
    """

    namespaces: Sequence[str] = ()
    liveness_endpoint: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    leader_election: LeaderElectionConfig | None = None
    webhook: WebhookConfig | None = None  # None: no webhook server
    # A shard: only the ModelCatalogSyncs (and their ModelRefs) this selects; None: all.
    sync_selector: LabelSelector | None = None


class _NoDiffBase(kopf.DiffBaseStorage):
    """No diff bases: Kopf builds one (two deep copies of the object) for every watch event,
    but only change-detecting handlers (on.create/update/resume/delete/field, daemons,
    timers) ever read it, and the operator registers none (handlers.py)."""

    def build(
        self,
        *,
        body: kopf.Body,
        extra_fields: Iterable[str | tuple[str, ...] | list[str] | None] | None = None,
    ) -> kopf.BodyEssence:
        del body, extra_fields
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        del body
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        del body, patch, essence


def kopf_settings(sync_selector: LabelSelector | None = None) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    if sync_selector is not None:
        # Server-side: the API server sends only this shard's syncs, and a sync whose labels
        # stop matching as DELETED (one that starts matching as ADDED). The runtime checks
        # the labels again (runtime/app.py) all the same.
        settings.watching.label_selectors[GROUP, PLURAL_SYNC] = str(sync_selector)
    settings.posting.enabled = False  # our own Events only; Kopf would post handler results
    settings.persistence.diffbase_storage = _NoDiffBase()
    settings.process.ultimate_exiting_timeout = 30
    # The pause between two watch requests of one resource. Kopf's 0.1s default turns an API
    # server that keeps answering 410 Gone into ten cluster-wide relists a second.
    settings.watching.reconnect_backoff = 1.0
    return settings


async def run_operator(
    config: OperatorConfig,
    options: KopfOptions,
    *,
    observer: SyncObserver | None = None,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
    on_webhook: Callable[[int], None] | None = None,
) -> None:
    """Run until stopped (SIGINT/SIGTERM in the main thread, or `stop_flag`);
    `on_webhook(code)`: each answer of the webhook server, if it runs."""
    configuration = load_configuration(options.kubeconfig, options.context)
    election = options.leader_election
    shard = options.sync_selector
    runtime = OperatorRuntime(
        config, configuration, observer, leading=election is None, sync_selector=shard
    )
    # Its own connections: the watches hold theirs open and never take the writers'.
    watch_api = KubeApi(load_configuration(options.kubeconfig, options.context), max_workers=1)
    modelrefs = ModelRefWatches(watch_api, runtime.modelref_event, sharded=shard is not None)
    runtime.context.modelref_cache = modelrefs.cache
    registry = kopf.OperatorRegistry()
    register(registry, runtime, modelrefs)
    elector: LeaderElector | None = None
    lease_api: KubeApi | None = None
    if election is not None:
        # Its own connection and threads: renewals never queue behind the syncs' requests.
        # Not counted in the request metrics, which stay those of the syncs (0 writes when
        # nothing changed); modelsync_leader and the log tell how the election goes.
        lease_api = KubeApi(
            load_configuration(options.kubeconfig, options.context),
            max_workers=2,
            request_timeout=election.timing.renew_deadline,
        )
        elector = LeaderElector(
            lease_api,
            election,
            on_started=runtime.start_leading,
            on_stopped=runtime.stop_leading,
        )
        # Writes stop by the renew deadline even when the event loop is blocked.
        runtime.set_write_fence(elector.may_write)
    logger.info(
        "modelsync operator starting (%s; %s%s)",
        "namespaces " + ", ".join(options.namespaces) if options.namespaces else "all namespaces",
        "every ModelCatalogSync" if shard is None else f"shard --sync-selector '{shard}'",
        "" if election is None else f"; Lease {election.namespace}/{election.name}",
    )
    webhook: WebhookServer | None = None
    if options.webhook is not None:
        # Every replica serves it, with its own connection: a standby's writes are not gated
        # (it only annotates; the leader's watch runs the sync).
        webhook = WebhookServer(
            KubeApi(load_configuration(options.kubeconfig, options.context), max_workers=2),
            runtime.syncs.known_sync,
            options.webhook,
            on_request=on_webhook,
        )
        await webhook.start()
        logger.info(
            "serving the webhook at http://%s:%d/hooks/", options.webhook.host, webhook.port
        )
    try:
        if elector is not None:
            elector.start()
        await kopf.operator(
            registry=registry,
            settings=kopf_settings(shard),
            standalone=True,
            clusterwide=not options.namespaces,
            namespaces=list(options.namespaces),
            liveness_endpoint=options.liveness_endpoint,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    finally:
        if webhook is not None:
            await webhook.stop()
            await webhook.api.aclose()
        await modelrefs.close()
        await watch_api.aclose()
        await runtime.shutdown()  # every loop stopped before the Lease is given up
        if elector is not None:
            await elector.stop()
        if lease_api is not None:
            await lease_api.aclose()
