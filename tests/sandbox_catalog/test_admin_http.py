"""The `/_sandbox/...` admin API: faults, catalog changes, requests and reset over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from fixtures_catalog import spec_validator
from modelsync_sandbox.catalog_server import CatalogSandbox

MODELS = "/api/ml/v1/models"


@pytest_asyncio.fixture
async def admin(catalog_server: CatalogSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=catalog_server.url + "/_sandbox") as client:
        yield client


@pytest_asyncio.fixture
async def api(catalog_server: CatalogSandbox) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {catalog_server.token}"}
    async with httpx.AsyncClient(base_url=catalog_server.url, headers=headers) as client:
        yield client


def _new_model(model_id: str = "m-new") -> dict[str, Any]:
    return {
        "id": model_id,
        "ml_repo_id": "repo-new",
        "name": "brand-new",
        "fqn": "model:acme/new/brand-new",
        "created_by_subject": {"subjectId": "u1", "subjectType": "user"},
    }


def _manifest() -> dict[str, Any]:
    return {
        "name": "brand-new",
        "metadata": {},
        "ml_repo": "new",
        "source": {"type": "truefoundry", "uri": "s3://bucket/brand-new/"},
        "framework": {"type": "onnx"},
    }


async def test_fault_endpoints(admin: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    body = {"count": 1, "status": 429, "retry_after": 7, "path_prefix": MODELS}
    armed = await admin.post("/faults/fail-next", json=body)
    assert armed.status_code == 200
    assert armed.json()["fail_next"][0]["status"] == 429
    limited = await api.get(MODELS)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")
    assert (
        await admin.post("/faults/bad-body-next", json={"count": 1, "kind": "not-json"})
    ).is_success
    assert (await api.get(MODELS)).headers["content-type"].startswith("text/html")
    assert (await admin.post("/faults/misreport-total", json={"delta": 2, "count": 1})).is_success
    assert (await admin.post("/faults/empty-page-next", json={"count": 1})).is_success
    page = (await api.get(MODELS)).json()
    assert page["data"] == []
    assert page["pagination"]["total"] == (await api.get(MODELS)).json()["pagination"]["total"] + 2
    assert (await admin.post("/faults/delay", json={"seconds": 0.01})).json()["delay"] == 0.01
    assert (await admin.delete("/faults")).status_code == 204
    assert (await admin.get("/faults")).json()["delay"] == 0.0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/faults/fail-next", {"count": 0, "status": 500}),
        ("/faults/fail-next", {"count": 1, "status": 500, "surprise": True}),
        ("/faults/delay", {"seconds": -2}),
        ("/faults/bad-body-next", {"count": 1, "kind": "gzip-bomb"}),
        ("/faults/misreport-total", {"count": 1}),
        ("/faults/empty-page-next", "not an object"),
        ("/faults/misreport-total", {"delta": 1, "count": 0}),
        ("/faults/understate-total", {"by": 0}),
        ("/faults/overstate-total", {}),
        ("/faults/moving-total", {"delta": 0}),
        ("/faults/ignore-offset", {"count": 0}),
        ("/faults/repeat-page", {"count": 1, "surprise": True}),
        ("/faults/empty-page-before-total", {"from_offset": -1}),
        ("/faults/duplicate-ids", {"across_pages": "sideways"}),
        ("/faults/oversized-body", {"count": 1}),
        ("/faults/gzip-bomb", {"inflated_bytes": 1 << 40}),
        ("/faults/drip", {"interval": 0}),
    ],
)
async def test_bad_admin_input_is_400(admin: httpx.AsyncClient, path: str, body: object) -> None:
    response = await admin.post(path, json=body)
    assert response.status_code == 400
    assert "detail" in response.json()


async def test_non_json_admin_body_is_400(admin: httpx.AsyncClient) -> None:
    response = await admin.post("/faults/delay", content=b"{oops")
    assert (response.status_code, response.json()) == (400, {"detail": "request body must be JSON"})


async def test_model_endpoints(admin: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    total = len((await admin.get("/models")).json()["models"])
    assert (await admin.put("/models", json=_new_model())).status_code == 200
    created = await admin.post("/models/m-new/versions", json={"manifest": _manifest()})
    assert created.status_code == 201
    version = created.json()
    assert version["fqn"] == "model:acme/new/brand-new:1"
    listed = (await api.get(MODELS, params={"fqn": "model:acme/new/brand-new"})).json()
    spec_validator("ListModelsResponse").validate(listed)
    assert listed["data"][0]["latest_version"]["id"] == version["id"]
    assert len((await admin.get("/models")).json()["models"]) == total + 1
    assert (
        await admin.post("/models/none/versions", json={"manifest": _manifest()})
    ).status_code == 404
    assert (await admin.post("/models/m-new/versions", json={"tags": []})).status_code == 400
    assert (await admin.put("/models", json={"id": "incomplete"})).status_code == 400
    assert (await admin.put("/models", json=[1, 2])).status_code == 400
    assert (await admin.delete("/models/m-new")).status_code == 204
    assert (await admin.delete("/models/m-new")).status_code == 404
    assert (await api.get(MODELS, params={"fqn": "model:acme/new/brand-new"})).json()["data"] == []


async def test_requests_and_reset(
    catalog_server: CatalogSandbox, admin: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    await api.get(MODELS, params={"limit": 2, "offset": 1})
    await admin.put("/models", json=_new_model())
    await admin.post("/faults/delay", json={"seconds": 0.01})
    recorded = (await admin.get("/requests")).json()["requests"]
    assert len(recorded) == 1
    assert recorded[0]["method"] == "GET"
    assert recorded[0]["path"] == MODELS
    assert recorded[0]["query"] == {"limit": "2", "offset": "1"}
    assert recorded[0]["status"] == 200
    assert str(catalog_server.token) not in str(recorded)
    assert (await admin.delete("/requests")).status_code == 204
    assert (await admin.get("/requests")).json() == {"requests": []}
    await api.get(MODELS)
    assert (await admin.post("/reset")).status_code == 204
    assert catalog_server.requests == []
    assert catalog_server.faults.current_delay() == 0
    assert catalog_server.catalog.model("m-new") is None


async def test_hostile_fault_endpoints_arm_what_the_fault_plan_arms(
    admin: httpx.AsyncClient,
) -> None:
    posts: list[tuple[str, dict[str, Any]]] = [
        ("/faults/misreport-total", {"delta": -2}),
        ("/faults/understate-total", {"by": 3, "count": 2}),
        ("/faults/overstate-total", {"by": 4, "path_prefix": MODELS}),
        ("/faults/moving-total", {"delta": 5, "count": None}),
        ("/faults/ignore-offset", {}),
        ("/faults/repeat-page", {"count": 1}),
        ("/faults/empty-page-before-total", {"from_offset": 10}),
        ("/faults/duplicate-ids", {"across_pages": True, "count": 3}),
        ("/faults/oversized-body", {"size_bytes": 1000, "declare_length": True}),
        ("/faults/gzip-bomb", {"inflated_bytes": 2048}),
        ("/faults/drip", {"interval": 0.5, "count": 1}),
    ]
    for path, body in posts:
        response = await admin.post(path, json=body)
        assert response.status_code == 200, (path, response.text)
    armed = response.json()
    assert [(c["delta"], c["remaining"]) for c in armed["misreport_total"]] == [
        (-2, None),
        (-3, 2),
        (4, None),
    ]
    assert [
        (lie["kind"], lie["remaining"], lie["delta"], lie["from_offset"], lie["across_pages"])
        for lie in armed["paging_lies"]
    ] == [
        ("moving-total", None, 5, 1, False),
        ("ignore-offset", None, 0, 1, False),
        ("repeat-page", 1, 0, 1, False),
        ("empty-page-before-total", None, 0, 10, False),
        ("duplicate-ids", 3, 0, 1, True),
    ]
    assert [
        (d["kind"], d["remaining"], d["size_bytes"], d["declare_length"], d["interval"])
        for d in armed["delivery"]
    ] == [
        ("oversized-body", None, 1000, True, 0.0),
        ("gzip-bomb", None, 2048, False, 0.0),
        ("drip", 1, 0, False, 0.5),
    ]
    assert (await admin.get("/faults")).json() == armed
    assert (await admin.delete("/faults")).status_code == 204
    assert (await admin.get("/faults")).json()["paging_lies"] == []


async def test_a_lie_armed_over_http_holds_until_cleared_over_http(
    admin: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    def ids(response: httpx.Response) -> list[str]:
        return [m["id"] for m in response.json()["data"]]

    first = ids(await api.get(MODELS, params={"limit": 4}))
    assert (await admin.post("/faults/ignore-offset", json={})).is_success
    for offset in (4, 8, 12):
        assert ids(await api.get(MODELS, params={"offset": offset, "limit": 4})) == first
    assert (await admin.delete("/faults")).status_code == 204
    assert ids(await api.get(MODELS, params={"offset": 4, "limit": 4})) != first


async def test_publish_and_relabel_endpoints(
    admin: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    detector = next(
        m
        for m in (await admin.get("/models")).json()["models"]
        if m["fqn"] == "model:acme/fraud/fraud-detector"
    )
    model_id = detector["id"]
    labels = {
        "tags": ["prod"],
        "version_alias": "v2.2.0",
        "metrics": [{"key": "auc", "value": 0.93, "timestamp": 1_717_000_000_000, "step": 60}],
        "deployable": True,
    }
    published = await admin.post(f"/models/{model_id}/publish", json=labels)
    assert published.status_code == 201
    new = published.json()
    assert new["manifest"]["version"] == 1 + len(detector["versions"])
    assert {key: new[key] for key in labels} == labels
    listed = (await api.get(MODELS, params={"fqn": detector["fqn"]})).json()
    spec_validator("ListModelsResponse").validate(listed)
    assert listed["data"][0]["latest_version"] == new

    changed = await admin.patch(
        f"/models/{model_id}/versions/3", json={"tags": ["retired"], "version_alias": None}
    )
    assert changed.status_code == 200
    versions = (await api.get("/api/ml/v1/model-versions", params={"model_id": model_id})).json()
    for version in versions["data"]:
        spec_validator("ModelVersion").validate(version)
    third = next(v for v in versions["data"] if v["manifest"]["version"] == 3)
    assert third == changed.json()
    assert third["tags"] == ["retired"]
    assert "version_alias" not in third
    assert third["metrics"], "metrics left out of the body stay as they were"

    assert (await admin.post("/models/none/publish", json={})).status_code == 404
    assert (await admin.patch("/models/none/versions/1", json={})).status_code == 404
    assert (await admin.patch(f"/models/{model_id}/versions/99", json={})).status_code == 404
    assert (await admin.patch(f"/models/{model_id}/versions/x", json={})).status_code == 404
    refused = await admin.post(f"/models/{model_id}/publish", json={"version_alias": "2.0"})
    assert refused.status_code == 400
    assert "version_alias" in refused.json()["detail"]
    assert (await admin.patch(f"/models/{model_id}/versions/3", json=[1])).status_code == 400
