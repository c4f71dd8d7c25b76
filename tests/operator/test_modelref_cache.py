"""The watch-fed ModelRef cache (kube/modelref_cache.py) against a model of the API server:
whatever the order of changes, our own writes, watch deliveries, failures and relistings, a
snapshot the cache gives is never older than our own writes and has no object the server
deleted before the last listing; once every event is delivered it equals the server's state."""

from __future__ import annotations

import asyncio
from typing import Any

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from modelsync.kube.modelref_cache import NamespaceCache

NAMES = ("a", "b", "c", "d")
SYNC = "s"


def body(name: str, version: int, sync: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "resourceVersion": str(version),
            "generation": 1,
            "labels": {"modelsync.dev/sync": sync},
            "annotations": {"modelsync.dev/spec-digest": f"d{version}"},
        },
        "spec": {
            "model": {"id": f"id-{name}", "fqn": f"f-{name}"},
            "version": {"version": version},
        },
        "status": {"observedGeneration": 1},
    }


class CacheMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.cache = NamespaceCache("ns")
        self.version = 0
        self.server: dict[str, dict[str, Any]] = {}
        self.queue: list[tuple[str, dict[str, Any]]] = []  # events not delivered yet
        self.watching = False  # the watch is connected
        self.listed = False  # a listing completed since the start
        # name -> the version of our last write of it (0: our deletion)
        self.ours: dict[str, int] = {}
        # names the server deleted before the last listing (and not recreated since)
        self.gone_at_listing: set[str] = set()

    def teardown(self) -> None:
        self.loop.close()

    def _change(self, name: str, sync: str, delete: bool) -> int | None:
        if delete:
            if name not in self.server:
                return None
            old = self.server.pop(name)
            self.version += 1
            gone = body(name, self.version, old["metadata"]["labels"]["modelsync.dev/sync"])
            self.queue.append(("DELETED", gone))
            return self.version
        self.version += 1
        event = "MODIFIED" if name in self.server else "ADDED"
        self.server[name] = body(name, self.version, sync)
        self.queue.append((event, self.server[name]))
        self.gone_at_listing.discard(name)
        return self.version

    @rule(name=st.sampled_from(NAMES), sync=st.sampled_from((SYNC, "other")), delete=st.booleans())
    def someone_writes(self, name: str, sync: str, delete: bool) -> None:
        if self._change(name, sync, delete) is not None:
            self.ours.pop(name, None)  # a later change: our write is no longer the newest

    @rule(name=st.sampled_from(NAMES), delete=st.booleans(), no_op=st.booleans())
    def we_write(self, name: str, delete: bool, no_op: bool) -> None:
        if no_op and name in self.server and not delete:
            # A write that changes nothing: the same version, no event.
            version = int(self.server[name]["metadata"]["resourceVersion"])
            self.ours[name] = version
            self.cache.expect({name: [str(version)]})
            return
        changed = self._change(name, SYNC, delete)
        if changed is None:
            return
        if delete:
            self.ours[name] = 0
            self.cache.expect({}, [name])
        else:
            self.ours[name] = changed
            self.cache.expect({name: [str(changed - 1), str(changed)]})

    @precondition(lambda self: self.watching)
    @rule(count=st.integers(1, 4))
    def watch_delivers(self, count: int) -> None:
        for event_type, obj in self.queue[:count]:
            self.cache.put(event_type, obj)
        del self.queue[:count]

    @precondition(lambda self: self.watching)
    @rule()
    def watch_drops(self) -> None:
        self.watching = False
        self.cache.watch_failed()

    @precondition(lambda self: not self.watching and self.listed)
    @rule()
    def watch_resumes(self) -> None:
        # From the last version delivered: the undelivered events come next.
        self.watching = True
        self.cache.watch_resumed()

    @rule(page=st.integers(1, 3))
    def relist(self, page: int) -> None:
        """410 Gone (or the start): list in pages, then watch from the listing."""
        self.cache.relist_started()
        for index, obj in enumerate(
            sorted(self.server.values(), key=lambda o: o["metadata"]["name"])
        ):
            self.cache.put(None, obj)
            if index % page == 0:
                assert self.snapshot() is None, "a snapshot during a relisting"
        self.cache.relist_done()
        self.queue.clear()
        self.watching = self.listed = True
        self.gone_at_listing = {n for n in NAMES if n not in self.server}

    @rule()
    def a_pass_stops_waiting(self) -> None:
        """A pass waited CACHE_WAIT in vain: it LISTs, and nothing is waited for any more,
        so a later snapshot may be as old as the watch is late."""
        pending = self.cache.pending
        settled = self.loop.run_until_complete(self.cache.settle(0))
        assert settled == (self.listed and self.watching and not pending)
        if pending and self.watching:
            self.ours.clear()

    def snapshot(self) -> dict[str, int] | None:
        states = self.cache.snapshot(SYNC, lambda *_: False)
        if states is None:
            return None
        return {s.name: int(s.resource_version or 0) for s in states}

    @invariant()
    def a_snapshot_is_never_behind_our_writes_nor_before_the_listing(self) -> None:
        found = self.snapshot()
        if found is None:
            return
        assert self.listed
        assert self.watching
        for name, version in self.ours.items():
            if version == 0:
                assert name not in found, f"{name} shown after we deleted it"
            elif (
                self.server.get(name, {})
                .get("metadata", {})
                .get("labels", {})
                .get("modelsync.dev/sync")
                == SYNC
            ):
                assert found.get(name, 0) >= version, f"{name} older than our write"
        for name in self.gone_at_listing:
            assert name not in found, f"{name} lingers after the listing"

    @invariant()
    def everything_delivered_means_the_servers_state(self) -> None:
        if not (self.watching and self.listed and not self.queue):
            return
        truth = {
            n: int(o["metadata"]["resourceVersion"])
            for n, o in self.server.items()
            if o["metadata"]["labels"]["modelsync.dev/sync"] == SYNC
        }
        assert self.snapshot() == truth
        assert self.cache.pending == 0


CacheMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
test_the_cache_tracks_the_server = CacheMachine.TestCase


def test_a_snapshot_waits_for_our_write_and_gives_up_after_wait() -> None:
    async def scenario() -> None:
        cache = NamespaceCache("ns")
        cache.relist_started()
        cache.put(None, body("a", 1, SYNC))
        cache.relist_done()
        cache.expect({"a": ["2"]})
        assert cache.snapshot(SYNC, lambda *_: False) is None
        later = asyncio.get_running_loop().call_later(
            0.05, cache.put, "MODIFIED", body("a", 2, SYNC)
        )
        assert await cache.settle(5.0)
        later.cancel()
        states = cache.snapshot(SYNC, lambda *_: False)
        assert states is not None
        assert [s.resource_version for s in states] == ["2"]

    asyncio.run(asyncio.wait_for(scenario(), 10.0))


def test_whole_specs_only_where_asked() -> None:
    async def scenario() -> None:
        cache = NamespaceCache("ns")
        cache.relist_started()
        for name, version in (("a", 1), ("b", 2)):
            cache.put(None, body(name, version, SYNC))
        cache.relist_done()
        states = cache.snapshot(SYNC, lambda name, *_: name == "b")
        assert states is not None
        a, b = states
        assert not a.spec_complete
        assert a.spec == {
            "model": {"id": "id-a", "fqn": "f-a"},
            "version": {"id": None, "version": 1},
        }
        assert b.spec_complete
        assert b.spec == body("b", 2, SYNC)["spec"]

    asyncio.run(asyncio.wait_for(scenario(), 10.0))
