"""Small purpose-built HTTP servers on 127.0.0.1 that tell the lies the sandbox cannot (yet):
scripted pages, endless or compressed bodies, responses dripped one byte at a time.

`ScriptedServer` speaks just enough HTTP/1.1 over a raw asyncio socket: it reads a request
head, asks `respond(request)` for a Reply and writes it. A Reply is either a status, headers
and a body (bytes, or an async iterator of chunks sent chunked), or `raw`: an async iterator
of the exact bytes to put on the wire. `NotTlsServer` answers whatever arrives as a plain-http
server answers a TLS ClientHello.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from catalog.examples import model

_REASONS = {200: "OK", 404: "Not Found", 422: "Unprocessable Entity", 500: "Server Error"}


@dataclass(frozen=True)
class SeenRequest:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    connection: int  # 1 for the first connection the server accepted, 2 for the next, ...


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | AsyncIterator[bytes] = b""
    raw: AsyncIterator[bytes] | None = None
    close: bool = False  # answer with `Connection: close` and close the connection


Responder = Callable[[SeenRequest], Reply]


class ScriptedServer:
    """`async with ScriptedServer(respond) as server:`; `server.url`, `server.requests`.

    `accepted` counts TCP connections, `connections` those that also finished the TLS
    handshake (with `tls`): a client refusing the certificate shows as accepted only.
    """

    def __init__(
        self,
        respond: Responder,
        *,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._respond = respond
        self._host = host
        self._tls = tls
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.requests: list[SeenRequest] = []
        self.accepted = 0
        self.connections = 0
        self.bytes_sent = 0

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return self.url_for(self._host)

    def url_for(self, host: str) -> str:
        """The server's URL with `host` as the host name (e.g. "localhost")."""
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}"

    async def __aenter__(self) -> ScriptedServer:
        # TLS starts inside _serve, so that connections failing the handshake are counted.
        self._server = await asyncio.start_server(self._serve, self._host, 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await asyncio.wait_for(task, 5)
        await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        try:
            if self._tls is not None:
                await asyncio.wait_for(writer.start_tls(self._tls), 5)
            self.connections += 1
            connection = self.connections
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request = _parse_head(head, connection)
                self.requests.append(request)
                reply = self._respond(request)
                await self._write(writer, reply)
                if reply.close or reply.raw is not None:
                    break
        # Cancelled at shutdown while a client keeps its connection open: end quietly, as
        # Python 3.11's stream server logs a cancelled handler as an error.
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            ssl.SSLError,
            TimeoutError,
            asyncio.CancelledError,
        ):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _write(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        if reply.raw is not None:
            async for piece in reply.raw:
                await self._send(writer, piece)
            return
        headers = dict(reply.headers)
        if reply.close:
            headers["Connection"] = "close"
        if isinstance(reply.body, bytes):
            headers.setdefault("Content-Length", str(len(reply.body)))
        else:
            headers["Transfer-Encoding"] = "chunked"
        reason = _REASONS.get(reply.status, "Status")
        head = f"HTTP/1.1 {reply.status} {reason}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        await self._send(writer, (head + "\r\n").encode("latin-1"))
        if isinstance(reply.body, bytes):
            await self._send(writer, reply.body)
            return
        async for chunk in reply.body:
            if chunk:
                await self._send(writer, b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await self._send(writer, b"0\r\n\r\n")

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        self.bytes_sent += len(data)


class NotTlsServer:
    """A plain-http port addressed as https: every connection is answered with
    `HTTP/1.1 400 Bad Request` as soon as its first bytes (a TLS ClientHello) arrive, then
    closed. `connections` counts them; `url` is the https URL a misconfigured client uses."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self.connections = 0

    @property
    def url(self) -> str:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return f"https://127.0.0.1:{port}"

    async def __aenter__(self) -> NotTlsServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            # The whole ClientHello record is read first: closing with unread bytes would
            # reset the connection before the client reads the answer.
            header = await asyncio.wait_for(reader.readexactly(5), 5)
            await asyncio.wait_for(reader.readexactly(int.from_bytes(header[3:5], "big")), 5)
            writer.write(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def _parse_head(head: bytes, connection: int) -> SeenRequest:
    lines = head.decode("latin-1").split("\r\n")
    _method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    parts = urlsplit(target)
    return SeenRequest(parts.path, dict(parse_qsl(parts.query)), headers, connection)


# --- bodies ---------------------------------------------------------------------------------


def json_reply(payload: Any, **options: Any) -> Reply:
    import json

    return Reply(
        headers={"Content-Type": "application/json"},
        body=json.dumps(payload).encode(),
        **options,
    )


def page_payload(
    entries: Sequence[dict[str, Any]], *, total: int, offset: int | None, limit: int | None
) -> dict[str, Any]:
    pagination: dict[str, Any] = {"total": total}
    if offset is not None:
        pagination["offset"] = offset
    if limit is not None:
        pagination["limit"] = limit
    return {"data": list(entries), "pagination": pagination}


def models(ids: Sequence[str]) -> list[dict[str, Any]]:
    return [model(model_id) for model_id in ids]


async def endless(chunk: bytes) -> AsyncIterator[bytes]:
    """The same chunk forever (the client has to stop reading)."""
    while True:
        yield chunk
        await asyncio.sleep(0)


async def dripped(data: bytes, interval: float) -> AsyncIterator[bytes]:
    """`data` one byte at a time, `interval` seconds apart."""
    for index in range(len(data)):
        yield data[index : index + 1]
        await asyncio.sleep(interval)


def gzip_bomb(inflated_mib: int) -> bytes:
    """A gzip member of `inflated_mib` MiB of zeros, about 1 KiB per MiB on the wire.

    Built without inflating it: after a full flush deflate forgets its history, so every
    further MiB of zeros compresses to the very same bytes, which are repeated; the trailer
    carries the CRC-32 and size of the whole inflated content.
    """
    mib = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    head = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH) == block
    crc = 0
    for _ in range(inflated_mib):
        crc = zlib.crc32(mib, crc)
    size = (inflated_mib << 20) & 0xFFFF_FFFF
    final_empty_block = b"\x03\x00"
    trailer = crc.to_bytes(4, "little") + size.to_bytes(4, "little")
    return head + block * (inflated_mib - 1) + final_empty_block + trailer
