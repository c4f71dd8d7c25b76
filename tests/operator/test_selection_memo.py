"""The selection and plan memos of a sync (runtime/planning.py): over any sequence of passes the
selection memo gives what `select_desired` gives, and a pass whose inputs equal the last pass's
(records decoded anew included) reuses the last selection instead of selecting again; an idle
plan is reused only when made of the same selection and ModelRefs."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec
from modelsync.catalog.records import ModelRecord
from modelsync.plan import CreateRef, DeletionGuard, Selection, SyncPlan, select_desired
from modelsync.runtime.planning import PlanMemo, SelectionMemo
from plan import factories as f
from plan.test_properties import SETTINGS, Catalog, catalogs, specs


def summary(selection: Selection) -> Any:
    desired = {
        name: (d.spec_digest, dict(d.labels), dict(d.annotations), d.spec)
        for name, d in selection.desired.items()
    }
    return (
        desired,
        selection.failures,
        selection.selected,
        selection.protected,
        selection.depends_on_existing,
    )


def decoded_anew(models: list[ModelRecord]) -> list[ModelRecord]:
    """The same records as another pass decodes them: equal values, other objects."""
    return [msgspec.json.decode(msgspec.json.encode(m), type=ModelRecord) for m in models]


@SETTINGS
@given(
    st.lists(catalogs(), min_size=1, max_size=3),
    st.lists(specs(), min_size=1, max_size=2),
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 1), st.booleans()), min_size=1, max_size=8
    ),
)
def test_the_memo_selects_what_select_desired_selects_and_reuses_equal_passes(
    catalog_choices: list[Catalog],
    spec_choices: list[ModelCatalogSyncSpec],
    passes: list[tuple[int, int, bool]],
) -> None:
    memo = SelectionMemo()
    last: tuple[Catalog, ModelCatalogSyncSpec, Selection] | None = None

    async def run() -> None:
        nonlocal last
        for catalog_index, spec_index, anew in passes:
            catalog = catalog_choices[catalog_index % len(catalog_choices)]
            spec = spec_choices[spec_index % len(spec_choices)]
            models = decoded_anew(catalog.models) if anew else catalog.models
            got = await memo.select(
                models, spec, f.SYNC, catalog.resolutions, catalog.failed_lookups
            )
            want = select_desired(
                catalog.models, spec, f.SYNC, catalog.resolutions, {}, catalog.failed_lookups
            )
            assert summary(got) == summary(want)
            if last is not None and (last[0], last[1]) == (catalog, spec):
                assert got is last[2], "an equal pass selected again"
            last = (catalog, spec, got)

    asyncio.run(asyncio.wait_for(run(), 60.0))


def test_a_plan_is_reused_only_when_idle_and_made_of_the_same() -> None:
    """PlanMemo: the same selection object and the same ModelRefs (cache and version) and
    listing verdict reuse an idle plan; a plan that writes, keeps removed ModelRefs (whose
    removal may come due) or guards deletions is planned again, and so is any pass after a
    LIST (made_of None)."""
    catalog = [f.model("a"), f.model("b")]
    spec = f.spec()
    selection = select_desired(catalog, spec, f.SYNC, {}, {}, {})
    idle = SyncPlan(desired=selection.desired, unchanged=2, selected=2)
    made_of = ("cache", 7, True, "", (), f.SYNC)
    memo = PlanMemo()
    memo.keep(selection, made_of, idle)
    assert memo.reuse(selection, made_of) is idle
    assert memo.reuse(selection, ("cache", 8, True, "", (), f.SYNC)) is None
    again = select_desired(catalog, spec, f.SYNC, {}, {}, {})
    assert memo.reuse(again, made_of) is None  # equal, but not the memo's selection
    for busy in (
        SyncPlan(creates=(CreateRef("x", "f", {}, {}),)),
        SyncPlan(retained_total=1),
        SyncPlan(guard=DeletionGuard(would_remove=3, max_deletions=1, message="held")),
    ):
        memo.keep(selection, made_of, idle)
        memo.keep(selection, made_of, busy)
        assert memo.reuse(selection, made_of) is None
    memo.keep(selection, made_of, idle)
    memo.keep(selection, None, idle)
    assert memo.reuse(selection, made_of) is None
