"""The bearer token never shows up in an error message, a repr or a log line."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trustme

from catalog.adversarial_servers import NotTlsServer, Reply, ScriptedServer
from catalog.client_support import FAST_RETRY, RecordingSleep, closed_port, reject_next_request
from modelsync.catalog import (
    CatalogClient,
    CatalogError,
    InvalidToken,
    RetryPolicy,
    restricted_destinations_guard,
)
from modelsync_sandbox.catalog_server import CatalogSandbox

SECRET = "tfy-SECRET-7d1e9c0b4a"
WRONG = "tfy-WRONG-55aa17f3e2"
LOGGERS = ("", "modelsync", "httpx", "httpcore", "aiohttp")


@pytest.fixture
async def secret_catalog() -> AsyncIterator[CatalogSandbox]:
    async with CatalogSandbox(token=SECRET) as sandbox:
        yield sandbox


def _client(url: str, token: str | None, **options: Any) -> CatalogClient:
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("sleep", RecordingSleep())
    return CatalogClient(url, token, **options)


Scenario = Callable[[CatalogSandbox], Awaitable[object]]


async def _listing(sandbox: CatalogSandbox, token: str | None = SECRET, **kw: Any) -> object:
    async with _client(sandbox.url, token, **kw) as client:
        return await client.list_models()


async def _server_error(sandbox: CatalogSandbox) -> object:
    sandbox.faults.fail_next(10, 500, body={"detail": f"echo Bearer {SECRET}"})
    return await _listing(sandbox)


async def _rate_limited(sandbox: CatalogSandbox) -> object:
    sandbox.faults.fail_next(10, 429, retry_after=1)
    return await _listing(sandbox)


async def _forbidden(sandbox: CatalogSandbox) -> object:
    sandbox.faults.fail_next(1, 403, body={"detail": f"token {SECRET} may not"})
    return await _listing(sandbox)


async def _wrong_token(sandbox: CatalogSandbox) -> object:
    return await _listing(sandbox, token=WRONG)


async def _validation(sandbox: CatalogSandbox) -> object:
    reject_next_request(sandbox, {"limit": "abc"})
    return await _listing(sandbox)


async def _bad_bodies(sandbox: CatalogSandbox) -> object:
    sandbox.faults.bad_body_next(2, "truncated")
    return await _listing(sandbox)


async def _wrong_shape(sandbox: CatalogSandbox) -> object:
    sandbox.faults.bad_body_next(1, "wrong-shape")
    return await _listing(sandbox)


async def _timeout(sandbox: CatalogSandbox) -> object:
    sandbox.faults.delay(0.4)
    try:
        return await _listing(sandbox, timeout=0.1, retry=RetryPolicy(attempts=2, base_delay=0))
    finally:
        sandbox.faults.delay(0)


async def _refused(_sandbox: CatalogSandbox) -> object:
    async with _client(f"http://127.0.0.1:{closed_port()}", SECRET) as client:
        return await client.list_models()


async def _versions_404(sandbox: CatalogSandbox) -> object:
    sandbox.faults.fail_next(1, 404)
    async with _client(sandbox.url, SECRET) as client:
        return await client.list_model_versions("m-1")


async def _runaway(sandbox: CatalogSandbox) -> object:
    return await _listing(sandbox, page_size=1, max_pages=2)


async def _too_large(sandbox: CatalogSandbox) -> object:
    return await _listing(sandbox, max_response_bytes=100)


async def _destination_refused(sandbox: CatalogSandbox) -> object:
    return await _listing(sandbox, connect_guard=restricted_destinations_guard(lambda _: False))


async def _untrusted_certificate(_sandbox: CatalogSandbox) -> object:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("localhost").configure_cert(context)
    async with (
        ScriptedServer(lambda _request: Reply(), tls=context) as server,
        _client(server.url_for("localhost"), SECRET) as client,
    ):
        return await client.list_models()


async def _not_tls(_sandbox: CatalogSandbox) -> object:
    async with NotTlsServer() as server, _client(server.url, SECRET) as client:
        return await client.list_models()


SCENARIOS: dict[str, Scenario] = {
    "server-error": _server_error,
    "rate-limited": _rate_limited,
    "forbidden": _forbidden,
    "wrong-token": _wrong_token,
    "validation": _validation,
    "bad-bodies": _bad_bodies,
    "wrong-shape": _wrong_shape,
    "timeout": _timeout,
    "refused": _refused,
    "versions-404": _versions_404,
    "runaway": _runaway,
    "too-large": _too_large,
    "destination-refused": _destination_refused,
    "untrusted-certificate": _untrusted_certificate,
    "not-tls": _not_tls,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_token_absent_from_errors_and_logs(
    secret_catalog: CatalogSandbox, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    for logger in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=logger)
    with pytest.raises(CatalogError) as caught:
        await SCENARIOS[name](secret_catalog)
    error = caught.value
    texts = [str(error), repr(error), error.message, *map(str, error.args)]
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    assert caplog.records, "expected some DEBUG logging to inspect"
    for text in texts:
        assert SECRET not in text
        assert WRONG not in text


async def test_successful_listing_logs_no_token(
    secret_catalog: CatalogSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    for logger in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=logger)
    client = _client(secret_catalog.url, SECRET, page_size=10)
    async with client:
        await client.list_models()
        assert SECRET not in repr(client)
        assert SECRET not in repr(client._http.headers)
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    assert all(SECRET not in r.getMessage() for r in caplog.records)


async def test_token_with_trailing_newline_is_trimmed(secret_catalog: CatalogSandbox) -> None:
    listing = await _listing(secret_catalog, token=f"{SECRET}\n")
    assert listing


@pytest.mark.parametrize(
    "token", [f"{SECRET} x", f"{SECRET}\x00", f"{SECRET}é", f"{SECRET}\tx", "  ", ""]
)
def test_unusable_token_is_refused_without_echo(token: str) -> None:
    with pytest.raises(ValueError, match="token") as caught:
        CatalogClient("https://catalog.example", token)
    error = caught.value
    assert isinstance(error, InvalidToken)
    assert isinstance(error, CatalogError)
    assert error.reason == "InvalidToken"
    for text in (str(error), repr(error), *map(str, error.args)):
        assert SECRET not in text
