"""The lean ModelRef LIST (kube/modelref_states.py) against the sandbox API server and the real
control plane: what it reads of each ModelRef, paging, and the specs it reads whole; and the
watch-fed cache (kube/modelref_cache.py) that stands in for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from fixtures_kube import eventually, kubectl, unique_name
from modelsync.api.constants import ANNOTATION_SPEC_DIGEST
from modelsync.kube.client import KubeApi, load_configuration
from modelsync.kube.modelref_cache import NamespaceCache
from modelsync.kube.modelref_states import list_modelref_states
from modelsync.kube.modelref_watch import NamespaceWatch
from modelsync.kube.modelrefs import (
    create_modelref,
    delete_modelref,
    get_modelref,
    patch_modelref_status,
)
from modelsync.plan import parse_existing

CRDS = Path(__file__).resolve().parents[2] / "crds"


@pytest.fixture(params=["sandbox", "real"])
def kubeconfig(request: pytest.FixtureRequest) -> Iterator[Path]:
    if request.param == "sandbox":
        yield request.getfixturevalue("crd_sandbox").kubeconfig_path
        return
    cluster = request.getfixturevalue("real_cluster")
    cluster.ok("apply", "--server-side", "-f", str(CRDS))
    cluster.ok("wait", "--for", "condition=established", "crd", "--all", "--timeout=60s")
    yield cluster.kubeconfig


@pytest_asyncio.fixture
async def api(kubeconfig: Path) -> AsyncIterator[KubeApi]:
    client = KubeApi(load_configuration(str(kubeconfig)), max_workers=4)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def ns(kubeconfig: Path) -> str:
    name = unique_name("states")
    done = kubectl(kubeconfig, "create", "namespace", name)
    assert done.returncode == 0, done.stderr
    return name


def modelref(ns: str, name: str, *, sync: str = "s", digest: str | None = None) -> dict[str, Any]:
    annotations = {"modelsync.dev/model-fqn": f"model:t/r/{name}", "team": "x"}
    if digest is not None:
        annotations[ANNOTATION_SPEC_DIGEST] = digest
    return {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelRef",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"modelsync.dev/sync": sync, "app.kubernetes.io/managed-by": "modelsync"},
            "annotations": annotations,
        },
        "spec": {
            "model": {"id": f"id-{name}", "name": name, "fqn": f"model:t/r/{name}"},
            "version": {
                "id": f"v-{name}",
                "fqn": f"model:t/r/{name}:3",
                "version": 3,
                "deployable": True,
                "metadata": {"k": [1, 2]},
                "source": {"type": "truefoundry", "uri": "s3://b/x"},
            },
        },
    }


async def test_reads_metadata_and_status_of_all_and_whole_specs_only_where_needed(
    api: KubeApi, ns: str
) -> None:
    for index in range(5):
        await create_modelref(api, ns, modelref(ns, f"r.{index}", digest=f"d{index}"))
        status = {
            "observedGeneration": 1,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "DeployableVersionResolved",
                    "message": "ok",
                    "lastTransitionTime": "2024-01-01T00:00:00Z",
                    "observedGeneration": 1,
                }
            ],
        }
        await patch_modelref_status(api, ns, f"r.{index}", {"status": status})
    await create_modelref(api, ns, modelref(ns, "other", sync="another-sync"))
    asked: list[tuple[str, object, object, object]] = []

    def spec_needed(name: str, digest: object, generation: object, observed: object) -> bool:
        asked.append((name, digest, generation, observed))
        return name in ("r.1", "r.3")

    states = await list_modelref_states(api, ns, "s", spec_needed, page_size=2)
    assert [s.name for s in states] == [f"r.{i}" for i in range(5)]  # paged: 3 pages of <= 2
    assert sorted(asked) == [(f"r.{i}", f"d{i}", 1, 1) for i in range(5)]
    for state in states:
        full = parse_existing(await get_modelref(api, ns, state.name))
        if state.name in ("r.1", "r.3"):
            assert state == full
        else:
            assert not state.spec_complete
            assert state.spec == {
                "model": {"id": f"id-{state.name}", "fqn": f"model:t/r/{state.name}"},
                "version": {"id": f"v-{state.name}", "version": 3},
            }
            # Everything but the spec is read as the full object reads it.
            assert state == full.__class__(
                **{
                    **{k: getattr(full, k) for k in full.__slots__},
                    "spec": state.spec,
                    "spec_complete": False,
                }
            )


async def test_an_empty_listing_and_a_modelref_without_spec(api: KubeApi, ns: str) -> None:
    assert await list_modelref_states(api, ns, "s", lambda *_: False) == []


async def test_the_watch_cache_gives_what_the_list_gives(api: KubeApi, ns: str) -> None:
    """The cache fed by the ModelRef watch stands in for the LIST: the same states, the
    same specs read whole, after a listing and after changes delivered by events."""
    for index in range(4):
        await create_modelref(api, ns, modelref(ns, f"r.{index}", digest=f"d{index}"))
    await create_modelref(api, ns, modelref(ns, "other", sync="another-sync"))
    cache = NamespaceCache(ns)
    watch = NamespaceWatch(
        api, ns, lambda *_: None, asyncio.get_running_loop(), backoff=0.2, cache=cache
    )
    watch.start()

    def spec_needed(_name: str, digest: object, generation: object, observed: object) -> bool:
        return digest in ("d1", "d4") or generation != observed

    try:
        await eventually(lambda: cache.live and len(cache) == 5, "the listing", 10.0)
        listed = await list_modelref_states(api, ns, "s", spec_needed)
        assert cache.snapshot("s", spec_needed) == listed
        await create_modelref(api, ns, modelref(ns, "r.4", digest="d4"))
        written = await patch_modelref_status(api, ns, "r.0", {"status": {"observedGeneration": 1}})
        assert written is not None
        cache.expect({"r.0": [written.resource_version]})
        await delete_modelref(api, ns, "r.2")
        cache.expect({}, ["r.2"])
        # A snapshot waits for our own writes to come back through the watch (r.4's event
        # comes before them).
        assert await cache.settle(10.0)
        snapshot = cache.snapshot("s", spec_needed)
        listed = await list_modelref_states(api, ns, "s", spec_needed)
        assert snapshot == listed
        assert {s.name for s in listed} == {"r.0", "r.1", "r.3", "r.4"}
        # r.3 and r.4 have no status (observedGeneration != generation), r.1 and r.4 their
        # digest asked for
        assert [s.spec_complete for s in listed] == [s.name != "r.0" for s in listed]
    finally:
        watch.stop()
        assert await asyncio.to_thread(watch.join, 10.0)
