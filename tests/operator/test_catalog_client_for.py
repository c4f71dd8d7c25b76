"""One way to build a catalog client, for the operator and for `modelsync render`: the same
refusals of a bad CA bundle, token or URL in both, and never the token in a message."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec
from modelsync.catalog import InvalidToken
from modelsync.render import RenderError, RenderTarget, render
from modelsync.runtime.catalog_reads import CatalogAccess, InvalidCaBundle, catalog_client_for

TOKEN = "tok-client-for-7d1f"
NOT_PEM = [
    "not a certificate",  # ssl.SSLError
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",  # ssl.SSLError
    "caf\u00e9 -----BEGIN CERTIFICATE-----",  # TypeError: not ASCII
    "",  # ValueError: no certificate data
]


def spec(url: str = "https://catalog.example:8443") -> ModelCatalogSyncSpec:
    return ModelCatalogSyncSpec.from_k8s(
        {
            "catalog": {
                "url": url,
                "tokenSecretRef": {"name": "tfy", "key": "token"},
                "timeoutSeconds": 7,
                "pageSize": 50,
            }
        }
    )


def access(token: str = TOKEN, ca_pem: str | None = None, url: str | None = None) -> CatalogAccess:
    found = spec() if url is None else spec(url)
    return CatalogAccess.of(found, token, ca_pem)


def test_access_holds_the_spec_settings_and_hides_the_secrets() -> None:
    got = access(ca_pem="PEM")
    assert (got.url, got.api_path, got.timeout, got.page_size) == (
        "https://catalog.example:8443",
        "/api/ml/v1",
        7.0,
        50,
    )
    assert TOKEN not in repr(got)
    assert "PEM" not in repr(got)
    assert access() == access()  # equal access: the operator reuses its client
    assert access(token="other") != access()


async def test_a_client_is_built_without_a_request() -> None:
    client = catalog_client_for(access(), attempts=1)
    assert "catalog.example" in repr(client)
    assert TOKEN not in repr(client)
    await client.aclose()


@pytest.mark.parametrize("ca_pem", NOT_PEM)
def test_every_unusable_ca_bundle_is_one_error(ca_pem: str) -> None:
    with pytest.raises(InvalidCaBundle, match="PEM CA bundle"):
        catalog_client_for(access(ca_pem=ca_pem), attempts=1)


@pytest.mark.parametrize("token", ["", "two words", "line\nbreak", "caf\u00e9"])
def test_an_unsendable_token_is_invalid_token_without_its_value(token: str) -> None:
    with pytest.raises(InvalidToken) as caught:
        catalog_client_for(access(token=token), attempts=1)
    if token.strip():
        assert token not in str(caught.value)


def test_other_refused_settings_are_value_errors() -> None:
    refused = CatalogAccess(
        url="https://user:pw@catalog.example",
        api_path="/api",
        token=TOKEN,
        ca_pem=None,
        timeout=5.0,
        page_size=10,
    )
    with pytest.raises(ValueError, match="must not carry credentials"):
        catalog_client_for(refused, attempts=1)
    with pytest.raises(ValueError, match="at least 1"):
        catalog_client_for(access(), attempts=0)


@pytest.mark.parametrize("ca_pem", NOT_PEM)
def test_render_refuses_an_unusable_ca_bundle_before_any_request(ca_pem: str) -> None:
    # The port is closed: a request would fail with a catalog error, not RenderError(2).
    target = RenderTarget("s", "ns", spec("https://127.0.0.1:9"), TOKEN, ca_pem)
    with pytest.raises(RenderError, match="PEM CA bundle") as caught:
        asyncio.run(render(target, now=datetime.now(UTC), attempts=1))
    assert caught.value.exit_code == 2
    assert TOKEN not in str(caught.value)
