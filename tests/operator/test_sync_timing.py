"""Backoff and interval arithmetic (pure, property-tested)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from modelsync.runtime.timing import MAX_RETRY_AFTER, failure_delay, success_delay

intervals = st.floats(min_value=10, max_value=86_400)


@given(intervals, st.floats(min_value=0, max_value=0.5), st.floats(min_value=0, max_value=1))
def test_success_delay_is_the_interval_plus_bounded_jitter(
    interval: float, jitter: float, unit: float
) -> None:
    delay = success_delay(interval, jitter, unit)
    assert interval <= delay <= interval * (1 + jitter) + 1e-9


@given(intervals, st.integers(min_value=1, max_value=1000), st.floats(min_value=0.1, max_value=5))
def test_backoff_grows_and_is_capped_by_the_interval(
    interval: float, failures: int, base: float
) -> None:
    delay = failure_delay(interval, failures, base)
    assert 0 < delay <= interval
    assert delay <= failure_delay(interval, failures + 1, base)


def test_backoff_doubles() -> None:
    assert [failure_delay(300, n, 1.0) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]


@given(
    intervals,
    st.integers(min_value=1, max_value=50),
    st.floats(min_value=0, max_value=10 * MAX_RETRY_AFTER),
)
def test_retry_after_is_honoured_up_to_the_cap(
    interval: float, failures: int, retry_after: float
) -> None:
    delay = failure_delay(interval, failures, 1.0, retry_after)
    assert delay >= min(retry_after, MAX_RETRY_AFTER)
    assert delay <= max(interval, MAX_RETRY_AFTER)
