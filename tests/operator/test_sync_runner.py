"""One sync pass (runtime.sync.SyncRunner) in-process, against the sandbox API server and the
sandbox catalog: the cases the shared end-to-end operator cannot reach (operator flags, a
catalog without the model-versions endpoint, status heartbeat, logs)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from e2e_harness import condition

from fixtures_kube import kubectl, unique_name
from modelsync.kube.client import KubeApi, load_configuration
from modelsync.runtime.config import OperatorConfig
from modelsync.runtime.hosts import AllowedHosts
from modelsync.runtime.sync import RuntimeContext, SyncRunner
from modelsync.sandbox.catalog_server import CatalogSandbox

if TYPE_CHECKING:
    from modelsync.sandbox.kube import KubeSandbox

TOKEN = "tok-runner-41c2e8"
INSECURE = AllowedHosts.parse(["https://*"], allow_insecure_http=True)


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
    def __init__(self, sandbox: KubeSandbox, api: KubeApi, catalog: CatalogSandbox) -> None:
        self.sandbox = sandbox
        self.api = api
        self.catalog = catalog
        self.ns = unique_name("run")
        self.ok("create", "namespace", self.ns)
        self.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "tfy", "namespace": self.ns},
                "stringData": {"token": TOKEN, "ca.crt": "not a certificate"},
            }
        )

    def ok(self, *args: str, input: str | None = None) -> str:
        done = kubectl(self.sandbox.kubeconfig_path, *args, input=input)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def apply(self, obj: dict[str, Any]) -> None:
        self.ok("apply", "-f", "-", input=json.dumps(obj))

    def create_sync(self, **spec: Any) -> dict[str, Any]:
        catalog = {"url": self.catalog.url, "tokenSecretRef": {"name": "tfy", "key": "token"}}
        catalog.update(spec.pop("catalog", {}))
        self.apply(
            {
                "apiVersion": "modelsync.dev/v1alpha1",
                "kind": "ModelCatalogSync",
                "metadata": {"name": "s", "namespace": self.ns},
                "spec": {"catalog": catalog, **spec},
            }
        )
        return self.sync()

    def sync(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.ok("get", "mcs", "s", "-n", self.ns, "-o", "json"))
        return found

    def refs(self) -> dict[str, dict[str, Any]]:
        items = json.loads(self.ok("get", "modelrefs", "-n", self.ns, "-o", "json"))["items"]
        return {i["metadata"]["name"]: i for i in items}

    def writes(self) -> int:
        return sum(
            1
            for r in self.sandbox.stats.log
            if r.namespace == self.ns and r.verb in ("create", "patch", "update", "delete")
        )

    def runner(self, **config: Any) -> SyncRunner:
        settings = OperatorConfig(**{"allowed_hosts": INSECURE, **config})
        ctx = RuntimeContext(api=self.api, config=settings, writes=asyncio.Semaphore(4))
        return SyncRunner(self.ns, "s", ctx)


@pytest.fixture
def world(crd_sandbox: KubeSandbox, api: KubeApi, catalog: CatalogSandbox) -> World:
    return World(crd_sandbox, api, catalog)


async def test_plain_http_catalog_is_refused_without_the_flag(world: World) -> None:
    body = world.create_sync()
    runner = world.runner(allowed_hosts=AllowedHosts.parse(["https://*"]))
    outcome = await runner.sync(body, 0)
    assert outcome.kind == "stalled"
    stalled = condition(world.sync(), "Stalled")
    assert stalled is not None
    assert (stalled["status"], stalled["reason"]) == ("True", "CatalogNotAllowed")
    assert "--allow-insecure-http" in stalled["message"]
    assert world.catalog.recorded_requests() == []
    await runner.close()


async def test_a_bad_ca_bundle_stalls_with_a_clear_message(world: World) -> None:
    body = world.create_sync(catalog={"caSecretRef": {"name": "tfy", "key": "ca.crt"}})
    runner = world.runner()
    outcome = await runner.sync(body, 0)
    assert outcome.kind == "stalled"
    assert outcome.secret_versions.keys() == {"tfy"}
    stalled = condition(world.sync(), "Stalled")
    assert stalled is not None
    assert stalled["reason"] == "SecretNotFound"
    assert "PEM CA bundle" in stalled["message"]
    await runner.close()


async def test_steady_state_and_status_heartbeat(world: World) -> None:
    body = world.create_sync(select={"mlRepos": ["churn"]})
    runner = world.runner()
    first = await runner.sync(body, 0)
    assert first.kind == "success"
    assert first.delay is not None
    assert 300 <= first.delay <= 315  # 5m plus jitter
    assert len(world.refs()) == 5
    before = world.writes()
    status = world.sync()["status"]
    await runner.sync(world.sync(), 0)  # the second sync, nothing changed
    await runner.sync(world.sync(), 0)
    assert world.writes() == before
    assert world.sync()["status"] == status  # not even timestamps
    await runner.close()

    eager = world.runner(status_heartbeat=0.001)
    await asyncio.sleep(1.1)  # timestamps have one-second resolution
    await eager.sync(world.sync(), 0)
    assert world.writes() == before + 1  # only the heartbeat: timestamps refreshed
    assert world.sync()["status"]["lastSyncTime"] > status["lastSyncTime"]
    await eager.close()


async def test_without_a_model_versions_endpoint_deployable_versions_are_kept(
    world: World,
) -> None:
    predictor = "model:acme/churn/churn-predictor"  # latest v6 is not deployable
    body = world.create_sync(filters={"fqn": predictor})
    runner = world.runner()
    await runner.sync(body, 0)
    assert world.refs()["churn.churn-predictor"]["spec"]["version"]["version"] == 5

    # Another runner (say, after a restart) against a catalog without /model-versions.
    world.catalog.faults.fail_next(1000, 404, path_prefix="/api/ml/v1/model-versions")
    fresh = world.runner()
    await fresh.sync(world.sync(), 0)
    ref = world.refs()["churn.churn-predictor"]
    assert ref["spec"]["version"]["version"] == 5  # the deployable version it already held
    assert condition(ref)["status"] == "True"  # type: ignore[index]
    await runner.close()
    await fresh.close()


async def test_the_token_is_never_logged(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = world.create_sync(select={"mlRepos": ["churn"]})
    runner = world.runner()
    await runner.sync(body, 0)
    world.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "tfy", "namespace": world.ns},
            "stringData": {"token": "x" + TOKEN},
        }
    )
    outcome = await runner.sync(world.sync(), 0)
    assert outcome.kind == "failure"
    assert condition(world.sync())["reason"] == "Unauthorized"  # type: ignore[index]
    world.catalog.faults.fail_next(1, 500, body={"detail": f"echo {TOKEN}"})
    await runner.sync(world.sync(), 1)
    await runner.close()
    assert caplog.records
    assert TOKEN not in caplog.text
    assert TOKEN not in json.dumps(world.sync())


async def test_drift_detection_ignores_our_own_writes(world: World) -> None:
    body = world.create_sync(filters={"fqn": "model:acme/churn/baseline"})
    runner = world.runner()
    await runner.sync(body, 0)
    current = world.refs()["churn.baseline"]
    assert not runner.wants_repair("MODIFIED", current)  # our own write
    edited = json.loads(json.dumps(current))
    edited["metadata"]["resourceVersion"] = "someone-else"
    assert not runner.wants_repair("MODIFIED", edited)  # same content: nothing to repair
    edited["spec"]["version"]["version"] = 42
    assert runner.wants_repair("MODIFIED", edited)
    assert runner.wants_repair("DELETED", current)
    assert not runner.wants_repair("DELETED", {"metadata": {"name": "unknown"}})

    world.ok("delete", "modelref", "churn.baseline", "-n", world.ns)
    await runner.repair({"churn.baseline": ("DELETED", current)})
    restored = world.refs()["churn.baseline"]
    assert restored["spec"] == current["spec"]
    assert condition(restored)["status"] == "True"  # type: ignore[index]
    await runner.close()
