"""End to end: a CI job publishes a new version and sends a signed webhook naming the model;
the ModelRef shows it in under a second (the sync's interval is 10 minutes) with at most 3
catalog requests, while unsigned and wrongly signed requests change nothing.

The session's operator serves the webhook (`--webhook-port`, e2e_harness.py). On the real
control plane it runs as deploy/base's ServiceAccount, which may not patch
ModelCatalogSyncs: the test adds deploy/components/webhook's ClusterRole and binding, so a
real authorizer checks that they are what the webhook needs, and removes them after."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from e2e_harness import CREDENTIALS_LABELS, E2E, ROOT, Scenario

from deploy.manifests import render
from fixtures_kube import api_client, kubectl
from modelsync.runtime.webhook_rules import SIGNATURE_HEADER, sign

pytestmark = pytest.mark.e2e

KEY = "whk-e2e-3f9a0c7d61b2"  # distinctive: the operator's log must never hold it
HOOK_SECRET = "ci-hook"
SURVIVAL = "model:acme/churn/churn-survival"
REF = "churn.churn-survival"
WITHIN = 1.0  # seconds from the POST to the ModelRef showing the version
MAX_CATALOG_REQUESTS = 3


@pytest.fixture
def webhook_rbac(e2e: E2E, tmp_path: Path) -> Iterator[None]:
    """On a real cluster: deploy/components/webhook's RBAC objects, for this test only."""
    if e2e.sandbox is not None:  # the sandbox authorizes every request
        yield
        return
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    base = os.path.relpath(ROOT / "deploy" / "base", overlay)
    component = os.path.relpath(ROOT / "deploy" / "components" / "webhook", overlay)
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": [base], "components": [component]}), encoding="utf-8"
    )
    rbac = [
        obj
        for obj in render(overlay)
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding")
        and obj["metadata"]["name"] == "modelsync-webhook"
    ]
    assert len(rbac) == 2
    manifest = yaml.safe_dump_all(rbac)
    e2e.ok("apply", "-f", "-", input=manifest)
    try:
        yield
    finally:
        kubectl(e2e.kubeconfig, "delete", "-f", "-", "--ignore-not-found", input=manifest)


def add_hook_secret(scenario: Scenario) -> None:
    done = scenario.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": HOOK_SECRET, "labels": CREDENTIALS_LABELS},
            "stringData": {"hmac": KEY},
        }
    )
    assert done.returncode == 0, done.stderr


def post(scenario: Scenario, sync: str, body: bytes, signature: str | None) -> httpx.Response:
    headers = {SIGNATURE_HEADER: signature} if signature is not None else {}
    return httpx.post(
        f"{scenario.e2e.webhook_url}/hooks/{scenario.namespace}/{sync}",
        content=body,
        headers=headers,
        timeout=10,
    )


def test_a_signed_webhook_refreshes_the_named_model_in_under_a_second(
    scenario: Scenario, webhook_rbac: None
) -> None:
    del webhook_rbac
    add_hook_secret(scenario)
    scenario.create_sync(
        "hooked",
        select={"mlRepos": ["churn"]},
        interval="10m",
        webhook={"secretRef": {"name": HOOK_SECRET, "key": "hmac"}},
    )
    scenario.wait_condition("hooked", "True", "Synced")
    assert scenario.modelrefs()[REF]["spec"]["version"]["version"] == 3
    assert scenario.add_version(SURVIVAL, deployable=True) == 4
    scenario.catalog.clear_requests()
    sync_version = scenario.sync("hooked")["metadata"]["resourceVersion"]
    body = json.dumps({"models": ["churn/churn-survival"]}).encode()
    wrong = sign(b"not-the-key", body)

    # Unsigned and wrongly signed requests change nothing.
    assert post(scenario, "hooked", body, None).status_code == 401
    assert post(scenario, "hooked", body, wrong).status_code == 401
    assert post(scenario, "hooked", body, sign(KEY.encode(), b"")).status_code == 401
    time.sleep(0.5)  # what a write would have set off has had time to happen
    assert scenario.sync("hooked")["metadata"]["resourceVersion"] == sync_version
    assert scenario.modelrefs()[REF]["spec"]["version"]["version"] == 3
    assert scenario.catalog.recorded_requests() == []

    with api_client(scenario.e2e.kubeconfig) as client:
        from kubernetes.client import CustomObjectsApi

        custom = CustomObjectsApi(client)

        def version() -> int:
            ref: dict[str, Any] = custom.get_namespaced_custom_object(
                "modelsync.dev", "v1alpha1", scenario.namespace, "modelrefs", REF
            )
            number: int = ref["spec"]["version"]["version"]
            return number

        version()  # a warm connection: the measure is the operator's, not our client's
        start = time.monotonic()
        accepted = post(scenario, "hooked", body, sign(KEY.encode(), body))
        assert accepted.status_code == 202, accepted.text
        while (seen := version()) != 4 and time.monotonic() - start < 10:
            time.sleep(0.01)
        took = time.monotonic() - start
    assert seen == 4
    assert took < WITHIN, f"the ModelRef showed version 4 after {took:.2f}s"
    answer = accepted.json()
    assert answer["models"] == ["churn/churn-survival"]
    annotations = scenario.sync("hooked")["metadata"]["annotations"]
    assert annotations["modelsync.dev/reconcile-requested-at"] == answer["requestedAt"]
    assert annotations["modelsync.dev/reconcile-models"] == "churn/churn-survival"
    requests = scenario.catalog.recorded_requests()
    assert 1 <= len(requests) <= MAX_CATALOG_REQUESTS, [(r.path, r.query) for r in requests]
    assert all(r.query.get("fqn") == SURVIVAL for r in requests if "fqn" in r.query)

    log = scenario.e2e.operator.log()
    assert f"webhook {scenario.namespace}/hooked from 127.0.0.1: 202" in log
    for secret in (KEY, wrong[7:], sign(KEY.encode(), body)[7:], sign(KEY.encode(), b"")[7:]):
        assert secret not in log
    metrics = httpx.get(scenario.e2e.metrics_url, timeout=10).text
    assert 'modelsync_webhook_requests_total{code="401"}' in metrics
