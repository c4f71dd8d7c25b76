"""Parse one page of a listing, keeping the good items when some are malformed.

The envelope (`data` list + `pagination`) must be valid; each item is then validated on its
own, so one broken model costs that model only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from modelsync.catalog.models import Pagination

__all__ = ["ParsedPage", "SkippedModel", "describe_validation_error", "parse_page"]

ItemT = TypeVar("ItemT", bound=BaseModel)

_MAX_ERRORS_IN_REASON = 3


@dataclass(frozen=True)
class SkippedModel:
    """An item of a page that failed validation: its `id` when it had a string one."""

    id: str | None
    reason: str


@dataclass(frozen=True)
class ParsedPage(Generic[ItemT]):
    items: tuple[ItemT, ...]
    skipped: tuple[SkippedModel, ...]
    pagination: Pagination
    entry_ids: tuple[str | None, ...]  # every entry in order, valid or not: id or None

    @property
    def size(self) -> int:
        """Entries on the page, valid or not: what the offset advances by."""
        return len(self.entry_ids)


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")
    data: list[Any]
    pagination: Pagination


def describe_validation_error(error: ValidationError) -> str:
    """A short reason naming the failing fields, without echoing the input values."""
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    parts = [
        f"{'.'.join(str(part) for part in problem['loc']) or '(root)'}: {problem['msg']}"
        for problem in problems[:_MAX_ERRORS_IN_REASON]
    ]
    if len(problems) > _MAX_ERRORS_IN_REASON:
        parts.append(f"and {len(problems) - _MAX_ERRORS_IN_REASON} more")
    return "; ".join(parts)


def _item_id(item: object) -> str | None:
    if isinstance(item, dict):
        value = item.get("id")
        if isinstance(value, str):
            return value
    return None


def parse_page(payload: object, item_type: type[ItemT]) -> ParsedPage[ItemT]:
    """Raises pydantic's ValidationError when the envelope itself is not the spec's shape."""
    envelope = _Envelope.model_validate(payload)
    items: list[ItemT] = []
    skipped: list[SkippedModel] = []
    entry_ids: list[str | None] = []
    for raw in envelope.data:
        try:
            item = item_type.model_validate(raw)
        except ValidationError as error:
            entry_ids.append(_item_id(raw))
            skipped.append(SkippedModel(entry_ids[-1], describe_validation_error(error)))
        else:
            key = getattr(item, "id", None)
            entry_ids.append(key if isinstance(key, str) else _item_id(raw))
            items.append(item)
    return ParsedPage(tuple(items), tuple(skipped), envelope.pagination, tuple(entry_ids))
