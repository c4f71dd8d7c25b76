"""The bench's cluster: the sandbox API server (plain HTTP) behind the in-flight relay, with
the CRDs, a namespace, the token Secret and the ModelCatalogSync, driven with the official
client as a user would."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from inflight_relay import InflightRelay
from kubernetes import client, config, watch

from modelsync.api.constants import (
    API_VERSION,
    GROUP,
    KIND_SYNC,
    PLURAL_MODELREF,
    PLURAL_SYNC,
    VERSION,
)
from modelsync.api.timestamps import format_time_precise
from modelsync.crds import crd_documents
from modelsync.kube.client import KubeApi, load_configuration
from modelsync.kube.modelcatalogsyncs import request_reconcile
from modelsync_sandbox.catalog_server import DEFAULT_TOKEN
from modelsync_sandbox.kube import KubeSandbox
from modelsync_sandbox.kube.kubeconfig import write_kubeconfig

__all__ = ["BenchCluster", "sync_manifest"]

NAMESPACE = "bench"
SYNC_NAME = "bench-models"
SECRET_NAME = "tfy-api"
_CRD_API = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")
_WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def sync_manifest(catalog_url: str, page_size: int) -> dict[str, Any]:
    """All models of the catalog, latest deployable version, no timer sync during the bench."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND_SYNC,
        "metadata": {"name": SYNC_NAME, "namespace": NAMESPACE},
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


class BenchCluster:
    def __init__(self, workdir: Path) -> None:
        self.sandbox = KubeSandbox(kubeconfig_path=workdir / "sandbox.kubeconfig", tls=False)
        self.relay: InflightRelay | None = None
        self.kubeconfig = workdir / "operator.kubeconfig"  # through the relay
        self._api: client.ApiClient | None = None
        self._kube: KubeApi | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self.sandbox.start_in_thread()
        self.relay = InflightRelay(self.sandbox.host, self.sandbox.port)
        self.relay.start_in_thread()
        write_kubeconfig(self.kubeconfig, self.relay.url, self.sandbox.token, None)
        self._api = config.new_client_from_config(config_file=str(self.sandbox.kubeconfig_path))  # type: ignore[no-untyped-call]
        self._kube = KubeApi(load_configuration(str(self.sandbox.kubeconfig_path)), max_workers=1)

    def stop(self) -> None:
        if self._kube is not None:
            self._kube.close()
            self._kube = None
        if self._api is not None:
            self._api.close()  # type: ignore[no-untyped-call]
            self._api = None
        if self.relay is not None:
            self.relay.stop_in_thread()
            self.relay = None
        self.sandbox.stop_in_thread()

    @property
    def api(self) -> client.ApiClient:
        assert self._api is not None, "the cluster is not started"
        return self._api

    # --- setup ---------------------------------------------------------------------------

    def install(self, catalog_token: str = DEFAULT_TOKEN) -> None:
        """CRDs (waited for), the namespace and the token Secret."""
        custom = client.CustomObjectsApi(self.api)
        crds = crd_documents()
        for crd in crds:
            custom.create_cluster_custom_object(*_CRD_API, crd)
        deadline = time.monotonic() + 30
        for crd in crds:
            while not _established(
                custom.get_cluster_custom_object(*_CRD_API, crd["metadata"]["name"])
            ):
                if time.monotonic() > deadline:
                    raise TimeoutError("the CRDs were not established in 30s")
                time.sleep(0.05)
        core = client.CoreV1Api(self.api)
        core.create_namespace(cast(Any, {"metadata": {"name": NAMESPACE}}))
        secret = {
            "metadata": {
                "name": SECRET_NAME,
                "namespace": NAMESPACE,
                # Opts the Secret in as catalog credentials; the operator ignores others.
                "labels": {"modelsync.dev/catalog-credentials": "true"},
            },
            "stringData": {"token": catalog_token},
        }
        core.create_namespaced_secret(NAMESPACE, cast(Any, secret))

    def create_sync(self, manifest: Mapping[str, Any]) -> None:
        client.CustomObjectsApi(self.api).create_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL_SYNC, dict(manifest)
        )

    # --- triggers ------------------------------------------------------------------------

    def touch_secret(self, value: str) -> None:
        """Change the token Secret's metadata only: the operator notices a new
        resourceVersion and syncs, without any change to the ModelCatalogSync."""
        body = {"metadata": {"labels": {"bench-touch": value}}}
        client.CoreV1Api(self.api).patch_namespaced_secret(SECRET_NAME, NAMESPACE, body)

    def request_reconcile(self) -> str:
        """What `modelsync reconcile NAME` does: a merge patch of the trigger annotation."""
        assert self._kube is not None, "the cluster is not started"
        value = format_time_precise(datetime.now(UTC))
        asyncio.run(request_reconcile(self._kube, NAMESPACE, SYNC_NAME, value))
        return value

    # --- looking -------------------------------------------------------------------------

    def modelref(self, name: str) -> dict[str, Any]:
        found = client.CustomObjectsApi(self.api).get_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL_MODELREF, name
        )
        return cast(dict[str, Any], found)

    def watch_version(self, name: str, since: str, version: int, timeout: float) -> VersionWatch:
        return VersionWatch(self.api, name, since, version, timeout)

    def operator_writes(self) -> list[str]:
        """Write requests the sandbox served in the bench namespace, without the bench's own
        (the Secret touch, the ModelCatalogSync's creation and trigger annotation)."""
        return [
            f"{r.verb} {r.resource} {r.status}"
            for r in self.sandbox.stats.log
            if r.namespace == NAMESPACE
            and r.verb in _WRITE_VERBS
            and r.resource not in ("secrets", PLURAL_SYNC)
        ]

    def requests(self, verb: str, resource: str) -> int:
        return self.sandbox.stats.requests[(verb, resource)]


def _established(crd: object) -> bool:
    conditions = (cast(dict[str, Any], crd).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


class VersionWatch:
    """Watches one ModelRef (from resourceVersion `since`) until spec.version.version equals
    `version`; `seen_at` is time.monotonic() when that event arrived."""

    def __init__(
        self, api: client.ApiClient, name: str, since: str, version: int, timeout: float
    ) -> None:
        self.seen_at: float | None = None
        self._done = threading.Event()
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]
        args = (api, name, since, version, timeout)
        self._thread = threading.Thread(target=self._run, args=args, daemon=True)
        self._thread.start()

    def _run(
        self, api: client.ApiClient, name: str, since: str, version: int, timeout: float
    ) -> None:
        custom = client.CustomObjectsApi(api)
        try:
            for event in self._watch.stream(  # type: ignore[no-untyped-call]
                custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                NAMESPACE,
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
