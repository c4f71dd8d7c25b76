"""Retry policy and the pure arithmetic of backoff delays and `Retry-After`."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["RetryPolicy", "backoff_delay", "jitter_unit", "parse_retry_after"]


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` counts every try (first one included); `jitter` is a fraction of the delay."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("RetryPolicy delays must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("RetryPolicy.jitter must be between 0 and 1")


def backoff_delay(policy: RetryPolicy, failed_attempts: int, unit: float) -> float:
    """Delay before the next try after `failed_attempts` (>= 1) failures.

    Exponential (`base_delay * 2**(failed_attempts-1)`), spread by +/- `jitter` with `unit`
    (a number in [0, 1], normally random), and never above `max_delay`.
    """
    exponent = min(failed_attempts - 1, 64)  # 2**64 * anything already exceeds any cap
    raw = policy.base_delay * 2.0**exponent
    spread = 1.0 + policy.jitter * (2.0 * unit - 1.0)
    return max(0.0, min(policy.max_delay, raw * spread))


def jitter_unit() -> float:
    return random.random()  # noqa: S311 - spreading retries, not cryptography


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)  # RFC 9110 says integer seconds; "1.5" is accepted too
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())
