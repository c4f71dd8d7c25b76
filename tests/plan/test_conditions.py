"""The ModelCatalogSync status block, its conditions, and when failure Events go out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsync.api.conditions import Condition, get_condition, ready
from modelsync.api.modelcatalogsync import CatalogCounts, ModelCatalogSyncStatus, ModelRefCounts
from modelsync.plan import (
    DeletionGuard,
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
    plan = plan_sync(
        [f.model("a"), f.model("b")], f.spec(), [], sync=f.SYNC, now=now, listing_complete=True
    )
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
    [
        SyncOutcome.SECRET_NOT_FOUND,
        SyncOutcome.INVALID_SPEC,
        SyncOutcome.CATALOG_NOT_ALLOWED,
        SyncOutcome.SECRET_NOT_OPTED_IN,
        SyncOutcome.INVALID_TOKEN,
    ],
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
    [
        SyncOutcome.CATALOG_UNAVAILABLE,
        SyncOutcome.UNAUTHORIZED,
        SyncOutcome.INVALID_RESPONSE,
        SyncOutcome.INCONSISTENT_LISTING,
        SyncOutcome.RESPONSE_TOO_LARGE,
        SyncOutcome.SYNC_TIMED_OUT,
        SyncOutcome.INTERNAL_ERROR,
    ],
)
def test_transient_failures_do_not_stall(outcome: SyncOutcome) -> None:
    status = sync_status(None, SyncResult(outcome, "x"), generation=1, now=f.NOW)
    assert _conditions(status)["Stalled"][0] == "False"
    assert _conditions(status)["Ready"][:2] == ("False", outcome.value)


def test_deletion_guard_makes_ready_false() -> None:
    models = [f.model(f"m{i}") for i in range(3)]
    cluster = Cluster()
    cluster.apply(plan_sync(models, f.spec(), [], sync=f.SYNC, now=f.NOW, listing_complete=True))
    spec = f.spec(deletionPolicy="Delete", maxDeletions=1)
    plan = plan_sync([], spec, cluster.listed(), sync=f.SYNC, now=f.NOW, listing_complete=True)
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
    plan = plan_sync([f.model()], f.spec(), [], sync=f.SYNC, now=f.NOW, listing_complete=True)
    extra = [
        ModelFailure("model:acme/z/z", "OwnedByAnotherSync", "taken"),
        ModelFailure("model:acme/a/a", "WriteFailed", "409"),
    ]
    result = SyncResult.from_plan(plan, extra_failures=extra)
    status = sync_status(None, result, generation=1, now=f.NOW)
    assert [x.model for x in status.failures] == ["model:acme/a/a", "model:acme/z/z"]
    assert status.model_refs is not None
    assert status.model_refs.failed == 2
    assert _conditions(status)["Ready"][:2] == ("False", "ModelsFailed")


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


def test_outcome_values_are_the_agreed_reasons() -> None:
    assert {o.name: o.value for o in SyncOutcome if o.stalls} == {
        "SECRET_NOT_FOUND": "SecretNotFound",
        "INVALID_SPEC": "InvalidSpec",
        "CATALOG_NOT_ALLOWED": "CatalogNotAllowed",
        "SECRET_NOT_OPTED_IN": "SecretNotOptedIn",
        "INVALID_TOKEN": "InvalidToken",
    }
    assert {o.name: o.value for o in SyncOutcome if not o.stalls} == {
        "SYNCED": "Synced",
        "CATALOG_UNAVAILABLE": "CatalogUnavailable",
        "UNAUTHORIZED": "Unauthorized",
        "INVALID_RESPONSE": "InvalidResponse",
        "SUSPENDED": "Suspended",
        "INCONSISTENT_LISTING": "InconsistentListing",
        "RESPONSE_TOO_LARGE": "ResponseTooLarge",
        "SYNC_TIMED_OUT": "SyncTimedOut",
        "INTERNAL_ERROR": "InternalError",
    }


def _ready_of(status: ModelCatalogSyncStatus) -> Condition:
    found = get_condition(status.conditions, "Ready")
    assert found is not None
    return found


def test_inconsistent_listing_is_not_ready_and_says_nothing_was_removed() -> None:
    good = _synced_status()
    cluster = Cluster()
    cluster.apply(
        plan_sync(
            [f.model("a"), f.model("b")],
            f.spec(),
            [],
            sync=f.SYNC,
            now=f.NOW,
            listing_complete=True,
        )
    )
    problem = "page at offset 100 was empty before the reported total 250"
    plan = plan_sync(
        [f.model("a")],
        f.spec(deletionPolicy="Delete"),
        cluster.listed(),
        sync=f.SYNC,
        now=LATER,
        listing_complete=False,
        listing_problem=problem,
    )
    result = SyncResult.from_plan(plan, CATALOG)
    assert (result.listing_complete, result.listing_problem) == (False, problem)
    status = sync_status(good, result, generation=4, now=LATER)
    ready_now = _ready_of(status)
    assert (ready_now.status, ready_now.reason) == ("False", "InconsistentListing")
    assert problem in ready_now.message
    assert "nothing was deleted or marked removed" in ready_now.message
    assert _conditions(status)["Stalled"][0] == "False"
    assert status.last_successful_sync_time == good.last_successful_sync_time
    assert status.last_sync_time == "2024-06-01T12:05:00Z"
    assert failure_event_needed(good.conditions, status.conditions)
    again = sync_status(status, result, generation=4, now=LATER + timedelta(minutes=1))
    assert not failure_event_needed(status.conditions, again.conditions)
    # Once the catalog behaves, Ready comes back and the success time moves.
    healed = _synced_status(again, now=LATER + timedelta(minutes=2))
    assert _ready_of(healed).status == "True"
    assert healed.last_successful_sync_time == "2024-06-01T12:07:00Z"


def test_every_model_owned_by_another_sync_is_not_ready() -> None:
    models = [f.model("a"), f.model("b")]
    cluster = Cluster()
    cluster.apply(
        plan_sync(models, f.spec(), [], sync=f.OTHER_SYNC, now=f.NOW, listing_complete=True)
    )
    plan = plan_sync(
        models, f.spec(), cluster.listed(), sync=f.SYNC, now=f.NOW, listing_complete=True
    )
    assert plan.write_count == 0
    status = sync_status(None, SyncResult.from_plan(plan, CATALOG), generation=1, now=f.NOW)
    ready_now = _ready_of(status)
    assert (ready_now.status, ready_now.reason) == ("False", "ModelsFailed")
    assert ready_now.message == (
        "2 of 2 selected models failed (2 OwnedByAnotherSync); 0 synced; see status.failures"
    )
    assert status.last_successful_sync_time is None
    assert [x.reason for x in status.failures] == ["OwnedByAnotherSync"] * 2


def test_models_failed_message_counts_each_reason() -> None:
    failures = [
        ModelFailure("model:acme/r/a", "OwnedByAnotherSync", "x"),
        ModelFailure("model:acme/r/b", "VersionLookupFailed", "x"),
        ModelFailure("model:acme/r/c", "OwnedByAnotherSync", "x"),
    ]
    counts = ModelRefCounts(selected=40, unchanged=37, failed=3)
    result = SyncResult(SyncOutcome.SYNCED, ref_counts=counts, failures=failures)
    status = sync_status(None, result, generation=1, now=f.NOW)
    assert _ready_of(status).message == (
        "3 of 40 selected models failed (2 OwnedByAnotherSync, 1 VersionLookupFailed); "
        "37 synced; see status.failures"
    )
    assert not result.ready


def test_a_model_without_a_deployable_version_is_not_a_failure() -> None:
    m = f.model(latest=f.version(number=2, deployable=False))
    plan = plan_sync(
        [m], f.spec(), [], sync=f.SYNC, now=f.NOW, listing_complete=True, resolutions={m.id: None}
    )
    status = sync_status(None, SyncResult.from_plan(plan), generation=1, now=f.NOW)
    assert _conditions(status)["Ready"][:2] == ("True", "Synced")


def test_guard_comes_before_listing_and_failures() -> None:
    guard = DeletionGuard(3, 1, "3 ModelRefs left the selection, more than maxDeletions (1)")
    failure = ModelFailure("model:acme/r/a", "OwnedByAnotherSync", "x")
    result = SyncResult(SyncOutcome.SYNCED, guard=guard, failures=[failure], listing_complete=False)
    assert _ready_of(sync_status(None, result, generation=1, now=f.NOW)).reason == (
        "DeletionGuardTriggered"
    )
    result = SyncResult(SyncOutcome.SYNCED, failures=[failure], listing_complete=False)
    message = _ready_of(sync_status(None, result, generation=1, now=f.NOW)).message
    assert message.startswith(
        "inconsistent catalog listing: the listing could not be shown to be complete; "
        "nothing was deleted or marked removed"
    )
    assert "1 of 1 selected models failed (1 OwnedByAnotherSync)" in message


def test_models_failed_event_once_per_transition() -> None:
    failure = ModelFailure("model:acme/r/a", "OwnedByAnotherSync", "x")
    counts = ModelRefCounts(selected=1, failed=1)
    result = SyncResult(SyncOutcome.SYNCED, ref_counts=counts, failures=[failure])
    good = _synced_status()
    first = sync_status(good, result, generation=4, now=LATER)
    assert failure_event_needed(good.conditions, first.conditions)
    second = sync_status(first, result, generation=4, now=LATER + timedelta(minutes=5))
    assert not failure_event_needed(first.conditions, second.conditions)


_REASONS = ["OwnedByAnotherSync", "VersionLookupFailed", "NameConflict", "WriteFailed"]


@st.composite
def synced_results(draw: st.DrawFn) -> SyncResult:
    failures = [
        ModelFailure(f"model:acme/r/m{i}", draw(st.sampled_from(_REASONS)), "why")
        for i in range(draw(st.integers(0, 4)))
    ]
    selected = draw(st.integers(0, 6))
    guard = draw(st.none() | st.builds(DeletionGuard, st.integers(2, 9), st.just(1), st.just("g")))
    return SyncResult(
        SyncOutcome.SYNCED,
        catalog=CATALOG,
        ref_counts=ModelRefCounts(selected=selected, failed=len(failures)),
        failures=failures,
        guard=guard,
        listing_complete=draw(st.booleans()),
        listing_problem=draw(st.sampled_from(["", "total moved from 10 to 12"])),
    )


_GOOD = _synced_status()


@settings(max_examples=100, deadline=None)
@given(synced_results(), st.booleans())
def test_ready_true_exactly_when_complete_without_failures_or_guard(
    result: SyncResult, had_success: bool
) -> None:
    old = _GOOD if had_success else None
    status = sync_status(old, result, generation=3, now=LATER)
    ready_now = _ready_of(status)
    honest = result.listing_complete and not result.failures and result.guard is None
    assert (ready_now.status == "True") is honest
    assert result.ready is honest
    if result.guard is not None:
        expected = "DeletionGuardTriggered"
    elif not result.listing_complete:
        expected = "InconsistentListing"
    elif result.failures:
        expected = "ModelsFailed"
    else:
        expected = "Synced"
    assert ready_now.reason == expected
    previous = old.last_successful_sync_time if old is not None else None
    assert status.last_successful_sync_time == ("2024-06-01T12:05:00Z" if honest else previous)
    if result.failures and result.guard is None:
        assert f"{len(result.failures)} of " in ready_now.message
    assert failure_event_needed(old.conditions if old else [], status.conditions) is (not honest)
    assert _conditions(status)["Stalled"][0] == "False"
