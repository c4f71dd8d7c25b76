"""ModelRef names held by another owner: skipped creates, adoption of orphans, create
conflicts (the name was taken between the listing and the POST)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from modelsync.kube.apply import ApplyResult
from modelsync.kube.client import KubeApi
from modelsync.kube.errors import KubeApiError, KubeNotFound
from modelsync.kube.modelrefs import get_modelref
from modelsync.plan import (
    CreateRef,
    DesiredRef,
    ModelFailure,
    SyncPlan,
    UpdateRef,
    foreign_owner,
    repair_plan,
)
from modelsync.runtime.modelref_writes import ModelRefWriter

__all__ = ["OwnershipResolver"]


class OwnershipResolver:
    """Remembers the names another owner held, so later passes re-read them instead of
    sending a create that fails."""

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        writer: ModelRefWriter,
        clock: Callable[[], datetime],
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._writer = writer
        self._clock = clock
        self._foreign: set[str] = set()

    async def skip_known_foreign(self, plan: SyncPlan) -> tuple[SyncPlan, list[ModelFailure]]:
        """Creates of names another owner held last time: re-read instead of a failing POST."""
        if not self._foreign or not any(c.name in self._foreign for c in plan.creates):
            return plan, []
        creates: list[CreateRef] = []
        updates = list(plan.updates)
        failures: list[ModelFailure] = []
        for create in plan.creates:
            if create.name not in self._foreign:
                creates.append(create)
                continue
            try:
                observed = await get_modelref(self._api, self._namespace, create.name)
            except KubeNotFound:
                self._foreign.discard(create.name)
                creates.append(create)
                continue
            except KubeApiError:
                creates.append(create)
                continue
            desired = plan.desired[create.name]
            failure = foreign_owner(desired, observed)
            if failure is not None:
                failures.append(failure)
                continue
            self._foreign.discard(create.name)
            adopt = repair_plan(desired, observed, now=self._clock())
            if isinstance(adopt, UpdateRef):
                updates.append(adopt)
        return dataclasses.replace(plan, creates=tuple(creates), updates=tuple(updates)), failures

    async def resolve_write_failures(
        self, plan: SyncPlan, applied: ApplyResult
    ) -> list[ModelFailure]:
        """Turn write failures into per-model failures; a create that hit an existing object
        is re-read: someone else's -> OwnedByAnotherSync, an orphan of ours -> adopted."""
        failures: list[ModelFailure] = []
        for failure in applied.failures:
            desired = plan.desired.get(failure.name)
            if failure.action == "create" and failure.reason == "Conflict" and desired:
                resolved = await self._resolve_create_conflict(desired)
                if resolved is not None:
                    failures.append(resolved)
                continue
            failures.append(
                ModelFailure(failure.model_fqn or failure.name, failure.reason, failure.message)
            )
        return failures

    async def _resolve_create_conflict(self, desired: DesiredRef) -> ModelFailure | None:
        try:
            observed = await get_modelref(self._api, self._namespace, desired.name)
        except KubeApiError as exc:
            return ModelFailure(desired.model_fqn, "Conflict", str(exc), desired.name)
        foreign = foreign_owner(desired, observed)
        if foreign is not None:
            self._foreign.add(desired.name)
            return foreign
        adopt = repair_plan(desired, observed, now=self._clock())
        if adopt is None:
            return None
        applied = await self._writer.apply_one(adopt)
        if applied.failures:
            first = applied.failures[0]
            return ModelFailure(desired.model_fqn, first.reason, first.message, desired.name)
        return None
