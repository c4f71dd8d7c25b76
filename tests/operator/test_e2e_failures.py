"""End to end: a failing catalog changes nothing; config errors stall; the schema rejects junk."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from e2e_harness import CATALOG_TOKEN, CREDENTIALS_LABELS, Scenario, condition

pytestmark = pytest.mark.e2e


def arm_500(scenario: Scenario) -> Callable[[], None]:
    scenario.catalog.faults.fail_next(100_000, 500)
    return scenario.catalog.faults.clear


def arm_timeout(scenario: Scenario) -> Callable[[], None]:
    scenario.catalog.faults.delay(2.5)  # the sync's timeoutSeconds is 1
    return lambda: scenario.catalog.faults.delay(0)


def arm_bad_json(scenario: Scenario) -> Callable[[], None]:
    scenario.catalog.faults.bad_body_next(100_000, "not-json")
    return scenario.catalog.faults.clear


def arm_401(scenario: Scenario) -> Callable[[], None]:
    scenario.set_token("not-the-token")  # a Secret change: the operator syncs at once
    return lambda: scenario.set_token(CATALOG_TOKEN)


OUTAGES = {
    "500": (arm_500, "CatalogUnavailable"),
    "timeout": (arm_timeout, "CatalogUnavailable"),
    "bad-json": (arm_bad_json, "InvalidResponse"),
    "401": (arm_401, "Unauthorized"),
}


@pytest.mark.parametrize("outage", list(OUTAGES))
def test_catalog_outage_changes_no_modelref_and_recovers(scenario: Scenario, outage: str) -> None:
    arm, reason = OUTAGES[outage]
    scenario.create_sync(
        "outage",
        select={"mlRepos": ["churn"]},
        deletionPolicy="Delete",
        catalog={"timeoutSeconds": 1},
    )
    scenario.wait_condition("outage", "True", "Synced")
    before = {n: o["metadata"]["resourceVersion"] for n, o in scenario.modelrefs().items()}
    failed_before = scenario.syncs_done("outage")

    disarm = arm(scenario)
    if outage != "401":
        scenario.trigger("outage")
    failed = scenario.wait_condition("outage", "False", reason)
    ready = condition(failed)
    assert ready is not None
    assert ready["message"]
    # Backoff retries (1s, 2s) keep failing with the same reason: still one Warning event.
    scenario.wait_syncs("outage", failed_before + 2, timeout=20)
    warnings = [e for e in scenario.events("outage") if e["type"] == "Warning"]
    assert [e["reason"] for e in warnings] == [reason]
    after = {n: o["metadata"]["resourceVersion"] for n, o in scenario.modelrefs().items()}
    assert after == before  # nothing rewritten, nothing deleted
    assert failed["status"]["modelRefs"]["selected"] == 5  # last good counts are kept

    disarm()
    scenario.wait_condition("outage", "True", "Synced", timeout=20)
    assert {n: o["metadata"]["resourceVersion"] for n, o in scenario.modelrefs().items()} == before


@pytest.mark.parametrize("problem", ["missing-secret", "missing-key"])
def test_missing_secret_or_key_stalls_until_it_appears(scenario: Scenario, problem: str) -> None:
    secret = "later" if problem == "missing-secret" else "tfy-api"
    key = "token" if problem == "missing-secret" else "pat"
    scenario.create_sync(
        "stalled",
        filters={"name": "baseline"},
        catalog={"tokenSecretRef": {"name": secret, "key": key}},
    )
    stalled = scenario.wait_condition("stalled", "True", "SecretNotFound", type_="Stalled")
    assert condition(stalled)["reason"] == "SecretNotFound"  # type: ignore[index]
    message = condition(stalled, "Stalled")["message"]  # type: ignore[index]
    assert secret in message
    assert problem == "missing-secret" or key in message
    assert scenario.modelrefs() == {}
    assert scenario.catalog.recorded_requests() == []
    warnings = [e["reason"] for e in scenario.events("stalled") if e["type"] == "Warning"]
    assert warnings == ["SecretNotFound"]

    fixed = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret,
            "namespace": scenario.namespace,
            "labels": CREDENTIALS_LABELS,
        },
        "stringData": {key: CATALOG_TOKEN},
    }
    assert scenario.apply(fixed).returncode == 0
    synced = scenario.wait_condition("stalled", "True", "Synced")
    assert condition(synced, "Stalled")["status"] == "False"  # type: ignore[index]
    assert set(scenario.modelrefs()) == {"fraud.baseline", "churn.baseline"}


def test_invalid_regex_stalls_with_invalid_spec(scenario: Scenario) -> None:
    scenario.create_sync("regex", select={"namePattern": "fraud-(["})
    stalled = scenario.wait_condition("regex", "True", "InvalidSpec", type_="Stalled")
    assert "namePattern" in condition(stalled, "Stalled")["message"]  # type: ignore[index]
    assert condition(stalled)["status"] == "False"  # type: ignore[index]
    assert scenario.catalog.recorded_requests() == []
    scenario.patch_sync("regex", {"spec": {"select": {"namePattern": "^fraud-"}}})
    scenario.wait_condition("regex", "True", "Synced")
    assert len(scenario.modelrefs()) == 2


@pytest.mark.parametrize(
    ("patch", "complaint"),
    [
        ({"catalog": {"pageSize": 0}}, "pageSize"),
        ({"catalog": {"url": "ftp://catalog"}}, "url"),
        ({"versionPolicy": "Sometimes"}, "versionPolicy"),
        ({"deletionPolicy": "Shred"}, "deletionPolicy"),
        ({"interval": "5 minutes"}, "interval"),
        ({"maxDeletions": -1}, "maxDeletions"),
        ({"catalog": {"tokenSecretRef": {"name": "tfy-api"}}}, "key"),
    ],
)
def test_schema_invalid_fields_are_rejected_by_kubectl_apply(
    scenario: Scenario, patch: dict[str, object], complaint: str
) -> None:
    manifest = scenario.sync_manifest("junk")
    for key, value in patch.items():
        if key == "catalog" and isinstance(value, dict):
            manifest["spec"]["catalog"] = {**manifest["spec"]["catalog"], **value}
        else:
            manifest["spec"][key] = value
    done = scenario.e2e.kubectl(
        "apply", "-n", scenario.namespace, "-f", "-", input=json.dumps(manifest)
    )
    assert done.returncode != 0
    assert complaint in done.stderr
    assert scenario.get("modelcatalogsync", "junk") is None
