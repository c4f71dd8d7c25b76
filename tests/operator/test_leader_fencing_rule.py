"""The write fence, the pure part: a replica writes only while its last successful Lease
renewal is younger than the renew deadline, judged on its own monotonic clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsync.kube.leases import LeaseSpec
from modelsync.runtime.leader_decision import (
    ElectionTiming,
    Sighting,
    Verdict,
    decide,
    write_allowed,
)

DEADLINE = 10.0
ME = "modelsync-a_1234"

# Multiples of 1/1024 s below 2**20 s: sums and differences are exact in binary floating
# point, so the properties below are about the rule, not about rounding.
_TICKS = st.integers(0, 2**30)


def _seconds(ticks: int) -> float:
    return ticks / 1024


@pytest.mark.parametrize(
    ("renewed_at", "now", "allowed"),
    [
        (None, 0.0, False),  # not leading
        (None, 1e9, False),
        (5.0, 5.0, True),  # the renewal was just sent
        (5.0, 14.999, True),
        (5.0, 15.0, False),  # exactly the deadline: closed
        (5.0, 15.001, False),
        (5.0, 1e9, False),
        (5.0, 4.0, False),  # a renewal "in the future": a clock we cannot trust
    ],
)
def test_the_fence(renewed_at: float | None, now: float, allowed: bool) -> None:
    assert write_allowed(renewed_at, now, DEADLINE) is allowed


@given(renewed=_TICKS, elapsed=_TICKS, deadline=st.integers(1, 2**20))
def test_never_allowed_past_the_deadline(renewed: int, elapsed: int, deadline: int) -> None:
    now = _seconds(renewed + elapsed)
    allowed = write_allowed(_seconds(renewed), now, _seconds(deadline))
    assert allowed is (elapsed < deadline)


@given(renewed=st.floats(0, 1e7), fraction=st.floats(0, 0.99), deadline=st.floats(0.01, 3600))
def test_allowed_just_after_a_renewal(renewed: float, fraction: float, deadline: float) -> None:
    assert write_allowed(renewed, renewed + fraction * deadline, deadline)


@given(now=st.floats(-1e7, 1e7), deadline=st.floats(0.01, 3600))
def test_never_allowed_without_a_renewal(now: float, deadline: float) -> None:
    assert not write_allowed(None, now, deadline)


@given(renewed=_TICKS, elapsed=_TICKS)
def test_the_fence_closes_no_later_than_the_election_stops_leading(
    renewed: int, elapsed: int
) -> None:
    """With the Lease still naming us, the fence is open only while `decide` renews, and
    closed whenever `decide` stops leading by the deadline."""
    timing = ElectionTiming()
    now = _seconds(renewed + elapsed)
    ours = Sighting(LeaseSpec(holder=ME, duration_seconds=15), "1", 0.0)
    verdict = decide(ours, identity=ME, now=now, renewed_at=_seconds(renewed), timing=timing)
    allowed = write_allowed(_seconds(renewed), now, timing.renew_deadline)
    if allowed:
        assert verdict is Verdict.RENEW
    if verdict is Verdict.LOST:
        assert not allowed
