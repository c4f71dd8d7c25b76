"""Pages whose body did not change since the last listing are not decoded again (CatalogClient
remembers the last listing's decoded pages by the digest of their bodies), over real sockets.

The listing must be what a fresh client gives whatever changed between two listings (a model,
a page's paging fields, a lie, a failure), and the records of unchanged pages are the very
objects of the last listing (what lets a steady sync compare listings by identity)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.adversarial_servers import Reply, ScriptedServer, SeenRequest, models, page_payload
from catalog.client_support import FAST_RETRY, RecordingSleep
from catalog.test_client_concurrency import verdict
from modelsync.catalog import CatalogClient, ModelListing

PAGE = 10


class Catalog:
    """A catalog whose pages the test edits between listings."""

    def __init__(self, count: int) -> None:
        self.items: list[dict[str, Any]] = models([f"m-{i:03d}" for i in range(count)])
        self.total_shift = 0  # a lie about the total on every page

    def respond(self, request: SeenRequest) -> Reply:
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        payload = page_payload(
            self.items[offset : offset + limit],
            total=len(self.items) + self.total_shift,
            offset=offset,
            limit=limit,
        )
        return Reply(body=json.dumps(payload).encode())


async def fresh_listing(server: ScriptedServer) -> ModelListing:
    async with CatalogClient(
        server.url, "token", retry=FAST_RETRY, page_size=PAGE, sleep=RecordingSleep()
    ) as client:
        return await client.list_models()


async def test_an_unchanged_catalog_gives_the_same_records_and_a_changed_page_new_ones() -> None:
    catalog = Catalog(35)
    async with (
        ScriptedServer(catalog.respond) as server,
        CatalogClient(
            server.url, "token", retry=FAST_RETRY, page_size=PAGE, sleep=RecordingSleep()
        ) as client,
    ):
        first = await client.list_models()
        second = await client.list_models()
        assert verdict(second) == verdict(first)
        assert all(a is b for a, b in zip(first.models, second.models, strict=True))
        assert second.requests == first.requests == 4  # every page is still fetched

        catalog.items[12]["name"] = "renamed"
        third = await client.list_models()
        assert verdict(third) == verdict(await fresh_listing(server))
        assert third.models[12].name == "renamed"
        same = [a is b for a, b in zip(second.models, third.models, strict=True)]
        # page 10-19 was decoded anew, the others were not
        assert same == [not 10 <= i < 20 for i in range(35)]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["rename", "remove", "add", "lie", "truth"]), st.integers(0, 40)),
        min_size=1,
        max_size=5,
    )
)
async def test_whatever_changes_the_listing_is_what_a_fresh_client_gives(
    changes: list[tuple[str, int]],
) -> None:
    catalog = Catalog(25)
    async with (
        ScriptedServer(catalog.respond) as server,
        CatalogClient(
            server.url, "token", retry=FAST_RETRY, page_size=PAGE, sleep=RecordingSleep()
        ) as client,
    ):
        await client.list_models()
        for change, index in changes:
            if change == "rename" and catalog.items:
                catalog.items[index % len(catalog.items)]["name"] = f"n{index}"
            elif change == "remove" and catalog.items:
                del catalog.items[index % len(catalog.items)]
            elif change == "add":
                catalog.items.insert(index % (len(catalog.items) + 1), *models([f"x-{index}"]))
            elif change == "lie":
                catalog.total_shift = 1 + index % 3
            else:
                catalog.total_shift = 0
            remembered = await client.list_models()
            assert verdict(remembered) == verdict(await fresh_listing(server))
