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
import re
import socket
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

import httpcore
import httpx

from modelsync.catalog.destinations import ConnectGuard
from modelsync.catalog.errors import DestinationRefused

__all__ = [
    "CatalogEndpoint",
    "CatalogTransport",
    "GuardedNetworkBackend",
    "TransportJudgement",
    "judge_transport_failure",
]

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


# --- what a transport failure means, and whether another try can help ----------------------


@dataclass(frozen=True)
class CatalogEndpoint:
    """Where the client connects: `origin` (`scheme://host:port`, the port always written)
    names the catalog in messages; `own_ca` says whether TLS trusts a CA bundle of the
    sync's own (spec.catalog.caSecretRef) instead of the system's CAs."""

    scheme: str
    host: str  # as in the URL, IPv6 without brackets
    port: int
    own_ca: bool = False

    @classmethod
    def of(cls, url: httpx.URL, *, own_ca: bool = False) -> CatalogEndpoint:
        port = url.port if url.port is not None else (443 if url.scheme == "https" else 80)
        return cls(url.scheme, url.host, port, own_ca)

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class TransportJudgement:
    """One line naming what failed and, where there is one, the fix; `retryable` is False
    when another try cannot succeed (a certificate, a TLS protocol mismatch)."""

    message: str
    retryable: bool


# OpenSSL's reasons when the peer's first bytes are not a TLS record: typically an HTTP
# server answering a ClientHello with `HTTP/1.1 400 Bad Request`.
_NOT_TLS = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "HTTP_REQUEST",
        "HTTPS_PROXY_REQUEST",
        "PACKET_LENGTH_TOO_LONG",
        "RECORD_LAYER_FAILURE",
        "UNKNOWN_PROTOCOL",
    }
)
# A TLS connection that ended early says nothing about the certificate or the protocol.
_TLS_CUT_SHORT = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)
_X509_NOT_YET_VALID = 9
_X509_EXPIRED = 10
_X509_NAME_MISMATCH = (62, 64)  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_SSL_REASON = re.compile(r"\[SSL: ([A-Z0-9_]+)\]")
_SSL_NOISE = re.compile(r"^\s*\[SSL(?:: [A-Z0-9_]+)?\]\s*|\s*\(_ssl\.c:\d+\)\s*$")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, what caused it and the members of exception groups on the way, each once.

    A suppressed context is followed too: httpcore's pool re-raises with `raise exc from
    None`, which drops the explicit cause (the ssl or OS error) and leaves it only there.
    """
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(c for c in (current.__cause__, current.__context__) if c is not None)


def _first(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    return next((cause for cause in _causes(exc) if isinstance(cause, kind)), None)


def _ssl_reason(error: ssl.SSLError) -> str:
    reason = getattr(error, "reason", None)
    if isinstance(reason, str):
        return reason
    found = _SSL_REASON.search(str(error))
    return found.group(1) if found else ""


def _ssl_text(error: ssl.SSLError) -> str:
    """OpenSSL's words without the `[SSL: ...]` tag and the `(_ssl.c:NNN)` location."""
    verify_message = getattr(error, "verify_message", None)  # set by OpenSSL's failures
    if isinstance(error, ssl.SSLCertVerificationError) and verify_message:
        text = str(verify_message)
    else:
        text = str(error.args[1]) if len(error.args) > 1 else str(error)
    return _SSL_NOISE.sub("", text).rstrip(".") or type(error).__name__


def _os_text(exc: BaseException) -> str:
    """The words of the innermost OSError that has some (`No route to host`), rather than a
    wrapper's (`All connection attempts failed`)."""
    errors = [cause for cause in _causes(exc) if isinstance(cause, OSError)]
    for error in reversed(errors):
        if error.strerror:
            return _SSL_NOISE.sub("", str(error.strerror)) or type(error).__name__
    found = errors[0] if errors else exc
    return str(found) or type(found).__name__


def _tls_judgement(error: ssl.SSLError, at: CatalogEndpoint) -> TransportJudgement | None:
    """The verdict on a TLS failure another try cannot fix, or None for a connection that
    merely ended early."""
    if isinstance(error, _TLS_CUT_SHORT) or "UNEXPECTED_EOF" in str(error):
        return None
    origin, why = at.origin, _ssl_text(error)
    if isinstance(error, ssl.SSLCertVerificationError):
        code = getattr(error, "verify_code", None)
        if code in _X509_NAME_MISMATCH:
            text = (
                f"the certificate of {origin} is not valid for {at.host}; use a host name "
                "the certificate names in the catalog URL"
            )
        elif code in (_X509_EXPIRED, _X509_NOT_YET_VALID):
            text = (
                f"the certificate of {origin} is not valid now ({why}); the catalog needs a "
                "current certificate (or a clock is wrong)"
            )
        elif at.own_ca:
            text = (
                f"the certificate of {origin} is not signed by the CA in "
                f"spec.catalog.caSecretRef ({why}); put the CA that signed it in that Secret"
            )
        else:
            text = (
                f"the certificate of {origin} is not trusted ({why}); add its CA with "
                "spec.catalog.caSecretRef"
            )
    elif _ssl_reason(error) in _NOT_TLS:
        text = (
            f"TLS handshake with {origin} failed ({why}): the port does not speak TLS, "
            "probably plain http; use the catalog's https address"
        )
    else:
        text = (
            f"TLS handshake with {origin} failed ({why}); the catalog's TLS settings and "
            "this client's do not match"
        )
    return TransportJudgement(text, retryable=False)


def judge_transport_failure(exc: BaseException, at: CatalogEndpoint) -> TransportJudgement:
    """What an httpx transport error (and what caused it) means for the catalog `at`, on one
    line. Certificate and TLS protocol failures are final; refused or broken connections, DNS
    failures and responses that are not HTTP are worth another try."""
    judged = _judgement(exc, at)
    return TransportJudgement(" ".join(judged.message.split()), judged.retryable)


def _judgement(exc: BaseException, at: CatalogEndpoint) -> TransportJudgement:
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return TransportJudgement(f"{type(exc).__name__}: {exc}", retryable=False)
    tls = _first(exc, ssl.SSLError)
    if isinstance(tls, ssl.SSLError):
        judged = _tls_judgement(tls, at)
        if judged is not None:
            return judged
    origin = at.origin
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        resolving = _first(exc, socket.gaierror)
        if resolving is not None:
            text = (
                f"cannot resolve {at.host} ({_os_text(resolving)}); is the host name in the "
                "catalog URL right?"
            )
        else:
            refused = _first(exc, ConnectionRefusedError) is not None
            detail = "connection refused" if refused else _os_text(exc)
            text = f"cannot connect to {origin} ({detail}); is the URL right and the catalog up?"
        return TransportJudgement(text, retryable=True)
    if isinstance(exc, httpx.RemoteProtocolError):
        text = f"{origin} did not answer with valid HTTP ({exc})"
        if at.scheme == "http":
            text += "; if that port serves https, use an https:// URL"
        return TransportJudgement(text, retryable=True)
    if isinstance(exc, httpx.NetworkError):
        return TransportJudgement(
            f"the connection to {origin} broke ({_os_text(exc)})", retryable=True
        )
    return TransportJudgement(f"{origin}: {type(exc).__name__}: {exc}", retryable=True)
