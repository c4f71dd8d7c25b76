"""`modelsync sandbox catalog` as a real process, and the CLI module's promises."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from fixtures_catalog import spec_validator
from modelsync_sandbox.catalog_cli import usage_line

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MODELSYNC_SANDBOX_TOKEN"}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO / "operator"), str(REPO / "sandbox"), env.get("PYTHONPATH")])
    )
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError("no output from the sandbox catalog")
    return proc.stdout.readline()


@contextmanager
def _catalog_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    command = [sys.executable, "-m", "modelsync", "sandbox", "catalog", *args]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=REPO,
    )
    try:
        yield proc, _read_line(proc, START_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serves_a_spec_valid_page_and_stops_on_signal(stop_signal: signal.Signals) -> None:
    port = _free_port()
    with _catalog_process("--port", str(port)) as (proc, line):
        url = f"http://127.0.0.1:{port}"
        assert url in line
        assert "Authorization: Bearer sandbox-token" in line
        response = httpx.get(
            f"{url}/api/ml/v1/models?limit=2&offset=1",
            headers={"Authorization": "Bearer sandbox-token"},
            timeout=10,
        )
        assert response.status_code == 200
        body = response.json()
        spec_validator("ListModelsResponse").validate(body)
        assert len(body["data"]) == 2
        assert body["pagination"]["offset"] == 1
        assert body["pagination"]["limit"] == 2
        assert httpx.get(f"{url}/api/ml/v1/models", timeout=10).status_code == 401
        proc.send_signal(stop_signal)
        assert proc.wait(timeout=10) == 0


def test_custom_token_is_not_printed_and_fixtures_flag(tmp_path: Path) -> None:
    fixtures = tmp_path / "tiny.json"
    fixtures.write_text('{"tenant": "t", "models": []}')
    port = _free_port()
    with _catalog_process(
        "--port", str(port), "--token", "t0ps3cret", "--fixtures", str(fixtures)
    ) as (
        proc,
        line,
    ):
        assert "t0ps3cret" not in line
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/ml/v1/models",
            headers={"Authorization": "Bearer t0ps3cret"},
            timeout=10,
        )
        assert response.json() == {"data": [], "pagination": {"total": 0, "offset": 0}}
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
        assert "t0ps3cret" not in stderr


def test_no_auth() -> None:
    port = _free_port()
    with _catalog_process("--port", str(port), "--no-auth") as (proc, line):
        assert "Authorization" not in line
        response = httpx.get(f"http://127.0.0.1:{port}/api/ml/v1/models?limit=1", timeout=10)
        assert response.status_code == 200
        proc.terminate()


def test_port_in_use_and_bad_fixtures_fail_cleanly(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "modelsync", "sandbox", "catalog", "--port", str(port)],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=30,
            check=False,
        )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    result = subprocess.run(
        [sys.executable, "-m", "modelsync", "sandbox", "catalog", "--fixtures", str(broken)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "cannot read fixtures" in result.stderr


def test_cli_module_is_import_light_and_the_package_avoids_kopf() -> None:
    code = (
        "import sys\n"
        "import modelsync_sandbox.catalog_cli\n"
        "heavy = {'aiohttp', 'pydantic', 'modelsync_sandbox.catalog_server'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
        "import modelsync_sandbox.catalog_server\n"
        "assert not {'kopf', 'kubernetes'} & set(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], env=_env(), check=True, timeout=30)


def test_usage_line_shows_only_the_public_token() -> None:
    url = "http://127.0.0.1:8181"
    public = usage_line(url, "sandbox-token")
    assert "curl -H 'Authorization: Bearer sandbox-token'" in public
    assert f"'{url}/api/ml/v1/models?limit=2&offset=1'" in public
    assert "private" not in usage_line(url, "private")
    assert "$TOKEN" in usage_line(url, "private")
    assert "Authorization" not in usage_line(url, None)
