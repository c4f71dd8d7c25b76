"""The ModelCatalogSync verdict: its status block and conditions after one sync attempt."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from modelsync.api.conditions import Condition, get_condition, ready, reconciling, set_condition
from modelsync.api.conditions import stalled as stalled_condition
from modelsync.api.constants import (
    CONDITION_READY,
    REASON_CATALOG_NOT_ALLOWED,
    REASON_CATALOG_UNAVAILABLE,
    REASON_DELETION_GUARD_TRIGGERED,
    REASON_INCONSISTENT_LISTING,
    REASON_INTERNAL_ERROR,
    REASON_INVALID_RESPONSE,
    REASON_INVALID_SPEC,
    REASON_INVALID_TOKEN,
    REASON_MODELS_FAILED,
    REASON_RESPONSE_TOO_LARGE,
    REASON_SECRET_NOT_FOUND,
    REASON_SECRET_NOT_OPTED_IN,
    REASON_SUSPENDED,
    REASON_SYNC_TIMED_OUT,
    REASON_SYNCED,
    REASON_UNAUTHORIZED,
)
from modelsync.api.modelcatalogsync import (
    CatalogCounts,
    ModelCatalogSyncStatus,
    ModelRefCounts,
    SyncFailure,
)
from modelsync.api.timestamps import format_time
from modelsync.plan.existing import parse_conditions
from modelsync.plan.types import DeletionGuard, ModelFailure, SyncPlan


class SyncOutcome(StrEnum):
    """How a sync attempt ended; the value is the Ready (and, if stalled, Stalled) reason."""

    SYNCED = REASON_SYNCED
    CATALOG_UNAVAILABLE = REASON_CATALOG_UNAVAILABLE
    UNAUTHORIZED = REASON_UNAUTHORIZED
    INVALID_RESPONSE = REASON_INVALID_RESPONSE
    SUSPENDED = REASON_SUSPENDED
    SECRET_NOT_FOUND = REASON_SECRET_NOT_FOUND
    INVALID_SPEC = REASON_INVALID_SPEC
    CATALOG_NOT_ALLOWED = REASON_CATALOG_NOT_ALLOWED
    INCONSISTENT_LISTING = REASON_INCONSISTENT_LISTING
    RESPONSE_TOO_LARGE = REASON_RESPONSE_TOO_LARGE
    SYNC_TIMED_OUT = REASON_SYNC_TIMED_OUT
    INTERNAL_ERROR = REASON_INTERNAL_ERROR
    SECRET_NOT_OPTED_IN = REASON_SECRET_NOT_OPTED_IN
    INVALID_TOKEN = REASON_INVALID_TOKEN

    @property
    def stalls(self) -> bool:
        """Config errors that cannot resolve without a change to the spec or the Secret."""
        return self in _STALLING


_STALLING = frozenset(
    {
        SyncOutcome.SECRET_NOT_FOUND,
        SyncOutcome.INVALID_SPEC,
        SyncOutcome.CATALOG_NOT_ALLOWED,
        SyncOutcome.SECRET_NOT_OPTED_IN,
        SyncOutcome.INVALID_TOKEN,
    }
)


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What the shell knows at the end of a sync attempt.

    For SYNCED, `ref_counts` / `failures` / `guard` / `listing_complete` describe the pass
    (see `from_plan`); for the other outcomes they are left empty and the previous status
    values are kept. `message` explains a failure (never containing a token).
    """

    outcome: SyncOutcome
    message: str = ""
    catalog: CatalogCounts | None = None
    ref_counts: ModelRefCounts | None = None
    failures: Sequence[ModelFailure] = ()
    guard: DeletionGuard | None = None
    listing_complete: bool = True
    listing_problem: str = ""

    @classmethod
    def from_plan(
        cls,
        plan: SyncPlan,
        catalog: CatalogCounts | None = None,
        *,
        ref_counts: ModelRefCounts | None = None,
        extra_failures: Sequence[ModelFailure] = (),
    ) -> SyncResult:
        """A sync that applied `plan`; pass `ref_counts` when the writes did not all go as
        planned, and `extra_failures` for models that failed while writing."""
        counts = ref_counts or plan.ref_counts()
        if extra_failures and ref_counts is None:
            counts = counts.model_copy(update={"failed": counts.failed + len(extra_failures)})
        return cls(
            SyncOutcome.SYNCED,
            catalog=catalog,
            ref_counts=counts,
            failures=(*plan.failures, *extra_failures),
            guard=plan.guard,
            listing_complete=plan.listing_complete,
            listing_problem=plan.listing_problem,
        )

    @property
    def ready(self) -> bool:
        """Ready=True: a SYNCED pass over a complete listing, every selected model as desired
        and no removals held back."""
        return (
            self.outcome is SyncOutcome.SYNCED
            and self.guard is None
            and self.listing_complete
            and not self.failures
        )


def _summary(counts: ModelRefCounts) -> str:
    # What the cluster holds, not what the last pass did: a pass that changed nothing then
    # leaves the Ready message, and so the status, as it was.
    return f"{counts.selected} models selected, {counts.retained} retained, {counts.failed} failed"


def _failures_message(failures: Sequence[ModelFailure], counts: ModelRefCounts | None) -> str:
    by_reason = Counter(f.reason for f in failures)
    reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(by_reason.items()))
    failed = len(failures)
    selected = max(counts.selected if counts is not None else 0, failed)
    return (
        f"{failed} of {selected} selected models failed ({reasons}); "
        f"{selected - failed} synced; see status.failures"
    )


def _listing_message(result: SyncResult, counts: ModelRefCounts | None) -> str:
    problem = result.listing_problem or "the listing could not be shown to be complete"
    message = f"inconsistent catalog listing: {problem}; nothing was deleted or marked removed"
    if result.failures:
        message += f"; {_failures_message(result.failures, counts)}"
    return f"{message}; will retry"


def _parse_old(old: ModelCatalogSyncStatus | Mapping[str, Any] | None) -> ModelCatalogSyncStatus:
    if isinstance(old, ModelCatalogSyncStatus):
        return old
    if not old:
        return ModelCatalogSyncStatus()
    try:
        return ModelCatalogSyncStatus.from_k8s(old)
    except ValueError:
        # A status someone mangled: keep only what still parses.
        return ModelCatalogSyncStatus(conditions=parse_conditions(old.get("conditions")))


def _ready_condition(result: SyncResult, counts: ModelRefCounts | None) -> Condition:
    outcome = result.outcome
    if outcome is SyncOutcome.SYNCED:
        if result.guard is not None:
            return ready(False, REASON_DELETION_GUARD_TRIGGERED, result.guard.message)
        if not result.listing_complete:
            return ready(False, REASON_INCONSISTENT_LISTING, _listing_message(result, counts))
        if result.failures:
            return ready(False, REASON_MODELS_FAILED, _failures_message(result.failures, counts))
        return ready(True, REASON_SYNCED, _summary(counts) if counts else "")
    if outcome is SyncOutcome.SUSPENDED:
        return ready(False, outcome.value, result.message or "spec.suspend is true; not syncing")
    return ready(False, outcome.value, result.message)


def sync_status(
    old: ModelCatalogSyncStatus | Mapping[str, Any] | None,
    result: SyncResult,
    *,
    generation: int,
    now: datetime,
    next_sync_time: datetime | None = None,
    reconcile_requested_at: str | None = None,
) -> ModelCatalogSyncStatus:
    """The ModelCatalogSync status after one sync attempt (the runtime's status writer writes it).

    Ready/Reconciling/Stalled follow docs/design.md, Conditions; lastTransitionTime changes
    only when a condition's status changes. Counts, catalog numbers and failures of the last
    successful sync are kept through failed attempts.
    """
    previous = _parse_old(old)
    counts = result.ref_counts if result.outcome is SyncOutcome.SYNCED else previous.model_refs
    want_ready = _ready_condition(result, counts)
    reason = want_ready.reason
    if result.outcome.stalls:
        want_stalled = stalled_condition(reason, result.message, generation)
    else:
        want_stalled = stalled_condition(reason, "", generation, active=False)
    conditions = list(previous.conditions)
    for condition in (
        want_ready.model_copy(update={"observed_generation": generation}),
        reconciling(reason, "", generation, active=False),
        want_stalled,
    ):
        conditions = set_condition(conditions, condition, now)

    succeeded = want_ready.status == "True"
    attempted = result.outcome is not SyncOutcome.SUSPENDED
    failures = previous.failures
    if result.outcome is SyncOutcome.SYNCED:
        ordered = sorted(result.failures, key=lambda f: (f.model, f.reason))
        failures = [SyncFailure(model=f.model, reason=f.reason, message=f.message) for f in ordered]
    stamp = format_time(now)
    return ModelCatalogSyncStatus(
        observed_generation=generation,
        last_sync_time=stamp if attempted else previous.last_sync_time,
        last_successful_sync_time=stamp if succeeded else previous.last_successful_sync_time,
        next_sync_time=format_time(next_sync_time) if next_sync_time is not None else None,
        last_handled_reconcile_at=(
            reconcile_requested_at
            if reconcile_requested_at is not None
            else previous.last_handled_reconcile_at
        ),
        catalog=result.catalog or previous.catalog,
        model_refs=counts,
        failures=failures,
        conditions=conditions,
    )


def _conditions(values: Iterable[Condition | Mapping[str, Any]]) -> list[Condition]:
    items = list(values)
    found = [v for v in items if isinstance(v, Condition)]
    raw = [v for v in items if not isinstance(v, Condition)]
    return found + parse_conditions(raw)


def failure_event_needed(
    old_conditions: Iterable[Condition | Mapping[str, Any]],
    new_conditions: Iterable[Condition | Mapping[str, Any]],
) -> bool:
    """True when a failure Event should go out: Ready became False, or stayed False with a
    different reason. Suspension is not a failure; retries with the same reason stay quiet."""
    new = get_condition(_conditions(new_conditions), CONDITION_READY)
    if new is None or new.status != "False" or new.reason == REASON_SUSPENDED:
        return False
    old = get_condition(_conditions(old_conditions), CONDITION_READY)
    return old is None or old.status != "False" or old.reason != new.reason
