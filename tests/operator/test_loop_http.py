"""`KubeApi.send` on the event loop (kube/loop_http.py) against real local servers: a pooled
connection the server dropped is retried once and only once, a server that never answers
times out, TLS is verified against the kubeconfig's CA and a refused certificate is not
retried, each event loop gets its own connections, and configurations that need the
official client's pool keep the thread path."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ssl
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
import trustme
from kubernetes import client as k8s

from modelsync.kube.client import KubeApi
from modelsync.kube.errors import KubeApiError, KubeUnavailable
from modelsync.kube.loop_http import loop_http_for
from modelsync.kube.modelrefs import create_modelref, get_modelref

ANSWER = (
    b'{"apiVersion":"modelsync.dev/v1alpha1","kind":"ModelRef",'
    b'"metadata":{"name":"r","namespace":"n","uid":"u","resourceVersion":"3"}}'
)
Behaviour = Callable[[int], Awaitable[bytes | None]]  # request number -> answer, None: hang up


class Server:
    """HTTP/1.1 with keep-alive; `behaviour` decides each request's fate."""

    def __init__(self, behaviour: Behaviour, tls: ssl.SSLContext | None = None) -> None:
        self.behaviour = behaviour
        self.tls = tls
        self.requests = 0
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                self.requests += 1
                answer = await self.behaviour(self.requests)
                if answer is None:
                    return  # hang up without a response
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    started: list[Server] = []

    async def start(behaviour: Behaviour, tls: ssl.SSLContext | None = None) -> Server:
        server = Server(behaviour, tls)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


def kube_api(url: str, **settings: object) -> KubeApi:
    configuration = k8s.Configuration(host=url, api_key={"authorization": "Bearer t"})
    for name, value in settings.items():
        setattr(configuration, name, value)
    return KubeApi(configuration, max_workers=2)


async def answer(_: int) -> bytes | None:
    return ANSWER


async def hang_up(_: int) -> bytes | None:
    return None


async def test_a_read_the_server_hung_up_on_is_sent_once_more(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    async def first_hangs_up(number: int) -> bytes | None:
        return None if number == 1 else ANSWER

    server = await serve(first_hangs_up)
    api = kube_api(f"http://127.0.0.1:{server.port}")
    try:
        got = await get_modelref(api, "n", "r")
        assert got["metadata"]["resourceVersion"] == "3"
        assert (server.requests, server.connections) == (2, 2)
    finally:
        await api.aclose()


async def test_a_server_that_always_hangs_up_fails_a_read_after_two_tries(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    server = await serve(hang_up)
    api = kube_api(f"http://127.0.0.1:{server.port}")
    try:
        with pytest.raises(KubeUnavailable, match='get ModelRef "r" in namespace "n": no response'):
            await get_modelref(api, "n", "r")
        assert server.requests == 2
    finally:
        await api.aclose()


async def test_a_create_the_server_hung_up_on_is_not_sent_again(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    server = await serve(hang_up)
    api = kube_api(f"http://127.0.0.1:{server.port}")
    try:
        with pytest.raises(KubeUnavailable, match="create ModelRef"):
            await create_modelref(api, "n", {"metadata": {"name": "r"}})
        assert server.requests == 1
    finally:
        await api.aclose()


async def test_a_server_that_never_answers_times_out(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    async def never(_: int) -> bytes | None:
        await asyncio.sleep(30)
        return ANSWER

    server = await serve(never)
    configuration = k8s.Configuration(host=f"http://127.0.0.1:{server.port}")
    api = KubeApi(configuration, max_workers=1, request_timeout=0.3)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(KubeUnavailable, match="no response"):
            await get_modelref(api, "n", "r")
        assert asyncio.get_running_loop().time() - started < 5
        assert server.requests == 1  # a timeout is not retried
    finally:
        await api.aclose()


async def test_kept_alive_connections_are_reused(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    server = await serve(answer)
    api = kube_api(f"http://127.0.0.1:{server.port}")
    try:
        for _ in range(5):
            await get_modelref(api, "n", "r")
        assert (server.requests, server.connections) == (5, 1)
    finally:
        await api.aclose()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_tls_is_verified_against_the_configured_ca(
    serve: Callable[..., Awaitable[Server]], ca: trustme.CA, tmp_path: Path
) -> None:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    server = await serve(answer, tls)
    url = f"https://127.0.0.1:{server.port}"
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    trusting = kube_api(url, ssl_ca_cert=str(ca_file))
    try:
        assert (await get_modelref(trusting, "n", "r"))["metadata"]["name"] == "r"
    finally:
        await trusting.aclose()

    other_ca = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    before = server.requests
    doubting = kube_api(url, ssl_ca_cert=str(other_ca))
    try:
        with pytest.raises(KubeApiError) as failure:
            await get_modelref(doubting, "n", "r")
        assert failure.value.status == 0  # as the official client reports a TLS failure
        assert server.requests == before
    finally:
        await doubting.aclose()

    unverified = kube_api(url, verify_ssl=False)
    try:
        assert (await get_modelref(unverified, "n", "r"))["metadata"]["name"] == "r"
    finally:
        await unverified.aclose()


def use_in_a_loop_of_its_own(api: KubeApi, *, close: bool) -> tuple[int, int]:
    """One request to a fresh server from a new event loop; `close`: `aclose` before the
    loop ends. The server's (requests, connections)."""

    async def scenario() -> tuple[int, int]:
        server = Server(answer)
        await server.start()
        try:
            # The same KubeApi in every loop; only the server's port differs.
            api._loop_http.base_url = f"http://127.0.0.1:{server.port}"  # type: ignore[union-attr]
            await get_modelref(api, "n", "r")
            if close:
                await api.aclose()
            return server.requests, server.connections
        finally:
            await server.stop()

    return asyncio.run(scenario())


def test_one_api_serves_successive_event_loops() -> None:
    api = kube_api("http://127.0.0.1:1")
    # A loop that ended without aclose: its connections went with it (to the garbage
    # collector); the next loop gets connections of its own.
    assert use_in_a_loop_of_its_own(api, close=False) == (1, 1)
    assert use_in_a_loop_of_its_own(api, close=False) == (1, 1)
    api.close()  # after every loop ended: nothing left to wait for, and no error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()  # those connections, here rather than in another test's window


def test_aclose_leaves_nothing_open() -> None:
    gc.collect()  # what earlier tests left is not this test's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            api = kube_api("http://127.0.0.1:1")
            assert use_in_a_loop_of_its_own(api, close=True) == (1, 1)
            api.close()  # closed already: nothing more to do
        gc.collect()
    assert [str(w.message) for w in caught if "nclosed" in str(w.message)] == []


@pytest.mark.parametrize(
    "setting",
    [
        {"proxy": "http://127.0.0.1:3128"},
        {"tls_server_name": "kubernetes.default"},
        {"assert_hostname": False},
        {"retries": 5},
    ],
)
def test_settings_only_the_official_pool_has_keep_the_thread_path(
    setting: dict[str, object],
) -> None:
    configuration = k8s.Configuration(host="https://127.0.0.1:6443")
    assert loop_http_for(configuration, limit=4) is not None
    for name, value in setting.items():
        setattr(configuration, name, value)
    assert loop_http_for(configuration, limit=4) is None
