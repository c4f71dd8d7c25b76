"""The vendor's own client (`truefoundry-sdk`, which calls /api/svc/v1/...) agrees with
the sandbox, and with modelsync's CatalogClient."""

from __future__ import annotations

from typing import Any

from truefoundry_sdk import AsyncTrueFoundry, TrueFoundry

from modelsync_sandbox.catalog_query import version_number
from modelsync_sandbox.catalog_server import CatalogSandbox


def _expected(data: dict[str, Any], *, include_empty: bool = True) -> list[tuple[str, str]]:
    models = sorted(data["models"], key=lambda m: (m["fqn"], m["id"]))
    return [(m["id"], m["fqn"]) for m in models if include_empty or m["versions"]]


def test_sdk_lists_the_fixture_models(
    catalog_server_thread: CatalogSandbox, catalog_fixture_data: dict[str, Any]
) -> None:
    sdk = TrueFoundry(base_url=catalog_server_thread.url, api_key=catalog_server_thread.token)
    listed = list(sdk.models.list(limit=7))
    assert [(m.id, m.fqn) for m in listed] == _expected(catalog_fixture_data)
    paths = {r.path for r in catalog_server_thread.requests}
    assert paths == {"/api/svc/v1/models"}
    non_empty = list(sdk.models.list(limit=100, include_empty_models=False))
    assert [(m.id, m.fqn) for m in non_empty] == _expected(
        catalog_fixture_data, include_empty=False
    )
    for model in listed:
        entry = next(m for m in catalog_fixture_data["models"] if m["id"] == model.id)
        if entry["versions"]:
            assert model.latest_version is not None
            top = max(entry["versions"], key=version_number)
            assert model.latest_version.id == top["id"]
            assert model.latest_version.manifest.framework is not None
        else:
            assert model.latest_version is None


def test_sdk_filters_and_versions(
    catalog_server_thread: CatalogSandbox, catalog_fixture_data: dict[str, Any]
) -> None:
    sdk = TrueFoundry(base_url=catalog_server_thread.url, api_key=catalog_server_thread.token)
    fraud_id = catalog_fixture_data["ml_repos"]["fraud"]
    fraud = list(sdk.models.list(ml_repo_id=fraud_id))
    assert {m.ml_repo_id for m in fraud} == {fraud_id}
    assert [m.name for m in sdk.models.list(fqn="model:acme/fraud/Fraud_Model")] == ["Fraud_Model"]
    biggest = max(catalog_fixture_data["models"], key=lambda m: len(m["versions"]))
    versions = list(sdk.model_versions.list(model_id=biggest["id"], limit=5))
    numbers = [v.manifest.version for v in versions]
    assert numbers == sorted((version_number(v) for v in biggest["versions"]), reverse=True)


async def test_sdk_and_modelsync_client_list_the_same_models(
    catalog_server: CatalogSandbox, catalog_fixture_data: dict[str, Any]
) -> None:
    from modelsync.catalog.client import CatalogClient

    sdk = AsyncTrueFoundry(base_url=catalog_server.url, api_key=catalog_server.token)
    pager = await sdk.models.list(limit=10)
    sdk_ids = [model.id async for model in pager]
    async with CatalogClient(catalog_server.url, catalog_server.token) as client:
        listing = await client.list_models()
    ours = [model.id for model in listing.models]
    assert ours == sdk_ids
    assert ours == [model_id for model_id, _ in _expected(catalog_fixture_data)]
    assert listing.skipped == ()
