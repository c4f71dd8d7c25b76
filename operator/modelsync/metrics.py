"""Prometheus metrics of the operator: a SyncObserver that counts into its own registry, and
the HTTP server that exposes it (prometheus_client's, on a thread).

Each OperatorMetrics has its own CollectorRegistry (never the global default one), so
tests and several operators in one process do not clash. Labels are bounded by the number
of ModelCatalogSyncs: no per-model labels.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)

from modelsync.runtime.observers import SYNC_RESULTS, SyncReport
from modelsync.runtime.outcomes import PassKind

__all__ = [
    "DURATION_BUCKETS",
    "WEBHOOK_CODES",
    "WRITE_VERBS",
    "MetricsServer",
    "OperatorMetrics",
    "serve_metrics",
]

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
# Seconds; a sync lists the whole selection, from a few models (sub-second) to 10,000s.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
_READY_VALUES = ("True", "False")
WEBHOOK_CODES = (202, 400, 401, 404, 408, 413, 429, 503)


class OperatorMetrics:
    """Implements runtime.observers.SyncObserver; `registry` is what /metrics serves.
    `clock` gives Unix time for the last-success timestamp; `process_metrics` adds the
    process's own series (one per registry, so only one operator per process should)."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        clock: Callable[[], float] = time.time,
        process_metrics: bool = False,
    ) -> None:
        self._clock = clock
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        if process_metrics:  # the usual process_* / python_* series (memory, CPU, GC)
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)
        self._seen: set[tuple[str, str]] = set()
        self._kube_series: dict[tuple[str, str, int | None], tuple[Counter, Counter | None]] = {}
        per_sync = ["namespace", "sync"]
        self.syncs = Counter(
            "modelsync_syncs",
            "Finished sync passes by result (success, failure, stalled, suspended).",
            [*per_sync, "result"],
            registry=r,
        )
        self.sync_failures = Counter(
            "modelsync_sync_failures",
            "Sync passes that did not leave Ready=True, by the Ready reason (e.g. "
            "CatalogUnavailable, InconsistentListing, SyncTimedOut, InternalError, "
            "SecretNotOptedIn, ModelsFailed).",
            [*per_sync, "reason"],
            registry=r,
        )
        self._failure_reasons: dict[tuple[str, str], set[str]] = {}
        self.sync_duration = Histogram(
            "modelsync_sync_duration_seconds",
            "Wall time of one sync pass.",
            per_sync,
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.sync_in_progress = Gauge(
            "modelsync_sync_in_progress",
            "1 while a sync pass of this ModelCatalogSync runs.",
            per_sync,
            registry=r,
        )
        self.last_success = Gauge(
            "modelsync_last_successful_sync_timestamp_seconds",
            "Unix time of the last sync pass that left Ready=True.",
            per_sync,
            registry=r,
        )
        self.modelrefs = Gauge(
            "modelsync_modelrefs",
            "ModelRefs of a sync by their Ready condition status, as of its last pass.",
            [*per_sync, "ready"],
            registry=r,
        )
        self.catalog_requests = Counter(
            "modelsync_catalog_requests",
            'Catalog API responses by HTTP status code ("error": no response).',
            ["code"],
            registry=r,
        )
        self.kube_requests = Counter(
            "modelsync_kube_requests",
            'Kubernetes API requests of the sync runtime by verb, resource and code ("error": '
            "no response). Kopf's own watches are not included.",
            ["verb", "resource", "code"],
            registry=r,
        )
        self.leader = Gauge(
            "modelsync_leader",
            "1 while this replica leads (holds the leader election Lease, or runs without "
            "leader election) and runs the sync loops; 0 on a standby.",
            registry=r,
        )
        self.kube_writes = Counter(
            "modelsync_kube_writes",
            "Successful Kubernetes writes (create, update, patch, delete) by verb and resource.",
            ["verb", "resource"],
            registry=r,
        )
        self.webhook_requests = Counter(
            "modelsync_webhook_requests",
            "Requests to the push-trigger webhook (--webhook-port) by the HTTP status code "
            "answered (202 accepted; 400, 401, 404, 408, 413, 429 rejected; 503 API failure).",
            ["code"],
            registry=r,
        )
        for code in WEBHOOK_CODES:  # present at 0, so rate() and increase() see the 1st
            self.webhook_requests.labels(str(code))

    # --- SyncObserver ------------------------------------------------------------------

    def sync_started(self, namespace: str, name: str) -> None:
        self._first_sight(namespace, name)
        self.sync_in_progress.labels(namespace, name).set(1)

    def sync_finished(self, report: SyncReport) -> None:
        namespace, name = report.namespace, report.name
        self._first_sight(namespace, name)
        self.syncs.labels(namespace, name, report.result).inc()
        if report.result in (PassKind.FAILURE, PassKind.STALLED):
            reason = report.reason or "Unknown"
            self.sync_failures.labels(namespace, name, reason).inc()
            self._failure_reasons.setdefault((namespace, name), set()).add(reason)
        self.sync_duration.labels(namespace, name).observe(report.duration)
        self.sync_in_progress.labels(namespace, name).set(0)
        self.modelrefs.labels(namespace, name, "True").set(report.ready_refs)
        self.modelrefs.labels(namespace, name, "False").set(report.not_ready_refs)
        if report.result == PassKind.SUCCESS:
            self.last_success.labels(namespace, name).set(self._clock())

    def catalog_response(self, status_code: int | None) -> None:
        self.catalog_requests.labels(_code(status_code)).inc()

    def kube_request(self, verb: str, resource: str, status: int | None) -> None:
        # Called for every request (thousands per first sync): the labelled series of each
        # (verb, resource, status) are looked up once. They are never removed.
        key = (verb, resource, status)
        series = self._kube_series.get(key)
        if series is None:
            written = verb in WRITE_VERBS and status is not None and 200 <= status <= 299
            series = self._kube_series[key] = (
                self.kube_requests.labels(verb, resource, _code(status)),
                self.kube_writes.labels(verb, resource) if written else None,
            )
        requests, writes = series
        requests.inc()
        if writes is not None:
            writes.inc()

    def webhook_request(self, code: int) -> None:
        """One answer of the webhook server (runtime/webhook.py's `on_request`)."""
        self.webhook_requests.labels(str(code)).inc()

    def leader_changed(self, leading: bool) -> None:
        self.leader.set(1 if leading else 0)

    def sync_forgotten(self, namespace: str, name: str) -> None:
        """The ModelCatalogSync is gone: drop its series (they would report stale values)."""
        self._seen.discard((namespace, name))
        reasons = self._failure_reasons.pop((namespace, name), set())
        removals = [
            *((self.syncs, (namespace, name, result)) for result in SYNC_RESULTS),
            *((self.sync_failures, (namespace, name, reason)) for reason in reasons),
            *((self.modelrefs, (namespace, name, ready)) for ready in _READY_VALUES),
            (self.sync_duration, (namespace, name)),
            (self.sync_in_progress, (namespace, name)),
            (self.last_success, (namespace, name)),
        ]
        for metric, labels in removals:
            with contextlib.suppress(KeyError):
                metric.remove(*labels)

    def _first_sight(self, namespace: str, name: str) -> None:
        if (namespace, name) not in self._seen:
            self._seen.add((namespace, name))
            for result in SYNC_RESULTS:  # present at 0, so rate() and increase() see the 1st
                self.syncs.labels(namespace, name, result)


def _code(status: int | None) -> str:
    return "error" if status is None else str(status)


@dataclass
class MetricsServer:
    """A running /metrics endpoint; `port` is the bound one (useful with port 0)."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def host(self) -> str:
        return str(self.server.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> MetricsServer:
    """Serve `registry` on http://host:port/metrics in a daemon thread; OSError if the port
    cannot be bound."""
    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(server, thread)
