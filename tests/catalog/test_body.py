"""Reading one body under a byte cap, with bounded decompression (catalog/body.py)."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import AsyncIterator, Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.adversarial_servers import gzip_bomb
from modelsync.catalog.body import (
    BodyTooLarge,
    UndecodableBody,
    json_values_bound,
    read_capped_body,
)


async def chunks_of(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def from_list(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def read(
    data: bytes, *, limit: int, encoding: str | None = None, length: str | None = None
) -> bytes:
    return bytes(
        await read_capped_body(
            chunks_of(data), limit=limit, content_encoding=encoding, content_length=length
        )
    )


PAYLOAD = b'{"data": [], "pagination": {"total": 0}}' * 50


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        (None, lambda data: data),
        ("identity", lambda data: data),
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("GZIP", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, seen in the wild
    ],
)
async def test_bodies_decode(encoding: str | None, encode: object) -> None:
    assert callable(encode)
    encoded = encode(PAYLOAD)
    assert await read(encoded, limit=len(PAYLOAD), encoding=encoding) == PAYLOAD


@given(st.binary(max_size=3000), st.integers(1, 4000), st.integers(1, 700), st.booleans())
@settings(max_examples=60)
async def test_cap_is_exact_on_the_decoded_size(
    data: bytes, limit: int, chunk: int, compressed: bool
) -> None:
    encoded = gzip.compress(data) if compressed else data
    chunks = [encoded[i : i + chunk] for i in range(0, len(encoded), chunk)]
    too_big = len(data) > limit or len(encoded) > limit
    reading = read_capped_body(
        from_list(chunks),
        limit=limit,
        content_encoding="gzip" if compressed else None,
        content_length=None,
    )
    if too_big:
        with pytest.raises(BodyTooLarge) as caught:
            await reading
        assert (caught.value.limit, caught.value.declared) == (limit, False)
    else:
        assert bytes(await reading) == data


async def test_declared_length_above_the_cap_is_refused_before_reading() -> None:
    async def never() -> AsyncIterator[bytes]:
        raise AssertionError("the body must not be read")
        yield b""  # pragma: no cover

    with pytest.raises(BodyTooLarge) as caught:
        await read_capped_body(never(), limit=10, content_encoding=None, content_length="300000000")
    assert caught.value.declared


async def test_lying_content_length_is_not_trusted() -> None:
    with pytest.raises(BodyTooLarge):
        await read(b"x" * 100, limit=50, length="10")
    assert await read(b"x" * 10, limit=50, length="not-a-number") == b"x" * 10


async def test_gzip_bomb_stops_at_the_cap_without_inflating_further() -> None:
    bomb = gzip_bomb(64)  # 64 MiB of zeros in ~70 KB
    taken = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal taken
        async for part in chunks_of(bomb, 4096):
            taken += len(part)
            yield part

    with pytest.raises(BodyTooLarge):
        await read_capped_body(
            counted(), limit=1 << 20, content_encoding="gzip", content_length=str(len(bomb))
        )
    assert taken < 16 * 1024  # ~1 KB of the wire per MiB: it stopped right after the cap


async def test_nested_or_unknown_encodings_are_refused() -> None:
    for header in ("br", "zstd", "gzip, gzip", "compress"):
        with pytest.raises(UndecodableBody, match="unsupported Content-Encoding"):
            await read(b"whatever", limit=100, encoding=header)


async def test_corrupt_and_truncated_compression_is_undecodable() -> None:
    with pytest.raises(UndecodableBody, match="corrupt"):
        await read(b"\x1f\x8b not really gzip", limit=100, encoding="gzip")
    with pytest.raises(UndecodableBody, match="ended early"):
        await read(gzip.compress(PAYLOAD)[:-12], limit=10_000, encoding="gzip")
    with pytest.raises(UndecodableBody, match="corrupt"):
        await read(b"\xff\xff\xff\xff", limit=100, encoding="deflate")


async def test_data_after_the_end_of_gzip_still_counts_against_the_cap() -> None:
    trailing = gzip.compress(b"{}") + b"\0" * 5000
    with pytest.raises(BodyTooLarge):
        await read(trailing, limit=1000, encoding="gzip")
    assert await read(gzip.compress(b"{}") + b"junk", limit=1000, encoding="gzip") == b"{}"


json_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=40,
)


def count_values(document: object) -> int:
    if isinstance(document, list):
        return 1 + sum(count_values(item) for item in document)
    if isinstance(document, dict):
        return 1 + sum(count_values(item) for item in document.values())
    return 1


@given(json_documents, st.booleans())
def test_json_values_bound_is_an_upper_bound(document: object, compact: bool) -> None:
    separators = (",", ":") if compact else (", ", ": ")
    text = json.dumps(document, separators=separators).encode()
    assert json_values_bound(text) >= count_values(json.loads(text))
