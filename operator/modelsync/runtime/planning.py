"""The planner, run off the event loop: at tens of thousands of models a plan takes seconds of
CPU, during which the loop must keep answering health probes and reading watches."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec
from modelsync.catalog.models import Model
from modelsync.catalog.records import ModelRecord
from modelsync.plan import (
    ExistingRef,
    Selection,
    SyncPlan,
    SyncRef,
    VersionResolution,
    plan_sync,
    select_desired,
)

__all__ = ["PlanMemo", "SelectionMemo", "plan_off_the_loop"]


async def plan_off_the_loop(
    models: Iterable[ModelRecord | Model],
    spec: ModelCatalogSyncSpec,
    existing: Iterable[Mapping[str, Any] | ExistingRef],
    **keywords: Any,
) -> SyncPlan:
    """`plan_sync(models, spec, existing, **keywords)` on a worker thread. The planner is
    pure, so the thread shares nothing with the loop but its arguments and result."""
    return await asyncio.to_thread(partial(plan_sync, models, spec, existing, **keywords))


class SelectionMemo:
    """The last selection of one sync and what it was made of. `select_desired` is pure, so a
    pass whose listing (the records compare by value), spec, sync and version look-ups equal
    the last pass's reuses its selection: a steady sync selects nothing anew. Used by one
    sync pass at a time."""

    def __init__(self) -> None:
        self._made_of: tuple[Any, ...] | None = None
        self._selection: Selection | None = None

    async def select(
        self,
        models: Iterable[ModelRecord | Model],
        spec: ModelCatalogSyncSpec,
        sync: SyncRef,
        resolutions: Mapping[str, VersionResolution],
        failed_lookups: Mapping[str, str],
    ) -> Selection:
        made_of = (tuple(models), spec, sync, dict(resolutions), dict(failed_lookups))
        last, last_selection = self._made_of, self._selection

        def select() -> Selection:
            if last_selection is not None and last == made_of:
                return last_selection
            return select_desired(made_of[0], spec, sync, resolutions, {}, failed_lookups)

        self._made_of = self._selection = None  # a pass that fails half-way leaves no memo
        selection = await asyncio.to_thread(select)
        self._made_of, self._selection = made_of, selection
        return selection


class PlanMemo:
    """The last plan of one sync when it had nothing to do, and what it was made of: the
    selection (the very object, SelectionMemo's), the ModelRefs (the watch cache at one
    version: the same entries) and the listing's verdict. A pass made of the same plans the
    same, `now` aside, which only dates what a plan writes, and this plan writes nothing and
    keeps no removed ModelRef (whose removal could come due): so it is reused as it is."""

    def __init__(self) -> None:
        self._selection: Selection | None = None
        self._made_of: tuple[Any, ...] | None = None
        self._plan: SyncPlan | None = None

    def reuse(self, selection: Selection, made_of: tuple[Any, ...]) -> SyncPlan | None:
        if self._plan is None or selection is not self._selection or made_of != self._made_of:
            return None
        return self._plan

    def keep(self, selection: Selection, made_of: tuple[Any, ...] | None, plan: SyncPlan) -> None:
        """`made_of` None: the ModelRefs came from a LIST; nothing is kept."""
        idle = plan.write_count == 0 and plan.retained_total == 0 and plan.guard is None
        if made_of is None or not idle:
            self._selection = self._made_of = self._plan = None
            return
        self._selection, self._made_of, self._plan = selection, made_of, plan
