"""RFC 3339 timestamps the way Kubernetes writes them (metav1.Time: UTC, seconds, "Z")."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _utc_naive(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def format_time(value: datetime) -> str:
    """`2024-05-01T10:00:00Z`; naive datetimes are taken as UTC, sub-seconds are dropped."""
    return _utc_naive(value).isoformat(timespec="seconds") + "Z"


def format_time_precise(value: datetime) -> str:
    """Like format_time but keeps microseconds when there are any (for catalog timestamps)."""
    naive = _utc_naive(value)
    return naive.isoformat(timespec="microseconds" if naive.microsecond else "seconds") + "Z"


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime; raises ValueError."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return parsed.astimezone(UTC)


def is_rfc3339(text: str) -> bool:
    """True for an RFC 3339 date-time such as 2024-05-01T10:00:00Z (`format: date-time`)."""
    if _RFC3339.fullmatch(text) is None:
        return False
    try:
        datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
