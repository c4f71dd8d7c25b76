"""Go's time.Parse for the two layouts the API's timestamps use, with Go's error messages.

metav1.Time decodes with time.RFC3339 ("2006-01-02T15:04:05Z07:00"; a fractional second
after the seconds is accepted although the layout has none), metav1.MicroTime with
RFC3339Micro ("2006-01-02T15:04:05.000000Z07:00": exactly six fractional digits). A value
that does not parse makes the whole body undecodable, so the API answers 400 with the
message these functions return (time.ParseError.Error()).
"""

from __future__ import annotations

import calendar
import functools

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"

# Each layout as time.nextStdChunk splits it: (literal prefix, std element).
_CHUNKS = {
    RFC3339: (
        ("", "2006"),
        ("-", "01"),
        ("-", "02"),
        ("T", "15"),
        (":", "04"),
        (":", "05"),
        ("", "Z07:00"),
    ),
    RFC3339_MICRO: (
        ("", "2006"),
        ("-", "01"),
        ("-", "02"),
        ("T", "15"),
        (":", "04"),
        (":", "05"),
        ("", ".000000"),
        ("", "Z07:00"),
    ),
}


def _quote(text: str) -> str:
    """time's quote(): double quotes, with `"` and `\\` escaped and non-ASCII as \\x.. bytes."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch < "\x7f":
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode())
    out.append('"')
    return "".join(out)


class _Bad(Exception):
    """time.ParseError: layout element and remaining value, or a fixed message."""

    def __init__(self, layout_elem: str = "", value_elem: str = "", message: str = "") -> None:
        super().__init__(message)
        self.layout_elem = layout_elem
        self.value_elem = value_elem
        self.message = message


def _digit(text: str, i: int) -> bool:
    return i < len(text) and "0" <= text[i] <= "9"


def _getnum(text: str, fixed: bool) -> tuple[int, str] | None:
    if not _digit(text, 0):
        return None
    if not _digit(text, 1):
        return None if fixed else (int(text[0]), text[1:])
    return int(text[:2]), text[2:]


def _parse(layout: str, value: str) -> None:
    year = month = day = 1
    rest = value
    for prefix, std in _CHUNKS[layout]:
        for ch in prefix:
            if not rest or rest[0] != ch:
                raise _Bad(prefix, rest)
            rest = rest[1:]
        hold = rest
        out_of_range = ""
        if std == "2006":
            if len(rest) < 4 or not rest[:4].isdigit() or not rest[:4].isascii():
                raise _Bad(std, hold)
            year, rest = int(rest[:4]), rest[4:]
        elif std in ("01", "02", "15", "04", "05"):
            got = _getnum(rest, fixed=std != "15")
            if got is None:
                raise _Bad(std, hold)
            number, rest = got
            limits = {"01": (1, 12, "month"), "15": (0, 23, "hour")}
            limits.update({"04": (0, 59, "minute"), "05": (0, 59, "second")})
            if std == "02":
                day = number
            elif std in limits:
                low, high, name = limits[std]
                if not low <= number <= high:
                    out_of_range = name
                if std == "01":
                    month = number
            if std == "05" and layout == RFC3339 and rest[:1] in (".", ",") and _digit(rest, 1):
                n = 2  # a fraction the layout does not mention: allowed
                while _digit(rest, n):
                    n += 1
                rest = rest[n:]
        elif std == ".000000":
            if (
                len(rest) < 7
                or rest[0] not in ".,"
                or not all(_digit(rest, i) for i in range(1, 7))
            ):
                raise _Bad(std, hold)
            rest = rest[7:]
        else:  # Z07:00
            if rest[:1] == "Z":
                rest = rest[1:]
            else:
                if len(rest) < 6 or rest[3] != ":":
                    raise _Bad(std, hold)
                sign, hours, minutes, rest = rest[0], rest[1:3], rest[4:6], rest[6:]
                if (
                    _getnum(hours, fixed=True) is None
                    or _getnum(minutes, fixed=True) is None
                    or sign not in "+-"
                ):
                    raise _Bad(std, hold)
                if int(hours) > 24:
                    out_of_range = "time zone offset hour"
                elif int(minutes) > 60:
                    out_of_range = "time zone offset minute"
        if out_of_range:
            raise _Bad(message=f": {out_of_range} out of range")
    if rest:
        raise _Bad(message=f": extra text: {_quote(rest)}")
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise _Bad(message=": day out of range")


# Objects carry the same few timestamps again and again (creationTimestamp on every write).
@functools.lru_cache(maxsize=1024)
def parse_error(layout: str, value: str) -> str | None:
    """Why Go's time.Parse(layout, value) fails, worded as Go words it; None if it parses."""
    try:
        _parse(layout, value)
    except _Bad as bad:
        if bad.message:
            return f"parsing time {_quote(value)}{bad.message}"
        return (
            f"parsing time {_quote(value)} as {_quote(layout)}: cannot parse "
            f"{_quote(bad.value_elem)} as {_quote(bad.layout_elem)}"
        )
    return None
