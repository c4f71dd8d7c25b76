"""Go-style durations ("5m", "1h30m", "1.5h", "250ms"), as Flux and kubectl use them.

Parsed exactly as Go's time.ParseDuration parses them, nanoseconds, float rounding of
fractions and the int64 range included: the API server's CEL `duration()` is that function,
so the operator and a CRD rule such as "interval >= 10s" agree on every input.
"""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

_NS_PER_UNIT: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DIGITS = "0123456789"
# Go accumulates in a uint64 and refuses anything above 1<<63 (1<<63 - 1 when positive).
_LIMIT = 1 << 63

_US_PER_SECOND = 1_000_000
_US_PER_MINUTE = 60 * _US_PER_SECOND
_US_PER_HOUR = 60 * _US_PER_MINUTE


def _invalid(text: str) -> ValueError:
    return ValueError(f"invalid duration {text!r}")


def _out_of_range(text: str) -> ValueError:
    return ValueError(f"duration {text!r} is out of range")


def _fraction(body: str, pos: int) -> tuple[int, float, int]:
    """Go's leadingFraction: digits after the point, their scale, the end; digits that would
    overflow a uint64 are skipped, not refused."""
    value, scale, overflow = 0, 1.0, False
    while pos < len(body) and body[pos] in _DIGITS:
        if not overflow:
            if value > (_LIMIT - 1) // 10:
                overflow = True
            else:
                grown = value * 10 + int(body[pos])
                if grown > _LIMIT:
                    overflow = True
                else:
                    value, scale = grown, scale * 10
        pos += 1
    return value, scale, pos


def parse_duration_ns(text: str) -> int:
    """The duration in nanoseconds, computed as Go's time.ParseDuration computes it.

    Raises ValueError wherever Go returns an error, including beyond +-292 years.
    """
    body = text
    negative = False
    if body[:1] in ("+", "-"):
        negative = body[0] == "-"
        body = body[1:]
    if body == "0":
        return 0
    if not body:
        raise _invalid(text)
    total = 0
    pos = 0
    while pos < len(body):
        if body[pos] != "." and body[pos] not in _DIGITS:
            raise _invalid(text)
        start = pos
        whole = 0
        while pos < len(body) and body[pos] in _DIGITS:
            if whole > _LIMIT // 10:
                raise _out_of_range(text)
            whole = whole * 10 + int(body[pos])
            if whole > _LIMIT:
                raise _out_of_range(text)
            pos += 1
        has_whole = pos != start
        frac, scale, has_frac = 0, 1.0, False
        if pos < len(body) and body[pos] == ".":
            frac, scale, end = _fraction(body, pos + 1)
            has_frac = end != pos + 1
            pos = end
        if not (has_whole or has_frac):
            raise _invalid(text)
        unit_start = pos
        while pos < len(body) and body[pos] != "." and body[pos] not in _DIGITS:
            pos += 1
        unit = _NS_PER_UNIT.get(body[unit_start:pos])
        if unit is None:
            raise _invalid(text)
        if whole > _LIMIT // unit:
            raise _out_of_range(text)
        value = whole * unit
        if frac > 0:
            # Go's float64 arithmetic, truncated: Python floats are the same IEEE doubles.
            value += int(float(frac) * (float(unit) / scale))
            if value > _LIMIT:
                raise _out_of_range(text)
        total += value
        if total > _LIMIT:
            raise _out_of_range(text)
    if negative:
        return -total
    if total > _LIMIT - 1:
        raise _out_of_range(text)
    return total


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration; sub-microsecond parts round to the nearest microsecond.

    Raises ValueError for anything Go's time.ParseDuration would reject.
    """
    return timedelta(microseconds=round(Fraction(parse_duration_ns(text), 1000)))


def _decimal(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{rest:0{digits}d}".rstrip("0")


def format_duration(value: timedelta) -> str:
    """Format like Go's Duration.String() at microsecond precision: "1h0m0s", "1m30s", "1.5ms"."""
    micros = value // timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    if micros == 0:
        return "0s"
    if micros < 1_000:
        return f"{sign}{micros}\u00b5s"
    if micros < _US_PER_SECOND:
        return f"{sign}{_decimal(micros, 1_000)}ms"
    hours, rest = divmod(micros, _US_PER_HOUR)
    minutes, rest = divmod(rest, _US_PER_MINUTE)
    text = f"{hours}h" if hours else ""
    if hours or minutes:
        text += f"{minutes}m"
    return f"{sign}{text}{_decimal(rest, _US_PER_SECOND)}s"
