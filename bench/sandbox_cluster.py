"""The bench's sandbox cluster: the sandbox API server (plain HTTP, in the bench process)
behind the in-flight relay (a process of its own); the server's request log tells the
operator's writes and LISTs."""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

from bench_cluster import WRITE_VERBS, BenchCluster, established, selects_sync
from kubernetes import client, config
from relay_process import RelayProcess

from modelsync.api.constants import PLURAL_SYNC
from modelsync.crds import crd_documents
from modelsync.kube.client import KubeApi, load_configuration
from modelsync_sandbox.kube import KubeSandbox
from modelsync_sandbox.kube.kubeconfig import write_kubeconfig

__all__ = ["NAMESPACE", "SandboxCluster"]

NAMESPACE = "bench"
_CRD_API = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")


class SandboxCluster(BenchCluster):
    def __init__(self, workdir: Path) -> None:
        super().__init__(NAMESPACE)
        self.write_log_name = "sandbox log"
        self.sandbox = KubeSandbox(kubeconfig_path=workdir / "sandbox.kubeconfig", tls=False)
        self._operator_kubeconfig = workdir / "operator.kubeconfig"  # through the relay
        self._relay_process: RelayProcess | None = None

    @property
    def kubeconfig(self) -> Path:
        return self._operator_kubeconfig

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self.sandbox.start_in_thread()
        self.relay = self._relay_process = RelayProcess(self.sandbox.host, self.sandbox.port)
        write_kubeconfig(self.kubeconfig, self.relay.url, self.sandbox.token, None)
        self._api = config.new_client_from_config(config_file=str(self.sandbox.kubeconfig_path))  # type: ignore[no-untyped-call]
        self._kube = KubeApi(load_configuration(str(self.sandbox.kubeconfig_path)), max_workers=1)
        # The catalog and everything set up so far stay for the whole run: the collector
        # need not walk them again (a full collection would, over and over, while the sandbox
        # stores N ModelRefs).
        gc.collect()
        gc.freeze()

    def stop(self) -> None:
        self.close_clients()
        if self._relay_process is not None:
            self._relay_process.stop()
            self._relay_process = self.relay = None
        self.sandbox.stop_in_thread()
        gc.unfreeze()

    def server_processes(self) -> dict[str, int]:
        processes = {"bench process (API+catalog)": os.getpid()}
        if self._relay_process is not None:
            processes["in-flight relay"] = self._relay_process.pid
        return processes

    # --- setup ---------------------------------------------------------------------------

    def install(self, catalog_token: str) -> None:
        """CRDs (waited for), the namespace and the token Secret."""
        custom = client.CustomObjectsApi(self.api)
        crds = crd_documents()
        for crd in crds:
            custom.create_cluster_custom_object(*_CRD_API, crd)
        deadline = time.monotonic() + 30
        for crd in crds:
            while not established(
                custom.get_cluster_custom_object(*_CRD_API, crd["metadata"]["name"])
            ):
                if time.monotonic() > deadline:
                    raise TimeoutError("the CRDs were not established in 30s")
                time.sleep(0.05)
        self.create_namespace_and_secret(catalog_token)

    # --- request logs --------------------------------------------------------------------

    def begin_window(self) -> None:
        self.sandbox.reset_stats()

    def sync_list_queries(self) -> list[str]:
        return [
            r.query
            for r in self.sandbox.stats.log
            if r.verb == "list" and r.resource == "modelrefs" and selects_sync(r.query)
        ]

    def operator_writes(self) -> list[str]:
        """Write requests the sandbox served in the bench namespace, without the bench's own
        (the Secret touch, the ModelCatalogSync's creation and trigger annotation)."""
        return [
            f"{r.verb} {r.resource} {r.status}"
            for r in self.sandbox.stats.log
            if r.namespace == self.namespace
            and r.verb in WRITE_VERBS
            and r.resource not in ("secrets", PLURAL_SYNC)
        ]
