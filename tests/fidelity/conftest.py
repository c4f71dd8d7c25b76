"""Fixtures of the fidelity tests: a fresh sandbox per module beside the session's real
control plane, both with the Widget test CRD (and, where asked, the project's CRDs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from fidelity.runner import REAL, SANDBOX, Pair, Server
from fixtures_kube import install_widget_crd, start_sandbox
from fixtures_real_cluster import RealCluster

# Real clusters (by kubeconfig) that already have crds/ applied in this session: CRDs are
# cluster-scoped, once is enough.
_PROJECT_CRDS_APPLIED: set[str] = set()


def _on_both(pair: Pair, step: Callable[[Server], None]) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        for done in [pool.submit(step, server) for server in pair]:
            done.result()


@pytest.fixture(scope="module")
def pair(real_cluster: RealCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    sandbox = start_sandbox(tmp_path_factory.mktemp("fidelity-sandbox"))
    servers = Pair(Server(SANDBOX, sandbox.kubeconfig_path), Server(REAL, real_cluster.kubeconfig))
    try:
        _on_both(servers, lambda server: install_widget_crd(server.kubeconfig))
        yield servers
    finally:
        for server in servers:
            server.close()
        sandbox.stop_in_thread()


@pytest.fixture(scope="module")
def project_pair(pair: Pair) -> Pair:
    """`pair` with crds/ applied (kubectl apply -f crds/) and Established on both."""

    def apply(server: Server) -> None:
        if server.name == REAL and str(server.kubeconfig) in _PROJECT_CRDS_APPLIED:
            return
        server.apply_project_crds()
        if server.name == REAL:
            _PROJECT_CRDS_APPLIED.add(str(server.kubeconfig))

    _on_both(pair, apply)
    return pair
