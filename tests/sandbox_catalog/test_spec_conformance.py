"""Every response the sandbox gives for the shipped fixtures validates against the spec.

Validators come from tests/data/list-models.openapi.yaml (see fixtures_catalog); the
model-versions envelope, which the spec lacks, is assembled from the spec's own parts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from fixtures_catalog import list_versions_response_schema, spec_validator
from modelsync_sandbox.catalog_query import version_number
from modelsync_sandbox.catalog_server import API_PREFIXES, CatalogSandbox

LIST_MODELS = spec_validator("ListModelsResponse")
LIST_VERSIONS = spec_validator(list_versions_response_schema())
VALIDATION_ERROR = spec_validator("HTTPValidationError")


@pytest_asyncio.fixture
async def http(catalog_server: CatalogSandbox) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {catalog_server.token}"}
    async with httpx.AsyncClient(base_url=catalog_server.url, headers=headers) as client:
        yield client


async def _models(http: httpx.AsyncClient, prefix: str = API_PREFIXES[0], **params: Any) -> Any:
    response = await http.get(f"{prefix}/models", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    LIST_MODELS.validate(body)
    return body


@pytest.mark.parametrize("prefix", API_PREFIXES)
async def test_full_listing(
    http: httpx.AsyncClient, catalog_fixture_data: dict[str, Any], prefix: str
) -> None:
    body = await _models(http, prefix)
    stored = catalog_fixture_data["models"]
    assert body["pagination"] == {"total": len(stored), "offset": 0}
    assert [m["id"] for m in body["data"]] == [
        m["id"] for m in sorted(stored, key=lambda m: (m["fqn"], m["id"]))
    ]
    for model, entry in zip(body["data"], sorted(stored, key=lambda m: m["fqn"]), strict=True):
        if entry["versions"]:
            top = max(entry["versions"], key=version_number)
            assert model["latest_version"] == top
        else:
            assert "latest_version" not in model


@pytest.mark.parametrize("limit", [1, 5, 7, 38, 100])
async def test_pages_are_valid_and_add_up(http: httpx.AsyncClient, limit: int) -> None:
    everything = (await _models(http))["data"]
    collected: list[Any] = []
    offset = 0
    while True:
        body = await _models(http, limit=limit, offset=offset)
        assert body["pagination"] == {"total": len(everything), "offset": offset, "limit": limit}
        assert len(body["data"]) == min(limit, max(0, len(everything) - offset))
        if not body["data"]:
            break
        collected += body["data"]
        offset += limit
    assert collected == everything
    beyond = await _models(http, limit=limit, offset=len(everything) + 3)
    assert beyond["data"] == []
    assert beyond["pagination"]["total"] == len(everything)


async def test_every_fqn_and_name_filter(
    http: httpx.AsyncClient, catalog_fixture_data: dict[str, Any]
) -> None:
    stored = catalog_fixture_data["models"]
    for entry in stored:
        by_fqn = await _models(http, fqn=entry["fqn"])
        assert [m["id"] for m in by_fqn["data"]] == [entry["id"]]
        by_name = await _models(http, name=entry["name"])
        assert {m["id"] for m in by_name["data"]} == {
            m["id"] for m in stored if m["name"] == entry["name"]
        }
    assert (await _models(http, fqn="model:acme/fraud/FRAUD-MODEL"))["data"] == []


async def test_every_ml_repo_and_run_id_filter(
    http: httpx.AsyncClient, catalog_fixture_data: dict[str, Any]
) -> None:
    stored = catalog_fixture_data["models"]
    for repo_id in catalog_fixture_data["ml_repos"].values():
        body = await _models(http, ml_repo_id=repo_id)
        assert {m["id"] for m in body["data"]} == {
            m["id"] for m in stored if m["ml_repo_id"] == repo_id
        }
        assert body["pagination"]["total"] == len(body["data"]) > 0
    run_ids = {v["manifest"]["run_id"] for m in stored for v in m["versions"]}
    for run_id in sorted(run_ids):
        body = await _models(http, run_id=run_id)
        assert {m["id"] for m in body["data"]} == {
            m["id"] for m in stored if any(v["manifest"]["run_id"] == run_id for v in m["versions"])
        }
    assert (await _models(http, run_id="no-such-run"))["pagination"]["total"] == 0


@pytest.mark.parametrize(
    ("value", "include"),
    [("true", True), ("false", False), ("1", True), ("0", False), ("False", False)],
)
async def test_include_empty_models(
    http: httpx.AsyncClient, catalog_fixture_data: dict[str, Any], value: str, include: bool
) -> None:
    body = await _models(http, include_empty_models=value)
    expected = [m for m in catalog_fixture_data["models"] if include or m["versions"]]
    assert body["pagination"]["total"] == len(expected)
    assert all("latest_version" in m for m in body["data"]) is not include


async def test_filters_combine_with_paging(
    http: httpx.AsyncClient, catalog_fixture_data: dict[str, Any]
) -> None:
    repo_id = catalog_fixture_data["ml_repos"]["fraud"]
    body = await _models(http, ml_repo_id=repo_id, include_empty_models="false", limit=2, offset=2)
    expected = sorted(
        (m for m in catalog_fixture_data["models"] if m["ml_repo_id"] == repo_id and m["versions"]),
        key=lambda m: m["fqn"],
    )
    assert [m["id"] for m in body["data"]] == [m["id"] for m in expected[2:4]]
    assert body["pagination"] == {"total": len(expected), "offset": 2, "limit": 2}


@pytest.mark.parametrize("prefix", API_PREFIXES)
async def test_versions_endpoint_for_every_model(
    http: httpx.AsyncClient, catalog_fixture_data: dict[str, Any], prefix: str
) -> None:
    for entry in catalog_fixture_data["models"]:
        response = await http.get(f"{prefix}/model-versions", params={"model_id": entry["id"]})
        assert response.status_code == 200
        body = response.json()
        LIST_VERSIONS.validate(body)
        numbers = [v["manifest"]["version"] for v in body["data"]]
        assert numbers == sorted((version_number(v) for v in entry["versions"]), reverse=True)
        assert body["pagination"] == {"total": len(numbers), "offset": 0}


async def test_versions_endpoint_pages_and_unknown_model(
    http: httpx.AsyncClient, catalog_fixture_data: dict[str, Any]
) -> None:
    biggest = max(catalog_fixture_data["models"], key=lambda m: len(m["versions"]))
    seen: list[int] = []
    for offset in range(0, len(biggest["versions"]) + 5, 5):
        params = {"model_id": biggest["id"], "limit": 5, "offset": offset}
        body = (await http.get("/api/ml/v1/model-versions", params=params)).json()
        LIST_VERSIONS.validate(body)
        assert body["pagination"] == {
            "total": len(biggest["versions"]),
            "offset": offset,
            "limit": 5,
        }
        seen += [v["manifest"]["version"] for v in body["data"]]
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(biggest["versions"])
    unknown = (await http.get("/api/ml/v1/model-versions", params={"model_id": "nope"})).json()
    LIST_VERSIONS.validate(unknown)
    assert unknown == {"data": [], "pagination": {"total": 0, "offset": 0}}


@pytest.mark.parametrize(
    ("params", "locations"),
    [
        ({"limit": "abc"}, [["query", "limit"]]),
        ({"offset": "1.5"}, [["query", "offset"]]),
        ({"offset": "-1"}, [["query", "offset"]]),
        ({"limit": "0"}, [["query", "limit"]]),
        ({"include_empty_models": "maybe"}, [["query", "include_empty_models"]]),
        ({"limit": "x", "offset": "y"}, [["query", "offset"], ["query", "limit"]]),
    ],
)
@pytest.mark.parametrize("path", ["/api/ml/v1/models", "/api/svc/v1/models"])
async def test_bad_parameters_give_spec_shaped_422(
    http: httpx.AsyncClient, path: str, params: dict[str, str], locations: list[list[str]]
) -> None:
    response = await http.get(path, params=params)
    assert response.status_code == 422
    body = response.json()
    VALIDATION_ERROR.validate(body)
    assert [error["loc"] for error in body["detail"]] == locations
    assert all(error["msg"] and error["type"] for error in body["detail"])


async def test_versions_endpoint_422(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/ml/v1/model-versions", params={"limit": "-3"})
    assert response.status_code == 422
    VALIDATION_ERROR.validate(response.json())
