"""Helpers shared by the client tests (no fake servers: the sandbox catalog is the server)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from typing import Any

from modelsync.catalog import CatalogClient, RetryPolicy
from modelsync_sandbox.catalog_params import ListModelsQuery, QueryError, parse_query
from modelsync_sandbox.catalog_server import CatalogSandbox

# No jitter, tiny delays: backoff is asserted exactly through RecordingSleep.
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=5.0, jitter=0.0)
MODELS_PATH = "/api/ml/v1/models"
VERSIONS_PATH = "/api/ml/v1/model-versions"


class RecordingSleep:
    """Stands in for asyncio.sleep: records the delays and returns at once.

    `then` runs on every call (e.g. to disarm a fault before the next attempt).
    """

    def __init__(self, then: Callable[[float], None] | None = None) -> None:
        self.delays: list[float] = []
        self._then = then

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self._then is not None:
            self._then(seconds)


def make_client(sandbox: CatalogSandbox, **options: Any) -> CatalogClient:
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("sleep", RecordingSleep())
    token = options.pop("token", sandbox.token)
    return CatalogClient(sandbox.url, token, **options)


def reject_next_request(sandbox: CatalogSandbox, query: Mapping[str, str]) -> None:
    """Answer the next API request with the 422 the sandbox's parameter parser gives `query`
    (the client never sends bad parameters itself, so the rejection is injected)."""
    try:
        parse_query(ListModelsQuery, query)
    except QueryError as rejected:
        sandbox.faults.fail_next(1, 422, body=rejected.body)
        return
    raise AssertionError(f"{dict(query)} is a valid List Models query")


def closed_port() -> int:
    """A local port nothing listens on (bound once to pick it, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def api_requests(sandbox: CatalogSandbox, path: str = MODELS_PATH) -> list[Any]:
    return [request for request in sandbox.requests if request.path == path]


def fixture_models(data: dict[str, Any]) -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = data["models"]
    return models


def fixture_ids(data: dict[str, Any], keep: Callable[[dict[str, Any]], bool] = bool) -> set[str]:
    return {model["id"] for model in fixture_models(data) if keep(model)}
