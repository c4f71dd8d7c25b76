"""Paging lies over real sockets: what a client paging through a lying catalog sees."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio

from fixtures_catalog import list_versions_response_schema, spec_validator
from modelsync_sandbox.catalog_faults import FaultPlan
from modelsync_sandbox.catalog_query import ModelFilter, VersionFilter
from modelsync_sandbox.catalog_server import CatalogSandbox

MODELS = "/api/ml/v1/models"
VERSIONS = "/api/ml/v1/model-versions"
PAGE = 5
WALK_PAGE = 10


@pytest_asyncio.fixture
async def http(catalog_server: CatalogSandbox) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {catalog_server.token}"}
    async with httpx.AsyncClient(base_url=catalog_server.url, headers=headers) as client:
        yield client


@pytest.fixture
def true_ids(catalog_server: CatalogSandbox) -> list[str]:
    return [m["id"] for m in catalog_server.catalog.list_models(ModelFilter())]


async def _page(
    http: httpx.AsyncClient, offset: int, limit: int = PAGE, path: str = MODELS
) -> dict[str, Any]:
    response = await http.get(path, params={"offset": offset, "limit": limit}, timeout=5)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@functools.cache
def _listing_validator() -> Any:
    return spec_validator("ListModelsResponse")


def _ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["data"]]


@dataclass(frozen=True)
class Walk:
    """What a naive client paging by `offset += limit` until `total` collects."""

    ids: list[str]
    totals: list[int]


async def _walk(http: httpx.AsyncClient, limit: int = WALK_PAGE) -> Walk:
    ids: list[str] = []
    totals: list[int] = []
    offset = 0
    for _ in range(50):  # bounded: a lying total must not keep the walk going forever
        page = await _page(http, offset, limit)
        _listing_validator().validate(page)
        ids += _ids(page)
        totals.append(page["pagination"]["total"])
        offset += limit
        if offset >= totals[-1] or not page["data"]:
            break
    return Walk(ids, totals)


async def test_ignore_offset_until_cleared(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient, true_ids: list[str]
) -> None:
    catalog_server.faults.ignore_offset()
    first = _ids(await _page(http, 0))
    for offset in (5, 10, 35):
        page = await _page(http, offset)
        assert _ids(page) == first
        assert page["pagination"] == {"total": len(true_ids), "offset": offset, "limit": PAGE}
    assert catalog_server.requests[-1].faults == ["ignore-offset"]
    catalog_server.faults.clear()
    assert _ids(await _page(http, 10)) == true_ids[10:15]


async def test_counted_lies_are_used_only_by_pages_they_change(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient, true_ids: list[str]
) -> None:
    catalog_server.faults.ignore_offset(2)
    assert _ids(await _page(http, 0)) == true_ids[:5]  # the first page is not a lie
    assert _ids(await _page(http, 5)) == true_ids[:5]
    assert _ids(await _page(http, 0)) == true_ids[:5]
    assert _ids(await _page(http, 10)) == true_ids[:5]
    assert _ids(await _page(http, 10)) == true_ids[10:15]
    assert catalog_server.faults.snapshot()["paging_lies"] == []


async def test_repeat_page_repeats_the_page_before(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient, true_ids: list[str]
) -> None:
    catalog_server.faults.repeat_page(1)
    assert _ids(await _page(http, 0)) == true_ids[:5]
    assert _ids(await _page(http, 5)) == true_ids[:5]
    assert _ids(await _page(http, 10)) == true_ids[10:15]
    catalog_server.faults.repeat_page()
    assert _ids(await _page(http, 15)) == true_ids[10:15]
    assert _ids(await _page(http, 20)) == true_ids[10:15]
    assert [r.faults for r in catalog_server.requests][-2:] == [["repeat-page"], ["repeat-page"]]


async def test_repeat_page_keeps_listings_apart(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    """The page before is the one of the same listing (path and filters), not of another."""
    model_ids = [m["id"] for m in catalog_server.catalog.list_models(ModelFilter())]
    catalog = catalog_server.catalog
    versions = {
        model_id: [v["id"] for v in catalog.list_versions(VersionFilter(model_id=model_id))]
        for model_id in model_ids
    }
    model_id = max(versions, key=lambda m: len(versions[m]))
    assert len(versions[model_id]) >= 2
    catalog_server.faults.repeat_page()
    await _page(http, 0)
    params = {"model_id": model_id, "limit": 1}
    first = (await http.get(VERSIONS, params={**params, "offset": 0})).json()
    second = (await http.get(VERSIONS, params={**params, "offset": 1})).json()
    spec_validator(list_versions_response_schema()).validate(second)
    assert _ids(first) == _ids(second) == versions[model_id][:1]


async def test_empty_page_before_total(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient, true_ids: list[str]
) -> None:
    catalog_server.faults.empty_page_before_total(1, from_offset=10)
    assert _ids(await _page(http, 5)) == true_ids[5:10]
    lie = await _page(http, 10)
    assert lie == {"data": [], "pagination": {"total": len(true_ids), "offset": 10, "limit": 5}}
    assert _ids(await _page(http, 15)) == true_ids[15:20]
    catalog_server.faults.empty_page_before_total()
    assert _ids(await _page(http, 0)) == true_ids[:5]
    assert (await _page(http, 35))["data"] == []
    assert catalog_server.requests[-1].faults == ["empty-page-before-total"]
    assert (await _page(http, 40))["data"] == []  # beyond the total: honest, not a lie
    assert catalog_server.requests[-1].faults == []


async def test_understate_and_overstate_total(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient, true_ids: list[str]
) -> None:
    catalog_server.faults.understate_total(7, 3)
    totals = [(await _page(http, offset))["pagination"]["total"] for offset in (0, 5, 10, 15)]
    assert totals == [len(true_ids) - 7] * 3 + [len(true_ids)]
    catalog_server.faults.overstate_total(4)
    for offset in (0, 20, 35):
        page = await _page(http, offset)
        assert page["pagination"]["total"] == len(true_ids) + 4
        assert _ids(page) == true_ids[offset : offset + 5]
    assert catalog_server.requests[-1].faults == ["misreport-total:+4"]


async def test_moving_total_grows_then_settles(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient, true_ids: list[str]
) -> None:
    catalog_server.faults.moving_total(+3, 2)
    first = await _page(http, 0)
    assert (first["pagination"]["total"], _ids(first)) == (len(true_ids), true_ids[:5])
    for offset in (5, 10):
        page = await _page(http, offset)
        assert page["pagination"]["total"] == len(true_ids) + 3
        assert _ids(page) == true_ids[offset - 3 : offset + 2]  # three new ones came before
    assert catalog_server.requests[-1].faults == ["moving-total:+3"]
    settled = await _page(http, 15)
    assert (settled["pagination"]["total"], _ids(settled)) == (len(true_ids), true_ids[15:20])


async def test_moving_total_shrinking_skips_items(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient, true_ids: list[str]
) -> None:
    catalog_server.faults.moving_total(-2)
    page = await _page(http, 5)
    assert page["pagination"]["total"] == len(true_ids) - 2
    assert _ids(page) == true_ids[7:12]


async def test_duplicate_ids_within_and_across_pages(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient, true_ids: list[str]
) -> None:
    catalog_server.faults.duplicate_ids(1)
    within = _ids(await _page(http, 0))
    assert within == [*true_ids[:4], true_ids[0]]
    catalog_server.faults.duplicate_ids(1, across_pages=True)
    assert _ids(await _page(http, 0)) == true_ids[:5]  # no page before: not used up
    across = _ids(await _page(http, 5))
    assert across == [true_ids[4], *true_ids[6:10]]
    assert catalog_server.faults.snapshot()["paging_lies"] == []


async def test_path_prefix_confines_a_lie(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient, true_ids: list[str]
) -> None:
    catalog_server.faults.ignore_offset(path_prefix=VERSIONS)
    assert _ids(await _page(http, 10)) == true_ids[10:15]
    first = _ids(await _page(http, 0, path=VERSIONS))
    assert _ids(await _page(http, 10, path=VERSIONS)) == first


_PERSISTENT_LIES: list[tuple[str, Callable[[FaultPlan], None]]] = [
    ("ignore-offset", lambda f: f.ignore_offset()),
    ("repeat-page", lambda f: f.repeat_page()),
    ("empty-page-before-total", lambda f: f.empty_page_before_total()),
    ("understate-total", lambda f: f.understate_total(6)),
    ("overstate-total", lambda f: f.overstate_total(6)),
    ("moving-total", lambda f: f.moving_total(4)),
    ("duplicate-ids", lambda f: f.duplicate_ids()),
    ("duplicate-ids-across", lambda f: f.duplicate_ids(across_pages=True)),
]


@pytest.mark.parametrize(
    "arm", [arm for _, arm in _PERSISTENT_LIES], ids=[n for n, _ in _PERSISTENT_LIES]
)
async def test_every_lie_spoils_a_naive_walk_and_clear_restores_it(
    catalog_server: CatalogSandbox,
    http: httpx.AsyncClient,
    true_ids: list[str],
    arm: Callable[[FaultPlan], None],
) -> None:
    honest = Walk(true_ids, [len(true_ids)] * 4)
    arm(catalog_server.faults)
    lied = await _walk(http)
    assert lied != honest
    assert (
        sorted(set(lied.ids)) != sorted(true_ids)
        or len(lied.ids) != len(true_ids)
        or (set(lied.totals) != {len(true_ids)})
    )
    catalog_server.faults.clear()
    assert await _walk(http) == honest
