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


PAGE_SIZE = 20


def run_bench(
    tmp_path: Path, *server_args: str, sizes: tuple[int, ...] = (50,)
) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """The bench's output, each run's --json figures and the comparison's (several sizes),
    after checking the counts every server must give."""
    figures_path = tmp_path / "figures.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "operator_bench.py"),
            f"--models={','.join(str(n) for n in sizes)}",
            f"--page-size={PAGE_SIZE}",
            "--steady-syncs=1",
            "--latency-tries=1",
            f"--json={figures_path}",
            *server_args,
        ],
        capture_output=True,
        text=True,
        timeout=90 * len(sizes),
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "trigger annotation -> updated ModelRef" in done.stdout, done.stdout
    assert "named-model trigger -> updated ModelRef" in done.stdout, done.stdout
    result = json.loads(figures_path.read_text())
    runs = result["runs"] if len(sizes) > 1 else [result]
    found = []
    for n, run in zip(sizes, runs, strict=True):
        assert run["complete"], done.stdout
        assert run["options"]["models"] == n
        figures = {key: row["value"] for key, row in run["figures"].items()}
        # ceil(N / pageSize), plus one to confirm a full last page
        listing = -(-n // PAGE_SIZE) + (1 if n % PAGE_SIZE == 0 else 0)
        assert figures["first.creates"] == n
        assert figures["first.catalog_requests"] == listing
        assert figures["first.retries"] == 0
        assert 1 <= figures["first.max_in_flight"] <= 16
        assert figures["steady.catalog_requests"] == listing
        assert figures["steady.modelref_lists"] == 0  # planned against the watch-fed cache
        assert figures["steady.writes"] == 0
        assert figures["annotated.writes"] == 1
        assert figures["latency.median"] > 0
        assert figures["named.median"] > 0
        assert figures["named.catalog_requests"] == 1  # the named model, nothing else
        assert figures["memory.hwm"] > 0
        assert figures["steady.cpu_ratio_json_loads"] > 0
        assert figures["steady.cpu_ratio_validate_json"] > 0
        found.append(figures)
    comparison = result.get("comparison", {})
    return done.stdout, found, {key: row["value"] for key, row in comparison.items()}


@pytest.mark.timeout(240)  # two bench runs, each bounded at 90 s
def test_operator_bench_runs_with_a_small_catalog(tmp_path: Path) -> None:
    """Two sizes: each run's counts, then the table comparing them."""
    _, runs, comparison = run_bench(tmp_path, sizes=(50, 20))
    for figures in runs:
        assert figures["server.bench.rss"] > 0
    assert comparison["compare.20.cpu_per_model_growth"] > 0
    for n in (50, 20):
        assert comparison[f"compare.{n}.peak_rss"] > 0
        assert comparison[f"compare.{n}.cpu_per_model"] > 0


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
    output, (figures,), _ = run_bench(tmp_path, *args)
    # The writes the relay saw are the ones the audit log (or the relay's log) holds.
    assert "audit log:" not in output, output
    assert "relay log:" not in output, output
    if real_cluster.state_dir is not None:
        for process in ("kube-apiserver", "etcd"):
            assert figures[f"server.{process}.rss"] > 0, output
            assert figures[f"server.{process}.first_cpu"] > 0, output
