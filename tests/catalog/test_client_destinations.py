"""The connect guard on real sockets: every new connection is checked on the address it
dials; loopback is refused unless named; TLS still verifies the URL's host name."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import pytest
import trustme

from catalog.adversarial_servers import Reply, ScriptedServer, SeenRequest, json_reply, page_payload
from catalog.client_support import FAST_RETRY, RecordingSleep
from modelsync.catalog import (
    CatalogClient,
    ConnectGuard,
    DestinationRefused,
    RetryPolicy,
    TransportFailure,
    restricted_destinations_guard,
)


def empty_catalog(*, close: bool = False) -> Callable[[SeenRequest], Reply]:
    return lambda _request: json_reply(page_payload([], total=0, offset=0, limit=100), close=close)


def naming(*names: str) -> ConnectGuard:
    return restricted_destinations_guard(set(names).__contains__)


class CountingGuard:
    """Allows the first `allow` connections, refuses the rest; records what it was asked."""

    def __init__(self, allow: int = 1_000) -> None:
        self.asked: list[tuple[str, str]] = []
        self._allow = allow

    def __call__(self, host: str, address: str) -> str | None:
        self.asked.append((host, address))
        if len(self.asked) <= self._allow:
            return None
        return f"refusing {host} at {address}: the name now points elsewhere"


def client(url: str, guard: ConnectGuard | None, **options: Any) -> CatalogClient:
    options.setdefault("sleep", RecordingSleep())
    options.setdefault("retry", FAST_RETRY)
    return CatalogClient(url, "token", connect_guard=guard, **options)


async def test_loopback_is_refused_by_default_and_never_contacted() -> None:
    sleep = RecordingSleep()
    statuses: list[int | None] = []
    async with ScriptedServer(empty_catalog()) as server:
        async with client(server.url, naming(), sleep=sleep, on_response=statuses.append) as c:
            with pytest.raises(DestinationRefused) as caught:
                await c.list_models()
        assert server.connections == 0
        url = server.url
    error = caught.value
    assert error.reason == "CatalogNotAllowed"
    assert error.status_code is None
    assert str(error) == (
        f"GET {url}/api/ml/v1/models?offset=0&limit=100: refusing to connect to "
        "127.0.0.1 at 127.0.0.1, a loopback address; name the host explicitly in "
        "--allowed-hosts to allow it"
    )
    assert sleep.delays == []  # not retried
    assert statuses == [None]


async def test_loopback_named_explicitly_is_allowed() -> None:
    async with (
        ScriptedServer(empty_catalog()) as server,
        client(server.url, naming("127.0.0.1")) as c,
    ):
        listing = await c.list_models()
    assert listing.complete


async def test_name_resolving_to_loopback_is_refused() -> None:
    async with ScriptedServer(empty_catalog()) as server:
        async with client(server.url_for("localhost"), naming("127.0.0.1.example")) as c:
            with pytest.raises(DestinationRefused) as caught:
                await c.list_models()
        assert server.connections == 0
    assert "refusing to connect to localhost at " in str(caught.value)
    assert "a loopback address" in str(caught.value)


async def test_name_allowed_explicitly_connects_to_its_checked_address() -> None:
    guard = CountingGuard()
    allowed = naming("localhost")

    def recording(host: str, address: str) -> str | None:
        guard(host, address)
        return allowed(host, address)

    async with (
        ScriptedServer(empty_catalog()) as server,
        client(server.url_for("localhost"), recording) as c,
    ):
        listing = await c.list_models()
    assert listing.complete
    assert ("localhost", "127.0.0.1") in guard.asked
    assert all(host == "localhost" for host, _ in guard.asked)


async def test_only_allowed_addresses_are_dialled() -> None:
    """localhost resolves to 127.0.0.1 (where the server is): when the guard allows no
    address of it, nothing reaches the server, even though the address would answer."""
    refusing_loopback_v4: ConnectGuard = lambda _host, address: (  # noqa: E731
        "not this one" if address == "127.0.0.1" else None
    )
    async with ScriptedServer(empty_catalog()) as server:
        async with client(server.url_for("localhost"), refusing_loopback_v4) as c:
            with pytest.raises((DestinationRefused, TransportFailure)):
                await c.list_models()
        assert server.connections == 0


async def test_guard_runs_for_every_new_connection_not_every_request() -> None:
    guard = CountingGuard()
    async with ScriptedServer(empty_catalog()) as server:
        async with client(server.url, guard) as c:
            await c.list_models()
            await c.list_models()
        assert server.connections == 1  # keep-alive: one connection, checked once
    assert guard.asked == [("127.0.0.1", "127.0.0.1")]

    guard = CountingGuard()
    async with ScriptedServer(empty_catalog(close=True)) as server:
        async with client(server.url, guard) as c:
            await c.list_models()
            await c.list_models()
        assert server.connections == 2
    assert guard.asked == [("127.0.0.1", "127.0.0.1")] * 2


async def test_a_verdict_that_changes_between_connections_is_honoured() -> None:
    """What DNS rebinding looks like to the guard: the first connection is fine, the next
    one (after the server closed the first) is refused and never made."""
    guard = CountingGuard(allow=1)
    async with ScriptedServer(empty_catalog(close=True)) as server:
        async with client(server.url, guard) as c:
            assert (await c.list_models()).complete
            with pytest.raises(DestinationRefused, match="the name now points elsewhere"):
                await c.list_models()
        assert server.connections == 1
    assert len(guard.asked) == 2


async def test_no_guard_means_no_check() -> None:
    async with ScriptedServer(empty_catalog()) as server, client(server.url, None) as c:
        assert (await c.list_models()).complete


# --- TLS through the guarded backend ------------------------------------------------------


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_for(authority: trustme.CA) -> Callable[[str], ssl.SSLContext]:
    def make(name: str) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert(name).configure_cert(context)
        return context

    return make


def trusting(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    authority.configure_trust(context)
    return context


async def test_tls_verifies_the_url_host_name_while_dialling_the_checked_ip(
    authority: trustme.CA, tls_for: Callable[[str], ssl.SSLContext]
) -> None:
    async with ScriptedServer(empty_catalog(), tls=tls_for("localhost")) as server:
        url = server.url_for("localhost")
        async with client(url, naming("localhost"), verify=trusting(authority)) as c:
            assert (await c.list_models()).complete


async def test_tls_certificate_for_another_name_is_refused(
    authority: trustme.CA, tls_for: Callable[[str], ssl.SSLContext]
) -> None:
    async with ScriptedServer(empty_catalog(), tls=tls_for("catalog.example")) as server:
        url = server.url_for("localhost")
        async with client(url, naming("localhost"), verify=trusting(authority)) as c:
            with pytest.raises(TransportFailure, match="certificate"):
                await c.list_models()
        assert server.requests == []


async def test_tls_with_an_untrusted_authority_is_refused(
    tls_for: Callable[[str], ssl.SSLContext],
) -> None:
    async with (
        ScriptedServer(empty_catalog(), tls=tls_for("localhost")) as server,
        client(server.url_for("localhost"), naming("localhost")) as c,
    ):
        with pytest.raises(TransportFailure, match="certificate"):
            await c.list_models()


async def test_name_that_does_not_resolve_is_a_transport_failure() -> None:
    once = RetryPolicy(attempts=1)
    async with client("http://catalog.invalid", naming(), retry=once, timeout=2.0) as c:
        with pytest.raises(TransportFailure) as caught:
            await c.list_models()
    # Without DNS at all the resolver may hang instead: the deadline ends it either way.
    assert "cannot resolve catalog.invalid" in str(caught.value) or (
        "no complete response within 2s" in str(caught.value)
    )
