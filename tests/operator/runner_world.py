"""In-process sync passes (runtime.runner.SyncRunner) against the sandbox API server and sandbox
catalogs; its fixtures (`catalog`, `api`, `world`) are exposed by conftest.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from fixtures_kube import kubectl, unique_name
from modelsync.kube.client import KubeApi, load_configuration
from modelsync.runtime.config import OperatorConfig
from modelsync.runtime.gates import SyncGates
from modelsync.runtime.hosts import AllowedHosts
from modelsync.runtime.observers import NullObserver, SyncObserver
from modelsync.runtime.runner import RuntimeContext, SyncRunner
from modelsync_sandbox.catalog_server import CatalogSandbox

if TYPE_CHECKING:
    from modelsync_sandbox.kube import KubeSandbox

TOKEN = "tok-runner-41c2e8"
CREDENTIALS = {"modelsync.dev/catalog-credentials": "true"}
# The sandbox catalogs listen on loopback: only an explicit entry lets the operator in.
LOOPBACK = AllowedHosts.parse(["http://127.0.0.1:*"])


@pytest.fixture
def catalog() -> Iterator[CatalogSandbox]:
    with CatalogSandbox.running_in_thread(token=TOKEN) as sandbox:
        yield sandbox


@pytest_asyncio.fixture
async def api(crd_sandbox: KubeSandbox) -> AsyncIterator[KubeApi]:
    client = KubeApi(load_configuration(str(crd_sandbox.kubeconfig_path)), max_workers=4)
    try:
        yield client
    finally:
        client.close()


class World:
    """A fresh namespace with an opted-in token Secret "tfy" (and a junk `ca.crt` key)."""

    def __init__(self, sandbox: KubeSandbox, api: KubeApi, catalog: CatalogSandbox) -> None:
        self.sandbox = sandbox
        self.api = api
        self.catalog = catalog
        self.ns = unique_name("run")
        self.ok("create", "namespace", self.ns)
        self.secret("tfy", {"token": TOKEN, "ca.crt": "not a certificate"})

    def ok(self, *args: str, input: str | None = None) -> str:
        done = kubectl(self.sandbox.kubeconfig_path, *args, input=input)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def apply(self, obj: dict[str, Any]) -> None:
        self.ok("apply", "-f", "-", input=json.dumps(obj))

    def secret(self, name: str, data: dict[str, str], *, opted_in: bool = True) -> None:
        meta: dict[str, Any] = {"name": name, "namespace": self.ns}
        if opted_in:
            meta["labels"] = CREDENTIALS
        self.apply({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": data})

    def create_sync(self, name: str = "s", **spec: Any) -> dict[str, Any]:
        catalog = {"url": self.catalog.url, "tokenSecretRef": {"name": "tfy", "key": "token"}}
        catalog.update(spec.pop("catalog", {}))
        self.apply(
            {
                "apiVersion": "modelsync.dev/v1alpha1",
                "kind": "ModelCatalogSync",
                "metadata": {"name": name, "namespace": self.ns},
                "spec": {"catalog": catalog, **spec},
            }
        )
        return self.sync(name)

    def sync(self, name: str = "s") -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.ok("get", "mcs", name, "-n", self.ns, "-o", "json"))
        return found

    def refs(self) -> dict[str, dict[str, Any]]:
        items = json.loads(self.ok("get", "modelrefs", "-n", self.ns, "-o", "json"))["items"]
        return {i["metadata"]["name"]: i for i in items}

    def versions(self) -> dict[str, str]:
        """{ModelRef name: resourceVersion}: equal before and after means nothing changed."""
        return {n: r["metadata"]["resourceVersion"] for n, r in self.refs().items()}

    def warnings(self, name: str = "s") -> list[str]:
        items = json.loads(self.ok("get", "events", "-n", self.ns, "-o", "json"))["items"]
        return [
            e["reason"]
            for e in items
            if e["type"] == "Warning" and e["involvedObject"].get("name") == name
        ]

    def writes(self) -> int:
        return sum(
            1
            for r in self.sandbox.stats.log
            if r.namespace == self.ns and r.verb in ("create", "patch", "update", "delete")
        )

    def context(
        self,
        *,
        gates: SyncGates | None = None,
        observer: SyncObserver | None = None,
        **config: Any,
    ) -> RuntimeContext:
        settings = OperatorConfig(**{"allowed_hosts": LOOPBACK, **config})
        return RuntimeContext(
            api=self.api,
            config=settings,
            writes=asyncio.Semaphore(4),
            observer=observer or NullObserver(),
            sync_gates=gates,
        )

    def runner(
        self, name: str = "s", ctx: RuntimeContext | None = None, **config: Any
    ) -> SyncRunner:
        return SyncRunner(self.ns, name, ctx or self.context(**config))


@pytest.fixture
def world(crd_sandbox: KubeSandbox, api: KubeApi, catalog: CatalogSandbox) -> World:
    return World(crd_sandbox, api, catalog)
