"""metav1.Condition-shaped status conditions and the pure rules for updating them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BeforeValidator, Field

from modelsync.api.constants import CONDITION_READY, CONDITION_RECONCILING, CONDITION_STALLED
from modelsync.api.timestamps import format_time
from modelsync.api.wire import RFC3339Text, WireModel

MAX_MESSAGE_LENGTH: Final = 32768
TYPE_PATTERN: Final = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
REASON_PATTERN: Final = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"

ConditionStatus = Literal["True", "False", "Unknown"]


def _bounded_message(value: object) -> object:
    if isinstance(value, str) and len(value) > MAX_MESSAGE_LENGTH:
        return value[: MAX_MESSAGE_LENGTH - 3] + "..."
    return value


class Condition(WireModel):
    """One status condition. `last_transition_time` is filled in by `set_condition`."""

    type: str = Field(max_length=316, pattern=TYPE_PATTERN)
    status: ConditionStatus
    reason: str = Field(min_length=1, max_length=1024, pattern=REASON_PATTERN)
    message: Annotated[str, BeforeValidator(_bounded_message)] = ""
    last_transition_time: RFC3339Text | None = None
    observed_generation: int | None = Field(default=None, ge=0)


def _status(value: bool) -> ConditionStatus:
    return "True" if value else "False"


def condition(
    type_: str, status: bool, reason: str, message: str = "", generation: int | None = None
) -> Condition:
    return Condition(
        type=type_,
        status=_status(status),
        reason=reason,
        message=message,
        observed_generation=generation,
    )


def ready(ok: bool, reason: str, message: str = "", generation: int | None = None) -> Condition:
    return condition(CONDITION_READY, ok, reason, message, generation)


def reconciling(
    reason: str, message: str = "", generation: int | None = None, *, active: bool = True
) -> Condition:
    return condition(CONDITION_RECONCILING, active, reason, message, generation)


def stalled(
    reason: str, message: str = "", generation: int | None = None, *, active: bool = True
) -> Condition:
    return condition(CONDITION_STALLED, active, reason, message, generation)


def set_condition(
    conditions: Sequence[Condition], new: Condition, now: datetime
) -> list[Condition]:
    """`conditions` with `new` in place of the condition of the same type (appended if none).

    lastTransitionTime is kept while the status stays the same (even if reason or message
    change) and becomes `now` when the status changes or the condition is new. Order is stable.
    """
    stamp = format_time(now)
    result: list[Condition] = []
    replaced = False
    for current in conditions:
        if current.type != new.type:
            result.append(current)
            continue
        if replaced:
            continue  # drop duplicate entries of the same type
        keep = current.status == new.status and current.last_transition_time
        since = current.last_transition_time if keep else stamp
        result.append(new.model_copy(update={"last_transition_time": since}))
        replaced = True
    if not replaced:
        result.append(new.model_copy(update={"last_transition_time": stamp}))
    return result


def remove_condition(conditions: Sequence[Condition], type_: str) -> list[Condition]:
    return [c for c in conditions if c.type != type_]


def get_condition(conditions: Sequence[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def raw_condition(status: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    """The condition of `type_` in a raw `status` as the API server holds it, unvalidated
    (`get_condition` is the typed lookup)."""
    found = status.get("conditions")
    for item in found if isinstance(found, list) else ():
        if isinstance(item, Mapping) and item.get("type") == type_:
            return item
    return None


def is_true(conditions: Sequence[Condition], type_: str) -> bool:
    found = get_condition(conditions, type_)
    return found is not None and found.status == "True"
