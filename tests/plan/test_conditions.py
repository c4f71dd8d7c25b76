"""The ModelCatalogSync status block, its conditions, and when failure Events go out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from modelsync.api.conditions import Condition, ready
from modelsync.api.sync import CatalogCounts, ModelCatalogSyncStatus
from modelsync.plan import (
    ModelFailure,
    SyncOutcome,
    SyncResult,
    failure_event_needed,
    plan_sync,
    sync_status,
)
from plan import factories as f
from plan.cluster import Cluster

CATALOG = CatalogCounts(models_listed=3, pages=1, requests=1, skipped=0)
LATER = f.NOW + timedelta(minutes=5)


def _conditions(status: ModelCatalogSyncStatus) -> dict[str, tuple[str, str, str | None]]:
    return {c.type: (c.status, c.reason, c.last_transition_time) for c in status.conditions}


def _synced_status(old: Any = None, now: Any = f.NOW) -> ModelCatalogSyncStatus:
    plan = plan_sync([f.model("a"), f.model("b")], f.spec(), [], sync=f.SYNC, now=now)
    return sync_status(
        old,
        SyncResult.from_plan(plan, CATALOG),
        generation=4,
        now=now,
        next_sync_time=now + timedelta(minutes=5),
        reconcile_requested_at="r1",
    )


def test_successful_sync_status() -> None:
    status = _synced_status()
    body = status.to_k8s()
    assert body["observedGeneration"] == 4
    assert body["lastSyncTime"] == body["lastSuccessfulSyncTime"] == "2024-06-01T12:00:00Z"
    assert body["nextSyncTime"] == "2024-06-01T12:05:00Z"
    assert body["lastHandledReconcileAt"] == "r1"
    assert body["catalog"] == {"modelsListed": 3, "pages": 1, "requests": 1, "skipped": 0}
    assert body["modelRefs"]["selected"] == 2
    assert body["modelRefs"]["created"] == 2
    assert _conditions(status) == {
        "Ready": ("True", "Synced", "2024-06-01T12:00:00Z"),
        "Reconciling": ("False", "Synced", "2024-06-01T12:00:00Z"),
        "Stalled": ("False", "Synced", "2024-06-01T12:00:00Z"),
    }
    assert all(c.observed_generation == 4 for c in status.conditions)
    assert "2 models selected, 0 retained, 0 failed" in status.conditions[0].message


def test_catalog_failure_keeps_the_last_good_numbers() -> None:
    good = _synced_status()
    failed = sync_status(
        good.to_k8s(),
        SyncResult(SyncOutcome.CATALOG_UNAVAILABLE, "GET /models: 503 Service Unavailable"),
        generation=4,
        now=LATER,
        next_sync_time=LATER + timedelta(seconds=20),
    )
    body = failed.to_k8s()
    assert body["lastSyncTime"] == "2024-06-01T12:05:00Z"
    assert body["lastSuccessfulSyncTime"] == "2024-06-01T12:00:00Z"
    assert body["modelRefs"] == good.to_k8s()["modelRefs"]
    assert body["catalog"] == good.to_k8s()["catalog"]
    assert body["lastHandledReconcileAt"] == "r1"
    assert _conditions(failed)["Ready"] == ("False", "CatalogUnavailable", "2024-06-01T12:05:00Z")
    assert _conditions(failed)["Stalled"] == ("False", "CatalogUnavailable", "2024-06-01T12:00:00Z")
    assert failed.conditions[0].message == "GET /models: 503 Service Unavailable"


@pytest.mark.parametrize(
    "outcome",
    [SyncOutcome.SECRET_NOT_FOUND, SyncOutcome.INVALID_SPEC, SyncOutcome.CATALOG_NOT_ALLOWED],
)
def test_config_errors_stall(outcome: SyncOutcome) -> None:
    status = sync_status(None, SyncResult(outcome, "explain"), generation=2, now=f.NOW)
    conds = _conditions(status)
    assert conds["Stalled"][:2] == ("True", outcome.value)
    assert conds["Ready"][:2] == ("False", outcome.value)
    assert conds["Reconciling"][:2] == ("False", outcome.value)
    assert status.last_successful_sync_time is None
    assert status.observed_generation == 2


@pytest.mark.parametrize(
    "outcome",
    [SyncOutcome.CATALOG_UNAVAILABLE, SyncOutcome.UNAUTHORIZED, SyncOutcome.INVALID_RESPONSE],
)
def test_transient_failures_do_not_stall(outcome: SyncOutcome) -> None:
    status = sync_status(None, SyncResult(outcome, "x"), generation=1, now=f.NOW)
    assert _conditions(status)["Stalled"][0] == "False"
    assert _conditions(status)["Ready"][:2] == ("False", outcome.value)


def test_deletion_guard_makes_ready_false() -> None:
    models = [f.model(f"m{i}") for i in range(3)]
    cluster = Cluster()
    cluster.apply(plan_sync(models, f.spec(), [], sync=f.SYNC, now=f.NOW))
    spec = f.spec(deletionPolicy="Delete", maxDeletions=1)
    plan = plan_sync([], spec, cluster.listed(), sync=f.SYNC, now=f.NOW)
    status = sync_status(None, SyncResult.from_plan(plan), generation=1, now=f.NOW)
    assert _conditions(status)["Ready"][:2] == ("False", "DeletionGuardTriggered")
    assert "maxDeletions" in status.conditions[0].message
    assert status.last_successful_sync_time is None
    assert status.model_refs is not None
    assert status.model_refs.retained == 3


def test_suspended() -> None:
    good = _synced_status()
    status = sync_status(good, SyncResult(SyncOutcome.SUSPENDED), generation=5, now=LATER)
    assert _conditions(status)["Ready"][:2] == ("False", "Suspended")
    assert status.last_sync_time == good.last_sync_time  # no attempt was made
    assert status.next_sync_time is None
    assert status.to_k8s_patch()["nextSyncTime"] is None  # cleared by the merge patch


def test_failures_are_listed_sorted_and_counted() -> None:
    plan = plan_sync([f.model()], f.spec(), [], sync=f.SYNC, now=f.NOW)
    extra = [
        ModelFailure("model:acme/z/z", "OwnedByAnotherSync", "taken"),
        ModelFailure("model:acme/a/a", "WriteFailed", "409"),
    ]
    result = SyncResult.from_plan(plan, extra_failures=extra)
    status = sync_status(None, result, generation=1, now=f.NOW)
    assert [x.model for x in status.failures] == ["model:acme/a/a", "model:acme/z/z"]
    assert status.model_refs is not None
    assert status.model_refs.failed == 2


def test_transition_time_moves_only_when_status_changes() -> None:
    first = _synced_status()
    second = _synced_status(first.to_k8s(), now=LATER)
    assert _conditions(second)["Ready"][2] == "2024-06-01T12:00:00Z"
    assert second.last_sync_time == "2024-06-01T12:05:00Z"


def test_mangled_old_status_is_tolerated() -> None:
    status = _synced_status({"conditions": [{"type": "Ready"}], "catalog": "junk"})
    assert _conditions(status)["Ready"][:2] == ("True", "Synced")


def _r(ok: bool, reason: str) -> list[Condition]:
    return [ready(ok, reason, "m")]


def test_failure_event_only_on_flip_or_new_reason() -> None:
    assert failure_event_needed([], _r(False, "CatalogUnavailable"))
    assert failure_event_needed(_r(True, "Synced"), _r(False, "CatalogUnavailable"))
    assert not failure_event_needed(
        _r(False, "CatalogUnavailable"), _r(False, "CatalogUnavailable")
    )
    assert failure_event_needed(_r(False, "CatalogUnavailable"), _r(False, "Unauthorized"))
    assert not failure_event_needed(_r(False, "Unauthorized"), _r(True, "Synced"))
    assert not failure_event_needed(_r(True, "Synced"), _r(False, "Suspended"))
    raw_old = [{"type": "Ready", "status": "False", "reason": "InvalidSpec", "message": "x"}]
    assert not failure_event_needed(raw_old, _r(False, "InvalidSpec"))
    assert failure_event_needed(raw_old, [c.to_k8s() for c in _r(False, "SecretNotFound")])
