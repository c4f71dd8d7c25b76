"""Concurrency limits of sync passes and the pure helpers of the sync runner."""

from __future__ import annotations

import asyncio

import pytest

from modelsync.catalog import CatalogError, DestinationRefused, ResponseTooLarge, ServerError
from modelsync.plan import SyncOutcome
from modelsync.runtime.gates import SyncGates, catalog_origin
from modelsync.runtime.outcomes import catalog_outcome, internal_error_message


def test_catalog_origin_keys_on_scheme_host_and_port() -> None:
    assert catalog_origin("https://Catalog.example.com/api") == "https://catalog.example.com:443"
    assert catalog_origin("http://127.0.0.1:8181") == "http://127.0.0.1:8181"
    assert catalog_origin("http://h") == "http://h:80"


async def test_a_busy_catalog_does_not_hold_back_another() -> None:
    gates = SyncGates(max_syncs=1, max_per_catalog=1)
    slow = gates.catalog("http://slow:1")
    await slow.__aenter__()
    waiting = asyncio.create_task(gates.catalog("http://slow:1").__aenter__())
    await asyncio.sleep(0)
    assert not waiting.done()
    assert gates.catalog_users("http://slow:1") == 2
    async with asyncio.timeout(1), gates.catalog("http://fast:1"), gates.planning:
        pass  # another catalog and the global slot are free
    await slow.__aexit__(None, None, None)
    await asyncio.wait_for(waiting, 1)
    await gates.catalog("http://slow:1").__aexit__(None, None, None)
    assert gates.catalogs_tracked() == 0  # nothing kept for catalogs nobody uses


async def test_a_cancelled_waiter_leaves_no_trace() -> None:
    gates = SyncGates(max_syncs=1, max_per_catalog=1)
    async with gates.catalog("http://c:1"):
        waiter = asyncio.create_task(gates.catalog("http://c:1").__aenter__())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert gates.catalog_users("http://c:1") == 1
    assert gates.catalogs_tracked() == 0


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SyncGates(0, 1)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (ResponseTooLarge("GET /models: too large"), SyncOutcome.RESPONSE_TOO_LARGE),
        (DestinationRefused("GET /models: refused"), SyncOutcome.CATALOG_NOT_ALLOWED),
        (ServerError("GET /models: 503"), SyncOutcome.CATALOG_UNAVAILABLE),
        (CatalogError("x", reason="InvalidRequest"), SyncOutcome.INVALID_SPEC),
        (CatalogError("x", reason="Synced"), SyncOutcome.CATALOG_UNAVAILABLE),
        (CatalogError("x", reason="SomethingNew"), SyncOutcome.CATALOG_UNAVAILABLE),
    ],
)
def test_catalog_errors_map_to_outcomes(error: CatalogError, outcome: SyncOutcome) -> None:
    assert catalog_outcome(error) is outcome


def test_internal_error_messages_are_short_one_line_and_never_hold_the_token() -> None:
    message = internal_error_message(
        KeyError("tok-123\nsecond line " + "x" * 1000), secret="tok-123"
    )
    assert message.startswith("KeyError: ")
    assert "tok-123" not in message
    assert "\n" not in message
    assert len(message) < 400
    assert internal_error_message(RuntimeError()).startswith("RuntimeError (")
