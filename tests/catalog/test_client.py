"""CatalogClient listings against the real sandbox catalog: filters, paging and its edge cases,
model versions."""

from __future__ import annotations

from typing import Any

import pytest

from catalog.client_support import (
    MODELS_PATH,
    VERSIONS_PATH,
    RecordingSleep,
    api_requests,
    fixture_ids,
    fixture_models,
    make_client,
)
from modelsync.catalog import (
    InvalidResponse,
    ModelFilters,
    NotFound,
    VersionsEndpointUnsupported,
)
from modelsync.catalog.records import VersionRecord
from modelsync_sandbox.catalog_server import CatalogSandbox

FIXTURE_COUNT = 38  # models in the shipped fixture file (checked below)


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize("page_size", [1, 2, 5, 37, 38, 1000])
async def test_full_listing_equals_the_fixture(
    catalog_server: CatalogSandbox,
    catalog_fixture_data: dict[str, Any],
    page_size: int,
    concurrency: int,
) -> None:
    async with make_client(
        catalog_server, page_size=page_size, page_concurrency=concurrency
    ) as client:
        listing = await client.list_models()
    assert len(fixture_models(catalog_fixture_data)) == FIXTURE_COUNT
    ids = [model.id for model in listing.models]
    assert len(ids) == len(set(ids)) == FIXTURE_COUNT
    assert set(ids) == fixture_ids(catalog_fixture_data)
    assert listing.skipped == ()
    assert listing.total == FIXTURE_COUNT
    assert (listing.complete, listing.inconsistency, listing.restarts) == (True, "", 0)
    # A full page that reaches the total is confirmed by one more (empty) page.
    assert listing.pages == listing.requests == FIXTURE_COUNT // page_size + 1
    sent = api_requests(catalog_server)
    last_offset = FIXTURE_COUNT // page_size * page_size
    offsets = [int(r.query["offset"]) for r in sent]
    # Pages requested ahead may reach the server in any order; each is asked for once.
    assert sorted(offsets) == list(range(0, last_offset + 1, page_size))
    assert offsets[0] == 0  # the first page alone: it gives the total
    if concurrency == 1:
        assert offsets == sorted(offsets)
    assert {r.query["limit"] for r in sent} == {str(page_size)}
    assert "include_empty_models" not in sent[0].query


async def test_last_page_short_and_limit_larger_than_total(catalog_server: CatalogSandbox) -> None:
    async with make_client(catalog_server, page_size=5) as client:
        short = await client.list_models()
    assert (short.pages, len(short.models)) == (8, FIXTURE_COUNT)
    assert api_requests(catalog_server)[-1].query["offset"] == "35"  # 3 models on the last page
    catalog_server.requests.clear()
    async with make_client(catalog_server, page_size=500) as client:
        one = await client.list_models()
    assert (one.pages, one.requests, len(one.models)) == (1, 1, FIXTURE_COUNT)


async def test_latest_version_parsed(
    catalog_server: CatalogSandbox, catalog_fixture_data: dict[str, Any]
) -> None:
    async with make_client(catalog_server) as client:
        listing = await client.list_models()
    by_id = {model.id: model for model in listing.models}
    for raw in fixture_models(catalog_fixture_data):
        latest = by_id[raw["id"]].latest_version
        if not raw["versions"]:
            assert latest is None
            continue
        newest = max(raw["versions"], key=lambda v: v["manifest"]["version"])
        assert latest is not None
        assert latest.id == newest["id"]
        assert latest.deployable is newest.get("deployable", False)


@pytest.mark.parametrize("include_empty", [True, False])
async def test_include_empty_models(
    catalog_server: CatalogSandbox, catalog_fixture_data: dict[str, Any], include_empty: bool
) -> None:
    async with make_client(catalog_server, page_size=10) as client:
        listing = await client.list_models(ModelFilters(include_empty_models=include_empty))
    expected = fixture_ids(catalog_fixture_data, lambda m: include_empty or bool(m["versions"]))
    assert {model.id for model in listing.models} == expected
    assert not include_empty or len(expected) == FIXTURE_COUNT
    assert include_empty or len(expected) < FIXTURE_COUNT
    assert (
        api_requests(catalog_server)[0].query["include_empty_models"] == str(include_empty).lower()
    )


def _filter_cases(data: dict[str, Any]) -> list[tuple[ModelFilters, set[str], dict[str, str]]]:
    models = fixture_models(data)
    fraud = next(m for m in models if m["name"] == "fraud-detector")
    run_id = "run-2024-churn-q3-retrain"
    return [
        (ModelFilters(fqn=fraud["fqn"]), {fraud["id"]}, {"fqn": fraud["fqn"]}),
        (
            ModelFilters(ml_repo_id=fraud["ml_repo_id"]),
            {m["id"] for m in models if m["ml_repo_id"] == fraud["ml_repo_id"]},
            {"ml_repo_id": fraud["ml_repo_id"]},
        ),
        (
            ModelFilters(name="baseline"),
            {m["id"] for m in models if m["name"] == "baseline"},
            {"name": "baseline"},
        ),
        (
            ModelFilters(run_id=run_id),
            {
                m["id"]
                for m in models
                if any(v["manifest"].get("run_id") == run_id for v in m["versions"])
            },
            {"run_id": run_id},
        ),
        (
            ModelFilters(ml_repo_id=fraud["ml_repo_id"], include_empty_models=False),
            {m["id"] for m in models if m["ml_repo_id"] == fraud["ml_repo_id"] and m["versions"]},
            {"ml_repo_id": fraud["ml_repo_id"], "include_empty_models": "false"},
        ),
        (ModelFilters(name="no-such-model"), set(), {"name": "no-such-model"}),
    ]


@pytest.mark.parametrize("case", range(6))
async def test_each_filter_is_sent_and_applied(
    catalog_server: CatalogSandbox, catalog_fixture_data: dict[str, Any], case: int
) -> None:
    filters, expected, params = _filter_cases(catalog_fixture_data)[case]
    assert len(expected) != 1 or filters.fqn is not None  # the cases are not all trivial
    async with make_client(catalog_server, page_size=3) as client:
        listing = await client.list_models(filters)
    assert {model.id for model in listing.models} == expected
    assert listing.total == len(expected)
    for request in api_requests(catalog_server):
        assert {k: v for k, v in request.query.items() if k in params} == params
        assert set(request.query) == {*params, "offset", "limit"}


def test_filters_to_params() -> None:
    assert ModelFilters().to_params() == {}
    assert ModelFilters(name="a", include_empty_models=True).to_params() == {
        "name": "a",
        "include_empty_models": "true",
    }


async def test_empty_page_before_total_makes_the_listing_inconsistent(
    catalog_server: CatalogSandbox,
) -> None:
    def arm_after_first(_status: int) -> None:
        if len(catalog_server.requests) == 1:
            catalog_server.faults.empty_page_next(1)

    # One page at a time, so the one empty answer is the second page's.
    async with make_client(
        catalog_server, page_size=10, on_response=arm_after_first, page_concurrency=1
    ) as client:
        listing = await client.list_models()
    assert (listing.pages, listing.total, len(listing.models)) == (2, FIXTURE_COUNT, 10)
    assert not listing.complete
    assert listing.inconsistency == "the page at offset 10 was empty before the reported total 38"


async def test_total_shrinking_mid_listing_lists_again_from_the_start(
    catalog_server: CatalogSandbox, catalog_fixture_data: dict[str, Any]
) -> None:
    def arm_after_first(_status: int) -> None:
        if len(catalog_server.requests) == 1:
            catalog_server.faults.misreport_total(-30, 1)  # second page says total 8

    # One page at a time, so the one misreported total is the second page's.
    async with make_client(
        catalog_server, page_size=5, on_response=arm_after_first, page_concurrency=1
    ) as client:
        listing = await client.list_models()
    assert (listing.complete, listing.restarts, listing.total) == (True, 1, FIXTURE_COUNT)
    assert {model.id for model in listing.models} == fixture_ids(catalog_fixture_data)
    offsets = [r.query["offset"] for r in api_requests(catalog_server)]
    assert offsets == ["0", "5", *(str(n) for n in range(0, FIXTURE_COUNT, 5))]
    assert listing.pages == listing.requests == 2 + 8


async def test_total_growing_everywhere_is_a_short_page_before_the_total(
    catalog_server: CatalogSandbox,
) -> None:
    catalog_server.faults.misreport_total(+5, 100)
    async with make_client(catalog_server, page_size=10, page_concurrency=1) as client:
        listing = await client.list_models()
    assert len(listing.models) == FIXTURE_COUNT
    assert listing.total == FIXTURE_COUNT + 5
    assert not listing.complete
    assert listing.inconsistency == (
        "the page at offset 30 had 8 entries, fewer than the page size 10, before the "
        "reported total 43"
    )
    assert [r.query["offset"] for r in api_requests(catalog_server)] == ["0", "10", "20", "30"]
    catalog_server.requests.clear()

    # Requested ahead, the same pages are judged the same; the page at 40 (at most the
    # reported total) may be asked for too, as a sequential pass would have next.
    async with make_client(catalog_server, page_size=10) as client:
        ahead = await client.list_models()
    assert (ahead.models, ahead.complete, ahead.inconsistency, ahead.pages) == (
        listing.models,
        False,
        listing.inconsistency,
        4,
    )
    offsets = sorted(int(r.query["offset"]) for r in api_requests(catalog_server))
    assert offsets in ([0, 10, 20, 30], [0, 10, 20, 30, 40])


async def test_insert_while_paging_restarts_and_sees_the_new_model(
    catalog_server: CatalogSandbox, catalog_fixture_data: dict[str, Any]
) -> None:
    template = fixture_models(catalog_fixture_data)[0]
    inserted = {
        **{k: v for k, v in template.items() if k != "versions"},
        "id": "0000-sorts-first",
        "name": "aaa-new",
        "fqn": "model:acme/aaa/aaa-new",  # sorts before every fixture model
        "versions": [],
    }

    def insert_after_first(_status: int) -> None:
        if len(catalog_server.requests) == 1:
            catalog_server.catalog.upsert_model(inserted)

    async with make_client(catalog_server, page_size=5, on_response=insert_after_first) as client:
        listing = await client.list_models()
    ids = [model.id for model in listing.models]
    # The insert moved the total (38 -> 39) between the first two pages: listed again.
    assert (listing.complete, listing.restarts) == (True, 1)
    assert len(ids) == len(set(ids)) == FIXTURE_COUNT + 1
    assert set(ids) == fixture_ids(catalog_fixture_data) | {"0000-sorts-first"}
    assert listing.total == FIXTURE_COUNT + 1
    assert listing.pages == 2 + 8


async def test_model_failing_validation_is_skipped_and_reported(
    catalog_server: CatalogSandbox, catalog_fixture_data: dict[str, Any]
) -> None:
    template = fixture_models(catalog_fixture_data)[0]
    broken = {
        **{k: v for k, v in template.items() if k != "versions"},
        "id": "broken-model",
        "fqn": "model:acme/fraud/broken",
        "name": "broken",
        "created_by_subject": {"subjectType": "user"},  # no subjectId
        "versions": [],
    }
    catalog_server.catalog.upsert_model(broken)
    async with make_client(catalog_server, page_size=7) as client:
        listing = await client.list_models()
    assert len(listing.models) == FIXTURE_COUNT
    assert [s.id for s in listing.skipped] == ["broken-model"]
    assert "created_by_subject.subjectId" in listing.skipped[0].reason
    assert listing.total == FIXTURE_COUNT + 1


async def test_runaway_paging_is_stopped(catalog_server: CatalogSandbox) -> None:
    async with make_client(catalog_server, page_size=1, max_pages=3) as client:
        with pytest.raises(InvalidResponse, match="runaway paging") as caught:
            await client.list_models()
    assert caught.value.reason == "InvalidResponse"
    assert len(api_requests(catalog_server)) == 3


async def test_exactly_max_pages_is_fine(catalog_server: CatalogSandbox) -> None:
    async with make_client(catalog_server, page_size=10, max_pages=4) as client:
        listing = await client.list_models()
    assert listing.pages == 4


async def test_on_response_sees_every_status(catalog_server: CatalogSandbox) -> None:
    statuses: list[int] = []
    catalog_server.faults.fail_next(1, 503)
    async with make_client(catalog_server, page_size=20, on_response=statuses.append) as client:
        listing = await client.list_models()
    assert statuses == [503, 200, 200]
    assert listing.requests == 3
    assert listing.pages == 2


# --- model versions ---------------------------------------------------------------------


def _expected_newest_deployable(raw: dict[str, Any]) -> str | None:
    deployable = [v for v in raw["versions"] if v.get("deployable")]
    if not deployable:
        return None
    newest: str = max(deployable, key=lambda v: v["manifest"]["version"])["id"]
    return newest


def _newest_deployable(versions: list[VersionRecord]) -> VersionRecord | None:
    deployable = [v for v in versions if v.deployable]
    return max(deployable, key=lambda v: v.manifest.version or 0) if deployable else None


async def test_every_fixture_model_lists_its_versions_page_by_page(
    catalog_server: CatalogSandbox, catalog_fixture_data: dict[str, Any]
) -> None:
    async with make_client(catalog_server, page_size=2) as client:
        for raw in fixture_models(catalog_fixture_data):
            found = _newest_deployable(await client.list_model_versions(raw["id"]))
            assert (found.id if found else None) == _expected_newest_deployable(raw), raw["name"]
    versions_requests = api_requests(catalog_server, VERSIONS_PATH)
    assert {r.query["model_id"] for r in versions_requests} == fixture_ids(catalog_fixture_data)
    assert max(int(r.query["offset"]) for r in versions_requests) >= 10  # paged (12 versions)


async def test_list_model_versions(
    catalog_server: CatalogSandbox, catalog_fixture_data: dict[str, Any]
) -> None:
    raw = next(m for m in fixture_models(catalog_fixture_data) if m["name"] == "energy-load-tf")
    async with make_client(catalog_server, page_size=5) as client:
        versions = await client.list_model_versions(raw["id"])
        assert await client.list_model_versions("no-such-model") == []
    assert sorted(v.manifest.version or 0 for v in versions) == list(range(1, 13))
    assert {v.model_id for v in versions} == {raw["id"]}


async def test_list_model_versions_sees_new_versions(
    catalog_server: CatalogSandbox, catalog_fixture_data: dict[str, Any]
) -> None:
    raw = next(m for m in fixture_models(catalog_fixture_data) if m["name"] == "churn_uplift")
    async with make_client(catalog_server) as client:
        assert _newest_deployable(await client.list_model_versions(raw["id"])) is None
        added = catalog_server.catalog.add_version(
            raw["id"],
            {"deployable": True, "manifest": {**raw["versions"][0]["manifest"], "version": 9}},
        )
        found = _newest_deployable(await client.list_model_versions(raw["id"]))
    assert found is not None
    assert found.id == added["id"]


async def test_versions_endpoint_404_means_unsupported(catalog_server: CatalogSandbox) -> None:
    catalog_server.faults.fail_next(1, 404, path_prefix=VERSIONS_PATH)
    sleep = RecordingSleep()
    async with make_client(catalog_server, sleep=sleep) as client:
        with pytest.raises(VersionsEndpointUnsupported) as caught:
            await client.list_model_versions("any")
    error = caught.value
    assert isinstance(error, NotFound)
    assert error.status_code == 404
    assert error.reason == "VersionsEndpointUnsupported"
    assert "does not support" in str(error)
    assert VERSIONS_PATH in str(error)
    assert sleep.delays == []  # a 404 is an answer, not retried


async def test_models_endpoint_404_is_not_found(catalog_server: CatalogSandbox) -> None:
    async with make_client(catalog_server, api_path="/api/ml/v9/") as client:
        with pytest.raises(NotFound) as caught:
            await client.list_models()
    assert not isinstance(caught.value, VersionsEndpointUnsupported)
    assert caught.value.reason == "CatalogUnavailable"
    assert f"GET {catalog_server.url}/api/ml/v9/models?offset=0&limit=100" in str(caught.value)
    assert len(catalog_server.requests) == 1
    assert MODELS_PATH not in str(caught.value)
