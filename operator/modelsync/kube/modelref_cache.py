"""The ModelRefs of one namespace as the operator's own watch (kube/modelref_watch.py) last
delivered them: what a sync pass plans against instead of a LIST.

Used on the event loop only. An entry keeps what the planner reads of a ModelRef (metadata,
status, the model and version ids of its spec) and the whole spec as JSON bytes, decoded only
for the ModelRefs whose spec digest cannot vouch for their spec.

When the cache may not be used (`snapshot` answers None, and the pass LISTs):
- before its first listing is complete, and during every relisting (410 Gone): a relisting
  replaces the entries, so a ModelRef deleted while the watch was away does not linger;
- while the watch fails to reconnect (it is live again once the watch is back, which first
  delivers what it missed);
- while one of the operator's own writes has not come back through the watch. A write's
  answer gives the resourceVersion it produced (`expect`); the watch delivers that very
  version, in order, so a plan never reads an object older than the operator's own last
  write of it. The last few versions delivered of each object (and the names deleted) are
  kept, so a write whose event came first, or that changed nothing (no event), is not
  waited for. A pass waits `settle(wait)` for the rest; after that it LISTs, and the
  writes it waited for are no longer waited for (their events were lost to a relisting, or
  are later than any sync should wait).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

import msgspec

from modelsync.api.constants import ANNOTATION_SPEC_DIGEST, LABEL_SYNC
from modelsync.api.labels import sanitize_label_value
from modelsync.kube.modelref_states import SpecNeeded
from modelsync.plan import ExistingRef, parse_existing

__all__ = ["NamespaceCache"]

_EMPTY: Mapping[str, Any] = {}
_GONE = None  # an expected deletion, in `_pending`
_RECENT = 4  # resourceVersions kept per object
_TOMBSTONES = 65536  # names of deleted objects kept (the oldest go first)


@dataclass(frozen=True, slots=True)
class _Entry:
    state: ExistingRef  # its spec holds the model and version ids only
    spec: bytes  # the whole spec, JSON
    recent: tuple[str | None, ...]  # the versions delivered, newest first


def _summary(spec: Mapping[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    model, version = spec.get("model"), spec.get("version")
    if isinstance(model, Mapping):
        summary["model"] = {"id": model.get("id"), "fqn": model.get("fqn")}
    if isinstance(version, Mapping):
        summary["version"] = {"id": version.get("id"), "version": version.get("version")}
    return summary


def _entry(obj: Mapping[str, Any], before: _Entry | None) -> _Entry:
    state = parse_existing(obj)
    spec = obj.get("spec")
    whole = spec if isinstance(spec, Mapping) else _EMPTY
    try:
        data = msgspec.json.encode(whole)
    except (msgspec.EncodeError, TypeError, ValueError):  # not from a JSON decoder
        data = b"{}"
    recent = (
        (state.resource_version, *before.recent[: _RECENT - 1])
        if before
        else (state.resource_version,)
    )
    return _Entry(replace(state, spec=_summary(whole), spec_complete=False), data, recent)


def _is_deleting(obj: Mapping[str, Any]) -> bool:
    meta = obj.get("metadata")
    return isinstance(meta, Mapping) and bool(meta.get("deletionTimestamp"))


class NamespaceCache:
    """`labels`: with --sync-selector, the `modelsync.dev/sync` values of this shard's syncs in
    the namespace: only their ModelRefs are kept (None: every managed ModelRef). A value taken
    in later (`take`) makes the cache wait for a relisting that shows that sync's ModelRefs."""

    def __init__(self, namespace: str, labels: frozenset[str] | None = None) -> None:
        self.namespace = namespace
        # Replaced, never changed in place: the watch's thread reads it for its selector.
        self.labels = labels
        self._taken = 0  # counts `take` calls
        self._listing_taken = 0  # `_taken` when the relisting in progress started
        self._listed_taken = 0  # `_taken` when the last complete relisting started
        self._entries: dict[str, _Entry] = {}
        self._live = False  # listed completely, and the watch runs
        self._listing: set[str] | None = None  # names seen by the relisting in progress
        # name -> the resourceVersion our write produced, or _GONE for our deletion
        self._pending: dict[str, str | None] = {}
        self._deleted: dict[str, None] = {}  # names whose deletion the watch delivered
        self._moved = asyncio.Event()  # set on every change of `_pending` or `_live`
        self.version = 0  # moves with every change of the entries

    # -- fed by the watch -------------------------------------------------------------------

    def relist_started(self) -> None:
        self._live = False
        self._listing = set()
        self._listing_taken = self._taken
        self._moved.set()

    def relist_done(self) -> None:
        if self._listing_taken != self._taken:
            # A sync joined while it ran: its ModelRefs may be missing; another one comes.
            self._listing = None
            return
        self._listed_taken = self._taken
        self.version += 1
        listed = self._listing if self._listing is not None else set()
        for name in [n for n in self._entries if n not in listed]:
            del self._entries[name]  # deleted while the watch was away
        self._deleted.clear()
        # The listing shows each object as it is now: what we wrote before it is in it,
        # also when a later change replaced our version (whose event will never come).
        self._pending.clear()
        self._listing = None
        self._live = True
        self._moved.set()

    def watch_failed(self) -> None:
        self._live = False
        self._moved.set()

    def watch_resumed(self) -> None:
        if self._listing is None and not self._live and self._listed_taken == self._taken:
            self._live = True
            self._moved.set()

    # -- told by the shard's watch of ModelCatalogSyncs -----------------------------------

    def take(self, label: str) -> None:
        """The ModelRefs labelled `modelsync.dev/sync=<label>` are kept from now on; the cache
        stands in for no LIST until a relisting that began after this is complete."""
        if self.labels is None or label in self.labels:
            return
        self.labels = self.labels | {label}
        self._taken += 1
        self._live = False
        self._moved.set()

    def release(self, label: str) -> None:
        """Forget the ModelRefs labelled `modelsync.dev/sync=<label>` (a sync that left)."""
        if self.labels is None or label not in self.labels:
            return
        self.labels = self.labels - {label}
        for name in [
            n for n, e in self._entries.items() if e.state.labels.get(LABEL_SYNC) == label
        ]:
            del self._entries[name]
            self._pending.pop(name, None)
        self.version += 1
        self._moved.set()

    def accepts(self, obj: Mapping[str, Any]) -> bool:
        """Is `obj` one of the ModelRefs this cache keeps?"""
        if self.labels is None:
            return True
        meta = obj.get("metadata")
        labels = meta.get("labels") if isinstance(meta, Mapping) else None
        return isinstance(labels, Mapping) and labels.get(LABEL_SYNC) in self.labels

    def put(self, event_type: str | None, obj: Mapping[str, Any]) -> bool:
        """A watch event (None: an object of a listing); whether the cache keeps `obj` (False:
        another shard's ModelRef)."""
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, Mapping) else None
        if not isinstance(name, str) or not name:
            return False
        if not self.accepts(obj):
            if self._entries.pop(name, None) is not None:  # relabelled away from our sync
                self.version += 1
            return False
        self.version += 1
        if event_type == "DELETED":
            self._entries.pop(name, None)
            self._deleted[name] = None
            if len(self._deleted) > _TOMBSTONES:
                for oldest in list(islice(self._deleted, len(self._deleted) - _TOMBSTONES)):
                    del self._deleted[oldest]
        else:
            self._deleted.pop(name, None)
            self._entries[name] = _entry(obj, self._entries.get(name))
            if event_type is None and self._listing is not None:
                self._listing.add(name)
        if name in self._pending and self._delivers(name, self._pending[name], event_type, obj):
            del self._pending[name]
            self._moved.set()
        return True

    def _delivers(
        self, name: str, expected: str | None, event_type: str | None, obj: Mapping[str, Any]
    ) -> bool:
        """Is this event the one our write (`expected`) is waiting for?"""
        if expected is _GONE:
            return event_type == "DELETED" or _is_deleting(obj)
        held = self._entries.get(name)
        return held is not None and held.state.resource_version == expected

    def _delivered(self, name: str, expected: str | None) -> bool:
        if expected is _GONE:
            return name in self._deleted
        held = self._entries.get(name)
        return held is not None and expected in held.recent

    # -- told by the writer -----------------------------------------------------------------

    def expect(self, written: Mapping[str, Sequence[str]], removed: Iterable[str] = ()) -> None:
        """The resourceVersions our writes produced (the last one per name counts) and the
        names we deleted: a snapshot waits for the watch to deliver them."""
        wanted: list[tuple[str, str | None]] = [
            (name, versions[-1]) for name, versions in written.items() if versions
        ]
        wanted.extend((name, _GONE) for name in removed)
        for name, expected in wanted:
            if self._delivered(name, expected):  # came first, or changed nothing
                self._pending.pop(name, None)
            else:
                self._pending[name] = expected

    # -- read by a sync pass ----------------------------------------------------------------

    @property
    def live(self) -> bool:
        return self._live

    @property
    def pending(self) -> int:
        return len(self._pending)

    def __len__(self) -> int:
        return len(self._entries)

    async def settle(self, wait: float) -> bool:
        """Wait up to `wait` seconds for our own writes to come back through the watch;
        whether the cache can stand in for the LIST now. When it cannot for the writes'
        sake, they are not waited for again."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                while self._live and self._pending:
                    self._moved.clear()
                    await self._moved.wait()
        if not self._live:
            return False  # what we wait for comes once the watch is back
        if self._pending:
            self._pending.clear()
            return False
        return True

    def snapshot(self, sync_name: str, spec_needed: SpecNeeded) -> list[ExistingRef] | None:
        """The ModelRefs labelled `modelsync.dev/sync=<sync_name>`, as the LIST would give
        them (whole specs where `spec_needed`); None when the cache cannot stand in for the
        LIST (see the module's docstring)."""
        if not self._live or self._pending:
            return None
        label = sanitize_label_value(sync_name)
        states: list[ExistingRef] = []
        for entry in self._entries.values():
            state = entry.state
            if state.labels.get(LABEL_SYNC) != label:
                continue
            if spec_needed(
                state.name,
                state.annotations.get(ANNOTATION_SPEC_DIGEST),
                state.generation,
                state.status.get("observedGeneration"),
            ):
                whole = msgspec.json.decode(entry.spec)
                spec = whole if isinstance(whole, dict) else {}
                state = replace(state, spec=spec, spec_complete=True)
            states.append(state)
        return states
