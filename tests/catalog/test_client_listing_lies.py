"""CatalogClient against a catalog whose pages lie, over a real socket: the listing comes
back incomplete with the reason, never passed off as the whole catalog."""

from __future__ import annotations

from collections.abc import Callable
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
from catalog.client_support import FAST_RETRY, RecordingSleep
from catalog.examples import model_version
from modelsync.catalog import CatalogClient, InvalidResponse, ModelListing

PAGE = 10
# (offset, limit, index of this request among all requests) -> the JSON page
PageServer = Callable[[int, int, int], dict[str, Any]]


def ids(count: int, prefix: str = "m") -> list[str]:
    return [f"{prefix}-{index:03d}" for index in range(count)]


def honest_page(
    catalog: list[str], offset: int, limit: int, *, total: int | None = None
) -> dict[str, Any]:
    return page_payload(
        models(catalog[offset : offset + limit]),
        total=len(catalog) if total is None else total,
        offset=offset,
        limit=limit,
    )


def serving(pages: PageServer) -> Callable[[SeenRequest], Reply]:
    count = 0

    def respond(request: SeenRequest) -> Reply:
        nonlocal count
        count += 1
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        return json_reply(pages(offset, limit, count - 1))

    return respond


async def _list_once(pages: PageServer, **options: Any) -> tuple[ModelListing, list[int]]:
    async with ScriptedServer(serving(pages)) as server:
        options.setdefault("page_size", PAGE)
        client = CatalogClient(
            server.url, "token", retry=FAST_RETRY, sleep=RecordingSleep(), **options
        )
        async with client:
            listing = await client.list_models()
        offsets = [int(request.query["offset"]) for request in server.requests]
    return listing, offsets


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


async def list_from(
    pages: PageServer, *, ahead_too: bool = True, **options: Any
) -> tuple[ModelListing, list[int]]:
    """The listing one page at a time, and the offsets the client asked for in order.

    With `ahead_too` (for pages that depend on the offset only), the same catalog is listed
    again with pages requested ahead: the verdict must be the same, from the same pages and
    at most the pages a sequential pass could have asked for next.
    """
    listing, offsets = await _list_once(pages, page_concurrency=1, **options)
    assert listing.requests == len(offsets)
    if ahead_too:
        ahead, ahead_offsets = await _list_once(pages, **options)
        assert verdict(ahead) == verdict(listing)
        assert ahead_offsets[0] == 0
        assert set(offsets) <= set(ahead_offsets)
        assert len(ahead_offsets) <= ahead.requests
        assert len(ahead_offsets) <= len(offsets) + 3  # at most 4 in flight
    return listing, offsets


def seen_ids(listing: ModelListing) -> list[str]:
    return [model.id for model in listing.models]


async def test_full_last_page_is_confirmed_by_exactly_one_more_request() -> None:
    catalog = ids(20)
    listing, offsets = await list_from(lambda offset, limit, _: honest_page(catalog, offset, limit))
    assert offsets == [0, 10, 20]
    assert (listing.complete, listing.inconsistency) == (True, "")
    assert seen_ids(listing) == catalog


async def test_short_last_page_needs_no_confirmation() -> None:
    catalog = ids(25)
    listing, offsets = await list_from(lambda offset, limit, _: honest_page(catalog, offset, limit))
    assert offsets == [0, 10, 20]
    assert listing.complete


async def test_understated_total_is_inconsistent() -> None:
    catalog = ids(30)
    listing, offsets = await list_from(
        lambda offset, limit, _: honest_page(catalog, offset, limit, total=25)
    )
    assert offsets == [0, 10, 20]
    assert not listing.complete
    assert listing.inconsistency == (
        "the page at offset 20 carried 5 entries beyond the reported total 25"
    )
    assert seen_ids(listing) == catalog  # what was seen is still returned
    assert listing.total == 25


async def test_understated_total_on_a_page_boundary_is_caught_by_the_confirmation() -> None:
    catalog = ids(30)
    listing, offsets = await list_from(
        lambda offset, limit, _: honest_page(catalog, offset, limit, total=20)
    )
    assert offsets == [0, 10, 20]
    assert listing.inconsistency == (
        "the page at offset 20 carried 10 entries beyond the reported total 20"
    )


async def test_overstated_total_is_inconsistent() -> None:
    catalog = ids(30)
    listing, offsets = await list_from(
        lambda offset, limit, _: honest_page(catalog, offset, limit, total=35)
    )
    assert offsets == [0, 10, 20, 30]
    assert listing.inconsistency == "the page at offset 30 was empty before the reported total 35"
    assert seen_ids(listing) == catalog


async def test_empty_page_before_total_is_inconsistent() -> None:
    catalog = ids(30)

    def pages(offset: int, limit: int, _: int) -> dict[str, Any]:
        if offset == 10:
            return page_payload([], total=30, offset=offset, limit=limit)
        return honest_page(catalog, offset, limit)

    listing, offsets = await list_from(pages)
    assert offsets == [0, 10]
    assert listing.inconsistency == "the page at offset 10 was empty before the reported total 30"
    assert seen_ids(listing) == catalog[:10]


@pytest.mark.parametrize("echo", ["requested", "zero", "absent"])
async def test_server_ignoring_offset_is_caught_on_the_second_page(echo: str) -> None:
    catalog = ids(30)

    def pages(offset: int, limit: int, _: int) -> dict[str, Any]:
        reported = {"requested": offset, "zero": 0, "absent": None}[echo]
        return page_payload(models(catalog[:limit]), total=30, offset=reported, limit=limit)

    listing, offsets = await list_from(pages)
    assert offsets == [0, 10]
    assert not listing.complete
    expected = (
        "the page requested at offset 10 reported offset 0"
        if echo == "zero"
        else "model id 'm-000' appeared twice (at offsets 0 and 10)"
    )
    assert listing.inconsistency == expected
    assert seen_ids(listing) == catalog[:10]


async def test_page_repeating_the_previous_one_is_inconsistent() -> None:
    catalog = ids(30)

    def pages(offset: int, limit: int, _: int) -> dict[str, Any]:
        if offset == 20:
            return honest_page(catalog, 10, limit) | {
                "pagination": {"total": 30, "offset": 20, "limit": limit}
            }
        return honest_page(catalog, offset, limit)

    listing, offsets = await list_from(pages)
    assert offsets == [0, 10, 20]
    assert listing.inconsistency == "model id 'm-010' appeared twice (at offsets 10 and 20)"
    assert seen_ids(listing) == catalog[:20]


async def test_duplicate_ids_within_a_page_are_inconsistent() -> None:
    catalog = ids(12)
    catalog[7] = catalog[3]
    listing, offsets = await list_from(lambda offset, limit, _: honest_page(catalog, offset, limit))
    assert offsets == [0]
    assert listing.inconsistency == "model id 'm-003' appeared twice (at offsets 3 and 7)"
    assert len(listing.models) == 9  # first occurrence wins


async def test_total_moving_once_lists_again_and_completes() -> None:
    before, after = ids(25), ids(26)

    def pages(offset: int, limit: int, index: int) -> dict[str, Any]:
        return honest_page(before if index == 0 else after, offset, limit)

    listing, offsets = await list_from(pages, ahead_too=False)
    assert offsets == [0, 10, 0, 10, 20]
    assert (listing.complete, listing.restarts, listing.total) == (True, 1, 26)
    assert seen_ids(listing) == after
    assert listing.pages == 5


async def test_total_moving_on_every_page_gives_up_after_the_restarts() -> None:
    def pages(offset: int, limit: int, index: int) -> dict[str, Any]:
        return honest_page(ids(30 + index), offset, limit)

    listing, offsets = await list_from(pages, ahead_too=False, max_listing_restarts=2)
    assert offsets == [0, 10, 0, 10, 0, 10]
    assert not listing.complete
    assert listing.restarts == 2
    assert listing.inconsistency == (
        "pagination.total moved from 34 to 35 at offset 10, and it kept moving: listed 3 "
        "times without a consistent pass"
    )
    assert len(listing.models) == 20  # the models of the last pass


async def test_no_restarts_allowed_means_the_first_move_is_final() -> None:
    def pages(offset: int, limit: int, index: int) -> dict[str, Any]:
        return honest_page(ids(30 + index), offset, limit)

    listing, offsets = await list_from(pages, ahead_too=False, max_listing_restarts=0)
    assert offsets == [0, 10]
    assert (listing.complete, listing.restarts) == (False, 0)


async def test_items_beyond_total_on_the_confirmation_page() -> None:
    catalog = ids(20)

    def pages(offset: int, limit: int, _: int) -> dict[str, Any]:
        if offset == 20:
            return page_payload(models(["extra"]), total=20, offset=20, limit=limit)
        return honest_page(catalog, offset, limit)

    listing, offsets = await list_from(pages)
    assert offsets == [0, 10, 20]
    assert listing.inconsistency == (
        "the page at offset 20 carried 1 entries beyond the reported total 20"
    )


async def test_catalog_capping_the_page_size_and_saying_so_is_complete() -> None:
    catalog = ids(23)

    def pages(offset: int, _limit: int, _: int) -> dict[str, Any]:
        return honest_page(catalog, offset, 5)  # reports limit 5 although 10 was asked

    listing, offsets = await list_from(pages)
    assert offsets == [0, 5, 10, 15, 20]
    assert listing.complete
    assert seen_ids(listing) == catalog


async def test_invalid_entries_still_count_towards_the_total() -> None:
    catalog = ids(12)
    broken_with_id = {"id": "broken", "name": "no other field"}
    broken_without_id = {"name": "no id at all"}

    def pages(offset: int, limit: int, _: int) -> dict[str, Any]:
        entries = [*models(catalog), broken_with_id, broken_without_id][offset : offset + limit]
        return page_payload(entries, total=14, offset=offset, limit=limit)

    listing, offsets = await list_from(pages)
    assert offsets == [0, 10]
    assert listing.complete
    assert seen_ids(listing) == catalog
    assert [skipped.id for skipped in listing.skipped] == ["broken", None]


async def test_invalid_entry_repeating_a_valid_id_is_a_duplicate() -> None:
    catalog = ids(5)

    def pages(offset: int, limit: int, _: int) -> dict[str, Any]:
        entries = [*models(catalog), {"id": "m-001"}]
        return page_payload(entries, total=6, offset=offset, limit=limit)

    listing, _ = await list_from(pages)
    assert listing.inconsistency == "model id 'm-001' appeared twice (at offsets 1 and 5)"


async def test_inconsistent_version_pages_are_an_invalid_response() -> None:
    versions = [model_version(version=n) for n in range(1, 8)]

    def respond(request: SeenRequest) -> Reply:
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        return json_reply(
            page_payload(versions[offset : offset + limit], total=9, offset=offset, limit=limit)
        )

    async with ScriptedServer(respond) as server:
        client = CatalogClient(server.url, None, page_size=5, retry=FAST_RETRY)
        async with client:
            with pytest.raises(InvalidResponse) as caught:
                await client.list_model_versions("m-1")
        url = server.url
    assert caught.value.reason == "InvalidResponse"
    assert str(caught.value) == (
        f"GET {url}/api/ml/v1/model-versions for model m-1: inconsistent listing: the page at "
        "offset 5 had 2 entries, fewer than the page size 5, before the reported total 9"
    )
