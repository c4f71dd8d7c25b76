"""The write fence against the sandbox API server: a replica writes only while its last Lease
renewal is younger than the renew deadline, even when its event loop is blocked and its
election loop cannot run to notice that another replica took the Lease; it then steps down.

Replica A (the runtime and elector the operator wires up) runs on an event loop of its own
thread, so that the test can block it while replica B, on the test's loop, takes over.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import pytest
import pytest_asyncio

from fixtures_kube import eventually, kubectl, unique_name
from modelsync.api.constants import LABEL_SYNC
from modelsync.kube.client import KubeApi, load_configuration
from modelsync.kube.errors import KubeWriteFenced
from modelsync.kube.leases import read_lease
from modelsync.kube.modelrefs import create_modelref, list_modelrefs
from modelsync.runtime.app import OperatorRuntime
from modelsync.runtime.config import OperatorConfig
from modelsync.runtime.leader_decision import ElectionTiming
from modelsync.runtime.leader_loop import LeaderElectionConfig, LeaderElector
from modelsync_sandbox.kube import KubeSandbox

T = TypeVar("T")

TIMING = ElectionTiming(lease_duration=2.0, renew_deadline=1.5, retry_period=0.2)
WAIT = 5.0  # every wait here is bounded by this
MODELREFS = "modelrefs"


class LoopThread:
    """An event loop on a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="replica-a")
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wait_for(asyncio.wrap_future(self.submit(coro)), WAIT)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(WAIT)
        assert not self._thread.is_alive()
        self.loop.close()


class ReplicaA:
    """The operator's wiring (as run_operator does it): a standby runtime whose write gate
    asks the elector's fence, started and stopped by the elector."""

    def __init__(
        self, kubeconfig: str, lease: str, clock: Callable[[], float], timing: ElectionTiming
    ) -> None:
        configuration = load_configuration(kubeconfig)
        self.runtime = OperatorRuntime(OperatorConfig(), configuration, leading=False)
        self.lease_api = KubeApi(
            load_configuration(kubeconfig), max_workers=2, request_timeout=timing.renew_deadline
        )
        self.elector = LeaderElector(
            self.lease_api,
            LeaderElectionConfig("default", lease, "a_0000000a", timing),
            on_started=self.runtime.start_leading,
            on_stopped=self.runtime.stop_leading,
            clock=clock,
        )
        self.runtime.set_write_fence(self.elector.may_write)

    @property
    def leading(self) -> bool:
        return self.runtime.leading and self.elector.leading

    async def close(self) -> None:
        await self.elector.stop()
        await self.runtime.shutdown()
        self.lease_api.close()


class Clock:
    """The monotonic clock, which a test can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def namespace(crd_sandbox: KubeSandbox) -> str:
    name = unique_name("fence")
    done = kubectl(crd_sandbox.kubeconfig_path, "create", "namespace", name)
    assert done.returncode == 0, done.stderr
    return name


@pytest.fixture
def loop_a() -> Iterator[LoopThread]:
    thread = LoopThread()
    try:
        yield thread
    finally:
        thread.close()


@pytest_asyncio.fixture
async def observer_api(crd_sandbox: KubeSandbox) -> AsyncIterator[KubeApi]:
    """The test's own connection: reads, and replica B's Lease writes."""
    api = KubeApi(load_configuration(str(crd_sandbox.kubeconfig_path)), max_workers=4)
    try:
        yield api
    finally:
        api.close()


def modelref(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelRef",
        "metadata": {"name": name, "namespace": namespace, "labels": {LABEL_SYNC: "s"}},
        "spec": {"model": {"id": name, "name": name, "fqn": f"model:t/r/{name}"}},
    }


async def names(api: KubeApi, namespace: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in await list_modelrefs(api, namespace, "s"))


async def start_replica_a(
    loop_a: LoopThread,
    sandbox: KubeSandbox,
    lease: str,
    clock: Callable[[], float] = time.monotonic,
    timing: ElectionTiming = TIMING,
) -> ReplicaA:
    async def start() -> ReplicaA:
        replica = ReplicaA(str(sandbox.kubeconfig_path), lease, clock, timing)
        replica.elector.start()
        return replica

    replica = await loop_a.run(start())
    await eventually(lambda: replica.leading, "replica A to lead")
    return replica


async def test_a_blocked_leader_sends_no_write_after_a_takeover_and_steps_down(
    crd_sandbox: KubeSandbox, loop_a: LoopThread, observer_api: KubeApi, namespace: str
) -> None:
    lease = unique_name("lease")
    a = await start_replica_a(loop_a, crd_sandbox, lease)
    b_stops: list[str] = []

    async def started() -> None:
        pass

    async def stopped() -> None:
        b_stops.append("stopped")

    b = LeaderElector(
        observer_api,
        LeaderElectionConfig("default", lease, "b_0000000b", TIMING),
        on_started=started,
        on_stopped=stopped,
    )
    blocked, unblock = threading.Event(), threading.Event()

    async def block() -> float:
        """A blocking call in a coroutine: A's event loop (and so its election) stalls."""
        start = time.monotonic()
        blocked.set()
        unblock.wait(WAIT)
        return time.monotonic() - start

    try:
        b.start()
        await asyncio.sleep(2 * TIMING.retry_period)
        assert a.leading
        assert not b.leading
        writes_before = crd_sandbox.stats.total_writes(MODELREFS)
        blocking = loop_a.submit(block())
        # Queued on A's loop behind the block: runs the moment the loop runs again.
        queued = loop_a.submit(
            create_modelref(a.runtime.api, namespace, modelref(namespace, "queued"))
        )
        assert await asyncio.to_thread(blocked.wait, WAIT)
        await eventually(lambda: b.leading, "replica B to take the Lease")

        # A's loop has not run since: it still counts itself the leader...
        assert a.runtime.leading
        assert a.elector.leading
        # ...but a write from one of its threads goes by the clock and is not sent.
        with pytest.raises(KubeWriteFenced, match="not sent"):
            await create_modelref(a.runtime.api, namespace, modelref(namespace, "from-a-thread"))

        unblock.set()
        assert await asyncio.wait_for(asyncio.wrap_future(blocking), WAIT) > TIMING.renew_deadline
        with pytest.raises(KubeWriteFenced):
            await asyncio.wait_for(asyncio.wrap_future(queued), WAIT)
        took = await eventually(lambda: not a.runtime.leading, "replica A to stop leading")
        assert took < TIMING.renew_deadline, "A steps down as soon as its loop runs"
        assert not a.elector.leading

        assert crd_sandbox.stats.total_writes(MODELREFS) == writes_before  # nothing reached it
        assert await names(observer_api, namespace) == []
        current = await read_lease(observer_api, "default", lease)
        assert current is not None
        assert current.spec.holder == "b_0000000b"
        assert b.leading
        assert not b_stops
    finally:
        unblock.set()
        await b.stop()
        await loop_a.run(a.close())


async def test_a_healthy_leader_keeps_writing_past_its_renew_deadline(
    crd_sandbox: KubeSandbox, loop_a: LoopThread, observer_api: KubeApi, namespace: str
) -> None:
    a = await start_replica_a(loop_a, crd_sandbox, unique_name("lease"))
    try:
        start, written = time.monotonic(), 0
        while time.monotonic() - start < TIMING.renew_deadline + 0.5:  # renewals keep it open
            await create_modelref(a.runtime.api, namespace, modelref(namespace, f"m{written}"))
            written += 1
            await asyncio.sleep(0.1)
        assert written >= 3
        assert len(await names(observer_api, namespace)) == written
        assert a.leading
    finally:
        await loop_a.run(a.close())


async def test_a_refused_write_wakes_the_election_to_step_down_at_once(
    crd_sandbox: KubeSandbox, loop_a: LoopThread, observer_api: KubeApi, namespace: str
) -> None:
    """The clock alone closes the fence: moved past the renew deadline between two rounds,
    the next write is refused and the replica stops leading without waiting for its round."""
    clock = Clock()
    slow = ElectionTiming(lease_duration=6.0, renew_deadline=4.0, retry_period=3.0)
    a = await start_replica_a(loop_a, crd_sandbox, unique_name("lease"), clock, slow)
    try:
        await create_modelref(a.runtime.api, namespace, modelref(namespace, "before"))
        writes_before = crd_sandbox.stats.total_writes(MODELREFS)
        clock.offset += slow.renew_deadline  # the next round is still seconds away
        with pytest.raises(KubeWriteFenced):
            await create_modelref(a.runtime.api, namespace, modelref(namespace, "after"))
        took = await eventually(lambda: not a.runtime.leading, "replica A to stop leading")
        assert took < slow.retry_period / 2, "woken by the refused write, not by its timer"
        assert crd_sandbox.stats.total_writes(MODELREFS) == writes_before
        assert await names(observer_api, namespace) == ["before"]
    finally:
        await loop_a.run(a.close())


async def test_without_leader_election_writes_are_always_allowed(
    crd_sandbox: KubeSandbox, observer_api: KubeApi, namespace: str
) -> None:
    runtime = OperatorRuntime(
        OperatorConfig(), load_configuration(str(crd_sandbox.kubeconfig_path))
    )
    try:
        await create_modelref(runtime.api, namespace, modelref(namespace, "single"))
        assert await names(observer_api, namespace) == ["single"]
    finally:
        await runtime.shutdown()
