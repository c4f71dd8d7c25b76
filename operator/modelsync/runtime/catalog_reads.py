"""Catalog reads shared by a sync pass and `modelsync render`: the filters a spec sends and
the look-ups of the newest deployable version, so both list and resolve the same way."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from modelsync.api.sync import ModelCatalogSyncSpec
from modelsync.catalog import (
    CatalogClient,
    CatalogError,
    ModelFilters,
    VersionsEndpointUnsupported,
)
from modelsync.catalog.models import Model
from modelsync.plan import UNSUPPORTED, VersionResolution

LOOKUP_CONCURRENCY = 4


def catalog_filters(spec: ModelCatalogSyncSpec) -> ModelFilters:
    """The server-side filters of `spec.filters`, as List Models query parameters."""
    f = spec.filters
    return ModelFilters(
        fqn=f.fqn,
        ml_repo_id=f.ml_repo_id,
        name=f.name,
        run_id=f.run_id,
        include_empty_models=f.include_empty_models,
    )


@dataclass
class VersionLookups:
    """Answers by model id; `failed` holds the models whose look-up failed (no answer)."""

    results: dict[str, VersionResolution] = field(default_factory=dict)
    failed: dict[str, tuple[Model, CatalogError]] = field(default_factory=dict)

    def failure_messages(self) -> dict[str, str]:
        """{model id: why its look-up failed}, as the planner's `failed_lookups`."""
        return {
            model_id: f"looking up the newest deployable version failed ({exc.reason}): {exc}"
            for model_id, (_, exc) in self.failed.items()
        }


async def look_up_deployable_versions(
    client: CatalogClient, pending: Sequence[Model], *, concurrency: int = LOOKUP_CONCURRENCY
) -> VersionLookups:
    """Ask the model-versions endpoint for each pending model's newest deployable version.

    Once the endpoint answers 404 (not supported), every remaining model is UNSUPPORTED
    without another request.
    """
    lookups = VersionLookups()
    unsupported = False
    gate = asyncio.Semaphore(concurrency)

    async def look_up(model: Model) -> None:
        nonlocal unsupported
        async with gate:
            if unsupported:
                lookups.results[model.id] = UNSUPPORTED
                return
            try:
                lookups.results[model.id] = await client.newest_deployable_version(model.id)
            except VersionsEndpointUnsupported:
                unsupported = True
                lookups.results[model.id] = UNSUPPORTED
            except CatalogError as exc:
                lookups.failed[model.id] = (model, exc)

    await asyncio.gather(*(look_up(m) for m in pending))
    return lookups
