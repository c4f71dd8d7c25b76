"""Keeps bench/operator_bench.py working: one run with a tiny catalog on each API server
(figures are not timed here; only the counts that do not depend on the machine are checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures_real_cluster import RealCluster, started_real_cluster

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def run_bench(tmp_path: Path, *server_args: str) -> tuple[str, dict[str, Any]]:
    """The bench's output and its --json figures, after checking the counts every server
    must give."""
    figures_path = tmp_path / "figures.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "operator_bench.py"),
            "--models=50",
            "--page-size=20",
            "--steady-syncs=1",
            "--latency-tries=1",
            f"--json={figures_path}",
            *server_args,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "trigger -> updated ModelRef" in done.stdout, done.stdout
    result = json.loads(figures_path.read_text())
    assert result["complete"], done.stdout
    figures = {key: row["value"] for key, row in result["figures"].items()}
    assert figures["first.creates"] == 50
    assert figures["first.catalog_requests"] == 3  # ceil(50 / 20)
    assert figures["first.retries"] == 0
    assert 1 <= figures["first.max_in_flight"] <= 16
    assert figures["steady.catalog_requests"] == 3
    assert figures["steady.modelref_lists"] == 1
    assert figures["steady.writes"] == 0
    assert figures["annotated.writes"] == 1
    assert figures["latency.median"] > 0
    return done.stdout, figures


def test_operator_bench_runs_with_a_small_catalog(tmp_path: Path) -> None:
    _, figures = run_bench(tmp_path)
    assert figures["server.bench.rss"] > 0


@pytest.fixture(scope="module")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    """A control plane of this module's own: the e2e suite's operator, on the session's,
    watches all namespaces and would sync the bench's ModelCatalogSync too."""
    with started_real_cluster(tmp_path_factory.mktemp("bench-real")) as cluster:
        yield cluster


def test_operator_bench_runs_on_the_real_control_plane(
    tmp_path: Path, real_cluster: RealCluster
) -> None:
    """A real control plane through --kubeconfig (the bench works in a namespace of its
    own), its state dir for the audit log and the processes' memory."""
    args = [f"--kubeconfig={real_cluster.kubeconfig}"]
    if real_cluster.state_dir is not None:
        args.append(f"--state-dir={real_cluster.state_dir}")
    output, figures = run_bench(tmp_path, *args)
    # The writes the relay saw are the ones the audit log (or the relay's log) holds.
    assert "audit log:" not in output, output
    assert "relay log:" not in output, output
    if real_cluster.state_dir is not None:
        for process in ("kube-apiserver", "etcd"):
            assert figures[f"server.{process}.rss"] > 0, output
            assert figures[f"server.{process}.first_cpu"] > 0, output
