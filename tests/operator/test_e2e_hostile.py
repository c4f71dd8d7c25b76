"""End to end, the operator against hostile or careless input: a token with a space, a Secret
that is not opted in, a catalog that lies about its listing, a sync whose every model belongs
to another. Each ends as a condition and one Warning event, and nothing is lost."""

from __future__ import annotations

import time

import pytest
from e2e_harness import CATALOG_TOKEN, SECRET_NAME, Scenario, condition

from modelsync_sandbox.catalog_server import CatalogSandbox

pytestmark = pytest.mark.e2e

CHURN = {"mlRepos": ["churn"]}


def warnings(scenario: Scenario, name: str) -> list[str]:
    return [e["reason"] for e in scenario.events(name) if e["type"] == "Warning"]


def test_a_token_with_a_space_stalls_with_a_condition_and_an_event(scenario: Scenario) -> None:
    scenario.set_token("tok with-a-space")
    scenario.create_sync("spaced", select=CHURN)
    stalled = scenario.wait_condition("spaced", "True", "InvalidToken", type_="Stalled")
    message = condition(stalled, "Stalled")["message"]  # type: ignore[index]
    assert f'Secret "{SECRET_NAME}" key "token"' in message
    assert "with-a-space" not in str(stalled)
    assert condition(stalled)["reason"] == "InvalidToken"  # type: ignore[index]
    assert scenario.wait(lambda: warnings(scenario, "spaced"), "a Warning event") == [
        "InvalidToken"
    ]
    assert scenario.catalog.recorded_requests() == []

    scenario.set_token(CATALOG_TOKEN)  # a Secret change: the operator syncs at once
    scenario.wait_condition("spaced", "True", "Synced")
    assert len(scenario.modelrefs()) == 5


def test_a_secret_that_is_not_opted_in_is_never_sent(scenario: Scenario) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "someone-elses", "namespace": scenario.namespace},
        "stringData": {"token": CATALOG_TOKEN},
    }
    assert scenario.apply(secret).returncode == 0
    scenario.create_sync(
        "borrowed",
        select=CHURN,
        catalog={"tokenSecretRef": {"name": "someone-elses", "key": "token"}},
    )
    stalled = scenario.wait_condition("borrowed", "True", "SecretNotOptedIn", type_="Stalled")
    message = condition(stalled, "Stalled")["message"]  # type: ignore[index]
    assert "kubectl label secret someone-elses" in message
    assert scenario.catalog.recorded_requests() == []
    assert scenario.modelrefs() == {}

    scenario.e2e.ok(
        "label",
        "secret",
        "someone-elses",
        "-n",
        scenario.namespace,
        "modelsync.dev/catalog-credentials=true",
    )
    scenario.wait_condition("borrowed", "True", "Synced")


def test_a_sync_whose_every_model_belongs_to_another_is_not_ready(scenario: Scenario) -> None:
    scenario.create_sync("owner", select=CHURN)
    scenario.wait_condition("owner", "True", "Synced")
    before = {n: r["metadata"]["resourceVersion"] for n, r in scenario.modelrefs().items()}
    scenario.create_sync("latecomer", select=CHURN)
    late = scenario.wait_condition("latecomer", "False", "ModelsFailed")
    assert "5 of 5" in condition(late)["message"]  # type: ignore[index]
    assert late["status"]["modelRefs"]["failed"] == 5
    assert {f["reason"] for f in late["status"]["failures"]} == {"OwnedByAnotherSync"}
    after = {n: r["metadata"]["resourceVersion"] for n, r in scenario.modelrefs().items()}
    assert after == before


def test_a_lying_listing_deletes_nothing_and_the_sync_recovers(scenario: Scenario) -> None:
    scenario.create_sync("lied-to", select=CHURN, deletionPolicy="Delete", catalog={"pageSize": 10})
    scenario.wait_condition("lied-to", "True", "Synced")
    before = {n: r["metadata"]["resourceVersion"] for n, r in scenario.modelrefs().items()}
    synced_before = scenario.syncs_done("lied-to")

    scenario.catalog.faults.empty_page_before_total(from_offset=10)
    scenario.trigger("lied-to")
    failed = scenario.wait_condition("lied-to", "False", "InconsistentListing")
    assert "nothing was deleted" in condition(failed)["message"]  # type: ignore[index]
    scenario.wait_syncs("lied-to", synced_before + 2, timeout=20)  # retried with backoff
    assert warnings(scenario, "lied-to") == ["InconsistentListing"]
    after = {n: r["metadata"]["resourceVersion"] for n, r in scenario.modelrefs().items()}
    assert after == before

    scenario.catalog.faults.clear()
    scenario.wait_condition("lied-to", "True", "Synced", timeout=20)
    assert {n: r["metadata"]["resourceVersion"] for n, r in scenario.modelrefs().items()} == before


def test_syncs_stuck_on_a_dripping_catalog_do_not_delay_a_healthy_reconcile(
    scenario: Scenario,
) -> None:
    """More syncs against a catalog that drips one byte a second than the operator has sync
    slots (--max-concurrent-syncs 4): a reconcile of a sync against a healthy catalog is
    still handled at once, because waiting on a catalog holds no global slot."""
    scenario.create_sync("healthy", select=CHURN)
    scenario.wait_condition("healthy", "True", "Synced")
    with CatalogSandbox.running_in_thread(token=CATALOG_TOKEN) as dripping:
        dripping.faults.drip(1.0)
        stuck = [f"stuck-{i}" for i in range(5)]
        for name in stuck:
            scenario.create_sync(name, catalog={"url": dripping.url, "timeoutSeconds": 120})
        time.sleep(1.5)  # the operator has picked them up; their listings drip
        started = time.monotonic()
        scenario.wait_handled("healthy", scenario.trigger("healthy"), timeout=15)
        waited = time.monotonic() - started
        assert waited < 5, f"the reconcile waited {waited:.1f}s"
        assert all(not (scenario.sync(name).get("status") or {}) for name in stuck)
    for name in stuck:  # the dripping catalog is gone: stop them now
        scenario.e2e.ok("delete", "mcs", name, "-n", scenario.namespace, "--wait=false")
