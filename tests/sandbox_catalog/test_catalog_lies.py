"""Properties of the pure paging lies: when each applies and what the page then holds."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from modelsync_sandbox.catalog_lies import PAGING_LIE_KINDS, PageFacts, PagingLie, apply_lie
from modelsync_sandbox.catalog_query import paginate

JsonObject = dict[str, Any]


@st.composite
def page_requests(draw: st.DrawFn) -> tuple[JsonObject, PageFacts]:
    count = draw(st.integers(0, 25))
    items = [{"id": f"m{i}", "name": f"model-{i}"} for i in range(count)]
    offset = draw(st.integers(0, count + 5))
    limit = draw(st.none() | st.integers(1, 10))
    previous = draw(
        st.none() | st.lists(st.sampled_from(items), max_size=5) if items else st.none()
    )
    return paginate(items, offset, limit), PageFacts(items, offset, limit, previous)


lies = st.builds(
    PagingLie,
    kind=st.sampled_from(PAGING_LIE_KINDS),
    remaining=st.none() | st.integers(1, 3),
    delta=st.integers(-6, 6).filter(bool),
    from_offset=st.integers(0, 8),
    across_pages=st.booleans(),
)


def _ids(page: JsonObject) -> list[str]:
    return [item["id"] for item in page["data"]]


@given(lies, page_requests())
def test_lies_never_touch_their_input(
    lie: PagingLie, request: tuple[JsonObject, PageFacts]
) -> None:
    page, facts = request
    before = copy.deepcopy((page, list(facts.items), facts.previous_data))
    told = apply_lie(lie, page, facts)
    assert (page, list(facts.items), facts.previous_data) == before
    if told is not None:
        assert set(told) == {"data", "pagination"}
        assert told["pagination"]["offset"] == facts.offset
        assert told["pagination"].get("limit") == facts.limit


@given(page_requests())
def test_ignore_offset_serves_the_first_page_after_the_first(
    request: tuple[JsonObject, PageFacts],
) -> None:
    page, facts = request
    told = apply_lie(PagingLie("ignore-offset", None), page, facts)
    if facts.offset == 0:
        assert told is None
    else:
        assert told is not None
        assert told["data"] == paginate(facts.items, 0, facts.limit)["data"]
        assert told["pagination"] == page["pagination"]


@given(page_requests())
def test_repeat_page_serves_the_previous_data(request: tuple[JsonObject, PageFacts]) -> None:
    page, facts = request
    told = apply_lie(PagingLie("repeat-page", None), page, facts)
    if facts.offset == 0 or facts.previous_data is None:
        assert told is None
    else:
        assert told is not None
        assert told["data"] == list(facts.previous_data)


@given(st.integers(0, 8), page_requests())
def test_empty_page_only_before_the_true_total(
    from_offset: int, request: tuple[JsonObject, PageFacts]
) -> None:
    page, facts = request
    told = apply_lie(PagingLie("empty-page-before-total", 1, from_offset=from_offset), page, facts)
    if from_offset <= facts.offset < len(facts.items):
        assert told == {"data": [], "pagination": page["pagination"]}
    else:
        assert told is None


@given(st.booleans(), page_requests())
def test_duplicate_ids_keep_the_count_but_repeat_one_id(
    across_pages: bool, request: tuple[JsonObject, PageFacts]
) -> None:
    page, facts = request
    told = apply_lie(PagingLie("duplicate-ids", None, across_pages=across_pages), page, facts)
    if told is None:
        assert len(page["data"]) < 2 if not across_pages else facts.offset == 0 or not page["data"]
        return
    assert len(told["data"]) == len(page["data"])
    assert told["pagination"] == page["pagination"]
    if across_pages:
        assert told["data"][0] == facts.items[facts.offset - 1]
        assert told["data"][1:] == page["data"][1:]
    else:
        assert Counter(_ids(told)).most_common(1)[0] == (page["data"][0]["id"], 2)


@given(st.integers(-6, 6).filter(bool), page_requests())
def test_moving_total_moves_total_and_window_together(
    delta: int, request: tuple[JsonObject, PageFacts]
) -> None:
    page, facts = request
    told = apply_lie(PagingLie("moving-total", None, delta=delta), page, facts)
    if facts.offset == 0:
        assert told is None
        return
    assert told is not None
    assert told["pagination"]["total"] == max(0, len(facts.items) + delta)
    start = max(0, facts.offset - delta)
    assert told["data"] == paginate(facts.items, start, facts.limit)["data"]
