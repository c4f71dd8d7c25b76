"""Writes of one sync's ModelRefs, remembering the resourceVersions they produced so that the
watch events of the operator's own writes are not mistaken for drift."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from modelsync.kube.apply import ApplyResult, apply_plan
from modelsync.kube.client import KubeApi
from modelsync.kube.modelref_cache import NamespaceCache
from modelsync.plan import CreateRef, SyncPlan, UpdateRef
from modelsync.runtime.bodies import metadata_of

__all__ = ["ModelRefWriter", "merged", "write_count"]

_OWN_VERSIONS_KEPT = 4


def write_count(applied: ApplyResult) -> int:
    """Requests that changed something: the writes themselves plus the Events posted."""
    return sum(len(v) for v in applied.written.values()) + applied.events


def merged(first: ApplyResult, second: ApplyResult) -> ApplyResult:
    written = {name: list(versions) for name, versions in first.written.items()}
    for name, versions in second.written.items():
        written.setdefault(name, []).extend(versions)
    return ApplyResult(
        created=first.created + second.created,
        updated=first.updated + second.updated,
        deleted=first.deleted + second.deleted,
        marked_removed=first.marked_removed + second.marked_removed,
        events=first.events + second.events,
        moved=[*first.moved, *second.moved],
        failures=[*first.failures, *second.failures],
        written=written,
        removed=[*first.removed, *second.removed],
    )


class ModelRefWriter:
    """Applies plans to one namespace under the operator-wide write limit."""

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        writes: asyncio.Semaphore,
        cache: Callable[[], NamespaceCache | None] | None = None,
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._writes = writes
        self._cache = cache  # told of every write, so that no plan reads what preceded it
        self._own_versions: dict[str, deque[str]] = {}

    async def apply(self, plan: SyncPlan) -> ApplyResult:
        """Apply `plan`; call `remember` with the result (after merging, if in parts)."""
        return await apply_plan(self._api, self._namespace, plan, writes=self._writes)

    async def apply_one(self, item: CreateRef | UpdateRef) -> ApplyResult:
        """Create or update one ModelRef and remember the write."""
        if isinstance(item, CreateRef):
            plan = SyncPlan(creates=(item,))
        else:
            plan = SyncPlan(updates=(item,))
        applied = await self.apply(plan)
        self.remember(applied)
        return applied

    def remember(self, applied: ApplyResult) -> None:
        for name, versions in applied.written.items():
            kept = self._own_versions.setdefault(name, deque(maxlen=_OWN_VERSIONS_KEPT))
            kept.extend(versions)
        cache = self._cache() if self._cache is not None else None
        if cache is not None:
            cache.expect(applied.written, applied.removed)

    def is_own_write(self, body: Mapping[str, Any]) -> bool:
        """Is this ModelRef body the result of one of the recent writes?"""
        meta = metadata_of(body)
        version = meta.get("resourceVersion")
        return version is not None and version in self._own_versions.get(str(meta.get("name")), ())
