"""CatalogClient failures against the real sandbox catalog: retries, give-up, typed errors,
and messages that name the catalog (`GET scheme://host:port/path?query`) and the fix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from catalog.client_support import (
    FAST_RETRY,
    MODELS_PATH,
    RecordingSleep,
    api_requests,
    closed_port,
    make_client,
    reject_next_request,
)
from modelsync.catalog import (
    CatalogClient,
    CatalogError,
    Forbidden,
    InvalidResponse,
    RateLimited,
    RequestInvalid,
    RetryPolicy,
    ServerError,
    TransportFailure,
    Unauthorized,
    UnexpectedStatus,
)
from modelsync_sandbox.catalog_server import CatalogSandbox

FIXTURE_COUNT = 38


async def test_500_then_success_is_retried_with_exponential_backoff(
    catalog_server: CatalogSandbox,
) -> None:
    catalog_server.faults.fail_next(2, 500)
    sleep = RecordingSleep()
    async with make_client(catalog_server, sleep=sleep) as client:
        listing = await client.list_models()
    assert len(listing.models) == FIXTURE_COUNT
    assert listing.requests == 3
    assert listing.pages == 1
    assert sleep.delays == pytest.approx([0.01, 0.02])
    assert [r.status for r in catalog_server.requests] == [500, 500, 200]


async def test_retry_mid_listing_keeps_the_page(catalog_server: CatalogSandbox) -> None:
    def fail_second_page(_status: int) -> None:
        if len(catalog_server.requests) == 1:
            catalog_server.faults.fail_next(1, 502)

    async with make_client(catalog_server, page_size=30, on_response=fail_second_page) as client:
        listing = await client.list_models()
    assert len(listing.models) == FIXTURE_COUNT
    assert [r.query["offset"] for r in api_requests(catalog_server)] == ["0", "30", "30"]
    assert (listing.pages, listing.requests) == (2, 3)


async def test_500_forever_gives_up_after_the_attempts(catalog_server: CatalogSandbox) -> None:
    catalog_server.faults.fail_next(100, 500)
    sleep = RecordingSleep()
    async with make_client(catalog_server, sleep=sleep) as client:
        with pytest.raises(ServerError) as caught:
            await client.list_models()
    error = caught.value
    assert error.status_code == 500
    assert error.reason == "CatalogUnavailable"
    assert len(catalog_server.requests) == FAST_RETRY.attempts
    assert sleep.delays == pytest.approx([0.01, 0.02, 0.04])
    assert str(error) == (
        f"GET {catalog_server.url}{MODELS_PATH}?offset=0&limit=100: HTTP 500 Internal Server "
        "Error (gave up after 4 attempts)"
    )


async def test_backoff_is_capped_and_jittered(catalog_server: CatalogSandbox) -> None:
    catalog_server.faults.fail_next(100, 503)
    sleep = RecordingSleep()
    policy = RetryPolicy(attempts=6, base_delay=1.0, max_delay=4.0, jitter=0.5)
    async with make_client(catalog_server, sleep=sleep, retry=policy) as client:
        with pytest.raises(ServerError):
            await client.list_models()
    assert len(sleep.delays) == 5
    for failed, delay in enumerate(sleep.delays, start=1):
        raw = min(4.0, 2.0 ** (failed - 1))
        assert raw * 0.5 <= delay <= min(4.0, raw * 1.5)


@pytest.mark.parametrize("retry_after", ["3", "1.5"])
async def test_429_retry_after_seconds_is_honoured(
    catalog_server: CatalogSandbox, retry_after: str
) -> None:
    catalog_server.faults.fail_next(1, 429, retry_after=retry_after)
    sleep = RecordingSleep()
    async with make_client(catalog_server, sleep=sleep) as client:
        listing = await client.list_models()
    assert sleep.delays == [float(retry_after)]
    assert listing.requests == 2


async def test_retry_after_http_date_is_honoured(catalog_server: CatalogSandbox) -> None:
    when = datetime.now(UTC) + timedelta(seconds=4)
    catalog_server.faults.fail_next(1, 503, retry_after=format_datetime(when, usegmt=True))
    sleep = RecordingSleep()
    async with make_client(catalog_server, sleep=sleep) as client:
        await client.list_models()
    assert len(sleep.delays) == 1
    assert 2.0 <= sleep.delays[0] <= 4.0  # the date has whole seconds; the test takes time


async def test_retry_after_is_capped_by_max_delay(catalog_server: CatalogSandbox) -> None:
    catalog_server.faults.fail_next(1, 429, retry_after=3600)
    sleep = RecordingSleep()
    async with make_client(catalog_server, sleep=sleep) as client:
        await client.list_models()
    assert sleep.delays == [FAST_RETRY.max_delay]


async def test_429_forever_raises_rate_limited_with_retry_after(
    catalog_server: CatalogSandbox,
) -> None:
    catalog_server.faults.fail_next(100, 429, retry_after=2)
    sleep = RecordingSleep()
    async with make_client(catalog_server, sleep=sleep) as client:
        with pytest.raises(RateLimited) as caught:
            await client.list_models()
    assert sleep.delays == [2.0, 2.0, 2.0]
    assert caught.value.retry_after == 2.0
    assert caught.value.reason == "CatalogUnavailable"
    assert caught.value.status_code == 429


async def test_connection_refused_is_retried_and_names_the_catalog() -> None:
    sleep = RecordingSleep()
    statuses: list[int | None] = []
    port = closed_port()
    client = CatalogClient(
        f"http://127.0.0.1:{port}",
        "token",
        retry=FAST_RETRY,
        sleep=sleep,
        on_response=statuses.append,
    )
    async with client:
        with pytest.raises(TransportFailure) as caught:
            await client.list_models()
    assert caught.value.reason == "CatalogUnavailable"
    assert caught.value.status_code is None
    assert str(caught.value) == (
        f"GET http://127.0.0.1:{port}{MODELS_PATH}?offset=0&limit=100: cannot connect to "
        f"http://127.0.0.1:{port} (connection refused); is the URL right and the catalog up? "
        "(gave up after 4 attempts)"
    )
    assert len(sleep.delays) == FAST_RETRY.attempts - 1
    assert statuses == [None] * FAST_RETRY.attempts  # no status: one transport error each


async def test_timeout_is_retried_then_succeeds(catalog_server: CatalogSandbox) -> None:
    catalog_server.faults.delay(0.5)
    sleep = RecordingSleep(then=lambda _: catalog_server.faults.delay(0))
    async with make_client(catalog_server, sleep=sleep, timeout=0.2) as client:
        listing = await client.list_models()
    assert len(listing.models) == FIXTURE_COUNT
    assert listing.requests == 2
    assert len(sleep.delays) == 1


async def test_timeout_forever_raises(catalog_server: CatalogSandbox) -> None:
    catalog_server.faults.delay(0.5)
    policy = RetryPolicy(attempts=2, base_delay=0.01, jitter=0.0)
    async with make_client(catalog_server, timeout=0.2, retry=policy) as client:
        with pytest.raises(TransportFailure) as caught:
            await client.list_models()
    assert str(caught.value) == (
        f"GET {catalog_server.url}{MODELS_PATH}?offset=0&limit=100: no complete response "
        "within 0.2s; is the catalog up and reachable from here? (gave up after 2 attempts)"
    )
    catalog_server.faults.delay(0)


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (None, "no token was sent"),
        ("wrong", "the catalog rejected the token; put a valid one in the token Secret"),
    ],
)
async def test_401_is_unauthorized_and_not_retried(
    catalog_server: CatalogSandbox, token: str | None, why: str
) -> None:
    sleep = RecordingSleep()
    async with make_client(catalog_server, token=token, sleep=sleep) as client:
        with pytest.raises(Unauthorized) as caught:
            await client.list_models()
    assert caught.value.status_code == 401
    assert caught.value.reason == "Unauthorized"
    assert str(caught.value) == (
        f"GET {catalog_server.url}{MODELS_PATH}?offset=0&limit=100: HTTP 401 Unauthorized: {why}"
    )
    assert sleep.delays == []
    assert len(catalog_server.requests) == 1


async def test_403_is_forbidden(catalog_server: CatalogSandbox) -> None:
    catalog_server.faults.fail_next(1, 403)
    async with make_client(catalog_server) as client:
        with pytest.raises(Forbidden) as caught:
            await client.list_models()
    assert caught.value.status_code == 403
    assert caught.value.reason == "Unauthorized"
    assert len(catalog_server.requests) == 1


@pytest.mark.parametrize(
    ("params", "loc", "kind"),
    [
        ({"limit": "abc"}, ("query", "limit"), "int_parsing"),
        ({"offset": "-1"}, ("query", "offset"), "greater_than_equal"),
    ],
)
async def test_422_carries_the_parsed_detail(
    catalog_server: CatalogSandbox, params: dict[str, str], loc: tuple[str, ...], kind: str
) -> None:
    reject_next_request(catalog_server, params)
    async with make_client(catalog_server) as client:
        with pytest.raises(RequestInvalid) as caught:
            await client.list_models()
    error = caught.value
    assert error.status_code == 422
    assert error.reason == "InvalidRequest"
    assert [(d.loc, d.type) for d in error.detail] == [(loc, kind)]
    assert ".".join(loc) in str(error)
    assert len(catalog_server.requests) == 1


async def test_422_with_an_unexpected_body_still_types(catalog_server: CatalogSandbox) -> None:
    catalog_server.faults.fail_next(1, 422, body="<html>nope</html>")
    async with make_client(catalog_server) as client:
        with pytest.raises(RequestInvalid) as caught:
            await client.list_models()
    assert caught.value.detail == []
    assert "no detail given" in str(caught.value)


@pytest.mark.parametrize(("status", "reason"), [(400, "InvalidRequest"), (302, "InvalidResponse")])
async def test_undocumented_statuses(
    catalog_server: CatalogSandbox, status: int, reason: str
) -> None:
    catalog_server.faults.fail_next(1, status)
    async with make_client(catalog_server) as client:
        with pytest.raises(UnexpectedStatus) as caught:
            await client.list_models()
    assert caught.value.status_code == status
    assert caught.value.reason == reason
    assert len(catalog_server.requests) == 1


@pytest.mark.parametrize("kind", ["truncated", "not-json"])
async def test_unreadable_body_is_retried_once(catalog_server: CatalogSandbox, kind: str) -> None:
    catalog_server.faults.bad_body_next(1, kind)
    sleep = RecordingSleep()
    async with make_client(catalog_server, sleep=sleep) as client:
        listing = await client.list_models()
    assert len(listing.models) == FIXTURE_COUNT
    assert listing.requests == 2


@pytest.mark.parametrize("kind", ["truncated", "not-json"])
async def test_unreadable_body_twice_is_invalid_response(
    catalog_server: CatalogSandbox, kind: str
) -> None:
    catalog_server.faults.bad_body_next(5, kind)
    async with make_client(catalog_server) as client:
        with pytest.raises(InvalidResponse) as caught:
            await client.list_models()
    assert caught.value.reason == "InvalidResponse"
    assert caught.value.status_code == 200
    assert "not valid JSON" in str(caught.value)
    assert len(catalog_server.requests) == 2


async def test_wrong_shape_is_invalid_response_without_retry(
    catalog_server: CatalogSandbox,
) -> None:
    catalog_server.faults.bad_body_next(1, "wrong-shape")
    async with make_client(catalog_server) as client:
        with pytest.raises(InvalidResponse) as caught:
            await client.list_models()
    assert "not a page of Model items" in str(caught.value)
    assert "data: Field required" in str(caught.value)
    assert len(catalog_server.requests) == 1


async def test_every_error_is_a_catalog_error(catalog_server: CatalogSandbox) -> None:
    catalog_server.faults.fail_next(1, 418)
    async with make_client(catalog_server) as client:
        with pytest.raises(CatalogError):
            await client.list_models()


def test_client_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="absolute http"):
        CatalogClient("ftp://catalog", "t")
    with pytest.raises(ValueError, match="credentials"):
        CatalogClient("https://user:pw@catalog", "t")
    with pytest.raises(ValueError, match="query or fragment"):
        CatalogClient("https://catalog/?key=secret", "t")
    with pytest.raises(ValueError, match="page_size"):
        CatalogClient("https://catalog", "t", page_size=0)
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
