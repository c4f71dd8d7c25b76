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

__all__ = ["InflightRelay", "RelayedRequest"]

_WRITE_METHODS = frozenset({b"POST", b"PUT", b"PATCH", b"DELETE"})
_CHUNK = 1 << 16


@dataclass(frozen=True)
class RelayedRequest:
    method: str
    target: str  # path and query, as on the request line
    status: int  # 0: the connection closed before a response


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

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        exchange: _Exchange,
        *,
        from_client: bool,
    ) -> None:
        try:
            while chunk := await reader.read(_CHUNK):
                if from_client:
                    self._request_bytes(exchange, chunk)
                else:
                    self._response_bytes(exchange, chunk)
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                writer.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            upstream_r, upstream_w = await asyncio.open_connection(
                *self.upstream, ssl=self.upstream_tls
            )
        except OSError:
            client_w.close()
            return
        exchange = _Exchange()
        await asyncio.gather(
            self._pump(client_r, upstream_w, exchange, from_client=True),
            self._pump(upstream_r, client_w, exchange, from_client=False),
        )
        self._response_bytes(exchange)  # a connection closed mid-request ends that request

    # --- lifecycle -----------------------------------------------------------------------

    def start_in_thread(self) -> None:
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        async def start() -> None:
            self._server = await asyncio.start_server(self._serve, self.host, 0)
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
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _status(chunk: bytes) -> int:
    """The code of a status line such as b"HTTP/1.1 201 Created"; 0 if there is none."""
    parts = chunk.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return 0
