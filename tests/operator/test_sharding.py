"""Two shards in one process (runtime.app with --sync-selector, kube.modelref_watch sharded),
fed ModelCatalogSync events as handlers.py feeds them, against the sandbox API server and a
sandbox catalog: a shard ignores another shard's syncs, keeps only its own ModelRefs, and a
relabelled sync is released by its old shard (nothing deleted, no ModelRef touched) and
adopted by its new one (the existing ModelRefs, none created again)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from runner_world import LOOPBACK, World

from modelsync.api.label_selector import parse
from modelsync.kube.client import KubeApi, load_configuration
from modelsync.kube.modelref_cache import NamespaceCache
from modelsync.kube.modelref_watch import ModelRefWatches
from modelsync.runtime.app import OperatorRuntime
from modelsync.runtime.config import OperatorConfig

WITHIN = 20.0
SHARD = "modelsync.dev/shard"


class Shard:
    """A runtime and its ModelRef watches, wired as cli/kopf_main.py wires them."""

    def __init__(self, kubeconfig: str, selector: str) -> None:
        self.runtime = OperatorRuntime(
            OperatorConfig(allowed_hosts=LOOPBACK),
            load_configuration(kubeconfig),
            sync_selector=parse(selector),
        )
        self.watch_api = KubeApi(load_configuration(kubeconfig), max_workers=1)
        self.modelrefs = ModelRefWatches(
            self.watch_api, self.runtime.modelref_event, backoff=0.2, sharded=True
        )
        self.runtime.context.modelref_cache = self.modelrefs.cache

    async def event(self, event_type: str | None, body: dict[str, Any]) -> None:
        """What handlers.sync_event does with a watch event."""
        seen = event_type if self.runtime.takes(body) else "DELETED"
        self.modelrefs.follow(seen, body)
        await self.runtime.sync_event(seen, body)

    def passes(self, namespace: str, name: str) -> int:
        worker = self.runtime.syncs.get(namespace, name)
        return -1 if worker is None else worker.syncs

    async def close(self) -> None:
        await self.modelrefs.close()
        await self.runtime.shutdown()
        self.watch_api.close()


async def until(probe: Callable[[], object], what: str) -> None:
    for _ in range(int(WITHIN / 0.05)):
        if probe():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out after {WITHIN}s waiting for {what}")


def labelled_sync(world: World, name: str, shard: str, repo: str) -> dict[str, Any]:
    world.apply(
        {
            "apiVersion": "modelsync.dev/v1alpha1",
            "kind": "ModelCatalogSync",
            "metadata": {"name": name, "namespace": world.ns, "labels": {SHARD: shard}},
            "spec": {
                "catalog": {
                    "url": world.catalog.url,
                    "tokenSecretRef": {"name": "tfy", "key": "token"},
                },
                "select": {"mlRepos": [repo]},
            },
        }
    )
    return world.sync(name)


def refs_of(world: World, sync: str) -> dict[str, dict[str, Any]]:
    return {
        name: ref
        for name, ref in world.refs().items()
        if ref["metadata"]["labels"].get("modelsync.dev/sync") == sync
    }


async def test_a_shard_takes_only_its_syncs_and_hands_a_relabelled_one_over(
    world: World,
) -> None:
    kubeconfig = str(world.sandbox.kubeconfig_path)
    a, b = Shard(kubeconfig, f"{SHARD}=a"), Shard(kubeconfig, f"{SHARD} in (b)")
    ns = world.ns
    try:
        mover = labelled_sync(world, "mover", "a", "churn")
        stayer = labelled_sync(world, "stayer", "b", "fraud")
        for shard in (a, b):
            for body in (mover, stayer):
                await shard.event(None, body)
        await until(lambda: a.passes(ns, "mover") >= 1, "shard a to sync mover")
        await until(lambda: b.passes(ns, "stayer") >= 1, "shard b to sync stayer")

        # Each shard runs only its own sync and keeps only its own ModelRefs.
        assert a.runtime.syncs.get(ns, "stayer") is None
        assert b.runtime.syncs.get(ns, "mover") is None
        moved = refs_of(world, "mover")
        stayed = refs_of(world, "stayer")
        assert moved
        assert stayed
        cache_a, cache_b = a.modelrefs.cache(ns), b.modelrefs.cache(ns)
        assert cache_a is not None
        assert cache_b is not None
        await until(lambda: cache_a.live and len(cache_a) == len(moved), "a's cache")
        await until(lambda: cache_b.live and len(cache_b) == len(stayed), "b's cache")
        assert cache_a.labels == {"mover"}
        assert cache_b.labels == {"stayer"}

        # Relabel mover to shard b: a releases it, b adopts its ModelRefs as they are.
        versions = world.versions()
        start = len(world.sandbox.stats.log)
        world.ok("label", "mcs", "mover", "-n", ns, "--overwrite", f"{SHARD}=b")
        relabelled = world.sync("mover")
        for shard in (a, b):
            await shard.event("MODIFIED", relabelled)
        assert a.runtime.syncs.get(ns, "mover") is None
        assert a.modelrefs.cache(ns) is None  # a has no sync left in the namespace
        await until(lambda: b.passes(ns, "mover") >= 1, "shard b to sync mover")
        await until(lambda: cache_b.live and len(cache_b) == len(moved) + len(stayed), "b")
        assert cache_b.labels == {"mover", "stayer"}
        assert world.versions() == versions  # no ModelRef deleted, created or changed
        conditions = world.sync("mover")["status"]["conditions"]
        assert {c["type"]: c["status"] for c in conditions}["Ready"] == "True"
        written = {
            r.resource
            for r in world.sandbox.stats.log[start:]
            if r.namespace == ns and r.verb in ("create", "patch", "update", "delete")
        }
        assert "modelrefs" not in written, written

        # Hand edits reach b's drift repair (its watch follows mover now), not a's.
        name = next(iter(moved))
        world.ok(
            "patch",
            "modelref",
            name,
            "-n",
            ns,
            "--type=merge",
            "-p",
            json.dumps({"spec": {"version": {"version": 99}}}),
        )
        await until(
            lambda: world.refs()[name]["spec"]["version"] == moved[name]["spec"]["version"],
            "b to repair the hand edit",
        )
    finally:
        await a.close()
        await b.close()


def _ref(name: str, sync: str, version: str = "1") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "resourceVersion": version,
            "labels": {"modelsync.dev/sync": sync},
        },
        "spec": {},
    }


async def test_a_shard_cache_keeps_its_syncs_refs_and_waits_for_a_listing_after_a_join() -> None:
    cache = NamespaceCache("ns", frozenset({"mine"}))
    cache.relist_started()
    assert cache.put(None, _ref("m1", "mine"))
    assert not cache.put(None, _ref("o1", "other"))  # another shard's: not kept
    cache.relist_done()
    assert cache.live
    assert len(cache) == 1

    # A sync joins while a listing runs: that listing cannot make the cache live.
    cache.relist_started()
    cache.put(None, _ref("m1", "mine"))
    cache.take("joined")
    assert not cache.live
    cache.put(None, _ref("j1", "joined"))
    cache.relist_done()
    assert not cache.live
    cache.watch_resumed()  # nor can a watch that comes back
    assert not cache.live
    # The listing that began after the join does.
    cache.relist_started()
    for name, sync in (("m1", "mine"), ("j1", "joined"), ("j2", "joined")):
        cache.put(None, _ref(name, sync))
    cache.relist_done()
    assert cache.live
    assert cache.labels == {"mine", "joined"}
    snapshot = cache.snapshot("joined", lambda *_: False)
    assert snapshot is not None
    assert {s.name for s in snapshot} == {"j1", "j2"}

    # A sync that leaves takes its ModelRefs out of the cache at once.
    cache.release("joined")
    assert len(cache) == 1
    assert cache.snapshot("joined", lambda *_: False) == []
    # A ModelRef relabelled to another sync leaves too.
    assert not cache.put("MODIFIED", _ref("m1", "other", "2"))
    assert len(cache) == 0
