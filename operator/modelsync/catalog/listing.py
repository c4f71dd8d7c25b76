"""Whether a paged listing is complete, judged only from what its pages said (no I/O).

A listing is complete only when it is self-consistent: every page reports the same
`pagination.total`, no page before the total is empty or short, no page carries entries
beyond the total, no id is seen twice, and the distinct entries number exactly the total.
When the page that reaches the total is full, one more page (which must be empty) confirms
that nothing follows. Entries that failed validation still count: by id, or by position when
they have none.

`ListingCheck` folds pages one at a time and says what to do next; `assess_listing` is the
same fold over a whole sequence of pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "FetchPage",
    "ListingCheck",
    "ListingEnd",
    "ListingStep",
    "PageReport",
    "TotalMoved",
    "assess_listing",
]


@dataclass(frozen=True)
class PageReport:
    """What one page said: the offset and limit requested, the reported pagination, and one
    entry per item on the page (valid or not): its id, or None when it had no string id."""

    offset: int
    limit: int
    total: int
    entry_ids: tuple[str | None, ...]
    reported_offset: int | None = None
    reported_limit: int | None = None


@dataclass(frozen=True)
class FetchPage:
    """Request the page at `offset` next."""

    offset: int


@dataclass(frozen=True)
class ListingEnd:
    """The listing is over: complete when `problem` is empty, else `problem` says why not."""

    problem: str

    @property
    def complete(self) -> bool:
        return not self.problem


@dataclass(frozen=True)
class TotalMoved:
    """`pagination.total` changed between pages: the catalog changed while it was listed."""

    problem: str


ListingStep = FetchPage | ListingEnd | TotalMoved


class ListingCheck:
    """The consistency rules as a state machine over the pages of one pass, in order.

    Feed it each page it asked for (`next_offset`) until it returns a ListingEnd or a
    TotalMoved; a page at any other offset, or after the end, is a programming error.
    """

    def __init__(self) -> None:
        self._next_offset = 0
        self._total: int | None = None
        self._first_position: dict[str | int, int] = {}
        self._over = False

    @property
    def next_offset(self) -> int:
        return self._next_offset

    def observe(self, page: PageReport) -> ListingStep:
        if self._over:
            raise ValueError("the listing already ended; start a new ListingCheck")
        if page.offset != self._next_offset:
            raise ValueError(f"expected the page at offset {self._next_offset}, not {page.offset}")
        if page.limit < 1:
            raise ValueError("a page limit must be at least 1")
        step = self._judge(page)
        self._over = not isinstance(step, FetchPage)
        if isinstance(step, FetchPage):
            self._next_offset = step.offset
        return step

    def _judge(self, page: PageReport) -> ListingStep:
        offset, total, size = page.offset, page.total, len(page.entry_ids)
        if self._total is None:
            self._total = total
        if total != self._total:
            return TotalMoved(
                f"pagination.total moved from {self._total} to {total} at offset {offset}"
            )
        if total < 0:
            return ListingEnd(f"the page at offset {offset} reported a negative total {total}")
        if page.reported_offset is not None and page.reported_offset != offset:
            return ListingEnd(
                f"the page requested at offset {offset} reported offset {page.reported_offset}"
            )
        duplicate = self._record_entries(page)
        if duplicate:
            return ListingEnd(duplicate)
        end = offset + size
        if size and end > total:
            return ListingEnd(
                f"the page at offset {offset} carried {end - max(offset, total)} entries "
                f"beyond the reported total {total}"
            )
        if size == 0:
            if offset < total:
                return ListingEnd(
                    f"the page at offset {offset} was empty before the reported total {total}"
                )
            return self._finish(total)
        page_size = _effective_page_size(page)
        if end < total:
            if size < page_size:
                return ListingEnd(
                    f"the page at offset {offset} had {size} entries, fewer than the page "
                    f"size {page_size}, before the reported total {total}"
                )
            return FetchPage(end)
        if size >= page_size:
            return FetchPage(end)  # a full page reached the total: confirm nothing follows
        return self._finish(total)

    def _record_entries(self, page: PageReport) -> str:
        for index, entry_id in enumerate(page.entry_ids):
            position = page.offset + index
            key: str | int = position if entry_id is None else entry_id
            first = self._first_position.setdefault(key, position)
            if first != position:
                return f"model id {entry_id!r} appeared twice (at offsets {first} and {position})"
        return ""

    def _finish(self, total: int) -> ListingEnd:
        distinct = len(self._first_position)
        if distinct != total:  # pragma: no cover - the rules above already imply equality
            return ListingEnd(f"saw {distinct} distinct models, but the reported total is {total}")
        return ListingEnd("")


def _effective_page_size(page: PageReport) -> int:
    """The requested limit, or the smaller page size the catalog said it applied."""
    if page.reported_limit is not None and 0 < page.reported_limit < page.limit:
        return page.reported_limit
    return page.limit


def assess_listing(pages: Sequence[PageReport]) -> ListingStep:
    """The step after `pages` (the pages of one pass, in the order they were requested)."""
    if not pages:
        return FetchPage(0)
    check = ListingCheck()
    step: ListingStep = FetchPage(0)
    for page in pages:
        step = check.observe(page)
    return step
