"""The sandbox served from a background thread, for synchronous callers."""

from __future__ import annotations

import socket

import httpx
import pytest

from modelsync_sandbox.catalog_server import CatalogSandbox


def test_fixture_serves_and_is_drivable_from_sync_code(
    catalog_server_thread: CatalogSandbox,
) -> None:
    sandbox = catalog_server_thread
    sandbox.faults.fail_next(1, 503)
    with httpx.Client(base_url=sandbox.url, headers=sandbox.auth_headers, timeout=10) as http:
        assert http.get("/api/ml/v1/models").status_code == 503
        assert http.get("/api/ml/v1/models").status_code == 200
    assert [r.status for r in catalog_server_thread.requests] == [503, 200]


def test_stop_releases_the_port_and_is_idempotent() -> None:
    with CatalogSandbox.running_in_thread(fixtures={"models": []}, token=None) as sandbox:
        url = sandbox.url
        assert httpx.get(f"{url}/api/ml/v1/models", timeout=10).json()["data"] == []
    sandbox.stop_in_thread()
    with pytest.raises(RuntimeError):
        _ = sandbox.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/ml/v1/models", timeout=2)


def test_start_failure_is_raised_in_the_caller() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        sandbox = CatalogSandbox(port=busy.getsockname()[1])
        with pytest.raises(OSError, match=r"(?i)address already in use"):
            sandbox.start_in_thread()
    with pytest.raises(RuntimeError):
        _ = sandbox.url


def test_stop_is_quick_even_with_a_long_delay_armed() -> None:
    with CatalogSandbox.running_in_thread() as sandbox:
        sandbox.faults.delay(30)
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{sandbox.url}/api/ml/v1/models", timeout=0.2)
