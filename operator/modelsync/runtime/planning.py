"""The planner, run off the event loop: at tens of thousands of models a plan takes seconds of
CPU, during which the loop must keep answering health probes and reading watches."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec
from modelsync.catalog.models import Model
from modelsync.plan import SyncPlan, plan_sync

__all__ = ["plan_off_the_loop"]


async def plan_off_the_loop(
    models: Iterable[Model],
    spec: ModelCatalogSyncSpec,
    existing: Iterable[Mapping[str, Any]],
    **keywords: Any,
) -> SyncPlan:
    """`plan_sync(models, spec, existing, **keywords)` on a worker thread. The planner is
    pure, so the thread shares nothing with the loop but its arguments and result."""
    return await asyncio.to_thread(partial(plan_sync, models, spec, existing, **keywords))
