"""Bearer authentication of the sandbox catalog's API paths."""

from __future__ import annotations

import httpx
import pytest

from modelsync_sandbox.catalog_server import API_PREFIXES, CatalogSandbox


@pytest.mark.parametrize("prefix", API_PREFIXES)
@pytest.mark.parametrize("endpoint", ["/models", "/model-versions"])
@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Not authenticated"),
        ({"Authorization": "Bearer wrong-token"}, "Invalid token"),
        ({"Authorization": "Basic c2FuZGJveC10b2tlbg=="}, "Invalid token"),
        ({"Authorization": "Bearer"}, "Invalid token"),
    ],
)
async def test_missing_or_wrong_token_is_401(
    catalog_server: CatalogSandbox, prefix: str, endpoint: str, headers: dict[str, str], detail: str
) -> None:
    async with httpx.AsyncClient(base_url=catalog_server.url) as http:
        response = await http.get(prefix + endpoint, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "wrong-token" not in response.text
    assert catalog_server.requests[-1].status == 401


async def test_auth_comes_before_parameter_validation(catalog_server: CatalogSandbox) -> None:
    async with httpx.AsyncClient(base_url=catalog_server.url) as http:
        response = await http.get("/api/ml/v1/models", params={"limit": "abc"})
    assert response.status_code == 401


async def test_scheme_is_case_insensitive(catalog_server: CatalogSandbox) -> None:
    async with httpx.AsyncClient(base_url=catalog_server.url) as http:
        headers = {"Authorization": f"bearer {catalog_server.token}"}
        response = await http.get("/api/ml/v1/models", headers=headers)
    assert response.status_code == 200


async def test_custom_token_and_no_auth() -> None:
    async with CatalogSandbox(token="s3cr3t-value") as sandbox, httpx.AsyncClient() as http:
        bad = await http.get(f"{sandbox.api_url}/models", headers={"Authorization": "Bearer x"})
        good = await http.get(
            f"{sandbox.api_url}/models", headers={"Authorization": "Bearer s3cr3t-value"}
        )
    assert (bad.status_code, good.status_code) == (401, 200)
    assert "s3cr3t-value" not in bad.text
    async with CatalogSandbox(token=None) as open_sandbox, httpx.AsyncClient() as http:
        anonymous = await http.get(f"{open_sandbox.api_url}/models")
        with_any = await http.get(
            f"{open_sandbox.api_url}/models", headers={"Authorization": "Bearer whatever"}
        )
    assert (anonymous.status_code, with_any.status_code) == (200, 200)


async def test_unknown_api_path_is_json_404_after_auth(catalog_server: CatalogSandbox) -> None:
    headers = {"Authorization": f"Bearer {catalog_server.token}"}
    async with httpx.AsyncClient(base_url=catalog_server.url, headers=headers) as http:
        missing = await http.get("/api/ml/v1/models-v2")
        wrong_method = await http.post("/api/ml/v1/models")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"detail": "Method Not Allowed"}
