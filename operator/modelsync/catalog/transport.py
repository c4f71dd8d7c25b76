"""The httpx transport of the catalog client: an httpcore connection pool whose network
backend resolves the host itself, asks the connect guard about every resolved address, and
connects to exactly an address the guard allowed.

Checking at connect time, on the address actually dialled, is what defeats DNS rebinding: a
name that resolved to a public address when a sync was admitted and to 127.0.0.1 a minute
later is judged by the address it has now, for every new connection. TLS still verifies the
certificate against the host name of the URL (httpcore passes it as the server name).

httpx's own AsyncHTTPTransport takes no network backend, so this module wraps
`httpcore.AsyncConnectionPool` itself, through public httpx and httpcore APIs only.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator

import httpcore
import httpx

from modelsync.catalog.destinations import ConnectGuard
from modelsync.catalog.errors import DestinationRefused

__all__ = ["CatalogTransport", "GuardedNetworkBackend"]

# Most specific first: the first match wins.
_HTTPCORE_TO_HTTPX: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for source, target in _HTTPCORE_TO_HTTPX:
            if isinstance(exc, source):
                raise target(str(exc)) from exc
        raise


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves, asks `guard` about each address, connects to the first allowed one that
    answers. Raises DestinationRefused when the guard allowed none."""

    def __init__(self, guard: ConnectGuard, inner: httpcore.AsyncNetworkBackend) -> None:
        self._guard = guard
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _resolve(host, port)
        allowed: list[str] = []
        refusals: list[str] = []
        for address in addresses:
            refusal = self._guard(host, address)
            if refusal is None:
                allowed.append(address)
            else:
                refusals.append(refusal)
        if not allowed:
            raise DestinationRefused(refusals[0] if refusals else f"{host} resolved to no address")
        for address in allowed[:-1]:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue  # the next allowed address of the same host
        return await self._inner.connect_tcp(
            allowed[-1],
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,  # noqa: ARG002 - httpcore's backend interface names these parameters
        timeout: float | None = None,  # noqa: ASYNC109, ARG002
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,  # noqa: ARG002
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused("the catalog client does not connect to Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _resolve(host: str, port: int) -> list[str]:
    """The addresses of `host` in resolver order, without repeats (an IP literal is itself)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: httpcore.Response) -> None:
        self._response = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._response.aiter_stream():
                yield part

    async def aclose(self) -> None:
        await self._response.aclose()


class CatalogTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over an httpcore pool; with a guard, every new connection is checked.

    `verify` is httpx's: True (system CAs, honouring SSL_CERT_FILE/SSL_CERT_DIR), False, or
    an SSLContext (e.g. one trusting the catalog's CA bundle).
    """

    def __init__(
        self,
        *,
        verify: bool | ssl.SSLContext = True,
        connect_guard: ConnectGuard | None = None,
        limits: httpx.Limits = httpx.Limits(),  # noqa: B008 - immutable settings object
    ) -> None:
        ssl_context = (
            verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
        )
        backend: httpcore.AsyncNetworkBackend | None = None
        if connect_guard is not None:
            backend = GuardedNetworkBackend(connect_guard, httpcore.AnyIOBackend())
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):  # pragma: no cover
            raise TypeError("the catalog transport sends async request bodies only")
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            response = await self._pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
