"""End to end: catalog changes, steady state, removals, manual triggers and suspension."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest
from e2e_harness import ROOT, Scenario, condition

pytestmark = pytest.mark.e2e

SURVIVAL = "model:acme/churn/churn-survival"


def versions(refs: dict[str, dict[str, Any]]) -> dict[str, int]:
    return {name: obj["spec"]["version"]["version"] for name, obj in refs.items()}


def resource_versions(refs: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: obj["metadata"]["resourceVersion"] for name, obj in refs.items()}


def version_events(scenario: Scenario, name: str) -> list[dict[str, Any]]:
    return [e for e in scenario.events(name) if e["reason"] == "VersionChanged"]


def test_new_deployable_version_updates_and_a_non_deployable_one_does_not(
    scenario: Scenario,
) -> None:
    scenario.create_sync("survival", filters={"fqn": SURVIVAL})
    scenario.wait_condition("survival", "True", "Synced")
    name = "churn.churn-survival"
    assert versions(scenario.modelrefs()) == {name: 3}

    assert scenario.add_version(SURVIVAL, deployable=True, tags=("prod",)) == 4
    scenario.wait_handled("survival", scenario.trigger("survival"))
    updated = scenario.modelrefs()[name]
    assert updated["spec"]["version"]["version"] == 4
    assert updated["spec"]["version"]["tags"] == ["prod"]
    assert updated["status"]["previousVersion"] == 3
    assert updated["status"]["versionChangedAt"]
    assert condition(updated)["status"] == "True"  # type: ignore[index]
    events = scenario.wait(lambda: version_events(scenario, name), "a VersionChanged event")
    assert len(events) == 1
    assert events[0]["type"] == "Normal"
    assert "3 -> 4" in events[0]["message"]
    assert events[0]["involvedObject"]["kind"] == "ModelRef"
    on_sync = scenario.wait(lambda: version_events(scenario, "survival"), "one on the sync")
    assert [e["involvedObject"]["kind"] for e in on_sync] == ["ModelCatalogSync"]
    assert on_sync[0]["message"] == f"{events[0]['message']} (modelref/{name})"

    assert scenario.add_version(SURVIVAL, deployable=False) == 5
    scenario.wait_handled("survival", scenario.trigger("survival"))
    again = scenario.modelrefs()[name]
    assert again["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]
    assert again["spec"]["version"]["version"] == 4
    assert len(version_events(scenario, name)) == 1
    assert len(version_events(scenario, "survival")) == 1


@pytest.mark.usefixtures("write_log")
def test_steady_state_makes_zero_writes(scenario: Scenario) -> None:
    scenario.create_sync("steady", select={"mlRepos": ["churn", "fraud"]})
    scenario.wait_condition("steady", "True", "Synced")

    def touch_secret_and_wait(count: int) -> None:
        # A changed Secret makes the operator sync without touching the sync object
        # (a trigger annotation would change status.lastHandledReconcileAt).
        scenario.e2e.ok(
            "label",
            "secret",
            "tfy-api",
            "-n",
            scenario.namespace,
            f"touch={count}",
            "--overwrite",
        )
        scenario.wait_syncs("steady", count)

    before = scenario.writes()
    touch_secret_and_wait(2)  # the second sync, nothing changed: no write at all
    touch_secret_and_wait(3)
    assert scenario.writes() == before
    assert scenario.syncs_done("steady") == 3


def test_removed_model_is_retained_and_marked(scenario: Scenario) -> None:
    scenario.create_sync("retain", select={"mlRepos": ["churn"]})
    scenario.wait_condition("retain", "True", "Synced")
    scenario.remove_model("model:acme/churn/baseline")
    synced = scenario.wait_handled("retain", scenario.trigger("retain"))
    refs = scenario.modelrefs()
    assert len(refs) == 5
    removed = condition(refs["churn.baseline"])
    assert removed is not None
    assert (removed["status"], removed["reason"]) == ("False", "RemovedFromCatalog")
    assert synced["status"]["modelRefs"]["retained"] == 1
    assert condition(synced)["reason"] == "Synced"  # type: ignore[index]


def test_removed_model_is_deleted_under_delete_policy(scenario: Scenario) -> None:
    scenario.create_sync("prune", select={"mlRepos": ["churn"]}, deletionPolicy="Delete")
    scenario.wait_condition("prune", "True", "Synced")
    scenario.remove_model("model:acme/churn/baseline")
    synced = scenario.wait_handled("prune", scenario.trigger("prune"))
    assert "churn.baseline" not in scenario.modelrefs()
    assert len(scenario.modelrefs()) == 4
    assert synced["status"]["modelRefs"]["deleted"] == 1


def test_max_deletions_guard_stops_a_mass_deletion(scenario: Scenario) -> None:
    scenario.create_sync(
        "guarded", select={"mlRepos": ["churn"]}, deletionPolicy="Delete", maxDeletions=1
    )
    scenario.wait_condition("guarded", "True", "Synced")
    for model in ("baseline", "churn-survival", "ChurnPredictor"):
        scenario.remove_model(f"model:acme/churn/{model}")
    scenario.trigger("guarded")
    synced = scenario.wait_condition("guarded", "False", "DeletionGuardTriggered")
    assert "maxDeletions" in condition(synced)["message"]  # type: ignore[index]
    assert len(scenario.modelrefs()) == 5  # nothing deleted


def test_manual_trigger_syncs_within_two_seconds(scenario: Scenario) -> None:
    scenario.create_sync("quick", filters={"fqn": SURVIVAL})
    scenario.wait_condition("quick", "True", "Synced")
    scenario.add_version(SURVIVAL, deployable=True)
    start = time.monotonic()
    scenario.trigger("quick")
    scenario.wait(
        lambda: versions(scenario.modelrefs()) == {"churn.churn-survival": 4},
        "the ModelRef to move to version 4",
        timeout=2.0,
    )
    assert time.monotonic() - start < 2.0


def test_reconcile_command_sets_the_trigger_and_waits(scenario: Scenario) -> None:
    scenario.create_sync("cli", filters={"fqn": SURVIVAL})
    scenario.wait_condition("cli", "True", "Synced")
    scenario.add_version(SURVIVAL, deployable=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelsync",
            "reconcile",
            "cli",
            "-n",
            scenario.namespace,
            "--kubeconfig",
            str(scenario.e2e.kubeconfig),
            "--wait",
            "--timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "modelsync.dev/reconcile-requested-at=" in done.stdout
    assert "Ready=True (Synced)" in done.stdout
    assert versions(scenario.modelrefs()) == {"churn.churn-survival": 4}


def test_suspend_stops_syncing(scenario: Scenario) -> None:
    scenario.create_sync("paused", filters={"fqn": SURVIVAL})
    scenario.wait_condition("paused", "True", "Synced")
    scenario.patch_sync("paused", {"spec": {"suspend": True}})
    scenario.wait_condition("paused", "False", "Suspended")
    requests = len(scenario.catalog.recorded_requests())
    scenario.add_version(SURVIVAL, deployable=True)
    scenario.wait_handled("paused", scenario.trigger("paused"))
    assert versions(scenario.modelrefs()) == {"churn.churn-survival": 3}
    assert len(scenario.catalog.recorded_requests()) == requests  # the catalog was not called

    scenario.patch_sync("paused", {"spec": {"suspend": False}})
    scenario.wait(
        lambda: versions(scenario.modelrefs()) == {"churn.churn-survival": 4}, "resumed sync"
    )
    scenario.wait_condition("paused", "True", "Synced")
