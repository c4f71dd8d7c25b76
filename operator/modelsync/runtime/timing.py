"""When the next sync of one ModelCatalogSync is due (pure arithmetic)."""

from __future__ import annotations

__all__ = ["MAX_RETRY_AFTER", "failure_delay", "success_delay"]

# A catalog's Retry-After is honoured up to this many seconds.
MAX_RETRY_AFTER = 3600.0


def success_delay(interval: float, jitter: float, unit: float) -> float:
    """The interval plus up to `jitter * interval` (unit in [0, 1]) so syncs spread out."""
    return interval + interval * jitter * min(max(unit, 0.0), 1.0)


def failure_delay(
    interval: float,
    failures: int,
    base: float,
    retry_after: float | None = None,
) -> float:
    """Exponential backoff after `failures` (>= 1) failed syncs in a row, capped by the
    interval; a server's Retry-After wins when it asks for longer (up to MAX_RETRY_AFTER)."""
    exponent = min(max(failures, 1) - 1, 32)
    delay = min(base * 2.0**exponent, interval)
    if retry_after is not None and retry_after > delay:
        delay = min(retry_after, MAX_RETRY_AFTER)
    return delay
