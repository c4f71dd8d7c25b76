"""A TCP relay in front of the API server that counts write requests in flight.

The operator talks plain HTTP/1.1 to the relay, which forwards bytes unchanged (to the
sandbox in plain HTTP, to a real API server over TLS). HTTP/1.1 clients (urllib3, aiohttp)
send one request per connection at a time, so a connection has a request in flight from the
first bytes of the request until the first bytes of the response. A request whose method is
POST, PUT, PATCH or DELETE counts as a write. Each request's method, target and response
status are logged (`requests`): a real API server keeps no log of reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from dataclasses import dataclass
from typing import Protocol

__all__ = ["InflightRelay", "Relay", "RelayedRequest"]

_WRITE_METHODS = frozenset({b"POST", b"PUT", b"PATCH", b"DELETE"})


@dataclass(frozen=True)
class RelayedRequest:
    method: str
    target: str  # path and query, as on the request line
    status: int  # 0: the connection closed before a response


class Relay(Protocol):
    """What the bench reads of a relay, in this process (InflightRelay) or another
    (relay_process.RelayProcess)."""

    @property
    def url(self) -> str: ...

    @property
    def max_in_flight(self) -> int: ...

    @property
    def writes_seen(self) -> int: ...

    @property
    def requests(self) -> list[RelayedRequest]: ...

    def reset_max(self) -> None: ...


class _Exchange:
    """The request state of one client connection."""

    def __init__(self) -> None:
        self.outstanding = False
        self.write = False
        self.method = ""
        self.target = ""


class InflightRelay:
    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        host: str = "127.0.0.1",
        upstream_tls: ssl.SSLContext | None = None,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.upstream_tls = upstream_tls
        self.host = host
        self.port = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.writes_seen = 0
        self.requests: list[RelayedRequest] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._open: set[_Side] = set()  # connected sides, closed on stop
        self._connecting: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset_max(self) -> None:
        """Start a new observation window (call while no write is in flight)."""
        self.max_in_flight = self.in_flight
        self.writes_seen = 0
        self.requests = []

    # --- relaying ------------------------------------------------------------------------

    def _request_bytes(self, exchange: _Exchange, chunk: bytes) -> None:
        if exchange.outstanding:
            return  # more of the same request (its body)
        exchange.outstanding = True
        method, target = [*chunk.split(b" ", 2), b"", b""][:2]
        exchange.method = method.decode("ascii", "replace")
        exchange.target = target.decode("ascii", "replace")
        exchange.write = method in _WRITE_METHODS
        if exchange.write:
            self.writes_seen += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _response_bytes(self, exchange: _Exchange, chunk: bytes = b"") -> None:
        if exchange.outstanding:
            exchange.outstanding = False
            if exchange.write:
                self.in_flight -= 1
            self.requests.append(RelayedRequest(exchange.method, exchange.target, _status(chunk)))

    def _accept(self) -> _Side:
        return _Side(self, _Exchange(), from_client=True)

    def _upstream_for(self, client_side: _Side) -> None:
        """Connect upstream for a client connection just made (which reads nothing until
        then)."""
        loop = asyncio.get_running_loop()
        self._connecting.add(loop.create_task(self._connect_upstream(client_side)))

    async def _connect_upstream(self, client_side: _Side) -> None:
        upstream_side = _Side(self, client_side.exchange, from_client=False)
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(
                lambda: upstream_side, *self.upstream, ssl=self.upstream_tls
            )
        except OSError:
            client_side.close()
            return
        finally:
            task = asyncio.current_task()
            if task is not None:
                self._connecting.discard(task)
        client_side.link(upstream_side)

    # --- lifecycle -----------------------------------------------------------------------

    def start_in_thread(self) -> None:
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        async def start() -> None:
            self._server = await loop.create_server(self._accept, self.host, 0)
            self.port = int(self._server.sockets[0].getsockname()[1])

        def main() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(start())
            ready.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=main, name="inflight-relay", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise TimeoutError("the relay did not start")

    def stop_in_thread(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for side in list(self._open):
                side.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


class _Side(asyncio.Protocol):
    """One end of a relayed connection: what it receives goes to its peer's transport
    (one `write` per chunk the event loop read, no stream machinery). A full peer buffer
    pauses this side's reading; either side's end closes both."""

    def __init__(self, relay: InflightRelay, exchange: _Exchange, *, from_client: bool) -> None:
        self.relay = relay
        self.exchange = exchange
        self.from_client = from_client
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.closed = False
        self._pending: list[bytes] = []  # received before the peer was linked

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.relay._open.add(self)
        if self.from_client:
            transport.pause_reading()  # until the upstream connection is there
            self.relay._upstream_for(self)

    def link(self, upstream: _Side) -> None:
        if self.closed:
            upstream.close()
            return
        self.peer, upstream.peer = upstream, self
        for chunk in self._pending:
            self._forward(chunk)
        self._pending.clear()
        if upstream.closed:
            self.close()
        elif self.transport is not None:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self._pending.append(data)
        else:
            self._forward(data)

    def _forward(self, data: bytes) -> None:
        if self.from_client:
            self.relay._request_bytes(self.exchange, data)
        else:
            self.relay._response_bytes(self.exchange, data)
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.closed:
            peer.transport.write(data)

    def eof_received(self) -> bool:
        if self.peer is not None:
            self.peer.close()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 - the protocol's
        self.closed = True
        self.relay._open.discard(self)
        if self.peer is not None:
            self.peer.close()
        # a connection closed mid-request ends that request
        self.relay._response_bytes(self.exchange)

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None and not self.peer.closed:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None and not self.peer.closed:
            self.peer.transport.resume_reading()

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            with contextlib.suppress(RuntimeError):  # a loop already closing
                self.transport.close()


def _status(chunk: bytes) -> int:
    """The code of a status line such as b"HTTP/1.1 201 Created"; 0 if there is none."""
    parts = chunk.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return 0
