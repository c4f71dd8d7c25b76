"""Which Events a sync pass posts (docs/operations.md, Events): pure decisions, no I/O.

Events are created, never patched (the operator's RBAC grants `create` only), so each one is
posted for a change, never for a state that merely persists:

- `VersionChanged` (Normal) on each ModelRef whose version moved, and on its sync: one per
  moved ModelRef up to MAX_SYNC_VERSION_EVENTS per pass, beyond that one summary, so that
  a pass moving thousands of models posts one Event on the sync, not thousands. Creations
  are not changes: a first sync posts none.
- a Warning on the sync when Ready turns False or changes its reason (failure_event_needed);
- `Synced` (Normal) on the sync when Ready turns True after a failure.

A steady sync (conditions as they were, no version moved) posts nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

from modelsync.api.conditions import Condition, get_condition
from modelsync.api.constants import (
    CONDITION_READY,
    CONDITION_STALLED,
    EVENT_SYNCED,
    EVENT_VERSION_CHANGED,
    REASON_SUSPENDED,
)
from modelsync.plan.conditions import failure_event_needed
from modelsync.plan.existing import parse_conditions
from modelsync.plan.types import VersionChange

__all__ = [
    "MAX_EVENT_MESSAGE",
    "MAX_SYNC_VERSION_EVENTS",
    "EventType",
    "MovedRef",
    "PlannedEvent",
    "condition_events",
    "modelref_version_event",
    "sync_version_events",
]

EventType: TypeAlias = Literal["Normal", "Warning"]

# Version changes one pass reports on the sync one by one; more become one summary Event.
MAX_SYNC_VERSION_EVENTS: Final = 10
# Longer messages are cut (kube/events.py); the summary is built to fit.
MAX_EVENT_MESSAGE: Final = 1024


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    event_type: EventType
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class MovedRef:
    """A ModelRef (by name) whose version a write moved."""

    name: str
    change: VersionChange


def modelref_version_event(change: VersionChange) -> PlannedEvent:
    """The Event on the ModelRef itself."""
    return PlannedEvent("Normal", EVENT_VERSION_CHANGED, change.message)


def sync_version_events(
    moved: Sequence[MovedRef], *, limit: int = MAX_SYNC_VERSION_EVENTS
) -> tuple[PlannedEvent, ...]:
    """The VersionChanged Events on the sync for the ModelRefs one pass moved: one each, by
    model fqn, when there are at most `limit`; otherwise one that sums them up."""
    ordered = sorted(moved, key=lambda m: (m.change.model_fqn, m.name))
    if not ordered:
        return ()
    if len(ordered) <= limit:
        return tuple(
            PlannedEvent("Normal", EVENT_VERSION_CHANGED, f"{m.change.message} (modelref/{m.name})")
            for m in ordered
        )
    return (PlannedEvent("Normal", EVENT_VERSION_CHANGED, _summary(ordered)),)


def _summary(ordered: Sequence[MovedRef]) -> str:
    """`12 ModelRefs moved to another version: a.b 3 -> 4, ..., and 5 more; ...`, as many named
    as fit in MAX_EVENT_MESSAGE."""
    total = len(ordered)
    head = f"{total} ModelRefs moved to another version: "
    note = "; each ModelRef has its own VersionChanged Event"
    longest_rest = f", and {total} more"
    budget = MAX_EVENT_MESSAGE - len(head) - len(note) - len(longest_rest)
    named: list[str] = []
    used = 0
    for moved in ordered:
        item = f"{moved.name} {moved.change.versions}"
        cost = len(item) + (2 if named else 0)
        if used + cost > budget:
            break
        named.append(item)
        used += cost
    rest = total - len(named)
    tail = f", and {rest} more" if rest else ""
    return head + ", ".join(named) + tail + note


ConditionsIn: TypeAlias = Iterable[Condition | Mapping[str, Any]]


def _ready(conditions: ConditionsIn) -> Condition | None:
    return get_condition(_parsed(conditions), CONDITION_READY)


def _parsed(conditions: ConditionsIn) -> list[Condition]:
    items = list(conditions)
    found = [c for c in items if isinstance(c, Condition)]
    raw = [c for c in items if not isinstance(c, Condition)]
    return found + parse_conditions(raw)


def _recovered(old: Condition, new: Condition) -> bool:
    """Ready turned True and was False for a failure (not for a suspension) before."""
    return new.status == "True" and old.status == "False" and old.reason != REASON_SUSPENDED


def condition_events(
    old_conditions: ConditionsIn, new_conditions: ConditionsIn
) -> tuple[PlannedEvent, ...]:
    """The Event a pass posts on its sync for the change from `old_conditions` (as the API
    server held them) to `new_conditions`: a Warning for a new failure, `Synced` for a
    recovery, nothing otherwise."""
    old_conditions, new_conditions = list(old_conditions), list(new_conditions)
    if failure_event_needed(old_conditions, new_conditions):
        parsed = _parsed(new_conditions)
        source = get_condition(parsed, CONDITION_STALLED)
        if source is None or source.status != "True":
            source = get_condition(parsed, CONDITION_READY)
        reason = source.reason if source is not None else "SyncFailed"
        message = (source.message if source is not None else "") or reason
        return (PlannedEvent("Warning", reason, message),)
    old, new = _ready(old_conditions), _ready(new_conditions)
    if old is not None and new is not None and _recovered(old, new):
        message = f"Ready again after {old.reason}"
        if old.last_transition_time:
            message += f" (not ready since {old.last_transition_time})"
        if new.message:
            message += f": {new.message}"
        return (PlannedEvent("Normal", EVENT_SYNCED, message),)
    return ()
