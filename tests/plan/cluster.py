"""A dict standing in for the API server's ModelRefs: applies a SyncPlan the way the shell
would (merge patches per RFC 7386, generation bump on spec change), for planner tests."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from modelsync.plan import CreateRef, SyncPlan, UpdateRef


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, returning a new value."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def roundtrip(value: Any) -> Any:
    """Through JSON, like a write and a read against the API server."""
    return json.loads(json.dumps(value))


class Cluster:
    def __init__(self, objects: Mapping[str, dict[str, Any]] | None = None) -> None:
        self.objects: dict[str, dict[str, Any]] = dict(objects or {})
        self._counter = 0

    def listed(self) -> list[dict[str, Any]]:
        return [roundtrip(obj) for obj in self.objects.values()]

    def _next_rv(self) -> str:
        self._counter += 1
        return str(self._counter)

    def create(self, create: CreateRef) -> None:
        obj = roundtrip(create.body)
        assert obj["metadata"]["name"] not in self.objects
        obj["metadata"].update(
            uid=f"uid-{create.name}-{self._counter}", resourceVersion=self._next_rv(), generation=1
        )
        obj["status"] = roundtrip(create.status["status"])
        self.objects[create.name] = obj

    def update(self, update: UpdateRef) -> None:
        obj = self.objects[update.name]
        if update.patch is not None:
            patched = merge_patch(obj, update.patch)
            if patched.get("spec") != obj.get("spec"):
                patched["metadata"]["generation"] = obj["metadata"].get("generation", 0) + 1
            patched["metadata"]["resourceVersion"] = self._next_rv()
            obj = patched
        if update.status is not None:
            obj = merge_patch(obj, update.status)
        self.objects[update.name] = roundtrip(obj)

    def apply(self, plan: SyncPlan) -> None:
        for create in plan.creates:
            self.create(create)
        for update in plan.updates:
            self.update(update)
        for delete in plan.deletes:
            assert self.objects[delete.name]["metadata"]["uid"] == delete.uid
            del self.objects[delete.name]
        for mark in plan.retained:
            self.objects[mark.name] = roundtrip(merge_patch(self.objects[mark.name], mark.status))
