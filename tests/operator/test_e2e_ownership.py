"""End to end: ownership between syncs, garbage collection, drift repair, restarts, secrecy."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from e2e_harness import CATALOG_TOKEN, Scenario, condition

pytestmark = pytest.mark.e2e

SURVIVAL = "model:acme/churn/churn-survival"


def test_second_sync_selecting_the_same_model_reports_owned_by_another_sync(
    scenario: Scenario,
) -> None:
    scenario.create_sync("first", filters={"fqn": SURVIVAL})
    first = scenario.wait_condition("first", "True", "Synced")
    scenario.create_sync("second", select={"mlRepos": ["churn"]})
    # One of its models cannot be materialised: not Ready, with counts, the rest kept.
    second = scenario.wait_condition("second", "False", "ModelsFailed")
    assert "1 of 5" in condition(second)["message"]  # type: ignore[index]
    failures = second["status"]["failures"]
    assert [(f["model"], f["reason"]) for f in failures] == [(SURVIVAL, "OwnedByAnotherSync")]
    assert second["status"]["modelRefs"]["failed"] == 1
    assert second["status"]["modelRefs"]["created"] == 4
    held = scenario.modelrefs()["churn.churn-survival"]
    assert held["metadata"]["labels"]["modelsync.dev/sync"] == "first"
    assert held["metadata"]["ownerReferences"][0]["uid"] == first["metadata"]["uid"]
    # A later sync of "second" still does not touch it.
    scenario.wait_handled("second", scenario.trigger("second"))
    again = scenario.modelrefs()["churn.churn-survival"]
    assert again["metadata"]["resourceVersion"] == held["metadata"]["resourceVersion"]


def test_deleting_a_sync_garbage_collects_its_modelrefs(scenario: Scenario) -> None:
    scenario.create_sync("doomed", select={"mlRepos": ["churn"]})
    scenario.create_sync("kept", filters={"name": "fraud-detector"})
    scenario.wait_condition("doomed", "True", "Synced")
    scenario.wait_condition("kept", "True", "Synced")
    assert len(scenario.modelrefs()) == 6
    scenario.e2e.ok("delete", "mcs", "doomed", "-n", scenario.namespace)
    scenario.wait(lambda: set(scenario.modelrefs()) == {"fraud.fraud-detector"}, "GC", 30)
    time.sleep(1.0)  # the operator must not resurrect them
    assert set(scenario.modelrefs()) == {"fraud.fraud-detector"}


def test_hand_edits_and_deletions_are_repaired_within_seconds(scenario: Scenario) -> None:
    scenario.create_sync("drift", select={"mlRepos": ["churn"]})
    scenario.wait_condition("drift", "True", "Synced")
    name = "churn.churn-survival"
    original = scenario.modelrefs()[name]

    scenario.e2e.ok("delete", "modelref", name, "-n", scenario.namespace)
    restored = scenario.wait(
        lambda: (
            (r := scenario.modelrefs().get(name))
            and r["metadata"]["uid"] != original["metadata"]["uid"]
            and condition(r) is not None
            and r
        ),
        "the deleted ModelRef to come back",
        timeout=5,
    )
    assert restored["spec"] == original["spec"]

    scenario.e2e.ok(
        "patch",
        "modelref",
        name,
        "-n",
        scenario.namespace,
        "--type=merge",
        "-p",
        json.dumps(
            {
                "spec": {"version": {"version": 99}},
                "metadata": {"labels": {"modelsync.dev/ml-repo": "hacked", "extra": "kept"}},
            }
        ),
    )
    repaired = scenario.wait(
        lambda: (
            (r := scenario.modelrefs().get(name))
            and r["spec"]["version"]["version"] == 3
            and r["metadata"]["labels"]["modelsync.dev/ml-repo"] == "churn"
            and r
        ),
        "the edited ModelRef to be restored",
        timeout=5,
    )
    assert repaired["metadata"]["labels"]["extra"] == "kept"  # labels of others stay
    assert scenario.syncs_done("drift") == 1  # repaired without a catalog sync


def test_operator_restart_mid_sync_converges_without_duplicates(scenario: Scenario) -> None:
    operator = scenario.e2e.operator
    killed = threading.Event()
    sandbox = scenario.e2e.sandbox

    def kill_after_a_few_creates(_skey: str, event: Any) -> None:
        obj = event.obj
        if (
            not killed.is_set()
            and obj.get("kind") == "ModelRef"
            and obj["metadata"].get("namespace") == scenario.namespace
            and event.type == "ADDED"
            and obj["metadata"]["name"] >= "fraud"  # a few ModelRefs in, far from the last
            and operator.proc is not None
        ):
            killed.set()
            operator.proc.kill()  # hard, like an OOM kill, in the middle of the writes

    if sandbox is not None:
        sandbox.cluster.store.listeners.append(kill_after_a_few_creates)
    try:
        scenario.create_sync("restart")
        if sandbox is None:  # a real cluster: kill as soon as ModelRefs show up
            scenario.wait(lambda: scenario.modelrefs(), "the first ModelRefs")
            operator.kill()
        else:
            scenario.wait(killed.is_set, "the operator to be killed mid-sync")
            operator.kill()
    finally:
        if sandbox is not None:
            sandbox.cluster.store.listeners.remove(kill_after_a_few_creates)
    partial = scenario.modelrefs()
    assert partial
    if sandbox is not None:
        assert len(partial) < 33  # killed in the middle of the writes
    operator.start()
    synced = scenario.wait_condition("restart", "True", "Synced", timeout=30)
    refs = scenario.modelrefs()
    assert len(refs) == synced["status"]["modelRefs"]["selected"] == 33
    assert set(partial) <= set(refs)
    for name, obj in refs.items():
        assert len(obj["metadata"]["ownerReferences"]) == 1
        assert condition(obj) is not None, name
        if name in partial:
            assert obj["metadata"]["uid"] == partial[name]["metadata"]["uid"]  # kept, not redone
    fqns = [obj["spec"]["model"]["fqn"] for obj in refs.values()]
    assert len(fqns) == len(set(fqns))


def test_the_token_appears_nowhere(scenario: Scenario) -> None:
    scenario.create_sync("secret", select={"mlRepos": ["churn"]})
    scenario.wait_condition("secret", "True", "Synced")
    scenario.set_token("wrong-" + CATALOG_TOKEN)
    scenario.wait_condition("secret", "False", "Unauthorized")
    scenario.set_token(CATALOG_TOKEN)
    scenario.wait_condition("secret", "True", "Synced")
    everything = scenario.e2e.ok(
        "get",
        "modelcatalogsyncs,modelrefs,events,configmaps",
        "-n",
        scenario.namespace,
        "-o",
        "json",
    )
    assert CATALOG_TOKEN not in everything
    assert CATALOG_TOKEN not in scenario.e2e.operator.log()
