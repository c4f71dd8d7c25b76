"""TLS failures against real local servers: a certificate from a CA nobody trusts, from a CA
other than the one configured, for another name, or expired, and a plain-http port addressed
as https. Each names the catalog and the fix, and is sent once: another try cannot succeed.
The server counts the TCP connections, so "once" is the server's word, not the client's."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trustme

from catalog.adversarial_servers import (
    NotTlsServer,
    Reply,
    ScriptedServer,
    SeenRequest,
    json_reply,
    page_payload,
)
from catalog.client_support import FAST_RETRY, MODELS_PATH, RecordingSleep
from modelsync.catalog import CatalogClient, TransportFailure

FIRST_PAGE = f"{MODELS_PATH}?offset=0&limit=100"


def empty_catalog(_request: SeenRequest) -> Reply:
    return json_reply(page_payload([], total=0, offset=0, limit=100))


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def serving(
    authority: trustme.CA,
    name: str,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert = authority.issue_cert(name, not_before=not_before, not_after=not_after)
    cert.configure_cert(context)
    return context


def trusting(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    authority.configure_trust(context)
    return context


class Attempts:
    """What the client did: its backoff sleeps and its statuses (None: no response)."""

    def __init__(self) -> None:
        self.sleep = RecordingSleep()
        self.statuses: list[int | None] = []

    def client(self, url: str, **options: Any) -> CatalogClient:
        return CatalogClient(
            url,
            "tok-tls-3f9a",
            retry=FAST_RETRY,
            sleep=self.sleep,
            on_response=self.statuses.append,
            **options,
        )


async def failure(server_url: str, attempts: Attempts, **options: Any) -> TransportFailure:
    async with attempts.client(server_url, **options) as client:
        with pytest.raises(TransportFailure) as caught:
            await client.list_models()
    return caught.value


async def test_a_certificate_from_an_untrusted_ca_is_not_retried_and_says_add_its_ca(
    authority: trustme.CA,
) -> None:
    attempts = Attempts()
    async with ScriptedServer(empty_catalog, tls=serving(authority, "localhost")) as server:
        url = server.url_for("localhost")
        error = await failure(url, attempts)
        assert (server.accepted, server.connections, server.requests) == (1, 0, [])
    assert str(error) == (
        f"GET {url}{FIRST_PAGE}: the certificate of {url} is not trusted (unable to get local "
        "issuer certificate); add its CA with spec.catalog.caSecretRef"
    )
    assert error.reason == "CatalogUnavailable"
    assert attempts.sleep.delays == []
    assert attempts.statuses == [None]


async def test_a_certificate_the_configured_ca_did_not_sign_names_the_ca_secret(
    authority: trustme.CA,
) -> None:
    attempts = Attempts()
    async with ScriptedServer(empty_catalog, tls=serving(authority, "localhost")) as server:
        url = server.url_for("localhost")
        error = await failure(url, attempts, verify=trusting(trustme.CA()))
        assert server.accepted == 1
    assert str(error) == (
        f"GET {url}{FIRST_PAGE}: the certificate of {url} is not signed by the CA in "
        "spec.catalog.caSecretRef (unable to get local issuer certificate); put the CA that "
        "signed it in that Secret"
    )
    assert attempts.sleep.delays == []


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_a_certificate_for_another_name_is_not_retried(
    authority: trustme.CA, host: str
) -> None:
    attempts = Attempts()
    async with ScriptedServer(empty_catalog, tls=serving(authority, "catalog.example")) as server:
        url = server.url_for(host)
        error = await failure(url, attempts, verify=trusting(authority))
        assert (server.accepted, server.connections) == (1, 0)
    assert str(error) == (
        f"GET {url}{FIRST_PAGE}: the certificate of {url} is not valid for {host}; use a host "
        "name the certificate names in the catalog URL"
    )
    assert attempts.sleep.delays == []


async def test_an_expired_certificate_is_not_retried(authority: trustme.CA) -> None:
    now = datetime.now(UTC)
    expired = serving(
        authority,
        "localhost",
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    attempts = Attempts()
    async with ScriptedServer(empty_catalog, tls=expired) as server:
        url = server.url_for("localhost")
        error = await failure(url, attempts, verify=trusting(authority))
        assert server.accepted == 1
    assert str(error) == (
        f"GET {url}{FIRST_PAGE}: the certificate of {url} is not valid now (certificate has "
        "expired); the catalog needs a current certificate (or a clock is wrong)"
    )
    assert attempts.sleep.delays == []


async def test_https_to_a_plain_http_port_is_a_protocol_error_sent_once() -> None:
    attempts = Attempts()
    async with NotTlsServer() as server:
        url = server.url
        error = await failure(url, attempts)
        assert server.connections == 1
    assert str(error) == (
        f"GET {url}{FIRST_PAGE}: TLS handshake with {url} failed (wrong version "
        "number): the port does not speak TLS, probably plain http; use the catalog's https "
        "address"
    )
    assert attempts.sleep.delays == []
    assert attempts.statuses == [None]


async def test_plain_http_to_a_tls_port_keeps_its_retries(authority: trustme.CA) -> None:
    """The TLS server only closes the connection (no alert the client could read), as a
    restarting catalog may: nothing says another try is futile, so the retries stay."""
    attempts = Attempts()
    async with ScriptedServer(empty_catalog, tls=serving(authority, "localhost")) as server:
        url = server.url_for("localhost").replace("https://", "http://")
        error = await failure(url, attempts)
        assert (server.accepted, server.connections) == (FAST_RETRY.attempts, 0)
    assert str(error).startswith(f"GET {url}{FIRST_PAGE}: ")
    assert str(error).endswith(f"(gave up after {FAST_RETRY.attempts} attempts)")
    assert len(attempts.sleep.delays) == FAST_RETRY.attempts - 1


async def test_a_trusted_certificate_still_works(authority: trustme.CA) -> None:
    async with ScriptedServer(empty_catalog, tls=serving(authority, "localhost")) as server:
        async with Attempts().client(
            server.url_for("localhost"), verify=trusting(authority)
        ) as client:
            assert (await client.list_models()).complete
        assert (server.accepted, server.connections, len(server.requests)) == (1, 1, 1)
