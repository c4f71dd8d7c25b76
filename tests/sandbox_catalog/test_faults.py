"""Fault injection, driven in-process (`sandbox.faults`)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from fixtures_catalog import spec_validator
from modelsync_sandbox.catalog_faults import FaultPlan
from modelsync_sandbox.catalog_server import CatalogSandbox

MODELS = "/api/ml/v1/models"
VERSIONS = "/api/ml/v1/model-versions"


@pytest_asyncio.fixture
async def http(catalog_server: CatalogSandbox) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {catalog_server.token}"}
    async with httpx.AsyncClient(base_url=catalog_server.url, headers=headers) as client:
        yield client


async def _statuses(http: httpx.AsyncClient, path: str, n: int) -> list[int]:
    return [(await http.get(path)).status_code for _ in range(n)]


async def test_fail_next_counts_down_then_recovers(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    catalog_server.faults.fail_next(2, 503)
    first = await http.get(MODELS)
    assert first.json() == {"detail": "injected fault: 503 Service Unavailable"}
    assert [first.status_code, *await _statuses(http, MODELS, 2)] == [503, 503, 200]
    assert [r.faults for r in catalog_server.requests] == [["fail:503"], ["fail:503"], []]


async def test_fail_next_queue_order_retry_after_and_bodies(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    faults = catalog_server.faults
    faults.fail_next(1, 429, retry_after=2)
    faults.fail_next(1, 503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT", body="upstream down")
    faults.fail_next(1, 500, body={"error": "boom"})
    faults.fail_next(1, 422)
    responses = [await http.get(MODELS) for _ in range(5)]
    assert [r.status_code for r in responses] == [429, 503, 500, 422, 200]
    assert responses[0].headers["Retry-After"] == "2"
    assert responses[1].headers["Retry-After"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert responses[1].text == "upstream down"
    assert "Retry-After" not in responses[2].headers
    assert responses[2].json() == {"error": "boom"}
    spec_validator("HTTPValidationError").validate(responses[3].json())


async def test_fail_next_applies_before_auth_and_to_any_api_path(
    catalog_server: CatalogSandbox,
) -> None:
    catalog_server.faults.fail_next(2, 502)
    async with httpx.AsyncClient(base_url=catalog_server.url) as anonymous:
        assert await _statuses(anonymous, "/api/svc/v1/model-versions", 1) == [502]
        assert await _statuses(anonymous, "/api/anything", 1) == [502]
        assert await _statuses(anonymous, MODELS, 1) == [401]


async def test_path_prefix_targets_one_endpoint(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    catalog_server.faults.fail_next(1, 404, path_prefix=VERSIONS)
    assert await _statuses(http, MODELS, 1) == [200]
    response = await http.get(VERSIONS, params={"model_id": "x"})
    assert response.status_code == 404
    assert await _statuses(http, VERSIONS, 1) == [200]


async def test_admin_paths_are_never_faulted(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    catalog_server.faults.fail_next(1, 500)
    catalog_server.faults.delay(0.5)
    started = time.monotonic()
    assert (await http.get("/_sandbox/faults")).status_code == 200
    assert time.monotonic() - started < 0.4
    assert catalog_server.requests == []


async def test_delay_applies_to_every_api_response_until_cleared(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    catalog_server.faults.delay(0.15)
    catalog_server.faults.fail_next(1, 503)
    for expected in (503, 200):
        started = time.monotonic()
        assert (await http.get(MODELS)).status_code == expected
        assert time.monotonic() - started >= 0.15
    with pytest.raises(httpx.ReadTimeout):
        await http.get(MODELS, timeout=0.05)
    catalog_server.faults.delay(0)
    started = time.monotonic()
    await http.get(MODELS)
    assert time.monotonic() - started < 0.15


async def test_bad_body_kinds(catalog_server: CatalogSandbox, http: httpx.AsyncClient) -> None:
    validator = spec_validator("ListModelsResponse")
    faults = catalog_server.faults
    faults.bad_body_next(1, "truncated")
    truncated = await http.get(MODELS, params={"limit": 3})
    assert truncated.status_code == 200
    assert truncated.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.text)
    faults.bad_body_next(1, "not-json")
    html = await http.get(MODELS)
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        json.loads(html.text)
    faults.bad_body_next(1, "wrong-shape", path_prefix=VERSIONS)
    assert validator.is_valid((await http.get(MODELS)).json())
    wrong = (await http.get(VERSIONS)).json()
    assert isinstance(wrong, dict)
    assert "data" not in wrong
    assert "pagination" not in wrong
    assert validator.is_valid((await http.get(MODELS)).json())
    assert [r.faults for r in catalog_server.requests] == [
        ["bad-body:truncated"],
        ["bad-body:not-json"],
        [],
        ["bad-body:wrong-shape"],
        [],
    ]


async def test_body_faults_wait_for_a_200_listing(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    catalog_server.faults.empty_page_next(1)
    assert (await http.get(MODELS, params={"limit": "bad"})).status_code == 422
    async with httpx.AsyncClient(base_url=catalog_server.url) as anonymous:
        assert (await anonymous.get(MODELS)).status_code == 401
    assert (await http.get(MODELS)).json()["data"] == []
    assert (await http.get(MODELS)).json()["data"] != []


async def test_misreport_total_and_empty_page(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient, catalog_fixture_data: dict[str, Any]
) -> None:
    real_total = len(catalog_fixture_data["models"])
    validator = spec_validator("ListModelsResponse")
    catalog_server.faults.misreport_total(+5, 2)
    totals = []
    for _ in range(3):
        body = (await http.get(MODELS, params={"limit": 10})).json()
        validator.validate(body)
        totals.append(body["pagination"]["total"])
        assert len(body["data"]) == 10
    assert totals == [real_total + 5, real_total + 5, real_total]
    catalog_server.faults.misreport_total(-1000, 1)
    assert (await http.get(MODELS)).json()["pagination"]["total"] == 0
    catalog_server.faults.empty_page_next(1)
    catalog_server.faults.misreport_total(3, 1)
    body = (await http.get(MODELS, params={"offset": 5, "limit": 5})).json()
    validator.validate(body)
    assert body == {"data": [], "pagination": {"total": real_total + 3, "offset": 5, "limit": 5}}
    assert catalog_server.requests[-1].faults == ["empty-page", "misreport-total:+3"]


async def test_clear_disarms_everything(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    faults = catalog_server.faults
    faults.fail_next(5, 500)
    faults.delay(5)
    faults.bad_body_next(5, "not-json")
    faults.misreport_total(1, 5)
    faults.empty_page_next(5)
    faults.understate_total(3)
    faults.moving_total(2)
    faults.ignore_offset()
    faults.repeat_page(2)
    faults.empty_page_before_total()
    faults.duplicate_ids(across_pages=True)
    faults.oversized_body(10_000_000)
    faults.gzip_bomb()
    faults.drip(5)
    armed = faults.snapshot()
    assert [lie["kind"] for lie in armed["paging_lies"]] == [
        "moving-total",
        "ignore-offset",
        "repeat-page",
        "empty-page-before-total",
        "duplicate-ids",
    ]
    assert [d["kind"] for d in armed["delivery"]] == ["oversized-body", "gzip-bomb", "drip"]
    assert armed["misreport_total"][-1] == {
        "remaining": None,
        "path_prefix": None,
        "kind": "",
        "delta": -3,
    }
    faults.clear()
    assert faults.snapshot() == {
        "delay": 0.0,
        "fail_next": [],
        "bad_body_next": [],
        "empty_page_next": [],
        "misreport_total": [],
        "paging_lies": [],
        "delivery": [],
    }
    response = await http.get(MODELS, timeout=2)
    assert response.status_code == 200
    spec_validator("ListModelsResponse").validate(response.json())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: f.fail_next(0, 500), "count"),
        (lambda f: f.fail_next(1, 99), "status"),
        (lambda f: f.fail_next(1, 600), "status"),
        (lambda f: f.delay(-1), "delay"),
        (lambda f: f.bad_body_next(1, "garbled"), "kind"),
        (lambda f: f.misreport_total(1, 0), "count"),
        (lambda f: f.empty_page_next(0), "count"),
        (lambda f: f.understate_total(0), "by"),
        (lambda f: f.overstate_total(-1, 2), "by"),
        (lambda f: f.moving_total(0), "delta"),
        (lambda f: f.moving_total(3, 0), "count"),
        (lambda f: f.ignore_offset(0), "count"),
        (lambda f: f.repeat_page(-1), "count"),
        (lambda f: f.empty_page_before_total(from_offset=-1), "from_offset"),
        (lambda f: f.duplicate_ids(0), "count"),
        (lambda f: f.oversized_body(0), "size_bytes"),
        (lambda f: f.gzip_bomb(inflated_bytes=0), "inflated_bytes"),
        (lambda f: f.gzip_bomb(inflated_bytes=9 << 30), "inflated_bytes"),
        (lambda f: f.drip(0), "interval"),
        (lambda f: f.drip(float("inf")), "interval"),
        (lambda f: f.drip(1, 0), "count"),
    ],
)
def test_bad_fault_arguments_are_refused(call: Callable[[FaultPlan], None], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(FaultPlan())


async def test_lies_and_deliveries_combine_on_one_request(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient, catalog_fixture_data: dict[str, Any]
) -> None:
    real_total = len(catalog_fixture_data["models"])
    faults = catalog_server.faults
    first_ids = [m["id"] for m in (await http.get(MODELS, params={"limit": 4})).json()["data"]]
    faults.ignore_offset(1)
    faults.duplicate_ids(1)
    faults.overstate_total(2, 1)
    faults.oversized_body(50_000, 1)
    response = await http.get(MODELS, params={"offset": 8, "limit": 4})
    assert len(response.content) == 50_000
    assert [m["id"] for m in response.json()["data"]] == [*first_ids[:3], first_ids[0]]
    assert response.json()["pagination"] == {"total": real_total + 2, "offset": 8, "limit": 4}
    assert catalog_server.requests[-1].faults == [
        "ignore-offset",
        "duplicate-ids",
        "misreport-total:+2",
        "oversized-body:50000",
    ]
    assert faults.snapshot() == FaultPlan().snapshot()


def test_faults_armed_from_another_thread_reach_a_threaded_sandbox(
    catalog_server_thread: CatalogSandbox,
) -> None:
    sandbox = catalog_server_thread
    with httpx.Client(base_url=sandbox.url, headers=sandbox.auth_headers, timeout=5) as client:
        first = client.get(MODELS, params={"limit": 3}).json()["data"]
        sandbox.faults.repeat_page()
        for offset in (3, 6):
            assert client.get(MODELS, params={"offset": offset, "limit": 3}).json()["data"] == first
        sandbox.faults.clear()
        assert client.get(MODELS, params={"offset": 3, "limit": 3}).json()["data"] != first
