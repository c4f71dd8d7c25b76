"""Keeps bench/operator_bench.py working: one run with a tiny catalog (figures are not timed
here; only the counts that do not depend on the machine are checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def test_operator_bench_runs_with_a_small_catalog(tmp_path: Path) -> None:
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
