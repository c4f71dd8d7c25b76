"""The ModelRef watch (kube/modelref_watch.py) against the sandbox API server and the real
control plane: listing, events in order, resuming, relisting after 410 Gone, failures retried
at the backoff's pace, stopping, and following the syncs' namespaces."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from fixtures_kube import eventually, kubectl, unique_name
from modelsync.kube.client import KubeApi, load_configuration
from modelsync.kube.modelref_watch import ModelRefWatches, NamespaceWatch
from modelsync.kube.modelrefs import create_modelref, delete_modelref, patch_modelref_status

if TYPE_CHECKING:
    from modelsync_sandbox.kube import KubeSandbox

CRDS = Path(__file__).resolve().parents[2] / "crds"
BACKOFF = 0.2
WITHIN = 10.0  # every wait here is bounded by this


@pytest.fixture(params=["sandbox", "real"])
def kubeconfig(request: pytest.FixtureRequest) -> Iterator[Path]:
    if request.param == "sandbox":
        yield request.getfixturevalue("crd_sandbox").kubeconfig_path
        return
    cluster = request.getfixturevalue("real_cluster")
    cluster.ok("apply", "--server-side", "-f", str(CRDS))
    cluster.ok("wait", "--for", "condition=established", "crd", "--all", "--timeout=60s")
    yield cluster.kubeconfig


@pytest_asyncio.fixture
async def api(kubeconfig: Path) -> AsyncIterator[KubeApi]:
    client = KubeApi(load_configuration(str(kubeconfig)), max_workers=4)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def ns(kubeconfig: Path) -> str:
    return namespace(kubeconfig)


def namespace(kubeconfig: Path) -> str:
    name = unique_name("watch")
    done = kubectl(kubeconfig, "create", "namespace", name)
    assert done.returncode == 0, done.stderr
    return name


def modelref(ns: str, name: str, *, of_a_sync: bool = True) -> dict[str, Any]:
    labels = {"app.kubernetes.io/managed-by": "modelsync"}
    if of_a_sync:
        labels["modelsync.dev/sync"] = "s"
    return {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelRef",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"model": {"id": f"id-{name}", "name": name, "fqn": f"model:t/r/{name}"}},
    }


READY = {
    "status": {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Synced",
                "message": "",
                "lastTransitionTime": "2024-01-01T00:00:00Z",
            }
        ]
    }
}


@dataclass
class Seen:
    """What a watch delivered: (event type, name, resourceVersion, object)."""

    events: list[tuple[str | None, str, str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, event_type: str | None, obj: Any) -> None:
        meta = obj["metadata"]
        self.events.append((event_type, meta["name"], meta["resourceVersion"], obj))

    def kinds(self) -> list[tuple[str | None, str]]:
        return [(t, name) for t, name, _, _ in self.events]

    async def wait_for(self, want: list[tuple[str | None, str]], what: str) -> None:
        await eventually(lambda: self.kinds() == want, f"{what}: {self.kinds()}", WITHIN)


async def watching(api: KubeApi, ns: str, seen: Seen, **options: Any) -> NamespaceWatch:
    options.setdefault("backoff", BACKOFF)
    watch = NamespaceWatch(api, ns, seen, asyncio.get_running_loop(), **options)
    watch.start()
    return watch


async def stopped(watch: NamespaceWatch) -> None:
    watch.stop()
    started = time.monotonic()
    assert await asyncio.to_thread(watch.join, WITHIN)
    assert time.monotonic() - started < 2.0, "an open watch is cut at once"


async def test_lists_then_delivers_every_change_in_order_and_nothing_after_stop(
    api: KubeApi, ns: str
) -> None:
    listed = await create_modelref(api, ns, modelref(ns, "a"))
    await create_modelref(api, ns, modelref(ns, "not-ours", of_a_sync=False))
    seen = Seen()
    watch = await watching(api, ns, seen)
    try:
        await seen.wait_for([(None, "a")], "the listing")
        obj = seen.events[0][3]
        assert listed is not None
        assert obj["apiVersion"] == "modelsync.dev/v1alpha1"
        assert obj["kind"] == "ModelRef"
        assert obj["metadata"]["resourceVersion"] == listed.resource_version
        assert obj["spec"] == modelref(ns, "a")["spec"]

        created = await create_modelref(api, ns, modelref(ns, "b"))
        with_status = await patch_modelref_status(api, ns, "b", READY)
        await delete_modelref(api, ns, "a")
        await seen.wait_for(
            [(None, "a"), ("ADDED", "b"), ("MODIFIED", "b"), ("DELETED", "a")], "the changes"
        )
        assert created is not None
        assert with_status is not None
        assert [rv for _, name, rv, _ in seen.events[1:3]] == [
            created.resource_version,
            with_status.resource_version,
        ]
        assert seen.events[2][3]["status"] == READY["status"]
    finally:
        await stopped(watch)
    await create_modelref(api, ns, modelref(ns, "c"))
    await asyncio.sleep(4 * BACKOFF)
    assert "c" not in {name for _, name in seen.kinds()}


async def test_lists_page_by_page(api: KubeApi, ns: str) -> None:
    names = [f"m{i}" for i in range(5)]
    for name in names:
        await create_modelref(api, ns, modelref(ns, name))
    seen = Seen()
    watch = await watching(api, ns, seen, page_size=2)
    try:
        await seen.wait_for([(None, name) for name in names], "three pages")
        await create_modelref(api, ns, modelref(ns, "after"))
        await seen.wait_for([*((None, n) for n in names), ("ADDED", "after")], "a change")
    finally:
        await stopped(watch)


async def test_follows_the_namespaces_of_the_syncs(kubeconfig: Path, api: KubeApi) -> None:
    first, second = namespace(kubeconfig), namespace(kubeconfig)
    seen = Seen()
    watches = ModelRefWatches(api, seen, backoff=BACKOFF)

    def sync(ns: str, uid: str) -> dict[str, Any]:
        return {"metadata": {"namespace": ns, "name": uid, "uid": uid}}

    try:
        watches.follow(None, sync(first, "u1"))
        watches.follow("ADDED", sync(first, "u2"))
        watches.follow("MODIFIED", sync(second, "u3"))
        assert watches.namespaces == {first, second}
        await create_modelref(api, first, modelref(first, "one"))
        await create_modelref(api, second, modelref(second, "two"))
        await eventually(
            lambda: {name for _, name in seen.kinds()} == {"one", "two"}, "both namespaces"
        )
        watches.follow("DELETED", sync(first, "u1"))
        assert watches.namespaces == {first, second}  # u2 is still there
        watches.follow("DELETED", sync(first, "u2"))
        assert watches.namespaces == {second}
        await asyncio.sleep(4 * BACKOFF)
        before = len(seen.events)
        await create_modelref(api, first, modelref(first, "unwatched"))
        await create_modelref(api, second, modelref(second, "watched"))
        await eventually(lambda: "watched" in {n for _, n in seen.kinds()}, "the second")
        assert "unwatched" not in {name for _, name in seen.kinds()[before:]}
    finally:
        await watches.close()
    assert watches.namespaces == frozenset()


# -- faults (injected by the sandbox API server, so on the sandbox only) ------------------


@pytest.fixture
def sandbox(crd_sandbox: KubeSandbox) -> Iterator[KubeSandbox]:
    try:
        yield crd_sandbox
    finally:
        crd_sandbox.faults.clear()


@pytest_asyncio.fixture
async def sandbox_api(sandbox: KubeSandbox) -> AsyncIterator[KubeApi]:
    client = KubeApi(load_configuration(str(sandbox.kubeconfig_path)), max_workers=4)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def sandbox_ns(sandbox: KubeSandbox) -> str:
    return namespace(sandbox.kubeconfig_path)


def requests(sandbox: KubeSandbox, ns: str, verb: str) -> int:
    """Requests the sandbox answered (a watch counts once it ended)."""
    return len(sandbox.stats.matching(verbs=[verb], resource="modelrefs", namespace=ns))


async def test_410_gone_lists_again(
    sandbox_api: KubeApi, sandbox_ns: str, sandbox: KubeSandbox
) -> None:
    api, ns = sandbox_api, sandbox_ns
    await create_modelref(api, ns, modelref(ns, "a"))
    seen = Seen()
    watch = await watching(api, ns, seen)
    try:
        await seen.wait_for([(None, "a")], "the listing")
        await create_modelref(api, ns, modelref(ns, "b"))
        await seen.wait_for([(None, "a"), ("ADDED", "b")], "the watch")
        fault = sandbox.faults.expire_watches(resources=["modelrefs"], namespace=ns, count=1)
        await seen.wait_for(
            [(None, "a"), ("ADDED", "b"), (None, "a"), (None, "b")], "the second listing"
        )
        assert sandbox.faults.hits(fault) == 1
        await create_modelref(api, ns, modelref(ns, "c"))
        await seen.wait_for(
            [(None, "a"), ("ADDED", "b"), (None, "a"), (None, "b"), ("ADDED", "c")], "a change"
        )
        assert requests(sandbox, ns, "list") == 2
    finally:
        await stopped(watch)


async def test_a_dropped_watch_resumes_where_it_was_without_listing(
    sandbox_api: KubeApi, sandbox_ns: str, sandbox: KubeSandbox
) -> None:
    api, ns = sandbox_api, sandbox_ns
    seen = Seen()
    watch = await watching(api, ns, seen, backoff=1.0)
    try:
        # Made after the (empty) listing: it comes by the watch.
        await eventually(lambda: requests(sandbox, ns, "list") == 1, "the listing", WITHIN)
        await create_modelref(api, ns, modelref(ns, "a"))
        await seen.wait_for([("ADDED", "a")], "the watch")
        fault = sandbox.faults.drop(verbs=["watch"], resources=["modelrefs"], namespace=ns)
        await eventually(lambda: sandbox.faults.hits(fault) == 1, "the drop", WITHIN)
        sandbox.faults.remove(fault)
        # Made while the watch is down (it waits the backoff): delivered once it is back,
        # and nothing twice.
        await create_modelref(api, ns, modelref(ns, "b"))
        await patch_modelref_status(api, ns, "a", READY)
        await seen.wait_for(
            [("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a")], "the changes in the gap"
        )
        assert requests(sandbox, ns, "list") == 1
        dropped = sandbox.stats.matching(verbs=["watch"], resource="modelrefs", namespace=ns)
        assert [r.status for r in dropped] == [0]  # the second one is still open
    finally:
        await stopped(watch)


async def test_failures_are_retried_at_the_backoffs_pace_and_logged_once(
    sandbox_api: KubeApi,
    sandbox_ns: str,
    sandbox: KubeSandbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api, ns = sandbox_api, sandbox_ns
    await create_modelref(api, ns, modelref(ns, "a"))
    sandbox.faults.fail(500, verbs=["list"], resources=["modelrefs"], namespace=ns, count=3)
    seen = Seen()
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG, logger="modelsync.kube.modelref_watch"):
        watch = await watching(api, ns, seen)
        try:
            await seen.wait_for([(None, "a")], "the listing after the failures")
            assert time.monotonic() - started >= 3 * BACKOFF
            assert requests(sandbox, ns, "list") == 4
        finally:
            await stopped(watch)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert ns in warnings[0].getMessage()
    assert any("resumed" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
