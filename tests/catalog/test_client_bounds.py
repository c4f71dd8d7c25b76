"""Bounded responses and time, over real sockets: oversized and endless bodies, a gzip bomb,
a server that drips its answer. Memory is measured with tracemalloc (client and server share
this process, so the peak covers both)."""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from catalog.adversarial_servers import (
    Reply,
    ScriptedServer,
    SeenRequest,
    dripped,
    endless,
    gzip_bomb,
    models,
    page_payload,
)
from catalog.client_support import FAST_RETRY, RecordingSleep
from modelsync.catalog import (
    DEFAULT_MAX_RESPONSE_BYTES,
    CatalogClient,
    InvalidResponse,
    RequestInvalid,
    ResponseTooLarge,
    RetryPolicy,
    ServerError,
    TransportFailure,
)

MIB = 1 << 20
T = TypeVar("T")


@functools.cache
def one_gib_bomb() -> bytes:
    return gzip_bomb(1024)


def client_for(server: ScriptedServer, **options: Any) -> CatalogClient:
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("sleep", RecordingSleep())
    return CatalogClient(server.url, "token", **options)


async def peak_bytes_of(action: Callable[[], Awaitable[T]]) -> tuple[T | BaseException, int]:
    """Run `action` under tracemalloc; its result (or the exception it raised) and the peak."""
    tracemalloc.start()
    try:
        try:
            outcome: T | BaseException = await action()
        except Exception as exc:
            outcome = exc
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return outcome, peak


def answering(reply: Callable[[], Reply]) -> Callable[[SeenRequest], Reply]:
    return lambda _request: reply()


async def test_default_cap_is_32_mib() -> None:
    assert DEFAULT_MAX_RESPONSE_BYTES == 32 * MIB


async def test_declared_300_mb_body_is_refused_before_reading() -> None:
    def reply() -> Reply:
        # Chunked framing would forbid a Content-Length, so this is raw bytes on the wire.
        async def raw() -> AsyncIterator[bytes]:
            yield b"HTTP/1.1 200 OK\r\nContent-Length: 300000000\r\n\r\n"
            async for part in endless(bytes(64 * 1024)):
                yield part

        return Reply(raw=raw())

    async with ScriptedServer(answering(reply)) as server:
        async with client_for(server) as client:
            outcome, peak = await peak_bytes_of(client.list_models)
        sent = server.bytes_sent
        url = server.url
    assert isinstance(outcome, ResponseTooLarge)
    assert outcome.reason == "ResponseTooLarge"
    assert outcome.status_code == 200
    assert str(outcome) == (
        f"GET {url}/api/ml/v1/models?offset=0&limit=100: HTTP 200: response refused: its "
        "Content-Length is larger than the limit of 33554432 bytes (counted after "
        "decompression); raise --max-response-bytes if the catalog really serves pages this "
        "large"
    )
    assert len(server.requests) == 1  # not retried
    assert sent < 32 * MIB
    assert peak < 4 * MIB


async def test_endless_body_without_length_stops_at_the_cap() -> None:
    cap = 8 * MIB
    async with ScriptedServer(answering(lambda: Reply(body=endless(b" " * 65536)))) as server:
        async with client_for(server, max_response_bytes=cap) as client:
            outcome, peak = await peak_bytes_of(client.list_models)
        sent = server.bytes_sent
    assert isinstance(outcome, ResponseTooLarge)
    assert "the body grew larger than the limit of 8388608 bytes" in str(outcome)
    assert len(server.requests) == 1
    assert cap < sent < 300 * 1000 * 1000  # the transfer was cut, not drained
    assert peak < cap * 1.25 + 4 * MIB  # the cap, its growth slack, a few chunks


async def test_gzip_bomb_is_refused_after_a_few_kilobytes() -> None:
    bomb = one_gib_bomb()
    assert len(bomb) < 1100 * 1000  # ~1 MB on the wire for 1 GiB inflated

    def reply() -> Reply:
        return Reply(headers={"Content-Encoding": "gzip"}, body=bomb)

    async with (
        ScriptedServer(answering(reply)) as server,
        client_for(server, max_response_bytes=4 * MIB) as client,
    ):
        outcome, peak = await peak_bytes_of(client.list_models)
    assert isinstance(outcome, ResponseTooLarge)
    assert "the body grew larger than the limit of 4194304 bytes" in str(outcome)
    assert len(server.requests) == 1
    assert peak < 4 * MIB * 1.25 + 4 * MIB


async def test_gzip_bomb_under_the_default_cap() -> None:
    async with (
        ScriptedServer(
            answering(lambda: Reply(headers={"Content-Encoding": "gzip"}, body=one_gib_bomb()))
        ) as server,
        client_for(server) as client,
    ):
        outcome, peak = await peak_bytes_of(client.list_models)
    assert isinstance(outcome, ResponseTooLarge)
    assert peak < 32 * MIB * 1.25 + 4 * MIB  # not the 1 GiB it inflates to


async def test_gzip_encoded_pages_are_read() -> None:
    body = gzip.compress(
        json.dumps(page_payload(models(["a", "b"]), total=2, offset=0, limit=100)).encode()
    )
    async with (
        ScriptedServer(
            answering(lambda: Reply(headers={"Content-Encoding": "gzip"}, body=body))
        ) as server,
        client_for(server) as client,
    ):
        listing = await client.list_models()
    assert [model.id for model in listing.models] == ["a", "b"]
    assert listing.complete
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"


async def test_unsupported_encoding_is_an_invalid_response() -> None:
    async with (
        ScriptedServer(
            answering(lambda: Reply(headers={"Content-Encoding": "br"}, body=b"\x0b\x02\x80{}\x03"))
        ) as server,
        client_for(server) as client,
    ):
        with pytest.raises(InvalidResponse) as caught:
            await client.list_models()
    assert "unsupported Content-Encoding 'br'" in str(caught.value)
    assert not isinstance(caught.value, ResponseTooLarge)
    assert len(server.requests) == 2  # an unreadable body is retried once


async def test_error_status_bodies_are_not_read() -> None:
    async with (
        ScriptedServer(answering(lambda: Reply(status=500, body=endless(b"x" * 65536)))) as server,
        client_for(server) as client,
    ):
        with pytest.raises(ServerError) as caught:
            await client.list_models()
    assert caught.value.status_code == 500
    assert len(server.requests) == FAST_RETRY.attempts


async def test_huge_422_body_keeps_the_status_without_detail() -> None:
    async with (
        ScriptedServer(answering(lambda: Reply(status=422, body=endless(b"[" * 65536)))) as server,
        client_for(server) as client,
    ):
        with pytest.raises(RequestInvalid) as caught:
            await client.list_models()
    assert "no detail given" in str(caught.value)


def drip_reply(interval: float, *, headers_first: bool) -> Reply:
    page = json.dumps(page_payload([], total=0, offset=0, limit=100)).encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(page)

    async def raw() -> AsyncIterator[bytes]:
        if headers_first:
            yield head
        else:
            async for part in dripped(head, interval):
                yield part
        async for part in dripped(page, interval):
            yield part

    return Reply(raw=raw())


@pytest.mark.parametrize("headers_first", [True, False])
async def test_dripping_server_fails_at_the_whole_request_deadline(headers_first: bool) -> None:
    timeout = 0.4
    policy = RetryPolicy(attempts=2, base_delay=0.0, jitter=0.0)
    async with (
        ScriptedServer(answering(lambda: drip_reply(0.05, headers_first=headers_first))) as server,
        client_for(server, timeout=timeout, retry=policy) as client,
    ):
        started = time.monotonic()
        with pytest.raises(TransportFailure) as caught:
            await client.list_models()
        elapsed = time.monotonic() - started
        url = server.url
    assert str(caught.value) == (
        f"GET {url}/api/ml/v1/models?offset=0&limit=100: no complete response within 0.4s; "
        "is the catalog up and reachable from here? (gave up after 2 attempts)"
    )
    assert caught.value.reason == "CatalogUnavailable"
    assert len(server.requests) == 2
    # Each byte came well within any per-read timeout; only the whole-request deadline ends it.
    assert 2 * timeout <= elapsed < 2 * timeout + 1.5


async def test_slow_but_complete_answer_within_the_deadline_is_fine() -> None:
    async with (
        ScriptedServer(answering(lambda: drip_reply(0.001, headers_first=True))) as server,
        client_for(server, timeout=5.0) as client,
    ):
        listing = await asyncio.wait_for(client.list_models(), 10)
    assert listing.complete
    assert listing.total == 0


async def test_body_of_tiny_values_is_refused_before_decoding() -> None:
    """`{},` is 3 bytes of text and a 64-byte dict once decoded: under the byte cap, such a
    page would still take ~20x the cap of memory."""
    cap = 8 * MIB
    body = b'{"data": [' + b"{}," * (cap // 3 - 100) + b'{}], "pagination": {"total": 1}}'
    assert len(body) < cap
    async with (
        ScriptedServer(answering(lambda: Reply(body=body))) as server,
        client_for(server, max_response_bytes=cap) as client,
    ):
        outcome, peak = await peak_bytes_of(client.list_models)
    assert isinstance(outcome, ResponseTooLarge)
    assert "JSON values, more than the 524288 allowed" in str(outcome)
    assert len(server.requests) == 1
    assert peak < cap * 1.25 + 4 * MIB


async def test_deeply_nested_json_is_an_invalid_response() -> None:
    body = b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b', "pagination": {"total": 0}}'
    async with (
        ScriptedServer(answering(lambda: Reply(body=body))) as server,
        client_for(server) as client,
    ):
        with pytest.raises(InvalidResponse) as caught:
            await client.list_models()
    assert "not valid JSON" in str(caught.value)
    assert len(server.requests) == 2  # retried once, like any unreadable body
