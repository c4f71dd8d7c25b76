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

__all__ = ["plan_off_the_loop", "select_off_the_loop"]


async def plan_off_the_loop(
    models: Iterable[ModelRecord | Model],
    spec: ModelCatalogSyncSpec,
    existing: Iterable[Mapping[str, Any] | ExistingRef],
    **keywords: Any,
) -> SyncPlan:
    """`plan_sync(models, spec, existing, **keywords)` on a worker thread. The planner is
    pure, so the thread shares nothing with the loop but its arguments and result."""
    return await asyncio.to_thread(partial(plan_sync, models, spec, existing, **keywords))


async def select_off_the_loop(
    models: Iterable[ModelRecord | Model],
    spec: ModelCatalogSyncSpec,
    sync: SyncRef,
    resolutions: Mapping[str, VersionResolution],
    failed_lookups: Mapping[str, str],
) -> Selection:
    """The desired ModelRefs as if none existed yet (`select_desired`), on a worker thread:
    which spec digests the plan expects, before the ModelRefs are listed."""
    return await asyncio.to_thread(
        partial(select_desired, models, spec, sync, resolutions, {}, failed_lookups)
    )
