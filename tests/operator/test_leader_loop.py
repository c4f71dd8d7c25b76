"""Leader election in one process: LeaderElector against the sandbox API server (its Lease
I/O, hand-over, losing the Lease), the standby registry, and the runtime's write fence."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from fixtures_kube import eventually, kubectl, start_sandbox, unique_name
from modelsync.api.constants import LABEL_SYNC
from modelsync.kube.client import KubeApi, load_configuration
from modelsync.kube.errors import KubeWriteFenced
from modelsync.kube.leases import LeaseSpec, read_lease, replace_lease
from modelsync.kube.modelrefs import create_modelref, list_modelrefs
from modelsync.runtime.app import OperatorRuntime
from modelsync.runtime.config import OperatorConfig
from modelsync.runtime.leader_decision import ElectionTiming
from modelsync.runtime.leader_loop import LeaderElectionConfig, LeaderElector
from modelsync.runtime.outcomes import PassKind
from modelsync.runtime.registry import SyncRegistry
from modelsync.runtime.worker import DriftEvent, Outcome, SyncWorker, WorkerKey
from modelsync_sandbox.kube import KubeSandbox

TIMING = ElectionTiming(lease_duration=1.0, renew_deadline=0.6, retry_period=0.1)
WAIT = 5.0  # every wait here is bounded by this


class Replicas:
    """Electors sharing one Lease; each records when it starts and stops leading, and no two
    may lead at once."""

    def __init__(self, api: KubeApi, namespace: str, name: str) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.active: set[str] = set()
        self.log: list[tuple[str, str, float]] = []
        self.electors: list[LeaderElector] = []

    def add(self, identity: str) -> LeaderElector:
        config = LeaderElectionConfig(self.namespace, self.name, identity, TIMING)
        elector = LeaderElector(
            self.api,
            config,
            on_started=self._callback(identity, "started"),
            on_stopped=self._callback(identity, "stopped"),
        )
        self.electors.append(elector)
        return elector

    def _callback(self, identity: str, what: str) -> Callable[[], Awaitable[None]]:
        async def record() -> None:
            if what == "started":
                assert not self.active, f"{identity} started while {self.active} lead"
                self.active.add(identity)
            else:
                self.active.discard(identity)
            self.log.append((identity, what, time.monotonic()))

        return record

    def leader(self) -> LeaderElector | None:
        leading = [e for e in self.electors if e.leading]
        assert len(leading) <= 1
        return leading[0] if leading else None

    async def lease(self) -> LeaseSpec:
        found = await read_lease(self.api, self.namespace, self.name)
        assert found is not None
        return found.spec


@pytest_asyncio.fixture
async def replicas(kube_sandbox: KubeSandbox) -> AsyncIterator[Replicas]:
    api = KubeApi(load_configuration(str(kube_sandbox.kubeconfig_path)), max_workers=4)
    group = Replicas(api, "default", unique_name("lease"))
    try:
        yield group
    finally:
        for elector in group.electors:
            await elector.stop()
        api.close()


async def test_one_leader_and_a_clean_hand_over(replicas: Replicas) -> None:
    a, b = replicas.add("a_00000001"), replicas.add("b_00000002")
    a.start()
    b.start()  # both find no Lease: one create wins, the other gets a 409 and waits
    await eventually(lambda: replicas.leader() is not None, "a leader")
    await asyncio.sleep(3 * TIMING.retry_period)  # renewals go on; nobody else starts
    first = replicas.leader()
    assert first is not None
    second = b if first is a else a
    lease = await replicas.lease()
    assert (lease.holder, lease.duration_seconds, lease.transitions) == (
        first.config.identity,
        1,
        0,
    )
    assert [what for _, what, _ in replicas.log] == ["started"]

    stopping = time.monotonic()
    await first.stop()  # stops leading, then releases the Lease
    assert replicas.log[-1][:2] == (first.config.identity, "stopped")
    took = await eventually(lambda: second.leading, "the standby to take over")
    assert took < 2 * TIMING.retry_period + 0.5, "a released Lease is taken at the next try"
    assert replicas.log[-1][:2] == (second.config.identity, "started")
    assert replicas.log[-1][2] - stopping < TIMING.lease_duration
    lease = await replicas.lease()
    assert (lease.holder, lease.transitions) == (second.config.identity, 1)


async def test_a_leader_that_sees_another_holder_stops_at_once(replicas: Replicas) -> None:
    elector = replicas.add("a_00000001")
    elector.start()
    await eventually(lambda: elector.leading, "the leader")
    current = await read_lease(replicas.api, replicas.namespace, replicas.name)
    assert current is not None
    intruder = LeaseSpec("intruder_0", 1, current.spec.acquire_time, current.spec.renew_time, 5)
    await replace_lease(replicas.api, current, intruder)  # (a conflict would be a retry)
    await eventually(lambda: not elector.leading, "the leader to give up", 1.0)
    assert replicas.log[-1][:2] == ("a_00000001", "stopped")
    # Nobody renews the intruder's Lease: once it expires the elector takes it back.
    took = await eventually(lambda: elector.leading, "the Lease to be taken back")
    assert took >= TIMING.lease_duration - 2 * TIMING.retry_period
    lease = await replicas.lease()
    assert (lease.holder, lease.transitions) == ("a_00000001", 6)


async def test_a_leader_cut_off_from_the_api_stops_by_its_renew_deadline(
    tmp_path: Path,
) -> None:
    sandbox = start_sandbox(tmp_path)
    api = KubeApi(load_configuration(str(sandbox.kubeconfig_path)), max_workers=2)
    group = Replicas(api, "default", "modelsync-leader")
    elector = group.add("a_00000001")
    try:
        elector.start()
        await eventually(lambda: elector.leading, "the leader")
        await asyncio.sleep(TIMING.retry_period)
        cut = time.monotonic()
        await asyncio.to_thread(sandbox.stop_in_thread)
        await eventually(lambda: not elector.leading, "the leader to stop", 2.0)
        stopped = group.log[-1]
        assert stopped[:2] == ("a_00000001", "stopped")
        # It renewed at most a retry period before the cut, and stops at that + deadline.
        after = stopped[2] - cut
        assert TIMING.renew_deadline - TIMING.retry_period - 0.05 <= after
        assert after <= TIMING.renew_deadline + 0.3
    finally:
        await elector.stop()  # the Lease cannot be released: logged, not raised
        api.close()
        sandbox.stop_in_thread()


# --- the registry of a standby -----------------------------------------------------------


class SlowRunner:
    """Syncs take `seconds` (to be cancelled mid-way); counts passes and cancellations."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = 0
        self.cancelled = 0
        self.closed = False

    async def sync(self, body: Mapping[str, Any], failures: int) -> Outcome:
        self.started += 1
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return Outcome(PassKind.SUCCESS, 60.0)

    def wants_repair(self, event_type: str | None, body: Mapping[str, Any]) -> bool:
        return True

    async def repair(self, events: Mapping[str, DriftEvent]) -> None:
        raise AssertionError("no repair expected")

    async def close(self) -> None:
        self.closed = True


def sync_object(name: str, uid: str = "u1") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "uid": uid, "generation": 1}}


class Factory:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.runners: dict[WorkerKey, list[SlowRunner]] = {}
        self.forgotten: list[WorkerKey] = []

    def __call__(self, key: WorkerKey, body: Mapping[str, Any]) -> SyncWorker:
        runner = SlowRunner(self.seconds)
        self.runners.setdefault(key, []).append(runner)
        return SyncWorker(
            key,
            body,
            runner=runner,
            probe_secret=self._no_secret,
            secret_check_interval=60.0,
        )

    @staticmethod
    async def _no_secret(namespace: str, name: str) -> str | None:
        return None


async def test_a_standby_registry_follows_the_watch_but_runs_nothing() -> None:
    factory = Factory(seconds=30.0)
    registry = SyncRegistry(factory, on_forget=factory.forgotten.append, active=False)
    await registry.observe(None, sync_object("a"))
    await registry.observe("ADDED", sync_object("b"))
    await registry.observe("ADDED", sync_object("gone"))
    await registry.observe("DELETED", sync_object("gone"))
    assert (len(registry), registry.known) == (0, 2)
    assert not factory.runners

    await registry.activate()  # takes over: every known sync starts at once
    assert set(factory.runners) == {("ns", "a"), ("ns", "b")}
    await eventually(
        lambda: all(r[-1].started == 1 for r in factory.runners.values()), "both syncs started"
    )
    assert registry.by_label("ns", "a") is not None

    await registry.deactivate()  # loses the Lease: syncs in flight are cancelled
    runners = [r[-1] for r in factory.runners.values()]
    assert all(r.cancelled == 1 and r.closed for r in runners)
    assert len(registry) == 0
    assert sorted(factory.forgotten) == [("ns", "a"), ("ns", "b")]  # their series go

    await registry.observe("MODIFIED", sync_object("a", uid="u2"))  # recreated meanwhile
    await registry.activate()  # a new term: fresh loops from the latest objects
    worker = registry.get("ns", "a")
    assert worker is not None
    assert worker.uid == "u2"
    assert len(factory.runners["ns", "a"]) == 2
    await registry.stop_all()
    await registry.activate()  # shut down for good
    assert len(registry) == 0


# --- the runtime: no writes while standing by ----------------------------------------------


async def test_a_standby_runtime_sends_no_writes(crd_sandbox: KubeSandbox) -> None:
    namespace = unique_name("standby")
    done = kubectl(crd_sandbox.kubeconfig_path, "create", "namespace", namespace)
    assert done.returncode == 0, done.stderr
    configuration = load_configuration(str(crd_sandbox.kubeconfig_path))
    runtime = OperatorRuntime(OperatorConfig(), configuration, leading=False)

    def ref(name: str) -> dict[str, Any]:
        return {
            "apiVersion": "modelsync.dev/v1alpha1",
            "kind": "ModelRef",
            "metadata": {"name": name, "namespace": namespace, "labels": {LABEL_SYNC: "s"}},
            "spec": {"model": {"id": name, "name": name, "fqn": f"model:t/r/{name}"}},
        }

    try:
        before = crd_sandbox.stats.total_writes()
        with pytest.raises(KubeWriteFenced, match="not sent"):
            await create_modelref(runtime.api, namespace, ref("standby"))
        assert crd_sandbox.stats.total_writes() == before  # it never reached the server
        assert await list_modelrefs(runtime.api, namespace, "s") == []  # reads go on
        await runtime.start_leading()
        await create_modelref(runtime.api, namespace, ref("leader"))
        await runtime.stop_leading()
        with pytest.raises(KubeWriteFenced):
            await create_modelref(runtime.api, namespace, ref("lost"))
        names = [o["metadata"]["name"] for o in await list_modelrefs(runtime.api, namespace, "s")]
        assert names == ["leader"]
    finally:
        await runtime.shutdown()
