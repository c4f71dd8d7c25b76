"""Which Events a sync pass posts (plan/events.py): version changes on the ModelRef and its sync,
Warning on a failure transition, Synced on a recovery, nothing in a steady sync."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from modelsync.api.conditions import Condition, ready, set_condition, stalled
from modelsync.plan import VersionChange, plan_sync
from modelsync.plan.events import (
    MAX_EVENT_MESSAGE,
    MAX_SYNC_VERSION_EVENTS,
    MovedRef,
    PlannedEvent,
    condition_events,
    modelref_version_event,
    sync_version_events,
)
from plan import factories as f
from plan.cluster import Cluster

# --- version changes ---------------------------------------------------------------------


def test_the_message_names_the_model_both_versions_and_the_aliases() -> None:
    fqn = "model:acme/churn/x"
    assert VersionChange(fqn, 3, 4).message == f"{fqn}: version 3 -> 4"
    assert (
        VersionChange(fqn, 3, 4, old_alias="v1.0.0", new_alias="v1.1.0").message
        == f"{fqn}: version 3 -> 4, alias v1.0.0 -> v1.1.0"
    )
    assert VersionChange(fqn, 3, 4, new_alias="v1.1.0").message == (
        f"{fqn}: version 3 -> 4, alias v1.1.0"
    )
    same = VersionChange(fqn, 3, 4, old_alias="stable", new_alias="stable")
    assert same.message == f"{fqn}: version 3 -> 4, alias stable"
    assert VersionChange(fqn, 3, None, old_alias="v1").message == (
        f"{fqn}: version 3 -> none, alias v1 -> none"
    )


def test_the_planner_carries_both_aliases_into_the_change() -> None:
    cluster = Cluster()
    first = plan_sync(
        [f.model(number=6, alias="v1.6")],
        f.spec(),
        [],
        sync=f.SYNC,
        now=f.NOW,
        listing_complete=True,
    )
    cluster.apply(first)
    moved = plan_sync(
        [f.model(number=7, alias="v1.7")],
        f.spec(),
        cluster.listed(),
        sync=f.SYNC,
        now=f.NOW + timedelta(minutes=1),
        listing_complete=True,
    )
    [update] = moved.updates
    assert update.version_change is not None
    assert update.version_change.message == (
        "model:acme/fraud/detector: version 6 -> 7, alias v1.6 -> v1.7"
    )
    assert modelref_version_event(update.version_change) == PlannedEvent(
        "Normal", "VersionChanged", update.version_change.message
    )


def test_a_first_sync_creates_and_changes_nothing() -> None:
    plan = plan_sync(
        [f.model(f"m{i}", number=i + 1) for i in range(50)],
        f.spec(),
        [],
        sync=f.SYNC,
        now=f.NOW,
        listing_complete=True,
    )
    assert len(plan.creates) == 50
    assert [u.version_change for u in plan.updates if u.version_change] == []


def _moved(count: int) -> list[MovedRef]:
    return [
        MovedRef(f"repo.model-{i:05d}", VersionChange(f"model:acme/repo/model-{i:05d}", i, i + 1))
        for i in range(count)
    ]


def test_up_to_the_limit_each_change_has_its_event_on_the_sync() -> None:
    moved = _moved(MAX_SYNC_VERSION_EVENTS)
    events = sync_version_events(list(reversed(moved)))
    assert len(events) == MAX_SYNC_VERSION_EVENTS
    assert [e.message for e in events] == [
        f"{m.change.message} (modelref/{m.name})" for m in moved
    ]  # by model fqn, whatever order the writes finished in
    assert {(e.event_type, e.reason) for e in events} == {("Normal", "VersionChanged")}
    assert sync_version_events([]) == ()


def test_beyond_the_limit_one_summary_names_what_fits() -> None:
    [summary] = sync_version_events(_moved(10_000))
    assert (summary.event_type, summary.reason) == ("Normal", "VersionChanged")
    assert len(summary.message) <= MAX_EVENT_MESSAGE
    assert summary.message.startswith("10000 ModelRefs moved to another version: ")
    assert "repo.model-00000 0 -> 1, repo.model-00001 1 -> 2" in summary.message
    assert summary.message.endswith("more; each ModelRef has its own VersionChanged Event")

    [few] = sync_version_events(_moved(MAX_SYNC_VERSION_EVENTS + 1))
    assert "and" not in few.message.split(": ", 1)[1].split(";")[0].replace("another", "")
    assert f"repo.model-{MAX_SYNC_VERSION_EVENTS:05d}" in few.message  # all of them fit


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,60}[a-z0-9])?", fullmatch=True),
            st.none() | st.integers(0, 10**12),
            st.none() | st.integers(0, 10**12),
            st.none() | st.text(min_size=1, max_size=300),
        ),
        max_size=40,
    ),
    st.integers(0, 15),
)
def test_sync_events_are_bounded_and_account_for_every_change(
    raw: list[tuple[str, int | None, int | None, str | None]], limit: int
) -> None:
    moved = [
        MovedRef(name, VersionChange(f"model:t/r/{name}", old, new, new_alias=alias))
        for name, old, new, alias in raw
    ]
    events = sync_version_events(moved, limit=limit)
    assert len(events) <= max(limit, 1)
    if not moved:
        assert events == ()
    elif len(moved) <= limit:
        assert len(events) == len(moved)
        for m in moved:
            assert any(m.name in e.message and m.change.message in e.message for e in events)
    else:
        [summary] = events
        assert len(summary.message) <= MAX_EVENT_MESSAGE
        assert summary.message.startswith(f"{len(moved)} ModelRefs moved")
    assert all(e.reason == "VersionChanged" and e.event_type == "Normal" for e in events)


# --- conditions --------------------------------------------------------------------------


def _ready(ok: bool, reason: str, message: str = "m", at: str | None = None) -> list[Condition]:
    condition = ready(ok, reason, message)
    return [condition.model_copy(update={"last_transition_time": at})]


def test_a_recovery_posts_synced_with_what_failed_and_since_when() -> None:
    old = _ready(False, "CatalogUnavailable", "down", at="2026-12-02T03:40:00Z")
    new = _ready(True, "Synced", "5 models selected, 0 retained, 0 failed")
    assert condition_events(old, new) == (
        PlannedEvent(
            "Normal",
            "Synced",
            "Ready again after CatalogUnavailable (not ready since 2026-12-02T03:40:00Z): "
            "5 models selected, 0 retained, 0 failed",
        ),
    )
    raw_old = [c.to_k8s() for c in old]  # as the API server holds them
    assert condition_events(raw_old, new) == condition_events(old, new)


def test_only_a_transition_posts_an_event() -> None:
    ok = _ready(True, "Synced")
    assert condition_events(ok, ok) == ()  # steady
    assert condition_events([], ok) == ()  # a first success is not a recovery
    assert condition_events(_ready(False, "Suspended"), ok) == ()  # resumed, not recovered
    assert condition_events(_ready(False, "X"), _ready(False, "X")) == ()  # still failing
    assert condition_events(ok, _ready(False, "Suspended")) == ()
    [warning] = condition_events(ok, _ready(False, "CatalogUnavailable", "down"))
    assert warning == PlannedEvent("Warning", "CatalogUnavailable", "down")
    [changed] = condition_events(_ready(False, "A"), _ready(False, "B", ""))
    assert changed == PlannedEvent("Warning", "B", "B")  # no message: the reason


def test_a_stalled_sync_warns_with_the_stalled_reason() -> None:
    new = [ready(False, "SecretNotFound", "r"), stalled("SecretNotFound", "Secret tfy missing")]
    [warning] = condition_events(_ready(True, "Synced"), new)
    assert warning == PlannedEvent("Warning", "SecretNotFound", "Secret tfy missing")


READY_STATES = st.sampled_from(
    [
        (True, "Synced"),
        (False, "CatalogUnavailable"),
        (False, "Unauthorized"),
        (False, "InvalidSpec"),
        (False, "Suspended"),
    ]
)


@given(st.lists(READY_STATES, min_size=1, max_size=30))
def test_events_over_a_history_of_passes(history: list[tuple[bool, str]]) -> None:
    """Whatever passes a sync goes through: at most one Event per pass, a Synced exactly at
    each False (not Suspended) -> True, a Warning exactly at each failure that starts or
    changes its reason, and nothing when Ready did not change."""
    held: list[Any] = []
    previous: tuple[bool, str] | None = None
    now = f.NOW
    for ok, reason in history:
        now += timedelta(seconds=30)
        conditions = set_condition(
            [c for c in held if isinstance(c, Condition)], ready(ok, reason, "m"), now
        )
        events = condition_events(held, conditions)
        assert len(events) <= 1
        recovered = previous is not None and not previous[0] and previous[1] != "Suspended" and ok
        failed = not ok and reason != "Suspended" and (previous is None or previous != (ok, reason))
        assert [e.reason for e in events if e.event_type == "Normal"] == (
            ["Synced"] if recovered else []
        )
        assert [e.reason for e in events if e.event_type == "Warning"] == (
            [reason] if failed else []
        )
        if previous == (ok, reason):
            assert events == ()
        held, previous = [c.to_k8s() for c in conditions], (ok, reason)
