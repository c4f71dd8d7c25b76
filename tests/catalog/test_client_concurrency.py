"""Pages requested ahead (CatalogClient's `page_concurrency`), over real sockets.

Once the first page gives the total, the client asks for up to `page_concurrency` pages at a
time. The listing must stay what a sequential pass gives: the same requests for a consistent
catalog, the same models in the same order however the answers arrive, the same verdict on a
lying catalog, no error from a page a sequential pass would not have asked for, and never
more requests in flight (or page bodies held) than allowed.
"""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from catalog.adversarial_servers import (
    Reply,
    ScriptedServer,
    SeenRequest,
    json_reply,
    models,
    page_payload,
)
from catalog.client_support import FAST_RETRY, MODELS_PATH, RecordingSleep, api_requests
from catalog.client_support import make_client as make_sandbox_client
from modelsync.catalog import CatalogClient, ModelListing, ServerError, Unauthorized
from modelsync_sandbox.catalog_server import CatalogSandbox

PAGE = 10
FIXTURE_COUNT = 38


def ids(count: int) -> list[str]:
    return [f"m-{index:03d}" for index in range(count)]


def honest(catalog: list[str], offset: int, limit: int, *, total: int | None = None) -> bytes:
    payload = page_payload(
        models(catalog[offset : offset + limit]),
        total=len(catalog) if total is None else total,
        offset=offset,
        limit=limit,
    )
    return json.dumps(payload).encode()


def offset_of(request: SeenRequest) -> int:
    return int(request.query["offset"])


async def after(seconds: float, body: bytes) -> AsyncIterator[bytes]:
    await asyncio.sleep(seconds)
    yield body


class Tracker:
    """Counts the requests a ScriptedServer is answering at once."""

    def __init__(self) -> None:
        self.active = 0
        self.most = 0

    async def hold(self, seconds: float, body: bytes) -> AsyncIterator[bytes]:
        try:
            await asyncio.sleep(seconds)
            yield body
        finally:
            self.active -= 1

    def start(self) -> None:
        self.active += 1
        self.most = max(self.most, self.active)


async def list_with(
    respond: Callable[[SeenRequest], Reply], **options: Any
) -> tuple[ModelListing, list[int]]:
    """The listing and the offsets the server was asked for, in arrival order."""
    options.setdefault("page_size", PAGE)
    options.setdefault("sleep", RecordingSleep())
    async with ScriptedServer(respond) as server:
        async with CatalogClient(server.url, "token", retry=FAST_RETRY, **options) as client:
            listing = await client.list_models()
        return listing, [offset_of(request) for request in server.requests]


def ids_of(listing: ModelListing) -> list[str]:
    return [model.id for model in listing.models]


def verdict(listing: ModelListing) -> tuple[Any, ...]:
    """Everything a listing says but the request count."""
    return (
        listing.models,
        listing.skipped,
        listing.total,
        listing.pages,
        listing.complete,
        listing.inconsistency,
        listing.restarts,
    )


@pytest.mark.parametrize("count", [0, 1, 9, 10, 11, 39, 40, 41, 95])
async def test_a_consistent_catalog_gets_exactly_the_sequential_requests(count: int) -> None:
    catalog = ids(count)

    def respond(request: SeenRequest) -> Reply:
        return Reply(body=honest(catalog, offset_of(request), int(request.query["limit"])))

    listing, offsets = await list_with(respond)
    assert sorted(offsets) == list(range(0, count // PAGE * PAGE + 1, PAGE))
    assert listing.requests == listing.pages == count // PAGE + 1
    assert (listing.complete, listing.total) == (True, count)
    assert ids_of(listing) == catalog


async def test_pages_answered_out_of_order_give_the_sequential_listing() -> None:
    catalog = ids(75)
    finished: list[int] = []

    def respond(request: SeenRequest) -> Reply:
        offset = offset_of(request)
        finished.append(offset)
        # later pages answer sooner, so pages requested together complete backwards
        return Reply(body=after(0.05 * (1 - offset / 100), honest(catalog, offset, PAGE)))

    listing, _ = await list_with(respond)
    assert ids_of(listing) == catalog
    assert (listing.complete, listing.pages, listing.requests) == (True, 8, 8)
    sequential, _ = await list_with(respond, page_concurrency=1)
    assert listing == sequential


@pytest.mark.parametrize(("concurrency", "most"), [(None, 4), (1, 1), (2, 2), (6, 6)])
async def test_no_more_requests_in_flight_than_allowed(concurrency: int | None, most: int) -> None:
    catalog = ids(100)
    tracker = Tracker()

    def respond(request: SeenRequest) -> Reply:
        tracker.start()
        return Reply(body=tracker.hold(0.25, honest(catalog, offset_of(request), PAGE)))

    options = {} if concurrency is None else {"page_concurrency": concurrency}
    listing, offsets = await list_with(respond, **options)
    assert tracker.most == most
    assert listing.complete
    assert len(offsets) == 11


async def test_a_page_of_another_size_goes_on_one_page_at_a_time() -> None:
    catalog = ids(30)
    sizes = {10: 12}  # the page at 10 carries 12 entries: the next one is at 22, not 20

    def respond(request: SeenRequest) -> Reply:
        offset = offset_of(request)
        return Reply(body=honest(catalog, offset, sizes.get(offset, PAGE)))

    listing, offsets = await list_with(respond)
    sequential, sequential_offsets = await list_with(respond, page_concurrency=1)
    assert sequential_offsets == [0, 10, 22]
    assert verdict(listing) == verdict(sequential)
    assert (listing.complete, ids_of(listing)) == (True, catalog)
    assert set(sequential_offsets) <= set(offsets) <= {0, 10, 20, 22, 30}


async def test_a_catalog_capping_the_page_size_is_paged_ahead_at_its_size() -> None:
    catalog = ids(23)

    def respond(request: SeenRequest) -> Reply:
        return Reply(body=honest(catalog, offset_of(request), 5))  # says limit 5

    listing, offsets = await list_with(respond)
    assert sorted(offsets) == [0, 5, 10, 15, 20]
    assert (listing.complete, listing.requests, ids_of(listing)) == (True, 5, catalog)


@pytest.mark.parametrize("status", [401, 500])
async def test_failing_pages_beyond_the_end_of_the_pass_are_no_error(status: int) -> None:
    catalog = ids(25)

    def respond(request: SeenRequest) -> Reply:
        offset = offset_of(request)
        if offset >= 30:
            return json_reply({"detail": "no"}, status=status)
        return Reply(body=honest(catalog, offset, PAGE, total=45))  # 20 more than there are

    listing, offsets = await list_with(respond)
    assert not listing.complete
    assert listing.inconsistency == (
        "the page at offset 20 had 5 entries, fewer than the page size 10, before the "
        "reported total 45"
    )
    assert ids_of(listing) == catalog
    assert {0, 10, 20} <= set(offsets) <= {0, 10, 20, 30, 40}


async def test_a_failing_page_the_pass_needs_is_raised_and_nothing_is_left_running() -> None:
    catalog = ids(95)

    def respond(request: SeenRequest) -> Reply:
        offset = offset_of(request)
        if offset == 20:
            return json_reply({"detail": "down"}, status=500)
        return Reply(body=after(0.01 if offset < 20 else 0.5, honest(catalog, offset, PAGE)))

    before = asyncio.all_tasks()
    sleep = RecordingSleep()
    with pytest.raises(ServerError):
        await list_with(respond, sleep=sleep)
    assert len(sleep.delays) == FAST_RETRY.attempts - 1
    assert asyncio.all_tasks() == before


async def test_an_error_on_the_first_page_is_raised_without_pages_ahead() -> None:
    def respond(_: SeenRequest) -> Reply:
        return json_reply({"detail": "no"}, status=401)

    async with ScriptedServer(respond) as server:
        async with CatalogClient(server.url, "token", page_size=PAGE) as client:
            with pytest.raises(Unauthorized):
                await client.list_models()
        assert [offset_of(request) for request in server.requests] == [0]


async def test_rate_limits_on_pages_ahead_are_retried_as_they_say() -> None:
    catalog = ids(45)
    limited: set[int] = set()

    def respond(request: SeenRequest) -> Reply:
        offset = offset_of(request)
        if offset and offset not in limited:
            limited.add(offset)
            return Reply(status=429, headers={"Retry-After": "0"}, body=b"{}")
        return Reply(body=honest(catalog, offset, PAGE))

    sleep = RecordingSleep()
    listing, offsets = await list_with(respond, sleep=sleep)
    assert (listing.complete, ids_of(listing)) == (True, catalog)
    assert sleep.delays == [0.0] * 4
    assert sorted(offsets) == [0, 10, 10, 20, 20, 30, 30, 40, 40]
    assert listing.requests == 9


async def test_a_total_moving_while_pages_are_ahead_lists_again() -> None:
    before, grown = ids(35), ids(36)
    served = 0

    def respond(request: SeenRequest) -> Reply:
        nonlocal served
        served += 1
        catalog = before if served == 1 else grown
        return Reply(body=honest(catalog, offset_of(request), PAGE))

    listing, offsets = await list_with(respond)
    assert (listing.complete, listing.restarts, listing.total) == (True, 1, 36)
    assert ids_of(listing) == grown
    assert offsets.count(0) == 2


async def _memory_of_a_listing(padding: str) -> tuple[int, int, int]:
    """(bytes still allocated after the listing, its peak, bytes of padding served), with
    `padding` in an unknown field of every page (read, then dropped with the body)."""
    catalog = ids(240)

    def respond(request: SeenRequest) -> Reply:
        offset = offset_of(request)
        payload = page_payload(
            models(catalog[offset : offset + PAGE]), total=len(catalog), offset=offset, limit=PAGE
        )
        payload["padding"] = padding
        return Reply(body=json.dumps(payload).encode())

    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        listing, offsets = await list_with(respond)
        gc.collect()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (listing.complete, len(listing.models)) == (True, len(catalog))
    return kept - start, peak - start, len(offsets) * len(padding)


async def test_the_listing_keeps_no_page_bytes() -> None:
    body_padding = 512 * 1024
    await _memory_of_a_listing("")  # imports and caches settle
    kept_plain, peak_plain, _ = await _memory_of_a_listing("")
    kept, peak, padded = await _memory_of_a_listing("x" * body_padding)
    assert padded > 12 * 1024 * 1024
    assert kept - kept_plain < body_padding  # not even one body is left
    # at most 4 bodies in flight on each side of the socket, not all 25 of them
    assert peak - peak_plain < padded / 2


# --- the sandbox catalog's lies, with pages requested ahead -----------------------------------

LIES: dict[str, Callable[[CatalogSandbox], None]] = {
    "repeat-page": lambda c: c.faults.repeat_page(path_prefix=MODELS_PATH),
    "ignore-offset": lambda c: c.faults.ignore_offset(path_prefix=MODELS_PATH),
    "empty-page": lambda c: c.faults.empty_page_before_total(from_offset=10),
    "duplicate-ids": lambda c: c.faults.duplicate_ids(across_pages=True, path_prefix=MODELS_PATH),
    "duplicate-ids-in-a-page": lambda c: c.faults.duplicate_ids(path_prefix=MODELS_PATH),
    "understated-total": lambda c: c.faults.understate_total(2),
    "overstated-total": lambda c: c.faults.overstate_total(12),
    "total-keeps-moving": lambda c: c.faults.moving_total(-1, path_prefix=MODELS_PATH),
}


@pytest.mark.parametrize("lie", list(LIES))
async def test_lying_catalogs_are_still_judged_incomplete(
    catalog_server: CatalogSandbox, lie: str
) -> None:
    LIES[lie](catalog_server)
    catalog_server.faults.delay(0.005)  # so that several pages are in flight at once
    async with make_sandbox_client(catalog_server, page_size=PAGE) as client:
        listing = await client.list_models()
    assert not listing.complete
    assert listing.inconsistency
    assert listing.requests >= len(api_requests(catalog_server)) >= listing.pages


async def test_the_sandbox_catalog_listed_ahead_is_the_sequential_listing(
    catalog_server: CatalogSandbox,
) -> None:
    catalog_server.faults.delay(0.005)
    async with make_sandbox_client(catalog_server, page_size=5) as client:
        ahead = await client.list_models()
    async with make_sandbox_client(catalog_server, page_size=5, page_concurrency=1) as client:
        sequential = await client.list_models()
    assert ahead == sequential
    assert (ahead.complete, ahead.requests, len(ahead.models)) == (True, 8, FIXTURE_COUNT)


def test_page_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="page_concurrency"):
        CatalogClient("https://catalog.example.com", None, page_concurrency=0)
