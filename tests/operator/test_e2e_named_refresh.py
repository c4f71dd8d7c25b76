"""End to end: `modelsync reconcile SYNC --model REPO/NAME --wait` refreshes one model's
ModelRef with that model's catalog request alone, no full sync."""

from __future__ import annotations

import subprocess
import sys

import pytest
from e2e_harness import ROOT, Scenario, condition

pytestmark = pytest.mark.e2e

SURVIVAL = "model:acme/churn/churn-survival"


def reconcile(scenario: Scenario, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "modelsync",
            "reconcile",
            name,
            "-n",
            scenario.namespace,
            "--kubeconfig",
            str(scenario.e2e.kubeconfig),
            "--wait",
            "--timeout",
            "20",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


def test_reconcile_model_refreshes_only_that_model(scenario: Scenario) -> None:
    scenario.create_sync("named", select={"mlRepos": ["churn", "fraud"]})
    synced = scenario.wait_condition("named", "True", "Synced")
    ready = condition(synced)
    syncs = scenario.syncs_done("named")
    before = scenario.modelrefs()
    assert len(before) > 5
    assert scenario.add_version(SURVIVAL, deployable=True) == 4
    scenario.catalog.clear_requests()

    done = reconcile(scenario, "named", "--model", "churn/churn-survival")

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "modelsync.dev/reconcile-models=churn/churn-survival" in lines[0]
    assert lines[1:] == [
        f"modelcatalogsync {scenario.namespace}/named handled the refresh of churn/churn-survival",
        f"modelref {scenario.namespace}/churn.churn-survival: version 4, "
        "Ready=True (DeployableVersionResolved)",
    ]
    after = scenario.modelrefs()
    assert after["churn.churn-survival"]["spec"]["version"]["version"] == 4
    assert after["churn.churn-survival"]["status"]["previousVersion"] == 3
    untouched = {
        name: (ref["metadata"]["resourceVersion"], ref["spec"])
        for name, ref in before.items()
        if name != "churn.churn-survival"
    }
    assert {
        name: (ref["metadata"]["resourceVersion"], ref["spec"])
        for name, ref in after.items()
        if name != "churn.churn-survival"
    } == untouched
    # The one catalog request: that model by its fqn; no listing of the catalog.
    requests = [(r.path, r.query) for r in scenario.catalog.recorded_requests()]
    assert requests == [
        (
            "/api/ml/v1/models",
            {"fqn": SURVIVAL, "include_empty_models": "false", "offset": "0", "limit": "100"},
        )
    ]
    assert scenario.syncs_done("named") == syncs  # no full sync ran
    assert condition(scenario.sync("named")) == ready  # a refresh leaves Ready alone

    # Without --model the request is a full sync again, and the named models annotation goes.
    full = reconcile(scenario, "named")
    assert full.returncode == 0, full.stdout + full.stderr
    assert "Ready=True (Synced)" in full.stdout
    assert scenario.syncs_done("named") == syncs + 1
    annotations = scenario.sync("named")["metadata"]["annotations"]
    assert "modelsync.dev/reconcile-models" not in annotations
    assert len(scenario.catalog.recorded_requests()) > 1
