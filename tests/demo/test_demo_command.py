"""`modelsync demo` as a user runs it: a subprocess, its output, kubectl, Ctrl-C."""

from __future__ import annotations

import io
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from modelsync_sandbox.demo import DemoOptions, run_demo

ROOT = Path(__file__).resolve().parents[2]
HEADER = re.compile(
    r"^NAME\s+MODEL\s+VERSION\s+ALIAS\s+FRAMEWORK\s+PINNED\s+READY\s+AGE$", re.MULTILINE
)
# The example sync selects ^(fraud|churn)- in the fraud and churn repos of the fixtures.
EXPECTED = {
    "churn.churn-predictor": "5",  # v6 is not deployable: the newest deployable one
    "churn.churn-survival": "3",
    "fraud.fraud-detector": "5",
    "fraud.fraud-model": "3",
}


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "modelsync", "demo", *args]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONUNBUFFERED="1")


def _table(output: str) -> dict[str, list[str]]:
    """Rows of the first table in `output` by name (cells split on runs of spaces)."""
    header = HEADER.search(output)
    assert header is not None, output
    rows: dict[str, list[str]] = {}
    for line in output[header.end() + 1 :].splitlines():
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells
    return rows


def test_demo_once_prints_the_modelrefs_and_exits_0(tmp_path: Path) -> None:
    started = time.monotonic()
    done = subprocess.run(
        _command("--once", "--workdir", str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,  # not the checkout: the CRDs are found from the package
        env=_env(),
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    rows = _table(done.stdout)
    assert set(rows) == set(EXPECTED)
    for name, version in EXPECTED.items():
        assert rows[name][2] == version
        assert "True" in rows[name]
    for phase in ("catalog", "cluster", "crds", "apply", "operator", "sync", "ready"):
        assert re.search(rf"^  {phase}\s", done.stdout, re.MULTILINE), phase
    assert (tmp_path / "kubeconfig").is_file()
    assert (tmp_path / "operator.log").is_file()
    assert time.monotonic() - started < 30


class _Running:
    """A demo subprocess whose stdout lines are read on a thread (waits are bounded)."""

    def __init__(self, workdir: Path) -> None:
        self.proc = subprocess.Popen(
            _command("--workdir", str(workdir)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            cwd=workdir,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        threading.Thread(target=self._pump, args=(stdout,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                err = self.proc.stderr.read() if self.proc.poll() is not None else ""  # type: ignore[union-attr]
                pytest.fail(f"no line matching {pattern!r}:\n{''.join(self.seen)}{err}")
            self.seen.append(line)
            if re.search(pattern, line):
                return line

    def stop(self, sig: signal.Signals, timeout: float = 20.0) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        while (line := self.lines.get(timeout=5)) is not None:
            self.seen.append(line)
        return code

    @property
    def output(self) -> str:
        return "".join(self.seen)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[_Running]:
    demo = _Running(tmp_path)
    try:
        yield demo
    finally:
        if demo.proc.poll() is None:
            demo.proc.kill()
            demo.proc.wait(10)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
def test_demo_runs_until_ctrl_c_and_its_kubectl_line_shows_the_same_table(
    running: _Running, tmp_path: Path
) -> None:
    hint = running.wait_for(r"kubectl get modelrefs")
    running.wait_for(r"Ctrl-C")
    assignment, *command = shlex.split(hint.strip())
    key, _, kubeconfig = assignment.partition("=")
    assert key == "KUBECONFIG"
    assert command[:3] == ["kubectl", "get", "modelrefs"]
    looked = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ, KUBECONFIG=kubeconfig, KUBECACHEDIR=str(tmp_path / "cache")),
        check=False,
    )
    assert looked.returncode == 0, looked.stderr
    # The demo's table is kubectl's, cell for cell, AGE (the last column) aside.
    demo_lines = running.output[HEADER.search(running.output).start() :].splitlines()  # type: ignore[union-attr]
    kubectl_lines = looked.stdout.splitlines()
    assert len(kubectl_lines) == len(EXPECTED) + 1
    age_at = kubectl_lines[0].index("AGE")
    for ours, theirs in zip(demo_lines, kubectl_lines, strict=False):
        assert ours[:age_at] == theirs[:age_at]

    assert running.stop(signal.SIGINT) == 0
    assert running.output.rstrip().endswith("stopped")


def test_demo_stops_cleanly_on_sigterm_while_starting(running: _Running) -> None:
    running.wait_for(r"^  cluster\s")
    assert running.stop(signal.SIGTERM) == 0, running.output


def test_demo_without_crds_fails_with_a_clear_message(tmp_path: Path) -> None:
    empty = tmp_path / "no-crds"
    empty.mkdir()
    out, err = io.StringIO(), io.StringIO()
    options = DemoOptions(once=True, workdir=tmp_path, crds=empty)
    assert run_demo(options, out, err) == 1
    assert f"no CustomResourceDefinitions found in {empty}" in err.getvalue()
    assert "operator log is kept" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_a_busy_port_is_reported(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out, err = io.StringIO(), io.StringIO()
        options = DemoOptions(once=True, workdir=tmp_path, catalog_port=port)
        assert run_demo(options, out, err) == 1
    assert "cannot start the sandbox catalog" in err.getvalue()


def test_demo_gives_up_after_the_timeout_with_the_last_state(tmp_path: Path) -> None:
    done = subprocess.run(
        _command("--once", "--workdir", str(tmp_path), "--timeout", "0.01"),
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )
    assert done.returncode == 1
    assert "timed out after 0s waiting for ModelCatalogSync demo/sandbox-models" in done.stderr
    assert "(last state: " in done.stderr
    assert f"operator log is kept at {tmp_path / 'operator.log'}" in done.stderr
