from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsync.api.duration import format_duration, parse_duration, parse_duration_ns


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
        ("10s", timedelta(seconds=10)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("2h45m30.5s", timedelta(hours=2, minutes=45, seconds=30.5)),
        ("250ms", timedelta(milliseconds=250)),
        ("10us", timedelta(microseconds=10)),
        ("10\u00b5s", timedelta(microseconds=10)),
        ("10\u03bcs", timedelta(microseconds=10)),
        ("1500ns", timedelta(microseconds=2)),  # rounds to the nearest microsecond
        ("1m1m", timedelta(minutes=2)),
        ("5.s", timedelta(seconds=5)),
        (".5s", timedelta(milliseconds=500)),
        ("-1m", timedelta(minutes=-1)),
        ("+1m", timedelta(minutes=1)),
    ],
)
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "5", "m", "5 m", " 5m", "1d", "5M", ".s", "1h-1m", "--1m", "1e3s", "abc", "1m\n"]
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_parse_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_duration("99999999999999h")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=10), "10s"),
        (timedelta(minutes=5), "5m0s"),
        (timedelta(hours=1), "1h0m0s"),
        (timedelta(minutes=1, seconds=30), "1m30s"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(milliseconds=250), "250ms"),
        (timedelta(microseconds=1500), "1.5ms"),
        (timedelta(microseconds=7), "7\u00b5s"),
        (timedelta(minutes=-5), "-5m0s"),
    ],
)
def test_format_like_go(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected


# Go's Duration is an int64 of nanoseconds: about 292 years either way.
GO_RANGE = timedelta(microseconds=(2**63 - 1) // 1000)


@given(st.timedeltas(min_value=-GO_RANGE, max_value=GO_RANGE))
def test_round_trip(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9999999999ns", 9_999_999_999),
        ("9.999999999s", 9_999_999_999),
        ("1.0000000001s", 1_000_000_000),  # beyond nanoseconds: truncated, as Go does
        ("0.1h", 360_000_000_000),
        ("1.000000000000000000001h", 3_600_000_000_000),  # fraction digits past uint64 skipped
        # float64(999999999999999999) rounds up to 1e18, so Go makes this exactly 10s.
        ("9.999999999999999999s", 10_000_000_000),
        ("2562047h47m16.854775807s", 2**63 - 1),
        ("-2562047h47m16.854775808s", -(2**63)),
        ("-0", 0),
    ],
)
def test_nanoseconds_exactly_as_go_computes_them(text: str, expected: int) -> None:
    assert parse_duration_ns(text) == expected


@pytest.mark.parametrize(
    "text",
    ["2562047h47m16.854775808s", "2562048h", "9223372036854775808ns", "99999999999999999999s"],
)
def test_beyond_int64_nanoseconds_is_out_of_range_as_in_go(text: str) -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_duration_ns(text)


@given(
    st.lists(
        st.tuples(st.integers(0, 500_000), st.sampled_from(["h", "m", "s", "ms", "us"])),
        min_size=1,
        max_size=4,
    )
)
def test_components_add_up(parts: list[tuple[int, str]]) -> None:
    micros = {"h": 3_600_000_000, "m": 60_000_000, "s": 1_000_000, "ms": 1_000, "us": 1}
    text = "".join(f"{n}{unit}" for n, unit in parts)
    expected = timedelta(microseconds=sum(n * micros[unit] for n, unit in parts))
    assert parse_duration(text) == expected
