"""Objects in memory, the cluster-wide resourceVersion, and watch fan-out.

Stored objects are never mutated in place: a write stores a fresh dict, so
readers, watch histories and state snapshots can share references without
copying. Everything here runs on the server's event loop; nothing locks.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

JsonObject = dict[str, Any]
ObjKey = tuple[str, str]  # (namespace or "", name)
Ref = tuple[str, ObjKey]  # (storage key, object key)

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"

DEFAULT_HISTORY = 20_000


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    rv: int
    obj: JsonObject
    prev: JsonObject | None


def object_key(obj: JsonObject) -> ObjKey:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


class Watcher:
    """One open watch: the store pushes events, the HTTP handler drains them."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()

    def push(self, event: Event) -> None:
        self.queue.put_nowait(event)

    def close(self) -> None:
        self.queue.put_nowait(None)


class Collection:
    """The objects of one storage key, their recent events, and their watchers."""

    def __init__(self, history_size: int, window_start: int) -> None:
        self.objects: dict[ObjKey, JsonObject] = {}
        self.history: deque[Event] = deque()
        self.history_size = history_size
        # Every event with rv > window_start is still in `history`.
        self.window_start = window_start
        self.watchers: set[Watcher] = set()
        self._sorted: list[ObjKey] | None = None
        # The JSON of stored objects (as served, when that is the stored object itself), by
        # key: reads reuse it while the object is the one stored (see handlers.encoded).
        self.encoded: dict[ObjKey, tuple[JsonObject, bytes]] = {}

    def sorted_keys(self) -> list[ObjKey]:
        if self._sorted is None:
            self._sorted = sorted(self.objects)
        return self._sorted

    def events_since(self, rv: int) -> list[Event] | None:
        """Events after `rv`, oldest first; None if some were already dropped."""
        if rv < self.window_start:
            return None
        newer: list[Event] = []
        for event in reversed(self.history):
            if event.rv <= rv:
                break
            newer.append(event)
        newer.reverse()
        return newer

    def record(self, event: Event) -> None:
        key = object_key(event.obj)
        self.encoded.pop(key, None)
        if event.type == DELETED:
            del self.objects[key]
            self._sorted = None
        else:
            if key not in self.objects:
                self._sorted = None
            self.objects[key] = event.obj
        self.history.append(event)
        while len(self.history) > self.history_size:
            self.window_start = self.history.popleft().rv
        for watcher in self.watchers:
            watcher.push(event)

    def compact(self, rv: int) -> None:
        self.history.clear()
        self.window_start = rv


def _owner_uids(obj: JsonObject | None) -> set[str]:
    if not obj:
        return set()
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return {str(r.get("uid")) for r in refs if isinstance(r, dict) and r.get("uid")}


class Store:
    def __init__(self, *, history_size: int = DEFAULT_HISTORY) -> None:
        self.resource_version = 0
        self.history_size = history_size
        self._base_rv = 0
        # Where a dropped storage key's history ended: a recreated one starts there.
        self._dropped: dict[str, int] = {}
        self.collections: dict[str, Collection] = {}
        self.uids: dict[str, Ref] = {}
        self.dependents: dict[str, set[Ref]] = {}
        self.namespace_sizes: dict[str, int] = {}  # namespace -> objects stored in it
        # Called after every committed change: (storage key, event).
        self.listeners: list[Callable[[str, Event], None]] = []

    def collection(self, skey: str) -> Collection:
        coll = self.collections.get(skey)
        if coll is None:
            coll = Collection(self.history_size, max(self._base_rv, self._dropped.get(skey, 0)))
            self.collections[skey] = coll
        return coll

    def get(self, skey: str, key: ObjKey) -> JsonObject | None:
        coll = self.collections.get(skey)
        return coll.objects.get(key) if coll else None

    def by_uid(self, uid: str) -> tuple[str, JsonObject] | None:
        ref = self.uids.get(uid)
        if ref is None:
            return None
        obj = self.get(*ref)
        return (ref[0], obj) if obj is not None else None

    def items(self, skey: str, namespace: str | None = None) -> Iterator[JsonObject]:
        """Objects in key order, optionally of one namespace."""
        coll = self.collections.get(skey)
        if coll is None:
            return
        objects = coll.objects
        for key in coll.sorted_keys():
            if namespace is None or key[0] == namespace:
                yield objects[key]

    def count(self, skey: str) -> int:
        coll = self.collections.get(skey)
        return len(coll.objects) if coll else 0

    def next_rv(self) -> int:
        self.resource_version += 1
        return self.resource_version

    def commit(self, skey: str, event_type: str, obj: JsonObject) -> JsonObject:
        """Store `obj` (a fresh dict the store now owns) under a new resourceVersion.

        For DELETED, `obj` is the object's final state; it leaves the store.
        """
        rv = self.next_rv()
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(rv)
        key = object_key(obj)
        coll = self.collection(skey)
        prev = coll.objects.get(key)
        self._reindex(skey, key, prev, None if event_type == DELETED else obj)
        event = Event(event_type, rv, obj, prev)
        coll.record(event)
        for listener in self.listeners:
            listener(skey, event)
        return obj

    def _reindex(
        self, skey: str, key: ObjKey, prev: JsonObject | None, new: JsonObject | None
    ) -> None:
        ref: Ref = (skey, key)
        old_owners = _owner_uids(prev)
        new_owners = _owner_uids(new)
        for uid in old_owners - new_owners:
            deps = self.dependents.get(uid)
            if deps is not None:
                deps.discard(ref)
                if not deps:
                    del self.dependents[uid]
        for uid in new_owners - old_owners:
            self.dependents.setdefault(uid, set()).add(ref)
        if prev is not None:
            self.uids.pop(str(prev["metadata"].get("uid")), None)
        if new is not None:
            self.uids[str(new["metadata"].get("uid"))] = ref
        namespace = key[0]
        if namespace and (prev is None) != (new is None):
            size = self.namespace_sizes.get(namespace, 0) + (1 if new is not None else -1)
            if size:
                self.namespace_sizes[namespace] = size
            else:
                self.namespace_sizes.pop(namespace, None)

    def watch(self, skey: str) -> Watcher:
        watcher = Watcher()
        self.collection(skey).watchers.add(watcher)
        return watcher

    def unwatch(self, skey: str, watcher: Watcher) -> None:
        coll = self.collections.get(skey)
        if coll is not None:
            coll.watchers.discard(watcher)

    def close_watchers(self, skey: str | None = None) -> None:
        for key, coll in self.collections.items():
            if skey is None or key == skey:
                for watcher in list(coll.watchers):
                    watcher.close()

    def compact(self) -> None:
        """Forget all watch history, like an etcd compaction at the current revision."""
        for coll in self.collections.values():
            coll.compact(self.resource_version)
        self._base_rv = self.resource_version

    def drop_collection(self, skey: str) -> None:
        """Forget a storage key's objects without events (used only after they were deleted)."""
        self.close_watchers(skey)
        self.collections.pop(skey, None)
        self._dropped[skey] = self.resource_version

    # -- persistence ---------------------------------------------------------------

    def snapshot(self) -> JsonObject:
        """A state document sharing the (immutable) stored objects; cheap to take."""
        return {
            "resourceVersion": self.resource_version,
            "collections": {
                skey: list(coll.objects.values())
                for skey, coll in self.collections.items()
                if coll.objects
            },
        }

    def restore(self, state: JsonObject) -> None:
        self.resource_version = int(state.get("resourceVersion", 0))
        self._base_rv = self.resource_version
        self.collections.clear()
        self.uids.clear()
        self.dependents.clear()
        self.namespace_sizes.clear()
        for skey, objects in (state.get("collections") or {}).items():
            coll = self.collection(str(skey))
            for obj in _as_objects(objects):
                key = object_key(obj)
                coll.objects[key] = obj
                self._reindex(str(skey), key, None, obj)


def _as_objects(items: Iterable[Any]) -> Iterator[JsonObject]:
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("metadata"), dict):
            yield item
