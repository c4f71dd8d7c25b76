"""Read one response body under a byte cap, decompressing it here, step by bounded step.

httpx would inflate a whole network chunk at once (a 64 KiB gzip chunk can become 64 MiB);
this module asks zlib for at most what is left under the cap, so the client never holds more
than the cap plus one small step, whatever the server sends. The cap applies to the bytes
received and to the bytes after decompression alike, and a Content-Length above it is refused
before anything is read.

Decoded JSON costs far more memory than its text (`{},` is 3 bytes and a 64-byte dict), so
`json_values_bound` lets the caller refuse a body that would decode into too many objects.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator

__all__ = [
    "ACCEPTED_ENCODINGS",
    "BodyTooLarge",
    "UndecodableBody",
    "json_values_bound",
    "read_capped_body",
]

ACCEPTED_ENCODINGS = "gzip, deflate"
_STEP = 64 * 1024


class BodyTooLarge(Exception):
    """The body passed `limit` bytes; `declared` is True when Content-Length said so."""

    def __init__(self, limit: int, *, declared: bool) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit
        self.declared = declared


class UndecodableBody(Exception):
    """An unsupported Content-Encoding, or compressed data that is corrupt or truncated."""


class _Inflater:
    """zlib decompression that never produces more than asked for per call."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        # deflate is meant to be zlib-wrapped, but some servers send raw deflate.
        self._raw_deflate_tried = False
        self._decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else 15)
        self._started = False

    def inflate(self, data: bytes, room: int) -> Iterator[bytes]:
        """Output for `data`, in pieces of at most `_STEP` bytes; stops once more than `room`
        bytes came out (the caller then refuses the body)."""
        produced = 0
        pending = data
        while True:
            try:
                piece = self._decompressor.decompress(pending, min(_STEP, room - produced + 1))
            except zlib.error as exc:
                if self._gzip or self._started or self._raw_deflate_tried:
                    raise UndecodableBody(f"corrupt compressed body: {exc}") from None
                self._raw_deflate_tried = True
                self._decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            self._started = self._started or bool(piece)
            pending = self._decompressor.unconsumed_tail
            if piece:
                produced += len(piece)
                yield piece
                if produced > room:
                    return
            elif not pending:
                return

    def finish(self) -> None:
        if not self._decompressor.eof:
            raise UndecodableBody("the compressed body ended early")


def _content_codings(header: str | None) -> list[str]:
    if header is None:
        return []
    codings = [part.strip().lower() for part in header.split(",")]
    return [coding for coding in codings if coding and coding != "identity"]


def _inflater_for(header: str | None) -> _Inflater | None:
    codings = _content_codings(header)
    if not codings:
        return None
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return _Inflater(codings[0])
    raise UndecodableBody(
        f"unsupported Content-Encoding {header!r}; the client asks for {ACCEPTED_ENCODINGS}"
    )


def _declared_length(header: str | None) -> int | None:
    if header is None:
        return None
    try:
        return int(header.strip())
    except ValueError:
        return None


async def read_capped_body(
    chunks: AsyncIterator[bytes],
    *,
    limit: int,
    content_encoding: str | None,
    content_length: str | None,
) -> bytearray:
    """The decoded body of a response whose raw bytes come from `chunks`.

    Raises BodyTooLarge as soon as more than `limit` bytes were received or decoded (the
    caller closes the response, which aborts the transfer), and UndecodableBody.
    """
    declared = _declared_length(content_length)
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit, declared=True)
    inflater = _inflater_for(content_encoding)
    body = bytearray()
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge(limit, declared=False)
        if inflater is None:
            body += chunk
            continue
        for piece in inflater.inflate(chunk, limit - len(body)):
            body += piece
            if len(body) > limit:
                raise BodyTooLarge(limit, declared=False)
    if inflater is not None:
        inflater.finish()
    return body


def json_values_bound(body: bytes | bytearray) -> int:
    """An upper bound on the values `json.loads(body)` would create: every value but the
    first follows a `,` or `:` or opens an array or object. Counted in C, without decoding."""
    return body.count(b",") + body.count(b":") + body.count(b"[") + body.count(b"{") + 1
