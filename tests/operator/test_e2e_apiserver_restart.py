"""End to end, on the real control plane only: the operator across a kube-apiserver restart
(same port, certificates and etcd data). While the API server is down the catalog changes;
once it is back the operator's watches resume by themselves, the change is synced, nothing
is lost or duplicated, and objects made after the restart are seen without a new operator.
"""

from __future__ import annotations

import json

import pytest
from e2e_harness import Scenario, condition

from fixtures_real_cluster import RealCluster

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.real_only(reason="restarts the API server process, which the sandbox is not"),
]

SURVIVAL = "model:acme/churn/churn-survival"
REMOVED = "model:acme/churn/baseline"
RESUME_TIMEOUT = 60.0  # Kopf's watch reconnect backoff is 1 s; this bounds a failure


def test_watches_resume_and_nothing_is_lost_or_duplicated_across_an_apiserver_restart(
    scenario: Scenario, real_cluster: RealCluster
) -> None:
    scenario.create_sync("across", select={"mlRepos": ["churn"]}, deletionPolicy="Delete")
    scenario.wait_condition("across", "True", "Synced")
    before = scenario.modelrefs()
    assert len(before) == 5

    real_cluster.restart_apiserver()
    assert scenario.add_version(SURVIVAL, deployable=True) == 4  # changed while it was down
    scenario.remove_model(REMOVED)
    assert scenario.e2e.operator.alive(), scenario.e2e.operator.log()[-3000:]

    # The ModelCatalogSync watch resumed: a trigger set after the restart is handled.
    scenario.wait_handled("across", scenario.trigger("across"), timeout=RESUME_TIMEOUT)
    synced = scenario.wait_condition("across", "True", "Synced")
    after = scenario.modelrefs()
    assert set(after) == set(before) - {"churn.baseline"}
    assert after["churn.churn-survival"]["spec"]["version"]["version"] == 4
    for name, obj in after.items():  # kept, not recreated
        assert obj["metadata"]["uid"] == before[name]["metadata"]["uid"], name
        assert len(obj["metadata"]["ownerReferences"]) == 1
    assert synced["status"]["modelRefs"]["selected"] == 4

    # The ModelRef watch resumed: a hand edit is repaired without a catalog sync.
    syncs = scenario.syncs_done("across")
    name = "churn.churn-predictor"
    scenario.e2e.ok(
        "patch",
        "modelref",
        name,
        "-n",
        scenario.namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"version": {"version": 1}}}),
    )
    scenario.wait(
        lambda: (
            scenario.modelrefs()[name]["spec"]["version"]["version"]
            == after[name]["spec"]["version"]["version"]
        ),
        "the hand edit to be repaired",
        RESUME_TIMEOUT,
    )
    assert scenario.syncs_done("across") == syncs

    # A ModelCatalogSync made after the restart is synced by the same operator process.
    scenario.create_sync("newcomer", filters={"name": "fraud-detector"})
    scenario.wait_condition("newcomer", "True", "Synced", timeout=RESUME_TIMEOUT)
    assert condition(scenario.modelrefs()["fraud.fraud-detector"]) is not None
    assert scenario.e2e.operator.starts == 1
