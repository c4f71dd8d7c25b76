"""The pure backoff arithmetic and Retry-After parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsync.catalog.retry import RetryPolicy, backoff_delay, jitter_unit, parse_retry_after

policies = st.builds(
    RetryPolicy,
    attempts=st.integers(1, 10),
    base_delay=st.floats(0, 10),
    max_delay=st.floats(0, 120),
    jitter=st.floats(0, 1),
)


@given(policies, st.integers(1, 1000), st.floats(0, 1))
def test_delay_is_within_jitter_of_the_exponential_and_capped(
    policy: RetryPolicy, failed: int, unit: float
) -> None:
    delay = backoff_delay(policy, failed, unit)
    assert 0 <= delay <= policy.max_delay
    raw = policy.base_delay * 2.0 ** min(failed - 1, 64)
    assert delay >= min(policy.max_delay, raw * (1 - policy.jitter)) - 1e-9
    assert delay <= raw * (1 + policy.jitter) + 1e-9


@given(policies.map(lambda p: RetryPolicy(p.attempts, p.base_delay, p.max_delay, 0.0)))
def test_without_jitter_delays_never_shrink(policy: RetryPolicy) -> None:
    delays = [backoff_delay(policy, failed, 0.5) for failed in range(1, 20)]
    assert delays == sorted(delays)


def test_default_policy_sequence() -> None:
    policy = RetryPolicy(jitter=0.0)
    assert [backoff_delay(policy, n, 0.5) for n in range(1, 9)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        30.0,
        30.0,
    ]


def test_jitter_unit_is_a_fraction() -> None:
    assert all(0 <= jitter_unit() <= 1 for _ in range(100))


NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
        ("Fri, 02 Jan 2026 03:04:15 GMT", 10.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


@given(st.text(max_size=40))
def test_parse_retry_after_never_raises(header: str) -> None:
    result = parse_retry_after(header, now=NOW)
    assert result is None or result >= 0


@pytest.mark.parametrize(
    "kwargs", [{"attempts": 0}, {"base_delay": -1}, {"max_delay": -1}, {"jitter": 1.5}]
)
def test_policy_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
