"""Oversized bodies, gzip bombs and dripping bodies, read over real sockets with bounds."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from modelsync_sandbox.catalog_server import CatalogSandbox

MODELS = "/api/ml/v1/models"
MiB = 1 << 20


@pytest_asyncio.fixture
async def http(catalog_server: CatalogSandbox) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {catalog_server.token}"}
    async with httpx.AsyncClient(base_url=catalog_server.url, headers=headers) as client:
        yield client


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


async def _honest_body(http: httpx.AsyncClient, **params: int) -> bytes:
    response = await http.get(MODELS, params=params, timeout=5)
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    return response.content


async def test_oversized_body_is_streamed_chunked_and_read_only_up_to_a_limit(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    catalog_server.faults.oversized_body(300_000_000, 1)
    received = 0
    async with http.stream("GET", MODELS, timeout=10) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received >= 4 * MiB:
                break
    assert received >= 4 * MiB
    assert json.loads(await _honest_body(http))["pagination"]["total"] == 38  # used up


async def test_oversized_body_with_declared_length_keeps_the_sandbox_small(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    size = 64 * MiB
    catalog_server.faults.oversized_body(size, 1, declare_length=True)
    baseline = peak = _rss_bytes()
    received = 0
    async with http.stream("GET", MODELS, timeout=30) as response:
        assert response.headers["content-length"] == str(size)
        async for chunk in response.aiter_raw():
            received += len(chunk)
            peak = max(peak, _rss_bytes()) if received % (4 * MiB) < len(chunk) else peak
    assert received == size
    assert peak - baseline < 24 * MiB
    assert catalog_server.requests[-1].faults == [f"oversized-body:{size}"]


async def test_oversized_body_is_still_the_honest_json(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    honest = await _honest_body(http, limit=3)
    catalog_server.faults.oversized_body(100_000)
    padded = await _honest_body(http, limit=3)
    assert len(padded) == 100_000
    assert json.loads(padded) == json.loads(honest)
    assert padded.endswith(b" }")


async def test_gzip_bomb_is_small_on_the_wire_and_huge_inflated(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    catalog_server.faults.gzip_bomb(1)
    async with http.stream("GET", MODELS, params={"limit": 2}, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        assert int(response.headers["content-length"]) < 2 * MiB
        wire = b"".join([chunk async for chunk in response.aiter_raw()])
    assert 512 * 1024 < len(wire) < 2 * MiB
    inflater = zlib.decompressobj(wbits=31)
    head = inflater.decompress(wire, 64 * 1024)
    assert head == b" " * (64 * 1024)
    assert catalog_server.requests[-1].faults == [f"gzip-bomb:{1 << 30}"]
    assert "content-encoding" not in (await http.get(MODELS, timeout=5)).headers  # used up


async def test_gzip_bomb_is_valid_gzip_around_the_honest_json(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    honest = await _honest_body(http, limit=2)
    inflated_bytes = 3 * MiB + 5
    catalog_server.faults.gzip_bomb(inflated_bytes=inflated_bytes)
    async with http.stream("GET", MODELS, params={"limit": 2}, timeout=10) as response:
        wire = b"".join([chunk async for chunk in response.aiter_raw()])
    inflated = gzip.decompress(wire)  # checks the CRC-32 and the length
    assert inflated == b" " * inflated_bytes + honest
    assert json.loads(inflated) == json.loads(honest)


async def test_gzip_bomb_is_cheap_to_serve_again_and_again(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    catalog_server.faults.gzip_bomb()
    baseline = _rss_bytes()
    for _ in range(5):
        async with http.stream("GET", MODELS, timeout=30) as response:
            assert response.headers["content-encoding"] == "gzip"
            received = sum([len(chunk) async for chunk in response.aiter_raw()])
            assert received < 2 * MiB
    assert _rss_bytes() - baseline < 32 * MiB


async def test_drip_sends_headers_and_a_first_byte_then_crawls(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    honest = await _honest_body(http, limit=1)
    catalog_server.faults.drip(0.2, 1)
    async with http.stream("GET", MODELS, params={"limit": 1}, timeout=5) as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(honest))
        chunks = response.aiter_raw()
        first = await asyncio.wait_for(anext(chunks), timeout=2)
        assert first == honest[:1]
        received = [first]

        async def read_the_rest() -> None:
            async for chunk in chunks:
                received.append(chunk)

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(read_the_rest(), timeout=0.5)
    assert len(b"".join(received)) < 10 < len(honest)
    started = asyncio.get_running_loop().time()
    assert await _honest_body(http, limit=1) == honest  # used up
    assert asyncio.get_running_loop().time() - started < 2


async def test_drip_until_cleared_and_clearing_ends_a_drip_in_flight(
    catalog_server: CatalogSandbox, http: httpx.AsyncClient
) -> None:
    honest = await _honest_body(http, limit=2)
    catalog_server.faults.drip(30)
    with pytest.raises(httpx.ReadTimeout):
        await http.get(MODELS, params={"limit": 2}, timeout=0.3)
    async with http.stream("GET", MODELS, params={"limit": 2}, timeout=5) as response:
        chunks = response.aiter_raw()
        received = [await asyncio.wait_for(anext(chunks), timeout=2)]
        catalog_server.faults.clear()
        async with asyncio.timeout(2):
            received += [chunk async for chunk in chunks]
    assert b"".join(received) == honest
    assert await _honest_body(http, limit=2) == honest
