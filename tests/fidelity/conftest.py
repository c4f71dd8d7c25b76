"""Fixtures of the fidelity tests: a fresh sandbox per module beside a real control plane of
this package's own, both with the Widget test CRD (and, where asked, the project's CRDs).

Not the session's control plane: the end-to-end suite's operator runs there and would write
to the ModelCatalogSyncs these tests compare."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fidelity.runner import REAL, SANDBOX, Pair, Server
from fixtures_kube import E2E_KUBECONFIG_ENV, install_widget_crd, start_sandbox
from fixtures_real_cluster import RealCluster, started_real_cluster

# Real clusters (by kubeconfig) that already have crds/ applied in this session: CRDs are
# cluster-scoped, once is enough.
_PROJECT_CRDS_APPLIED: set[str] = set()


def _on_both(pair: Pair, step: Callable[[Server], None]) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        for done in [pool.submit(step, server) for server in pair]:
            done.result()


@pytest.fixture(scope="package")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    given = os.environ.get(E2E_KUBECONFIG_ENV)
    if given:
        yield RealCluster(Path(given), None)
        return
    with started_real_cluster(tmp_path_factory.mktemp("fidelity-real")) as cluster:
        yield cluster


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
