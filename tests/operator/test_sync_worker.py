"""The per-sync loop: what makes it sync, when, and when not (a scripted Runner, no I/O)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from modelsync.runtime.outcomes import PassKind
from modelsync.runtime.worker import DriftEvent, Outcome, SyncWorker

WAIT = 2.0  # every wait in this file is bounded by this


def sync_body(
    generation: int = 1,
    trigger: str | None = None,
    handled: str | None = None,
    models: str | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "s", "namespace": "ns", "uid": "u1", "generation": generation}
    if trigger is not None:
        meta["annotations"] = {"modelsync.dev/reconcile-requested-at": trigger}
        if models is not None:
            meta["annotations"]["modelsync.dev/reconcile-models"] = models
    body: dict[str, Any] = {"metadata": meta, "spec": {}}
    if handled is not None:
        body["status"] = {"lastHandledReconcileAt": handled}
    return body


class ScriptedRunner:
    def __init__(self, outcomes: list[Outcome] | None = None) -> None:
        self.outcomes = outcomes or []
        self.calls: list[tuple[Mapping[str, Any], int]] = []
        self.synced = asyncio.Event()
        self.repairs: list[Mapping[str, DriftEvent]] = []
        self.repaired = asyncio.Event()
        self.drifted: set[str] = set()
        self.closed = False
        self.refreshes: list[tuple[Mapping[str, Any], list[str]]] = []
        self.refreshed = asyncio.Event()

    async def sync(self, body: Mapping[str, Any], failures: int) -> Outcome:
        self.calls.append((body, failures))
        self.synced.set()
        if self.outcomes:
            return self.outcomes.pop(0)
        return Outcome(PassKind.SUCCESS, 60.0)

    def wants_repair(self, event_type: str | None, body: Mapping[str, Any]) -> bool:
        return str(body["metadata"]["name"]) in self.drifted

    async def repair(self, events: Mapping[str, DriftEvent]) -> None:
        self.repairs.append(dict(events))
        self.repaired.set()

    async def refresh_models(self, body: Mapping[str, Any], models: Sequence[str]) -> object:
        self.refreshes.append((body, list(models)))
        self.refreshed.set()
        return None

    async def close(self) -> None:
        self.closed = True

    async def next_sync(self) -> None:
        await asyncio.wait_for(self.synced.wait(), WAIT)
        self.synced.clear()

    async def next_refresh(self) -> list[str]:
        await asyncio.wait_for(self.refreshed.wait(), WAIT)
        self.refreshed.clear()
        return self.refreshes[-1][1]


class SecretVersions:
    def __init__(self) -> None:
        self.version: str | None = "1"
        self.calls = 0

    async def __call__(self, namespace: str, name: str) -> str | None:
        self.calls += 1
        return self.version


def make_worker(
    runner: ScriptedRunner,
    body: dict[str, Any] | None = None,
    probe: SecretVersions | None = None,
    secret_check_interval: float = 0.02,
) -> SyncWorker:
    worker = SyncWorker(
        ("ns", "s"),
        body or sync_body(),
        runner=runner,
        probe_secret=probe or SecretVersions(),
        secret_check_interval=secret_check_interval,
    )
    worker.start()
    return worker


async def quiet(runner: ScriptedRunner, seconds: float = 0.1) -> None:
    """Assert no sync happens for `seconds`."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(runner.synced.wait(), seconds)


async def test_syncs_at_once_then_only_for_a_new_generation() -> None:
    runner = ScriptedRunner()
    worker = make_worker(runner)
    try:
        await runner.next_sync()
        worker.observe({**sync_body(1), "status": {"conditions": []}})  # our own status write
        await quiet(runner)
        worker.observe(sync_body(2))
        await runner.next_sync()
        assert runner.calls[-1][0]["metadata"]["generation"] == 2
    finally:
        await worker.stop()
    assert runner.closed


async def test_a_new_trigger_annotation_value_syncs_once() -> None:
    runner = ScriptedRunner()
    worker = make_worker(runner, sync_body(trigger="t1", handled="t1"))
    try:
        await runner.next_sync()  # the start-up sync
        worker.observe(sync_body(trigger="t1", handled="t1"))
        await quiet(runner)
        worker.observe(sync_body(trigger="t2", handled="t1"))
        await runner.next_sync()
        worker.observe(sync_body(trigger="t2", handled="t2"))
        await quiet(runner)
    finally:
        await worker.stop()


async def test_interval_and_backoff_delays_come_from_the_outcome() -> None:
    runner = ScriptedRunner(
        [
            Outcome(PassKind.FAILURE, 0.01),
            Outcome(PassKind.FAILURE, 0.01),
            Outcome(PassKind.SUCCESS, 0.01),
        ]
    )
    worker = make_worker(runner)
    try:
        for _ in range(4):
            await runner.next_sync()
        assert [failures for _, failures in runner.calls[:4]] == [0, 1, 2, 0]
    finally:
        await worker.stop()


async def test_suspended_has_no_timer_but_a_spec_change_wakes_it() -> None:
    runner = ScriptedRunner([Outcome(PassKind.SUSPENDED, None)])
    worker = make_worker(runner)
    try:
        await runner.next_sync()
        await quiet(runner, 0.15)
        worker.observe(sync_body(2))
        await runner.next_sync()
    finally:
        await worker.stop()


async def test_a_changed_secret_triggers_a_sync() -> None:
    probe = SecretVersions()
    runner = ScriptedRunner([Outcome(PassKind.STALLED, 60.0, {"tfy": None})])
    worker = make_worker(runner, probe=probe)
    try:
        await runner.next_sync()
        probe.version = None  # still missing: no sync
        await quiet(runner, 0.1)
        assert probe.calls >= 2
        probe.version = "7"  # the Secret appeared
        await runner.next_sync()
    finally:
        await worker.stop()


async def test_drift_is_handed_to_the_runner_outside_of_syncs() -> None:
    runner = ScriptedRunner()
    runner.drifted.add("fraud.a")
    worker = make_worker(runner)
    try:
        await runner.next_sync()
        worker.note_modelref("MODIFIED", {"metadata": {"name": "other"}})
        worker.note_modelref("DELETED", {"metadata": {"name": "fraud.a"}})
        await asyncio.wait_for(runner.repaired.wait(), WAIT)
        assert list(runner.repairs[0]) == ["fraud.a"]
        assert runner.repairs[0]["fraud.a"][0] == "DELETED"
    finally:
        await worker.stop()


async def test_a_crashing_sync_is_retried_not_fatal() -> None:
    class Crashing(ScriptedRunner):
        async def sync(self, body: Mapping[str, Any], failures: int) -> Outcome:
            await super().sync(body, failures)
            if failures == 0:
                raise RuntimeError("boom")
            return Outcome(PassKind.SUCCESS, 60.0)

    runner = Crashing()
    worker = make_worker(runner)
    try:
        await runner.next_sync()
        worker.observe(sync_body(2))
        await runner.next_sync()
        assert runner.calls[-1][1] == 1
    finally:
        await worker.stop()


async def test_a_trigger_naming_models_refreshes_them_instead_of_a_full_sync() -> None:
    runner = ScriptedRunner([Outcome(PassKind.SUCCESS, 60.0)])
    worker = make_worker(runner, sync_body(trigger="t1", handled="t1"))
    try:
        await runner.next_sync()
        due = worker.due
        assert due is not None
        worker.observe(sync_body(trigger="t2", handled="t1", models="churn/a,fraud/b"))
        assert await runner.next_refresh() == ["churn/a", "fraud/b"]
        assert (
            runner.refreshes[-1][0]["metadata"]["annotations"][
                "modelsync.dev/reconcile-requested-at"
            ]
            == "t2"
        )
        # The echo of the trigger comes back; the timed sync stays where it was.
        worker.observe(sync_body(trigger="t2", handled="t2", models="churn/a,fraud/b"))
        await quiet(runner)
        assert worker.due == due
        assert (worker.syncs, worker.refreshes) == (1, 1)
        assert len(runner.calls) == 1
        # A trigger without models is a full sync again.
        worker.observe(sync_body(trigger="t3", handled="t2"))
        await runner.next_sync()
        assert len(runner.refreshes) == 1
    finally:
        await worker.stop()


async def test_a_named_refresh_keeps_the_failure_count_and_the_backoff() -> None:
    runner = ScriptedRunner([Outcome(PassKind.FAILURE, 60.0), Outcome(PassKind.SUCCESS, 60.0)])
    worker = make_worker(runner)
    try:
        await runner.next_sync()
        due = worker.due
        worker.observe(sync_body(trigger="t1", models="churn/a"))
        await runner.next_refresh()
        assert worker.due == due
        worker.observe(sync_body(2, trigger="t1", models="churn/a"))
        await runner.next_sync()
        assert runner.calls[-1][1] == 1  # still one failure before this pass
    finally:
        await worker.stop()


async def test_a_full_sync_answers_a_named_request_made_with_it() -> None:
    runner = ScriptedRunner()
    worker = make_worker(runner, sync_body(trigger="t1", handled="t1"))
    try:
        await runner.next_sync()
        # A new generation and a named trigger seen together: one full sync covers both.
        worker.observe(sync_body(2, trigger="t2", handled="t1", models="churn/a"))
        await runner.next_sync()
        await quiet(runner)
        assert runner.refreshes == []
        # First sight of a named trigger nobody handled: the start-up full sync covers it.
        other = ScriptedRunner()
        fresh = make_worker(other, sync_body(trigger="t9", handled="t1", models="churn/a"))
        try:
            await other.next_sync()
            fresh.observe(sync_body(trigger="t9", handled="t1", models="churn/a"))
            await quiet(other)
            assert other.refreshes == []
        finally:
            await fresh.stop()
    finally:
        await worker.stop()


async def test_named_requests_during_a_full_sync_wait_for_it_then_run_once() -> None:
    release = asyncio.Event()

    class Slow(ScriptedRunner):
        async def sync(self, body: Mapping[str, Any], failures: int) -> Outcome:
            outcome = await super().sync(body, failures)
            await asyncio.wait_for(release.wait(), WAIT)
            return outcome

    runner = Slow()
    worker = make_worker(runner, sync_body(trigger="t1", handled="t1"))
    try:
        await runner.next_sync()  # the start-up sync, still running
        worker.observe(sync_body(trigger="t2", handled="t1", models="churn/a"))
        worker.observe(sync_body(trigger="t3", handled="t1", models="fraud/b"))
        await asyncio.sleep(0.05)
        assert runner.refreshes == []
        release.set()
        assert await runner.next_refresh() == ["churn/a", "fraud/b"]  # both requests, once
        await quiet(runner)
        assert len(runner.refreshes) == 1
        assert len(runner.calls) == 1
    finally:
        await worker.stop()


async def test_a_crashing_refresh_is_logged_not_fatal() -> None:
    class Crashing(ScriptedRunner):
        async def refresh_models(self, body: Mapping[str, Any], models: Sequence[str]) -> object:
            await super().refresh_models(body, models)
            raise RuntimeError("boom")

    runner = Crashing()
    worker = make_worker(runner)
    try:
        await runner.next_sync()
        worker.observe(sync_body(trigger="t1", models="churn/a"))
        await runner.next_refresh()
        worker.observe(sync_body(2, trigger="t1", models="churn/a"))
        await runner.next_sync()
    finally:
        await worker.stop()
