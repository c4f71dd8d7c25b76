"""HTTP/1.1 exchanges with the API server on the running event loop (aiohttp).

`KubeApi.send` uses this for the frequent, small requests (ModelRef writes, Events) when the
client configuration is a plain one: a direct connection, TLS as the kubeconfig says. The
thread pool costs about three times the CPU per request (measured: 1.3 ms against 0.46 ms
for a create against a server that answers at once): a thread hand-off each way, contention
for the GIL among the pool's threads, and http.client's pure-Python header parsing, where
aiohttp parses with its C parser on the loop's own thread.

One session per event loop (tests run several loops over one `KubeApi`); its connections
are kept alive and reused, bounded by `limit`. `aclose` closes them on their loop; a loop that
ends without it leaves them to the garbage collector (a closed loop cannot close them).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Coroutine
from typing import Any

import aiohttp
import yarl
from kubernetes import client as k8s

__all__ = ["LoopHttp", "NoResponse", "TlsFailure", "loop_http_for"]


class NoResponse(Exception):
    """No HTTP answer came back (refused, reset, timed out); the cause is chained."""


class TlsFailure(Exception):
    """The TLS handshake failed (the server's certificate, or ours, was refused)."""


def loop_http_for(configuration: k8s.Configuration, *, limit: int) -> LoopHttp | None:
    """A LoopHttp for `configuration`, or None when it asks for what only the official
    client's connection pool does (a proxy, a TLS server name or hostname override, socket
    options, its own retry policy): those requests keep going through the pool."""
    unusual = (
        configuration.proxy,
        configuration.assert_hostname is not None,
        getattr(configuration, "tls_server_name", None),
        configuration.retries is not None,
        configuration.socket_options is not None,
        getattr(configuration, "keep_alive", False),
    )
    if any(unusual):
        return None
    host = configuration.host.rstrip("/")
    if not host.startswith(("http://", "https://")):
        return None
    return LoopHttp(host, configuration, limit=limit)


class LoopHttp:
    def __init__(self, base_url: str, configuration: k8s.Configuration, *, limit: int) -> None:
        self.base_url = base_url
        self._configuration = configuration
        self._limit = limit
        self._tls: ssl.SSLContext | None = None
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        *,
        time_limit: float,
    ) -> tuple[int, bytes]:
        """Send one request; its status and whole body. Raises NoResponse or TlsFailure.

        Retries are urllib3's defaults as aiohttp has them: an idempotent request (GET, PUT,
        DELETE) whose connection dropped before the answer is sent once more; a POST or
        PATCH is not (its caller finds out on its next pass whether it took effect)."""
        session = self._session_here()
        # The path is percent-encoded already (one segment per argument).
        url = yarl.URL(self.base_url + path, encoded=True)
        limits = self._timeouts.get(time_limit)
        if limits is None:
            limits = self._timeouts[time_limit] = aiohttp.ClientTimeout(total=time_limit)
        try:
            async with session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=limits,
                allow_redirects=False,
            ) as response:
                return response.status, await response.read()
        except aiohttp.ClientSSLError as exc:
            raise TlsFailure(str(exc)) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise NoResponse(str(exc) or type(exc).__name__) from exc

    def _session_here(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or self._session_loop is not loop or session.closed:
            self.close()
            connector = aiohttp.TCPConnector(limit=self._limit, ssl=self._ssl())
            # Only the headers the caller gives (those the official client sends), no
            # compression asked for, none of the environment's proxy settings.
            session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                trust_env=False,
            )
            self._session, self._session_loop = session, loop
        return session

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self.base_url.startswith("https://"):
            return False
        if self._tls is None:
            self._tls = tls_context(self._configuration)
        return self._tls

    def close(self) -> None:
        """Close the connections. From inside the session's running loop this schedules
        the close; from anywhere else it completes it (on a loop of its own if the session's
        loop has ended)."""
        session, loop = self._session, self._session_loop
        self._session = self._session_loop = None
        if session is None or loop is None or session.closed:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.create_task(session.close())
        elif loop.is_closed():
            # Its transports went with the loop: closing only marks the session closed, and
            # never waits (the connector has nothing left to close).
            _finish_at_once(session.close())
        elif loop.is_running():
            asyncio.run_coroutine_threadsafe(session.close(), loop)
        else:
            loop.run_until_complete(session.close())

    async def aclose(self) -> None:
        session = self._session
        if session is not None and self._session_loop is asyncio.get_running_loop():
            self._session = self._session_loop = None
            await session.close()
        else:
            self.close()


def _finish_at_once(closing: Coroutine[Any, Any, None]) -> None:
    try:
        closing.send(None)
    except StopIteration:
        return
    closing.close()  # it waited after all: give up on it rather than block


def tls_context(configuration: k8s.Configuration) -> ssl.SSLContext:
    """The TLS settings the official client gives its connection pool: verification as
    `verify_ssl` says, against `ssl_ca_cert`/`ca_cert_data` (else the system's store, as
    urllib3 does), and the client certificate when there is one."""
    ca_data: Any = getattr(configuration, "ca_cert_data", None)
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert, cadata=ca_data)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    return context
