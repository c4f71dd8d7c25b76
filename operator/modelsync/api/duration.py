"""Go-style durations ("5m", "1h30m", "1.5h", "250ms"), as Flux and kubectl use them."""

from __future__ import annotations

import re
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
_COMPONENT = re.compile(r"([0-9]*)(?:\.([0-9]*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")

_US_PER_SECOND = 1_000_000
_US_PER_MINUTE = 60 * _US_PER_SECOND
_US_PER_HOUR = 60 * _US_PER_MINUTE


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration; sub-microsecond parts round to the nearest microsecond.

    Raises ValueError for anything Go's time.ParseDuration would reject.
    """
    body = text
    negative = False
    if body[:1] in ("+", "-"):
        negative = body[0] == "-"
        body = body[1:]
    if body == "0":
        return timedelta(0)
    if not body:
        raise ValueError(f"invalid duration {text!r}")
    total_ns = Fraction(0)
    pos = 0
    while pos < len(body):
        match = _COMPONENT.match(body, pos)
        if match is None or not (match.group(1) or match.group(2)):
            raise ValueError(f"invalid duration {text!r}")
        whole, frac, unit = match.group(1) or "0", match.group(2) or "", match.group(3)
        number = Fraction(int(whole)) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)
        total_ns += number * _NS_PER_UNIT[unit]
        pos = match.end()
    micros = round(total_ns / 1000)
    try:
        return timedelta(microseconds=-micros if negative else micros)
    except OverflowError:
        raise ValueError(f"duration {text!r} is out of range") from None


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
