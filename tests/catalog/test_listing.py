"""The pure completeness rules of a paged listing (catalog/listing.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsync.catalog.listing import (
    FetchPage,
    ListingCheck,
    ListingEnd,
    ListingStep,
    PageReport,
    TotalMoved,
    assess_listing,
)

# A server: given (offset, limit), the page it answers with.
Server = Callable[[int, int], PageReport]


def honest(ids: list[str], *, cap: int | None = None) -> Server:
    """Serves `ids` truthfully; with `cap`, pages hold at most `cap` entries and say so."""

    def serve(offset: int, limit: int) -> PageReport:
        size = limit if cap is None else min(limit, cap)
        return PageReport(
            offset,
            limit,
            len(ids),
            tuple(ids[offset : offset + size]),
            reported_offset=offset,
            reported_limit=size,
        )

    return serve


def drive(server: Server, limit: int, max_pages: int = 10_000) -> tuple[ListingStep, int]:
    """Run the check against `server`; the final step and the number of pages requested."""
    check = ListingCheck()
    for requested in range(1, max_pages + 1):
        step = check.observe(server(check.next_offset, limit))
        if not isinstance(step, FetchPage):
            return step, requested
    raise AssertionError("runaway")


def names(count: int) -> list[str]:
    return [f"m-{index}" for index in range(count)]


def page(offset: int, total: int, *ids: str | None, limit: int = 2) -> PageReport:
    return PageReport(offset, limit, total, ids)


# --- examples ----------------------------------------------------------------------------


def test_short_last_page_ends_a_complete_listing() -> None:
    step = assess_listing([page(0, 3, "a", "b"), page(2, 3, "c")])
    assert step == ListingEnd("")
    assert isinstance(step, ListingEnd)
    assert step.complete


def test_full_last_page_asks_for_one_more_page() -> None:
    assert assess_listing([page(0, 4, "a", "b"), page(2, 4, "c", "d")]) == FetchPage(4)
    assert assess_listing([page(0, 4, "a", "b"), page(2, 4, "c", "d"), page(4, 4)]) == ListingEnd(
        ""
    )


def test_empty_catalog_is_one_empty_page() -> None:
    assert assess_listing([page(0, 0)]) == ListingEnd("")
    assert assess_listing([]) == FetchPage(0)


@pytest.mark.parametrize(
    ("pages", "problem"),
    [
        (
            [page(0, 5, "a", "b"), page(2, 5)],
            "the page at offset 2 was empty before the reported total 5",
        ),
        (
            [page(0, 5, "a", "b"), page(2, 5, "c")],
            "the page at offset 2 had 1 entries, fewer than the page size 2, before the "
            "reported total 5",
        ),
        (
            [page(0, 2, "a", "b"), page(2, 2, "c")],
            "the page at offset 2 carried 1 entries beyond the reported total 2",
        ),
        (
            [page(0, 3, "a", "b"), page(2, 3, "c", "d")],
            "the page at offset 2 carried 1 entries beyond the reported total 3",
        ),
        (
            [page(0, 4, "a", "b"), page(2, 4, "a", "b")],
            "model id 'a' appeared twice (at offsets 0 and 2)",
        ),
        ([page(0, 2, "a", "a")], "model id 'a' appeared twice (at offsets 0 and 1)"),
        ([page(0, -1)], "the page at offset 0 reported a negative total -1"),
        (
            [page(0, 4, "a", "b"), PageReport(2, 2, 4, ("c", "d"), reported_offset=0)],
            "the page requested at offset 2 reported offset 0",
        ),
    ],
)
def test_inconsistencies_end_the_listing_with_their_reason(
    pages: list[PageReport], problem: str
) -> None:
    step = assess_listing(pages)
    assert step == ListingEnd(problem)
    assert isinstance(step, ListingEnd)
    assert not step.complete


def test_total_that_moves_is_reported_as_such() -> None:
    step = assess_listing([page(0, 4, "a", "b"), page(2, 5, "c", "d")])
    assert step == TotalMoved("pagination.total moved from 4 to 5 at offset 2")


def test_entries_without_an_id_count_by_position() -> None:
    assert assess_listing([page(0, 3, None, None), page(2, 3, None)]) == ListingEnd("")
    # ...and an id-less entry never equals a real id.
    assert assess_listing([page(0, 2, None, "0", limit=3)]) == ListingEnd("")


def test_page_size_the_catalog_reports_is_honoured() -> None:
    capped = [
        PageReport(0, 10, 5, ("a", "b"), reported_limit=2),
        PageReport(2, 10, 5, ("c", "d"), reported_limit=2),
        PageReport(4, 10, 5, ("e",), reported_limit=2),
    ]
    assert assess_listing(capped) == ListingEnd("")
    # A reported limit above the requested one changes nothing.
    assert assess_listing([PageReport(0, 2, 3, ("a",), reported_limit=50)]) == ListingEnd(
        "the page at offset 0 had 1 entries, fewer than the page size 2, before the reported "
        "total 3"
    )


def test_misuse_is_a_programming_error() -> None:
    check = ListingCheck()
    with pytest.raises(ValueError, match="offset 0"):
        check.observe(page(2, 4, "c"))
    with pytest.raises(ValueError, match="limit"):
        check.observe(PageReport(0, 0, 0, ()))
    assert check.observe(page(0, 1, "a")) == ListingEnd("")
    with pytest.raises(ValueError, match="already ended"):
        check.observe(page(1, 1))


# --- properties ----------------------------------------------------------------------------

sizes = st.integers(0, 60)
limits = st.integers(1, 12)


@given(sizes, limits)
def test_honest_catalog_is_complete_in_n_div_l_plus_one_requests(count: int, limit: int) -> None:
    step, requested = drive(honest(names(count)), limit)
    assert step == ListingEnd("")
    assert requested == count // limit + 1


@given(sizes, limits, st.integers(1, 12))
def test_catalog_capping_the_page_size_and_saying_so_is_complete(
    count: int, limit: int, cap: int
) -> None:
    step, _ = drive(honest(names(count), cap=cap), limit)
    assert step == ListingEnd("")


@given(st.integers(1, 60), limits, st.integers(1, 20))
def test_understated_total_is_never_complete(count: int, limit: int, understatement: int) -> None:
    ids = names(count)
    real = honest(ids)

    def serve(offset: int, limit: int) -> PageReport:
        page = real(offset, limit)
        return PageReport(offset, limit, max(0, count - understatement), page.entry_ids)

    step, _ = drive(serve, limit)
    assert isinstance(step, ListingEnd)
    assert not step.complete
    assert "beyond the reported total" in step.problem


@given(sizes, limits, st.integers(1, 20))
def test_overstated_total_is_never_complete(count: int, limit: int, overstatement: int) -> None:
    real = honest(names(count))

    def serve(offset: int, limit: int) -> PageReport:
        page = real(offset, limit)
        return PageReport(offset, limit, count + overstatement, page.entry_ids)

    step, _ = drive(serve, limit)
    assert isinstance(step, ListingEnd)
    assert not step.complete
    assert "before the reported total" in step.problem


@given(sizes, limits, st.integers(0, 10))
def test_empty_page_before_total_is_never_complete(count: int, limit: int, at_page: int) -> None:
    real = honest(names(count))

    def serve(offset: int, limit: int) -> PageReport:
        page = real(offset, limit)
        if offset == at_page * limit:
            return PageReport(offset, limit, page.total, ())
        return page

    step, _ = drive(serve, limit)
    assert isinstance(step, ListingEnd)
    lost_something = at_page * limit < count
    assert step.complete is not lost_something


@given(sizes, limits, st.booleans())
def test_server_ignoring_offset_is_caught_unless_one_page_holds_everything(
    count: int, limit: int, echoes_zero: bool
) -> None:
    ids = names(count)

    def serve(offset: int, limit: int) -> PageReport:
        return PageReport(
            offset,
            limit,
            count,
            tuple(ids[:limit]),
            reported_offset=0 if echoes_zero else offset,
        )

    step, requested = drive(serve, limit)
    assert isinstance(step, ListingEnd)
    assert step.complete is (count < limit)
    assert requested <= 2


@given(st.integers(1, 60), limits, st.integers(1, 10))
def test_page_repeating_the_previous_one_is_never_complete(
    count: int, limit: int, at_page: int
) -> None:
    real = honest(names(count))

    def serve(offset: int, limit: int) -> PageReport:
        if offset == at_page * limit:
            previous = real(offset - limit, limit)
            return PageReport(offset, limit, count, previous.entry_ids)
        return real(offset, limit)

    step, _ = drive(serve, limit)
    assert isinstance(step, ListingEnd)
    reached = at_page * limit <= count
    assert step.complete is not reached


@given(st.integers(2, 60), limits, st.data())
def test_duplicate_id_anywhere_is_never_complete(
    count: int, limit: int, data: st.DataObject
) -> None:
    ids = names(count)
    first = data.draw(st.integers(0, count - 2))
    second = data.draw(st.integers(first + 1, count - 1))
    ids[second] = ids[first]
    step, _ = drive(honest(ids), limit)
    assert step == ListingEnd(
        f"model id {ids[first]!r} appeared twice (at offsets {first} and {second})"
    )


@given(sizes, limits, st.integers(0, 12), st.integers(-5, 5).filter(bool))
def test_moving_total_is_reported_not_judged(
    count: int, limit: int, at_page: int, delta: int
) -> None:
    real = honest(names(count))

    def serve(offset: int, limit: int) -> PageReport:
        page = real(offset, limit)
        if offset >= at_page * limit and offset > 0:
            return PageReport(offset, limit, count + delta, page.entry_ids)
        return page

    step, _ = drive(serve, limit)
    if isinstance(step, TotalMoved):
        assert step.problem.startswith(f"pagination.total moved from {count} to {count + delta}")
    else:  # the listing ended before the total moved
        assert step == ListingEnd("")


pages_said = st.lists(
    st.tuples(
        st.integers(-1, 6),  # total
        st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", None]), max_size=4),
        st.one_of(st.none(), st.integers(0, 8)),  # reported offset
        st.one_of(st.none(), st.integers(0, 5)),  # reported limit
    ),
    min_size=1,
    max_size=8,
)


@given(pages_said, st.integers(1, 4))
def test_complete_implies_self_consistent(
    said: list[tuple[int, list[str | None], int | None, int | None]], limit: int
) -> None:
    """Whatever a server says, a listing judged complete has one total on every page, no id
    twice, contiguous pages from offset 0, and exactly `total` distinct entries."""
    check = ListingCheck()
    seen: list[PageReport] = []
    step: ListingStep = FetchPage(0)
    for total, entries, reported_offset, reported_limit in said:
        report = PageReport(
            check.next_offset, limit, total, tuple(entries), reported_offset, reported_limit
        )
        seen.append(report)
        step = check.observe(report)
        if not isinstance(step, FetchPage):
            break
    if not (isinstance(step, ListingEnd) and step.complete):
        return
    totals = {report.total for report in seen}
    assert len(totals) == 1
    (total,) = totals
    keys: list[str | int] = []
    for report in seen:
        assert report.offset == len(keys)
        keys += [
            report.offset + index if entry is None else entry
            for index, entry in enumerate(report.entry_ids)
        ]
    assert len(keys) == len(set(keys)) == total
    last = seen[-1]
    assert len(last.entry_ids) == 0 or len(last.entry_ids) < limit
