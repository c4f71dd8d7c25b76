"""`modelsync` as a user meets it when something is wrong: usage errors show the command's own
usage, the configuration is checked before any server starts, a missing kubeconfig is named,
and an unreachable API server is one line per failure naming the server (subprocesses)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_process import modelsync_process

RUN_FOR = 6.0  # seconds the operator runs against an unreachable API server
STOP_WITHIN = 40.0
GIVE_UP_WITHIN = 100.0
FIX = "is it running, and is the server address in the kubeconfig right?"


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user with no kubeconfig anywhere and no MODELSYNC_ variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MODELSYNC_", "KUBE")) and k != "POD_NAMESPACE"
    }
    env.update(HOME=str(home), **extra)
    return env


def modelsync(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return modelsync_process(*args, cwd=cwd, env=env)


# -- usage errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "command", "unknown", "guess"),
    [
        (["run", "--namespce", "x"], "run", "--namespce x", "--namespace"),
        (["run", "--max-concurent-writes=3"], "run", "--max-concurent-writes=3",
         "--max-concurrent-writes"),
        (["render", "-f", "a.yaml", "--no-statsu"], "render", "--no-statsu", "--no-status"),
        (["version", "--outptu", "json"], "version", "--outptu json", "--output"),
        (["run", "--zzz"], "run", "--zzz", None),
    ],
)  # fmt: skip
def test_an_unknown_option_shows_the_commands_usage_and_the_nearest_option(
    tmp_path: Path, argv: list[str], command: str, unknown: str, guess: str | None
) -> None:
    result = modelsync(*argv, env=clean_env(tmp_path), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(f"usage: modelsync {command} ")
    hint = f" (did you mean {guess}?)" if guess else ""
    assert result.stderr.splitlines()[-1] == (
        f"modelsync {command}: error: unrecognized arguments: {unknown}{hint}"
    )


def test_a_bad_variable_is_a_usage_error_of_run_naming_it(tmp_path: Path) -> None:
    env = clean_env(tmp_path, MODELSYNC_MAX_CONCURRENT_WRITES="0")
    result = modelsync("run", env=env, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("usage: modelsync run ")
    assert result.stderr.splitlines()[-1] == (
        "modelsync run: error: argument --max-concurrent-writes: environment variable "
        "MODELSYNC_MAX_CONCURRENT_WRITES: '0' must be at least 1 (fix or unset it)"
    )


# -- configuration checked before anything starts ----------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_without_a_kubeconfig_run_fails_before_serving_anything(tmp_path: Path) -> None:
    port = free_port()
    result = modelsync("run", "--metrics-port", str(port), env=clean_env(tmp_path), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "modelsync run: no Kubernetes configuration: set KUBECONFIG or --kubeconfig, run in a "
        "cluster, or create ~/.kube/config\n"
    )


@pytest.mark.parametrize("via", ["flag", "variable"])
def test_a_missing_kubeconfig_is_named(tmp_path: Path, via: str) -> None:
    missing = tmp_path / "nonexistent"
    if via == "flag":
        result = modelsync(
            "run", "--kubeconfig", str(missing), env=clean_env(tmp_path), cwd=tmp_path
        )
        source = "--kubeconfig"
    else:
        env = clean_env(tmp_path, KUBECONFIG=str(missing))
        result = modelsync("run", env=env, cwd=tmp_path)
        source = "KUBECONFIG"
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"modelsync run: kubeconfig {missing} (from {source}): no such file; point {source} at "
        "an existing kubeconfig file\n"
    )


def test_an_unreadable_kubeconfig_is_named_on_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "kubeconfig"
    broken.write_text("apiVersion: v1\nclusters: [\n")
    result = modelsync("run", "--kubeconfig", str(broken), env=clean_env(tmp_path), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        f"modelsync run: cannot load the Kubernetes configuration from {broken}: "
    )
    assert "Traceback" not in result.stderr


def test_a_taken_liveness_port_fails_before_anything_starts(tmp_path: Path) -> None:
    kubeconfig = kubeconfig_for("https://127.0.0.1:6443", tmp_path / "kubeconfig")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = modelsync(
            "run", "--kubeconfig", str(kubeconfig), "--metrics-port", "0",
            "--liveness", f"http://127.0.0.1:{port}/healthz",
            env=clean_env(tmp_path), cwd=tmp_path,
        )  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"modelsync run: cannot serve the liveness probe on 127.0.0.1:{port}: Address already "
        "in use; free the port or choose another with --liveness (an empty value turns the "
        "probe off)\n"
    )


# -- an API server that does not answer --------------------------------------------------


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: connections to it are refused, and no other process
    can take it while the test runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def kubeconfig_for(server: str, path: Path) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters:\n- name: k\n  cluster:\n    server: {server}\n"
        "    insecure-skip-tls-verify: true\n"
        "users:\n- name: u\n  user:\n    token: t\n"
        "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n"
    )
    return path


def run_for_a_while(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int | None, str]:
    """Start `modelsync run`, let it run RUN_FOR seconds (or until it exits), stop it with
    SIGINT; (exit code, stderr)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "modelsync", "run", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )
    try:
        try:
            process.wait(timeout=RUN_FOR)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=STOP_WITHIN)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    return process.returncode, err


def test_an_unreachable_api_server_is_one_line_per_failure_naming_it(
    tmp_path: Path, closed_port: int
) -> None:
    server = f"https://127.0.0.1:{closed_port}"
    kubeconfig = kubeconfig_for(server, tmp_path / "kubeconfig")
    started = time.monotonic()
    _, err = run_for_a_while(
        ["--kubeconfig", str(kubeconfig), "--metrics-port", "0", "--liveness", ""],
        clean_env(tmp_path),
        tmp_path,
    )
    assert time.monotonic() - started < RUN_FOR + STOP_WITHIN
    lines = err.splitlines()
    assert lines, "nothing logged"
    assert not [line for line in lines if "Retrying (Retry(" in line]
    assert "Traceback" not in err
    failures = [line for line in lines if " ERROR " in line or " WARNING " in line]
    assert failures, err
    for line in failures:
        assert server in line, line
        if "cannot reach" in line or "no response" in line:
            assert line.endswith(FIX), line
    assert any(
        f"cannot reach the Kubernetes API server {server}: connection refused (GET /api" in line
        for line in failures
    ), err
    lease = [line for line in failures if "leader election" in line]
    assert len(lease) == 1, err  # once, not once per attempt


def test_when_kopf_gives_up_on_the_api_server_run_exits_with_one_line(
    tmp_path: Path, closed_port: int
) -> None:
    """Kopf retries a request 9 times over about 55 s, then stops the operator."""
    server = f"https://127.0.0.1:{closed_port}"
    kubeconfig = kubeconfig_for(server, tmp_path / "kubeconfig")
    process = subprocess.Popen(
        [sys.executable, "-m", "modelsync", "run", "--kubeconfig", str(kubeconfig),
         "--metrics-port", "0", "--liveness", ""],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env=clean_env(tmp_path),
    )  # fmt: skip
    try:
        _, err = process.communicate(timeout=GIVE_UP_WITHIN)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert process.returncode == 1, err
    assert "Traceback" not in err
    assert "Retrying (Retry(" not in err
    assert (
        f"modelsync run: gave up on the Kubernetes API server {server}: connection refused; {FIX}"
    ) in err.splitlines()
    assert any(
        "Resource observer has failed: cannot reach " + server in line for line in err.splitlines()
    ), err
