"""Paging lies: pure rewrites of one listing page, as a lying catalog would serve it.

Each lie takes the page built so far and the honest facts behind it (every
matching item, the requested offset and limit, the data of the page served
before on the same listing) and returns the page it would serve instead, or
None when it does not apply to this request (so a counted lie is not used up
by a request it cannot change). Lies never mutate their input.

- `moving-total`: on a page after the first (offset > 0) the total moves by
  `delta` and the window moves with it, as if `delta` items were added to
  (or, negative, removed from) the catalog ahead of the pages already read.
- `ignore-offset`: a page after the first carries the first page's items
  (`pagination.offset` still echoes the requested offset).
- `repeat-page`: a page after the first carries the items of the page served
  before it on the same listing.
- `empty-page-before-total`: a page whose offset is at least `from_offset` and
  below the true total carries no items (the total stays true).
- `duplicate-ids`: the page's last item is replaced by a copy of its first
  (pages with two or more items), or, with `across_pages`, its first item by a
  copy of the item just before the page (pages after the first), so one id
  appears twice and another not at all while the counts stay plausible.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

JsonObject = dict[str, Any]

PagingLieKind = Literal[
    "moving-total",
    "ignore-offset",
    "repeat-page",
    "empty-page-before-total",
    "duplicate-ids",
]
# Also the order in which the lies armed for one request are applied.
PAGING_LIE_KINDS: tuple[str, ...] = get_args(PagingLieKind)


@dataclass
class PagingLie:
    """One armed paging lie; `remaining=None` means until cleared."""

    kind: str
    remaining: int | None
    path_prefix: str | None = None
    delta: int = 0
    from_offset: int = 1
    across_pages: bool = False

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.delta:+d}" if self.kind == "moving-total" else self.kind


@dataclass(frozen=True)
class PageFacts:
    """The honest facts behind one listing page."""

    items: Sequence[JsonObject]
    offset: int
    limit: int | None
    previous_data: Sequence[JsonObject] | None = None


def apply_lie(lie: PagingLie, page: JsonObject, facts: PageFacts) -> JsonObject | None:
    """The page `lie` would serve instead of `page`, or None when it does not apply."""
    return _LIES[lie.kind](lie, page, facts)


def _window(facts: PageFacts, start: int) -> list[JsonObject]:
    end = len(facts.items) if facts.limit is None else start + facts.limit
    return [copy.deepcopy(item) for item in facts.items[start:end]]


def _with_data(page: JsonObject, data: list[JsonObject]) -> JsonObject:
    return {**page, "data": data}


def _moving_total(lie: PagingLie, page: JsonObject, facts: PageFacts) -> JsonObject | None:
    if facts.offset <= 0 or lie.delta == 0:
        return None
    total = max(0, int(page["pagination"]["total"]) + lie.delta)
    moved = _window(facts, max(0, facts.offset - lie.delta))
    return {"data": moved, "pagination": {**page["pagination"], "total": total}}


def _ignore_offset(_: PagingLie, page: JsonObject, facts: PageFacts) -> JsonObject | None:
    if facts.offset <= 0:
        return None
    return _with_data(page, _window(facts, 0))


def _repeat_page(_: PagingLie, page: JsonObject, facts: PageFacts) -> JsonObject | None:
    if facts.offset <= 0 or facts.previous_data is None:
        return None
    return _with_data(page, copy.deepcopy(list(facts.previous_data)))


def _empty_page(lie: PagingLie, page: JsonObject, facts: PageFacts) -> JsonObject | None:
    if not lie.from_offset <= facts.offset < len(facts.items):
        return None
    return _with_data(page, [])


def _duplicate_ids(lie: PagingLie, page: JsonObject, facts: PageFacts) -> JsonObject | None:
    data: list[JsonObject] = list(page["data"])
    if lie.across_pages:
        if facts.offset <= 0 or not data or facts.offset > len(facts.items):
            return None
        data[0] = copy.deepcopy(facts.items[facts.offset - 1])
    else:
        if len(data) < 2:
            return None
        data[-1] = copy.deepcopy(data[0])
    return _with_data(page, data)


_LIES: dict[str, Callable[[PagingLie, JsonObject, PageFacts], JsonObject | None]] = {
    "moving-total": _moving_total,
    "ignore-offset": _ignore_offset,
    "repeat-page": _repeat_page,
    "empty-page-before-total": _empty_page,
    "duplicate-ids": _duplicate_ids,
}
