"""modelsync.kube through an HTTP proxy (the kubeconfig's `proxy-url`): requests go the way the
official client's ProxyManager sends them (a CONNECT tunnel to an https API server, absolute
URLs to an http one), not straight to the API server's connection pool; a proxy that refuses is
an error that names the request; and a server URL with a path keeps it in every request. Real
sockets: the sandbox API server (with and without TLS) behind a proxy of the test's own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from fixtures_kube import kubectl, unique_name
from modelsync.kube.client import KubeApi, load_configuration
from modelsync.kube.errors import KubeApiError
from modelsync.kube.modelrefs import create_modelref, get_modelref, patch_modelref_status

if TYPE_CHECKING:
    from modelsync_sandbox.kube import KubeSandbox

CRDS = Path(__file__).resolve().parents[2] / "crds"


@dataclass
class ConnectProxy:
    """Tunnels `CONNECT host:port`, and forwards requests for absolute URLs, to 127.0.0.1:port;
    answers 400 to a request without a host (not meant for a proxy), 403 while `refusing`."""

    tunnels: list[str] = field(default_factory=list)
    refusing: bool = False
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            tunnel = method == "CONNECT"
            self.tunnels.append(f"{method} {target}" if tunnel else target.split("?")[0])
            if not tunnel and not target.startswith("http://"):
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            if self.refusing:
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            authority = target if tunnel else target.removeprefix("http://").split("/", 1)[0]
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", int(authority.rsplit(":", 1)[1])
            )
            if tunnel:
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
            else:  # the server reads absolute URLs too; later requests follow as they come
                upstream_writer.write(head)
            await asyncio.gather(
                self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
            )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(1 << 16):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            with contextlib.suppress(ConnectionError):
                writer.close()


@pytest_asyncio.fixture
async def proxy() -> AsyncIterator[ConnectProxy]:
    found = ConnectProxy()
    server = await asyncio.start_server(found.handle, "127.0.0.1", 0)
    found.port = int(server.sockets[0].getsockname()[1])
    try:
        yield found
    finally:
        server.close()


@pytest.fixture
def ns(crd_sandbox: KubeSandbox) -> str:
    name = unique_name("proxy")
    done = kubectl(crd_sandbox.kubeconfig_path, "create", "namespace", name)
    assert done.returncode == 0, done.stderr
    return name


@pytest_asyncio.fixture
async def api(
    crd_sandbox: KubeSandbox, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[KubeApi]:
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    configuration = load_configuration(str(crd_sandbox.kubeconfig_path))
    configuration.proxy = f"http://127.0.0.1:{proxy.port}"
    client = KubeApi(configuration, max_workers=2, request_timeout=10.0)
    try:
        yield client
    finally:
        client.close()


def modelref(ns: str, name: str) -> dict[str, object]:
    return {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelRef",
        "metadata": {"name": name, "namespace": ns, "labels": {"modelsync.dev/sync": "s"}},
        "spec": {"model": {"id": f"id-{name}", "name": name, "fqn": f"model:t/r/{name}"}},
    }


async def test_writes_and_reads_go_through_the_proxy(
    api: KubeApi, ns: str, proxy: ConnectProxy, crd_sandbox: KubeSandbox
) -> None:
    created = await asyncio.wait_for(create_modelref(api, ns, modelref(ns, "a")), 20)
    assert created is not None
    patched = await asyncio.wait_for(
        patch_modelref_status(api, ns, "a", {"status": {"observedGeneration": 1}}), 20
    )
    assert patched is not None
    found = await asyncio.wait_for(get_modelref(api, ns, "a"), 20)
    assert found["metadata"]["resourceVersion"] == patched.resource_version
    assert proxy.tunnels, "nothing went through the proxy"
    assert set(proxy.tunnels) == {f"CONNECT 127.0.0.1:{crd_sandbox.port}"}


async def test_a_proxy_refusing_the_tunnel_is_an_error_naming_the_request(
    api: KubeApi, ns: str, proxy: ConnectProxy
) -> None:
    proxy.refusing = True
    with pytest.raises(KubeApiError) as failure:
        await asyncio.wait_for(create_modelref(api, ns, modelref(ns, "b")), 20)
    assert f'create ModelRef "b" in namespace "{ns}"' in str(failure.value)
    assert proxy.tunnels


@pytest.fixture(scope="module")
def plain_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSandbox]:
    from modelsync_sandbox.kube import KubeSandbox

    # No token: kubectl sends none over plain HTTP.
    sandbox = KubeSandbox(
        kubeconfig_path=tmp_path_factory.mktemp("plain") / "kubeconfig", tls=False, token=None
    )
    sandbox.start_in_thread()
    try:
        for step in (
            ("apply", "-f", str(CRDS)),
            ("wait", "--for", "condition=established", "crd", "--all", "--timeout=30s"),
        ):
            done = kubectl(sandbox.kubeconfig_path, *step)
            assert done.returncode == 0, done.stderr
        yield sandbox
    finally:
        sandbox.stop_in_thread()


async def test_an_http_api_server_gets_absolute_urls_through_the_proxy(
    plain_sandbox: KubeSandbox, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    ns = unique_name("proxy")
    done = kubectl(plain_sandbox.kubeconfig_path, "create", "namespace", ns)
    assert done.returncode == 0, done.stderr
    configuration = load_configuration(str(plain_sandbox.kubeconfig_path))
    assert configuration.host.startswith("http://")
    configuration.proxy = f"http://127.0.0.1:{proxy.port}"
    api = KubeApi(configuration, max_workers=2, request_timeout=10.0)
    try:
        created = await asyncio.wait_for(create_modelref(api, ns, modelref(ns, "c")), 20)
        assert created is not None
        found = await asyncio.wait_for(get_modelref(api, ns, "c"), 20)
        assert found["metadata"]["uid"] == created.metadata.uid
    finally:
        api.close()
    base = f"{configuration.host}/apis/modelsync.dev/v1alpha1/namespaces/{ns}/modelrefs"
    assert proxy.tunnels[:1] == [base]


async def test_a_host_with_a_path_prefix_keeps_it(plain_sandbox: KubeSandbox) -> None:
    """An API server behind a path (`server: http://host/k8s/clusters/c1`, as some
    gateways serve it): every request keeps the prefix."""
    prefix = "/k8s/clusters/c1"
    seen: list[str] = []

    async def strip_prefix(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            line, rest = head.decode("latin-1").split("\r\n", 1)
            method, target, version = line.split(" ", 2)
            seen.append(target.split("?")[0])
            if not target.startswith(prefix + "/"):
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            # One request per connection, so that only request heads need rewriting.
            kept = [h for h in rest.split("\r\n") if not h.lower().startswith("connection:")]
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", plain_sandbox.port
            )
            rewritten = "\r\n".join(
                [f"{method} {target.removeprefix(prefix)} {version}", "Connection: close", *kept]
            )
            upstream_writer.write(rewritten.encode("latin-1"))
            await asyncio.gather(
                ConnectProxy._pipe(reader, upstream_writer),
                ConnectProxy._pipe(upstream_reader, writer),
            )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(strip_prefix, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    ns = unique_name("prefix")
    done = kubectl(plain_sandbox.kubeconfig_path, "create", "namespace", ns)
    assert done.returncode == 0, done.stderr
    configuration = load_configuration(str(plain_sandbox.kubeconfig_path))
    configuration.host = f"http://127.0.0.1:{port}{prefix}"
    api = KubeApi(configuration, max_workers=2, request_timeout=10.0)
    try:
        created = await asyncio.wait_for(create_modelref(api, ns, modelref(ns, "d")), 20)
        assert created is not None
        found = await asyncio.wait_for(get_modelref(api, ns, "d"), 20)
        assert found["metadata"]["uid"] == created.metadata.uid
    finally:
        api.close()
        server.close()
    base = f"{prefix}/apis/modelsync.dev/v1alpha1/namespaces/{ns}/modelrefs"
    assert seen == [base, f"{base}/d"]
