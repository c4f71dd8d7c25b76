"""End to end: the operator rides out a misbehaving Kubernetes API server.

Each test syncs a catalog fault-free, changes the catalog (one model gains a version, one is
removed, one is added: a patch, a delete and a create to make), then arms one API fault on
the operator's requests and triggers a sync. For a few seconds the fault stays armed: the
operator must not retry in a hot loop. Once it is cleared the sync must converge to exactly
the expected ModelRefs (none lost, duplicated or wrongly changed) and say Ready=True.

A cluster and an operator of their own: the faults would disturb the shared session operator.
"""

from __future__ import annotations

import copy
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from e2e_harness import (
    E2E,
    Scenario,
    open_scenario,
    operator_of_its_own,
)

from fixtures_kube import E2E_KUBECONFIG_ENV
from modelsync_sandbox.kube import KubeSandbox
from modelsync_sandbox.kube.stats import RequestRecord

pytestmark = pytest.mark.e2e
T = TypeVar("T")

SELECT = {"mlRepos": ["churn", "fraud"]}
CHANGED = "model:acme/churn/churn-survival"  # gains deployable version 4: a patch
CHANGED_REF = "churn.churn-survival"
REMOVED = "model:acme/churn/baseline"  # leaves the catalog: a delete (deletionPolicy Delete)
REMOVED_REF = "churn.baseline"
CLONED = "model:acme/churn/churn-predictor"  # copied as a new model: a create
ADDED_NAME = "churn-kf"
ADDED_REF = "churn.churn-kf"
FAULT_WINDOW = 4.0  # seconds the fault stays armed after the trigger
CONVERGE_TIMEOUT = 40.0
# A ceiling on the operator's (and Kopf's) requests per second to each faulted resource while
# the fault lasts. Backing off (sync retries at 1 s, 2 s, 4 s; a watch re-established about
# once a second) stays well under it; a loop that retries at once goes far over it.
MAX_REQUESTS_PER_SECOND = 5.0


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    if os.environ.get(E2E_KUBECONFIG_ENV):
        pytest.skip("injects faults at the sandbox API server")
    with operator_of_its_own(tmp_path_factory, "faulty", ready_timeout=60) as env:
        assert env.sandbox is not None
        try:
            yield env
        finally:
            env.sandbox.faults.clear()


@pytest.fixture
def scene(faulty: E2E) -> Iterator[Scenario]:
    assert faulty.sandbox is not None
    faulty.sandbox.faults.clear()
    with open_scenario(faulty, "kf", delete_namespace=True) as scene:
        yield scene
    faulty.sandbox.faults.clear()


@dataclass(frozen=True)
class Baseline:
    specs: dict[str, dict[str, Any]]
    uids: dict[str, str]


def explained(scene: Scenario, wait: Callable[[], T]) -> T:
    """`wait()`, failing with the sync's status and the operator's log tail on a timeout."""
    try:
        return wait()
    except pytest.fail.Exception as exc:
        sync = scene.get("modelcatalogsync", "faulty") or {}
        pytest.fail(
            f"{exc}\nsync status: {sync.get('status')}\n"
            f"operator log tail:\n{scene.e2e.operator.log()[-3000:]}"
        )


def sync_fault_free(scene: Scenario) -> Baseline:
    scene.create_sync("faulty", select=SELECT, deletionPolicy="Delete")
    explained(
        scene,
        lambda: scene.wait_condition("faulty", "True", "Synced", timeout=CONVERGE_TIMEOUT),
    )
    refs = scene.modelrefs()
    assert {CHANGED_REF, REMOVED_REF} <= set(refs)
    assert ADDED_REF not in refs
    return Baseline(
        {n: o["spec"] for n, o in refs.items()},
        {n: o["metadata"]["uid"] for n, o in refs.items()},
    )


def change_catalog(scene: Scenario) -> int:
    """Make a patch, a delete and a create due; returns the changed model's new version."""
    new_version = scene.add_version(CHANGED, deployable=True)
    scene.remove_model(REMOVED)
    clone = copy.deepcopy(scene.catalog_model(CLONED))
    clone["id"] = str(uuid.uuid4())
    clone["name"] = ADDED_NAME
    clone["fqn"] = clone["fqn"].rsplit("/", 1)[0] + f"/{ADDED_NAME}"
    for version in clone["versions"]:
        version["id"] = str(uuid.uuid4())
        version["model_id"] = clone["id"]
        version["fqn"] = f"{clone['fqn']}:{version['manifest']['version']}"
        version["manifest"]["name"] = ADDED_NAME
    scene.catalog.catalog.upsert_model(clone)
    return new_version


def converged(scene: Scenario, new_version: int) -> dict[str, dict[str, Any]] | None:
    refs = scene.modelrefs()
    if REMOVED_REF in refs or ADDED_REF not in refs:
        return None
    if refs[CHANGED_REF]["spec"]["version"]["version"] != new_version:
        return None
    sync = scene.get("modelcatalogsync", "faulty")
    ready = [c for c in ((sync or {}).get("status") or {}).get("conditions") or []]
    if not any(c["type"] == "Ready" and c["status"] == "True" for c in ready):
        return None
    return refs


def assert_expected_modelrefs(
    refs: dict[str, dict[str, Any]], baseline: Baseline, new_version: int
) -> None:
    expected = (set(baseline.specs) - {REMOVED_REF}) | {ADDED_REF}
    assert set(refs) == expected, "ModelRefs lost or extra"
    for name in expected - {CHANGED_REF, ADDED_REF}:
        assert refs[name]["spec"] == baseline.specs[name], f"{name} was changed"
        assert refs[name]["metadata"]["uid"] == baseline.uids[name], f"{name} was recreated"
    changed = refs[CHANGED_REF]
    assert changed["metadata"]["uid"] == baseline.uids[CHANGED_REF]
    assert changed["spec"]["version"]["version"] == new_version
    unversioned = {k: v for k, v in changed["spec"].items() if k != "version"}
    assert unversioned == {k: v for k, v in baseline.specs[CHANGED_REF].items() if k != "version"}
    added = refs[ADDED_REF]["spec"]
    assert added["model"]["fqn"] == f"model:acme/churn/{ADDED_NAME}"
    cloned = baseline.specs["churn.churn-predictor"]
    assert added["version"]["version"] == cloned["version"]["version"]
    fqns = [ref["spec"]["model"]["fqn"] for ref in refs.values()]
    assert len(fqns) == len(set(fqns)), f"two ModelRefs for one model: {sorted(fqns)}"
    assert REMOVED not in fqns


def assert_nothing_lost_or_changed(scene: Scenario, baseline: Baseline) -> None:
    """Right after the fault: every ModelRef that should stay is there, not recreated, and
    unchanged unless its model changed; nothing unexpected was added."""
    refs = scene.modelrefs()
    for name, uid in baseline.uids.items():
        if name == REMOVED_REF:
            continue
        assert name in refs, f"{name} was lost during the fault"
        assert refs[name]["metadata"]["uid"] == uid, f"{name} was recreated during the fault"
        if name != CHANGED_REF:
            assert refs[name]["spec"] == baseline.specs[name], f"{name} changed during the fault"
    assert set(refs) <= set(baseline.uids) | {ADDED_REF}, f"unexpected ModelRefs: {sorted(refs)}"


def requests_in_window(
    sandbox: KubeSandbox, resource: str, verbs: tuple[str, ...], start: float, end: float
) -> list[RequestRecord]:
    return [
        r
        for r in sandbox.stats.matching(verbs=verbs, resource=resource)
        if start <= r.started < end
    ]


@dataclass(frozen=True)
class FaultCase:
    arm: Callable[[KubeSandbox], list[int]]  # returns the armed fault ids
    resources: tuple[str, ...]  # whose request rate is bounded during the fault
    verbs: tuple[str, ...]


WRITES = ("create", "update", "patch", "delete")


def list_fails(sandbox: KubeSandbox, code: int) -> list[int]:
    """Every ModelRef LIST fails. A steady sync plans against the cache its ModelRef watch
    feeds and makes none, so the watch is also sent 410 Gone: it relists (failing) and its
    cache stands down, so the triggered sync LISTs too (failing)."""
    return [
        sandbox.faults.fail(code, verbs=["list"], resources=["modelrefs"]),
        sandbox.faults.expire_watches(resources=["modelrefs"]),
    ]


CASES = {
    "429-on-modelref-writes": FaultCase(
        lambda s: [s.faults.fail(429, retry_after=1, verbs=WRITES, resources=["modelrefs"])],
        ("modelrefs",),
        WRITES,
    ),
    "500-on-modelref-list": FaultCase(
        lambda s: list_fails(s, 500),
        ("modelrefs",),
        ("list",),
    ),
    "503-on-modelref-list": FaultCase(
        lambda s: list_fails(s, 503),
        ("modelrefs",),
        ("list",),
    ),
    "410-on-watches": FaultCase(
        lambda s: [s.faults.expire_watches(resources=["modelrefs", "modelcatalogsyncs"])],
        ("modelrefs", "modelcatalogsyncs"),
        ("list", "watch"),
    ),
    "slow-responses": FaultCase(
        lambda s: [s.faults.delay(1.5, resources=["modelrefs", "modelcatalogsyncs"])],
        ("modelrefs", "modelcatalogsyncs"),
        ("get", "list", "watch", *WRITES),
    ),
    "dropped-connections": FaultCase(
        lambda s: [s.faults.drop(resources=["modelrefs"])],
        ("modelrefs",),
        ("get", "list", "watch", *WRITES),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_operator_rides_out_api_fault(scene: Scenario, case: str) -> None:
    sandbox = scene.e2e.sandbox
    assert sandbox is not None
    fault = CASES[case]
    baseline = sync_fault_free(scene)
    new_version = change_catalog(scene)

    start = time.monotonic()
    fault_ids = fault.arm(sandbox)
    scene.trigger("faulty")
    time.sleep(FAULT_WINDOW)
    sandbox.faults.clear()
    end = time.monotonic()

    assert scene.e2e.operator.alive(), "the operator exited:\n" + scene.e2e.operator.log()[-4000:]
    assert_nothing_lost_or_changed(scene, baseline)
    assert sum(sandbox.faults.hits(i) for i in fault_ids) > 0, "the fault never hit a request"
    for resource in fault.resources:
        seen = requests_in_window(sandbox, resource, fault.verbs, start, end)
        rate = len(seen) / (end - start)
        assert rate <= MAX_REQUESTS_PER_SECOND, (
            f"{len(seen)} {'/'.join(fault.verbs)} requests to {resource} in {end - start:.1f}s "
            f"of {case}: {[(r.verb, r.status, r.fault) for r in seen][:40]}"
        )

    refs = explained(
        scene,
        lambda: scene.wait(
            lambda: converged(scene, new_version),
            f"sync to converge after {case}",
            timeout=CONVERGE_TIMEOUT,
        ),
    )
    assert_expected_modelrefs(refs, baseline, new_version)
    assert scene.e2e.operator.alive()
