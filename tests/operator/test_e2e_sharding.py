"""End to end, on the sandbox API server and the real control plane: two `modelsync run`
processes on disjoint --sync-selectors (modelsync.dev/shard=a and =b), each with leader
election on its own default Lease. Each sync is handled by exactly one of them; once shard b
stops, shard a's syncs keep working and shard b's are left as they were.

The session operator of e2e_harness is the shard `!modelsync.dev/shard`, so it leaves these
syncs alone (which its log shows).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from e2e_harness import (
    OPERATOR_FLAGS,
    OPERATOR_READY_TIMEOUT,
    OperatorProcess,
    Scenario,
    answers,
    free_port,
)

from fixtures_kube import wait_for
from modelsync.api.label_selector import parse
from modelsync.runtime.leader_decision import shard_lease_name

pytestmark = pytest.mark.e2e

SHARD = "modelsync.dev/shard"
SURVIVAL = "model:acme/churn/churn-survival"
DETECTOR = "model:acme/fraud/fraud-detector"


def shard_operator(scene: Scenario, shard: str, tmp: Path, liveness: str) -> OperatorProcess:
    flags = (
        *(f for f in OPERATOR_FLAGS if f != "--no-leader-elect"),
        f"--sync-selector={SHARD}={shard}",
        "--leader-elect",
        f"--leader-election-namespace={scene.namespace}",
        "--leader-election-lease-duration=3s",
        "--leader-election-renew-deadline=2s",
        "--leader-election-retry-period=500ms",
        f"--liveness={liveness}",
        "--metrics-port=0",
    )
    process = OperatorProcess(scene.e2e.kubeconfig, tmp / f"shard-{shard}.log", flags)
    process.env["POD_NAME"] = f"shard-{shard}"
    return process


@pytest.fixture
def shards(scenario: Scenario, tmp_path: Path) -> Iterator[dict[str, OperatorProcess]]:
    probes = {s: f"http://127.0.0.1:{free_port()}/healthz" for s in "ab"}
    started = {s: shard_operator(scenario, s, tmp_path, probes[s]) for s in "ab"}
    try:
        for process in started.values():
            process.start()
        for shard, url in probes.items():
            wait_for(
                partial(answers, url),
                timeout=OPERATOR_READY_TIMEOUT,
                interval=0.1,
                what=f"shard {shard}",
            )
        yield started
    finally:
        for process in started.values():
            process.stop()


def create_labelled_sync(scene: Scenario, name: str, shard: str, **spec: object) -> None:
    manifest = scene.sync_manifest(name, **spec)
    manifest["metadata"]["labels"] = {SHARD: shard}
    done = scene.apply(manifest)
    assert done.returncode == 0, done.stderr


def versions(scene: Scenario, sync: str) -> dict[str, str]:
    return {n: r["metadata"]["resourceVersion"] for n, r in scene.modelrefs(sync).items()}


def test_each_sync_has_one_shard_and_a_stopped_shard_leaves_the_others_working(
    scenario: Scenario, shards: dict[str, OperatorProcess]
) -> None:
    ns = scenario.namespace
    create_labelled_sync(scenario, "alpha", "a", select={"mlRepos": ["churn"]})
    create_labelled_sync(scenario, "beta", "b", filters={"name": "fraud-detector"})
    scenario.wait_condition("alpha", "True", "Synced")
    scenario.wait_condition("beta", "True", "Synced")
    assert len(scenario.modelrefs("alpha")) == 5
    assert set(scenario.modelrefs("beta")) == {"fraud.fraud-detector"}

    # Exactly one operator ran each sync: shard a alpha, shard b beta, the session none.
    a, b = shards["a"], shards["b"]
    assert a.sync_lines(ns, "alpha")
    assert not a.sync_lines(ns, "beta")
    assert b.sync_lines(ns, "beta")
    assert not b.sync_lines(ns, "alpha")
    session = scenario.e2e.operator
    assert not session.sync_lines(ns, "alpha")
    assert not session.sync_lines(ns, "beta")
    assert f"shard --sync-selector '{SHARD}=a'" in a.log()
    # Each shard elected its leader on a Lease of its own, named after its selector.
    for shard, process in shards.items():
        lease = json.loads(
            scenario.e2e.ok(
                "get", "lease", shard_lease_name(parse(f"{SHARD}={shard}")), "-n", ns, "-o", "json"
            )
        )
        assert lease["spec"]["holderIdentity"].startswith(f"shard-{shard}_"), lease
        assert "is now the leader" in process.log()

    # Shard b stops: shard a's sync keeps working, beta is left as it was.
    beta_before = versions(scenario, "beta")
    beta_status = scenario.sync("beta")["status"]
    b.stop()
    assert scenario.add_version(SURVIVAL, deployable=True) == 4
    scenario.add_version(DETECTOR, deployable=True)
    handled = scenario.trigger("alpha")
    unhandled = scenario.trigger("beta")
    scenario.wait_handled("alpha", handled)
    refs = scenario.modelrefs("alpha")
    assert refs["churn.churn-survival"]["spec"]["version"]["version"] == 4
    assert versions(scenario, "beta") == beta_before
    beta = scenario.sync("beta")
    assert beta["status"] == beta_status
    assert beta["status"].get("lastHandledReconcileAt") != unhandled
    assert not a.sync_lines(ns, "beta")
    assert a.alive()
