"""How a sync pass ends: the kind its loop schedules by, and the outcome of its failures."""

from __future__ import annotations

from enum import StrEnum

from modelsync.api.constants import REASON_VERSION_LOOKUP_FAILED
from modelsync.catalog import CatalogError
from modelsync.plan import SyncOutcome

__all__ = [
    "TRANSIENT_FAILURES",
    "PassKind",
    "catalog_outcome",
    "internal_error_message",
]


class PassKind(StrEnum):
    """What a pass means for its loop (and the `result` of its log line and metrics)."""

    SUCCESS = "success"
    FAILURE = "failure"  # the next try backs off
    STALLED = "stalled"  # waits for a change to the spec or a Secret (or the interval)
    SUSPENDED = "suspended"  # no timer


_CATALOG_OUTCOMES = {
    "InvalidRequest": SyncOutcome.INVALID_SPEC,  # the catalog rejected our filters (422)
}
_CATALOG_REASONS = frozenset(
    {
        SyncOutcome.UNAUTHORIZED,
        SyncOutcome.INVALID_RESPONSE,
        SyncOutcome.RESPONSE_TOO_LARGE,
        SyncOutcome.CATALOG_NOT_ALLOWED,
        SyncOutcome.CATALOG_UNAVAILABLE,
    }
)
_INTERNAL_MESSAGE_CHARS = 300
# Per-model failures that may clear by themselves (API server or catalog hiccups).
TRANSIENT_FAILURES = frozenset({"WriteFailed", "Conflict", REASON_VERSION_LOOKUP_FAILED})


def catalog_outcome(exc: CatalogError) -> SyncOutcome:
    """The sync outcome of a failed catalog read (its reason, where it names an outcome)."""
    if exc.reason in _CATALOG_OUTCOMES:
        return _CATALOG_OUTCOMES[exc.reason]
    try:
        outcome = SyncOutcome(exc.reason)
    except ValueError:
        return SyncOutcome.CATALOG_UNAVAILABLE
    return outcome if outcome in _CATALOG_REASONS else SyncOutcome.CATALOG_UNAVAILABLE


def internal_error_message(exc: BaseException, *, secret: str | None = None) -> str:
    """`ClassName: short text` of an unexpected exception, for a condition message; a known
    secret value is blanked out."""
    text = " ".join(str(exc).split())
    if secret:
        text = text.replace(secret, "[redacted]")
    if len(text) > _INTERNAL_MESSAGE_CHARS:
        text = text[: _INTERNAL_MESSAGE_CHARS - 3] + "..."
    name = type(exc).__name__
    summary = f"{name}: {text}" if text else name
    return f"{summary} (an internal error; the operator log has the traceback)"
