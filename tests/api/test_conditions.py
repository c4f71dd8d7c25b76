from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from modelsync.api.conditions import (
    MAX_MESSAGE_LENGTH,
    Condition,
    get_condition,
    is_true,
    ready,
    reconciling,
    remove_condition,
    set_condition,
    stalled,
)
from modelsync.api.constants import (
    CONDITION_READY,
    CONDITION_RECONCILING,
    CONDITION_STALLED,
    REASON_CATALOG_UNAVAILABLE,
    REASON_INVALID_SPEC,
    REASON_PROGRESSING,
    REASON_SYNCED,
)

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def test_new_condition_gets_now() -> None:
    result = set_condition([], ready(True, REASON_SYNCED, "ok", 3), T0)
    assert result == [
        Condition(
            type="Ready",
            status="True",
            reason="Synced",
            message="ok",
            last_transition_time="2024-05-01T10:00:00Z",
            observed_generation=3,
        )
    ]
    assert result[0].to_k8s() == {
        "type": "Ready",
        "status": "True",
        "reason": "Synced",
        "message": "ok",
        "lastTransitionTime": "2024-05-01T10:00:00Z",
        "observedGeneration": 3,
    }


def test_same_status_keeps_transition_time_but_takes_reason_and_message() -> None:
    first = set_condition([], ready(False, REASON_CATALOG_UNAVAILABLE, "timeout"), T0)
    second = set_condition(first, ready(False, "Unauthorized", "401", 4), T1)
    assert second[0].last_transition_time == "2024-05-01T10:00:00Z"
    assert (second[0].reason, second[0].message, second[0].observed_generation) == (
        "Unauthorized",
        "401",
        4,
    )


def test_status_change_moves_transition_time() -> None:
    first = set_condition([], ready(False, REASON_CATALOG_UNAVAILABLE, "timeout"), T0)
    second = set_condition(first, ready(True, REASON_SYNCED, ""), T1)
    assert second[0].last_transition_time == "2024-05-01T10:05:00Z"


def test_order_is_stable_and_duplicates_collapse() -> None:
    conds = [
        ready(True, REASON_SYNCED),
        reconciling(REASON_PROGRESSING),
        ready(True, REASON_SYNCED),
    ]
    result = set_condition(conds, ready(False, REASON_CATALOG_UNAVAILABLE), T0)
    assert [c.type for c in result] == [CONDITION_READY, CONDITION_RECONCILING]
    result = set_condition(result, stalled(REASON_INVALID_SPEC, "bad regex"), T0)
    assert [c.type for c in result] == [CONDITION_READY, CONDITION_RECONCILING, CONDITION_STALLED]
    result = set_condition(result, reconciling(REASON_PROGRESSING, active=False), T1)
    assert [c.type for c in result] == [CONDITION_READY, CONDITION_RECONCILING, CONDITION_STALLED]
    assert [c.type for c in remove_condition(result, CONDITION_RECONCILING)] == [
        CONDITION_READY,
        CONDITION_STALLED,
    ]


def test_getters() -> None:
    conds = set_condition([], ready(True, REASON_SYNCED), T0)
    conds = set_condition(conds, stalled(REASON_INVALID_SPEC, active=False), T0)
    assert is_true(conds, CONDITION_READY)
    assert not is_true(conds, CONDITION_STALLED)
    assert not is_true(conds, CONDITION_RECONCILING)
    found = get_condition(conds, CONDITION_STALLED)
    assert found is not None
    assert found.status == "False"
    assert get_condition(conds, "Other") is None


def test_long_messages_are_cut() -> None:
    cond = ready(False, REASON_CATALOG_UNAVAILABLE, "x" * (MAX_MESSAGE_LENGTH + 10))
    assert len(cond.message) == MAX_MESSAGE_LENGTH


def test_naive_and_offset_times_are_written_as_utc() -> None:
    naive = set_condition([], ready(True, REASON_SYNCED), datetime(2024, 5, 1, 10, 0, 0, 999))
    assert naive[0].last_transition_time == "2024-05-01T10:00:00Z"
    offset = datetime(2024, 5, 1, 12, 0, tzinfo=UTC).astimezone(
        datetime.now(UTC).astimezone().tzinfo
    )
    assert set_condition([], ready(True, REASON_SYNCED), offset)[0].last_transition_time == (
        "2024-05-01T12:00:00Z"
    )


types = st.sampled_from([CONDITION_READY, CONDITION_RECONCILING, CONDITION_STALLED])
updates = st.lists(
    st.tuples(types, st.booleans(), st.sampled_from(["A", "B"]), st.text(max_size=5)),
    min_size=1,
    max_size=20,
)


@given(updates)
def test_transition_time_changes_iff_status_changes(
    steps: list[tuple[str, bool, str, str]],
) -> None:
    conds: list[Condition] = []
    for i, (type_, status, reason, message) in enumerate(steps):
        now = T0 + timedelta(seconds=i + 1)
        before = get_condition(conds, type_)
        new = Condition(
            type=type_, status="True" if status else "False", reason=reason, message=message
        )
        conds = set_condition(conds, new, now)
        after = get_condition(conds, type_)
        assert after is not None
        assert (after.status, after.reason, after.message) == (new.status, reason, message)
        if before is not None and before.status == after.status:
            assert after.last_transition_time == before.last_transition_time
        else:
            assert after.last_transition_time == now.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert len({c.type for c in conds}) == len(conds)
