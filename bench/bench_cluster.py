"""What the bench needs from a cluster, whichever API server it is: the namespace, the token
Secret and the ModelCatalogSync, driven with the official client as a user would; the
operator's writes and ModelRef LISTs of a measuring window; the server's own processes.
`SandboxCluster` (sandbox_cluster.py) and `RealCluster` (real_cluster_target.py) fill in the
rest."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from inflight_relay import Relay
from kubernetes import client, watch

from modelsync.api.constants import (
    API_VERSION,
    GROUP,
    KIND_SYNC,
    LABEL_SYNC,
    PLURAL_MODELREF,
    PLURAL_SYNC,
    VERSION,
)
from modelsync.api.timestamps import format_time_precise
from modelsync.kube.client import KubeApi
from modelsync.kube.modelcatalogsyncs import request_reconcile

__all__ = ["WRITE_VERBS", "BenchCluster", "VersionWatch", "selects_sync", "sync_manifest"]

SYNC_NAME = "bench-models"
SECRET_NAME = "tfy-api"
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def sync_manifest(catalog_url: str, page_size: int, namespace: str) -> dict[str, Any]:
    """All models of the catalog, latest deployable version, no timer sync during the bench."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND_SYNC,
        "metadata": {"name": SYNC_NAME, "namespace": namespace},
        "spec": {
            "catalog": {
                "url": catalog_url,
                "tokenSecretRef": {"name": SECRET_NAME, "key": "token"},
                "pageSize": page_size,
                "timeoutSeconds": 60,
            },
            "filters": {"includeEmptyModels": False},
            "versionPolicy": "LatestDeployable",
            "interval": "12h",
        },
    }


def selects_sync(query: str) -> bool:
    """A ModelRef LIST of one sync's objects (a label selector on the sync label)."""
    selector = urllib.parse.parse_qs(query).get("labelSelector", [""])[0]
    return selector.startswith(f"{LABEL_SYNC}=")


class BenchCluster(ABC):
    """`api` and `kube` are the bench's own clients (not through the relay); `kubeconfig`
    is the operator's (through the relay)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        # How the report names where the operator's writes were read from.
        self.write_log_name = "server log"
        self.relay: Relay | None = None
        self._api: client.ApiClient | None = None
        self._kube: KubeApi | None = None

    # --- what each server does its own way ---------------------------------------------

    @property
    @abstractmethod
    def kubeconfig(self) -> Path:
        """The operator's kubeconfig."""

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def install(self, catalog_token: str) -> None:
        """CRDs, the namespace and the token Secret; whatever the operator needs to run."""

    @abstractmethod
    def begin_window(self) -> None:
        """Start a measuring window: the request logs below count from here."""

    @abstractmethod
    def sync_list_queries(self) -> list[str]:
        """Query strings of the ModelRef LIST requests of a sync (one per page) so far."""

    @abstractmethod
    def operator_writes(self) -> list[str]:
        """The operator's write requests so far, as "verb resource[/subresource] status",
        without the bench's own (the Secret touch, the ModelCatalogSync and its annotation)."""

    def operator_scope(self) -> tuple[str, ...]:
        """The operator's namespace flags."""
        return (f"--namespace={self.namespace}",)

    def server_processes(self) -> dict[str, int]:
        """The API server's processes to measure (name -> pid)."""
        return {}

    # --- clients -------------------------------------------------------------------------

    @property
    def api(self) -> client.ApiClient:
        assert self._api is not None, "the cluster is not started"
        return self._api

    def close_clients(self) -> None:
        if self._kube is not None:
            self._kube.close()
            self._kube = None
        if self._api is not None:
            self._api.close()  # type: ignore[no-untyped-call]
            self._api = None

    # --- setup ---------------------------------------------------------------------------

    def create_namespace_and_secret(self, catalog_token: str) -> None:
        core = client.CoreV1Api(self.api)
        core.create_namespace(cast(Any, {"metadata": {"name": self.namespace}}))
        secret = {
            "metadata": {
                "name": SECRET_NAME,
                "namespace": self.namespace,
                # Opts the Secret in as catalog credentials; the operator ignores others.
                "labels": {"modelsync.dev/catalog-credentials": "true"},
            },
            "stringData": {"token": catalog_token},
        }
        core.create_namespaced_secret(self.namespace, cast(Any, secret))

    def create_sync(self, manifest: Mapping[str, Any]) -> None:
        client.CustomObjectsApi(self.api).create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL_SYNC, dict(manifest)
        )

    # --- triggers ------------------------------------------------------------------------

    def touch_secret(self, value: str) -> None:
        """Change the token Secret's metadata only: the operator notices a new
        resourceVersion and syncs, without any change to the ModelCatalogSync."""
        body = {"metadata": {"labels": {"bench-touch": value}}}
        client.CoreV1Api(self.api).patch_namespaced_secret(SECRET_NAME, self.namespace, body)

    def request_reconcile(self, models: Sequence[str] = ()) -> str:
        """What `modelsync reconcile NAME [--model REPO/NAME ...]` does: a merge patch of the
        trigger annotation (with `models`, of the named-model one too)."""
        assert self._kube is not None, "the cluster is not started"
        value = format_time_precise(datetime.now(UTC))
        asyncio.run(request_reconcile(self._kube, self.namespace, SYNC_NAME, value, models=models))
        return value

    # --- looking -------------------------------------------------------------------------

    def modelref_watch_start(self, name: str) -> str:
        """A resourceVersion to watch ModelRef `name` from: the current one of a LIST of it.
        (Not the object's own: a real API server answers 410 Gone to a watch from a version
        older than its watch cache holds, and the object may be unchanged for minutes.)"""
        found = cast(
            dict[str, Any],
            client.CustomObjectsApi(self.api).list_namespaced_custom_object(
                GROUP,
                VERSION,
                self.namespace,
                PLURAL_MODELREF,
                field_selector=f"metadata.name={name}",
            ),
        )
        if len(found["items"]) != 1:
            raise LookupError(f"ModelRef {self.namespace}/{name} not found")
        return str(found["metadata"]["resourceVersion"])

    def watch_version(self, name: str, since: str, version: int, timeout: float) -> VersionWatch:
        return VersionWatch(self.api, self.namespace, name, since, version, timeout)


def established(crd: object) -> bool:
    conditions = (cast(dict[str, Any], crd).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


class VersionWatch:
    """Watches one ModelRef (from resourceVersion `since`) until spec.version.version equals
    `version`; `seen_at` is time.monotonic() when that event arrived."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        name: str,
        since: str,
        version: int,
        timeout: float,
    ) -> None:
        self.seen_at: float | None = None
        self._done = threading.Event()
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]
        args = (api, namespace, name, since, version, timeout)
        self._thread = threading.Thread(target=self._run, args=args, daemon=True)
        self._thread.start()

    def _run(
        self,
        api: client.ApiClient,
        namespace: str,
        name: str,
        since: str,
        version: int,
        timeout: float,
    ) -> None:
        custom = client.CustomObjectsApi(api)
        try:
            for event in self._watch.stream(  # type: ignore[no-untyped-call]
                custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURAL_MODELREF,
                field_selector=f"metadata.name={name}",
                resource_version=since,
                timeout_seconds=max(1, int(timeout)),
            ):
                obj = event.get("object") or {}
                if ((obj.get("spec") or {}).get("version") or {}).get("version") == version:
                    self.seen_at = time.monotonic()
                    break
        finally:
            self._done.set()
            self._watch.stop()  # type: ignore[no-untyped-call]

    def wait(self, timeout: float) -> float | None:
        self._done.wait(timeout)
        return self.seen_at
