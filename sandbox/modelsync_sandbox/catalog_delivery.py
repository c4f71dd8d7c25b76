"""Hostile ways to deliver a listing body: huge, as a gzip bomb, or a byte at a time.

- `oversized-body`: the JSON padded with spaces (inside the outer object, so
  the document is complete only at the last byte) to `size_bytes`, streamed in
  64 KiB chunks of one shared buffer: the sandbox never holds the body. Sent
  chunked, or with its Content-Length when `declare_length` is set.
- `gzip-bomb`: `Content-Encoding: gzip`, a body of about 1 KiB per MiB of
  `inflated_bytes` (about 1 MiB for the default 1 GiB) that inflates to that
  many spaces followed by the honest JSON. The deflate blocks of the spaces are
  built once per size and cached; each response only compresses its JSON tail.
- `drip`: the headers (with the true Content-Length) at once, then the body one
  byte every `interval` seconds; once the faults are cleared, the rest at once.

A client that hangs up ends the delivery (a drip notices within 0.1 s).
"""

from __future__ import annotations

import asyncio
import functools
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

DEFAULT_BOMB_INFLATED_BYTES = 1 << 30
MAX_BOMB_INFLATED_BYTES = 8 << 30  # keeps the cached compressed padding under 9 MiB
_CHUNK = 64 * 1024
_BOMB_BLOCK = 1 << 20
_PADDING = b" " * _CHUNK
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, no mtime
_DRIP_POLL = 0.1


@dataclass
class Delivery:
    """One armed delivery fault; `remaining=None` means until cleared."""

    kind: str
    remaining: int | None
    path_prefix: str | None = None
    size_bytes: int = 0
    declare_length: bool = False
    interval: float = 0.0

    @property
    def label(self) -> str:
        if self.kind == "drip":
            return f"drip:{self.interval:g}"
        return f"{self.kind}:{self.size_bytes}"


async def deliver(
    request: web.Request,
    delivery: Delivery,
    body: bytes,
    content_type: str,
    cleared: Callable[[], bool] = lambda: False,
) -> web.StreamResponse:
    """Send `body` (a 200 listing) the way `delivery` says; `cleared()` tells whether the
    faults were cleared since."""
    if delivery.kind == "gzip-bomb":
        return _gzip_bomb(body, delivery.size_bytes, content_type)
    response = web.StreamResponse(headers={"Content-Type": content_type})
    try:
        if delivery.kind == "drip":
            await _drip(request, response, body, delivery.interval, cleared)
        else:
            await _oversized(request, response, body, delivery)
    except ConnectionError:
        pass  # the client hung up: the fault did its job
    return response


async def _oversized(
    request: web.Request, response: web.StreamResponse, body: bytes, delivery: Delivery
) -> None:
    size = max(delivery.size_bytes, len(body))
    if delivery.declare_length:
        response.content_length = size
    else:
        response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(body[:-1])
    padding = size - len(body)
    view = memoryview(_PADDING)
    while padding > 0:
        step = min(padding, _CHUNK)
        await response.write(view[:step])
        padding -= step
    await response.write(body[-1:])


async def _drip(
    request: web.Request,
    response: web.StreamResponse,
    body: bytes,
    interval: float,
    cleared: Callable[[], bool],
) -> None:
    response.content_length = len(body)
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    for index in range(len(body)):
        if cleared():
            await response.write(body[index:])
            return
        await response.write(body[index : index + 1])
        next_byte_at = loop.time() + interval
        while (left := next_byte_at - loop.time()) > 0 and not cleared():
            if request.transport is None or request.transport.is_closing():
                return
            await asyncio.sleep(min(left, _DRIP_POLL))


def _gzip_bomb(body: bytes, inflated_bytes: int, content_type: str) -> web.Response:
    padding, padding_crc = _compressed_padding(inflated_bytes)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated_tail = tail.compress(body) + tail.flush(zlib.Z_FINISH)
    crc = zlib.crc32(body, padding_crc)
    length = (inflated_bytes + len(body)) & 0xFFFFFFFF
    compressed = b"".join((_GZIP_HEADER, padding, deflated_tail, struct.pack("<II", crc, length)))
    headers = {"Content-Encoding": "gzip", "Content-Type": content_type}
    return web.Response(body=compressed, headers=headers)


def prepare_gzip_bomb(inflated_bytes: int) -> None:
    """Build (and cache) the bomb's padding now, so serving it does not stall the server."""
    _compressed_padding(inflated_bytes)


@functools.lru_cache(maxsize=4)
def _compressed_padding(inflated_bytes: int) -> tuple[bytes, int]:
    """Raw deflate blocks (not final, byte-aligned) of `inflated_bytes` spaces, and their CRC-32.

    A full flush resets the compressor, so one block of spaces compressed once
    can be repeated; the JSON tail continues the stream as a fresh raw stream.
    """
    whole, rest = divmod(inflated_bytes, _BOMB_BLOCK)
    spaces = b" " * _BOMB_BLOCK
    parts = [_full_flushed(spaces)] * whole
    crc = 0
    for _ in range(whole):
        crc = zlib.crc32(spaces, crc)
    if rest:
        parts.append(_full_flushed(spaces[:rest]))
        crc = zlib.crc32(spaces[:rest], crc)
    return b"".join(parts), crc


def _full_flushed(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)
