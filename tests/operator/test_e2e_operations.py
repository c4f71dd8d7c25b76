"""End to end: the shipped examples, the liveness endpoint."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
import yaml
from e2e_harness import ROOT, Scenario, condition

from modelsync_sandbox.catalog_server import CatalogSandbox

pytestmark = pytest.mark.e2e

EXAMPLES = ROOT / "examples"


def load(path: Path) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def test_examples_work_against_the_sandbox_catalog(scenario: Scenario) -> None:
    # The examples' own token and selection; only the namespace and the catalog port move.
    with CatalogSandbox.running_in_thread() as catalog:
        secret = load(EXAMPLES / "secret.yaml")
        sync = load(EXAMPLES / "modelcatalogsync.yaml")
        for manifest in (secret, sync):
            manifest["metadata"]["namespace"] = scenario.namespace  # type: ignore[index]
        assert sync["spec"]["catalog"]["url"] == "http://127.0.0.1:8181"  # type: ignore[index]
        sync["spec"]["catalog"]["url"] = catalog.url  # type: ignore[index]
        for manifest in (secret, sync):
            done = scenario.e2e.kubectl("apply", "-f", "-", input=json.dumps(manifest))
            assert done.returncode == 0, done.stderr
        scenario.wait_condition("sandbox-models", "True", "Synced")
    refs = scenario.modelrefs()
    assert set(refs) == {
        "churn.churn-predictor",
        "churn.churn-survival",
        "fraud.fraud-detector",
        "fraud.fraud-model",
    }
    for obj in refs.values():
        assert obj["metadata"]["labels"]["team"] == "risk"
        assert condition(obj)["status"] == "True"  # type: ignore[index]


def test_liveness_endpoint_answers(scenario: Scenario) -> None:
    with urllib.request.urlopen(scenario.e2e.liveness_url, timeout=5) as response:  # noqa: S310
        assert response.status == 200
