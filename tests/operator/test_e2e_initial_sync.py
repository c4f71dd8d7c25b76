"""End to end: the first sync, version choice, every filter and select field, kubectl views."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_harness import Scenario, condition

from modelsync.api.naming import modelref_name

pytestmark = pytest.mark.e2e

CHURN_REPO_ID = "57dfee0d-bfcd-5eb8-97d3-bff93ec8ab14"
VISION_REPO_ID = "10d84e00-ee57-5e33-93e2-740c43baa383"


def ref(repo: str, model: str) -> str:
    return modelref_name(repo, model, f"model:acme/{repo}/{model}")


def version_of(obj: dict[str, Any]) -> int:
    number: int = obj["spec"]["version"]["version"]
    return number


def test_initial_sync_materializes_latest_deployable_versions(scenario: Scenario) -> None:
    scenario.create_sync(
        "churn",
        select={"mlRepos": ["churn"]},
        modelRefTemplate={"labels": {"team": "retention"}, "annotations": {"owner": "ml-platform"}},
    )
    sync = scenario.wait_condition("churn", "True", "Synced")
    refs = scenario.modelrefs()
    expected = {  # name -> (version, Ready, framework)
        ref("churn", "churn-predictor"): (5, "True", "xgboost"),  # v6 is not deployable
        ref("churn", "ChurnPredictor"): (2, "True", "sklearn"),
        ref("churn", "churn-survival"): (3, "True", "statsmodels"),
        ref("churn", "churn_uplift"): (3, "False", "lightgbm"),  # no deployable version
        ref("churn", "baseline"): (1, "True", "statsmodels"),
    }  # churn-experimental has no versions: no ModelRef
    assert set(refs) == set(expected)
    uid = sync["metadata"]["uid"]
    for name, (version, ready, framework) in expected.items():
        obj = refs[name]
        assert version_of(obj) == version, name
        assert obj["spec"]["version"]["deployable"] is (ready == "True")
        ready_condition = condition(obj)
        assert ready_condition is not None
        assert ready_condition["status"] == ready
        assert ready_condition["reason"] == (
            "DeployableVersionResolved" if ready == "True" else "NoDeployableVersion"
        )
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "modelsync"
        assert labels["modelsync.dev/sync"] == "churn"
        assert labels["modelsync.dev/ml-repo"] == "churn"
        assert labels["modelsync.dev/framework"] == framework
        assert labels["team"] == "retention"
        annotations = obj["metadata"]["annotations"]
        assert annotations["modelsync.dev/model-fqn"] == obj["spec"]["model"]["fqn"]
        assert annotations["owner"] == "ml-platform"
        assert obj["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "modelsync.dev/v1alpha1",
                "kind": "ModelCatalogSync",
                "name": "churn",
                "uid": uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    predictor = refs[ref("churn", "churn-predictor")]["spec"]
    assert predictor["model"]["fqn"] == "model:acme/churn/churn-predictor"
    assert predictor["version"]["fqn"] == "model:acme/churn/churn-predictor:5"
    assert predictor["version"]["framework"]["type"] == "xgboost"
    assert predictor["version"]["tags"] == ["staging"]

    status = sync["status"]
    assert status["observedGeneration"] == sync["metadata"]["generation"]
    assert status["modelRefs"]["selected"] == 5
    assert status["modelRefs"]["created"] == 5
    assert status["modelRefs"]["failed"] == 0
    assert status["catalog"]["modelsListed"] == 33  # every non-empty model of the catalog
    assert status["lastSuccessfulSyncTime"]
    for type_, wanted in (("Ready", "True"), ("Reconciling", "False"), ("Stalled", "False")):
        found = condition(sync, type_)
        assert found is not None, type_
        assert found["status"] == wanted, type_


def test_kubectl_printer_columns_wait_and_category(scenario: Scenario) -> None:
    scenario.create_sync("fd", filters={"fqn": "model:acme/fraud/fraud-detector"})
    scenario.wait_condition("fd", "True", "Synced")
    table = scenario.e2e.ok("get", "modelrefs", "-n", scenario.namespace).splitlines()
    assert table[0].split() == [
        "NAME",
        "MODEL",
        "VERSION",
        "ALIAS",
        "FRAMEWORK",
        "PINNED",
        "READY",
        "AGE",
    ]
    row = table[1].split()
    assert row[:3] == ["fraud.fraud-detector", "model:acme/fraud/fraud-detector", "5"]
    assert "sklearn" in row
    assert "True" in row

    waited = scenario.e2e.kubectl(
        "wait",
        "--for=condition=Ready",
        "--timeout=10s",
        "-n",
        scenario.namespace,
        "modelref/fraud.fraud-detector",
    )
    assert waited.returncode == 0, waited.stderr

    syncs = scenario.e2e.ok("get", "mcs", "-n", scenario.namespace).splitlines()
    assert syncs[0].split()[:4] == ["NAME", "URL", "MODELS", "READY"]
    assert syncs[1].split()[:4] == ["fd", scenario.catalog.url, "1", "True"]
    everything = scenario.e2e.ok("get", "modelsync", "-n", scenario.namespace)
    assert "fraud.fraud-detector" in everything
    assert "fd" in everything


FILTER_CASES: dict[str, tuple[dict[str, Any], dict[str, int]]] = {
    "fqn": (
        {"filters": {"fqn": "model:acme/fraud/fraud-detector"}},
        {ref("fraud", "fraud-detector"): 5},
    ),
    "mlRepoId": (
        {"filters": {"mlRepoId": VISION_REPO_ID}},
        {
            ref("vision", m): v
            for m, v in [
                ("defect-detector", 3),
                ("image-classifier-onnx", 2),
                ("ocr-paddle", 2),
                ("product-tagger-keras", 3),
                ("sku-detector-gluon", 2),
                ("satellite-segmentation", 4),
                ("brand-diffusion", 2),
            ]
        },
    ),
    "name": (
        {"filters": {"name": "baseline"}},
        {ref("fraud", "baseline"): 1, ref("churn", "baseline"): 1},
    ),
    "runId": (
        {"filters": {"runId": "run-2024-churn-q3-retrain"}},
        {ref("churn", "churn-predictor"): 5, ref("churn", "churn-survival"): 3},
    ),
    "includeEmptyModels": (
        {"filters": {"mlRepoId": CHURN_REPO_ID, "includeEmptyModels": True}},
        {
            ref("churn", m): v
            for m, v in [
                ("churn-predictor", 5),
                ("ChurnPredictor", 2),
                ("churn-survival", 3),
                ("churn_uplift", 3),
                ("baseline", 1),
            ]
        },
    ),
    "select.namePattern": (
        {"select": {"namePattern": "^fraud-"}},
        {ref("fraud", "fraud-detector"): 5, ref("fraud", "fraud-model"): 3},
    ),
    "select.frameworks": (
        {"select": {"frameworks": ["onnx"]}},
        {
            ref("nlp", "intent-onnx"): 3,
            ref("vision", "image-classifier-onnx"): 2,
            ref("risk-scoring", "pd-model-onnx"): 1,
        },
    ),
    "select.tags": (
        {"select": {"tags": ["prod", "champion"]}},
        {ref("fraud", "fraud-detector"): 5},  # the only chosen version tagged with both
    ),
    "select.mlRepos": (
        {"select": {"mlRepos": ["risk-scoring"]}},
        {
            ref("risk-scoring", "credit-score"): 3,
            ref("risk-scoring", "credit_score"): 2,
            ref("risk-scoring", "pd-model-onnx"): 1,
        },
    ),
    "versionPolicy.Latest": (
        {"filters": {"name": "demand-forecast"}, "versionPolicy": "Latest"},
        {ref("forecasting", "demand-forecast"): 8},  # latest, although not deployable
    ),
}


@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_each_filter_and_select_field_narrows_the_set(scenario: Scenario, case: str) -> None:
    spec, expected = FILTER_CASES[case]
    scenario.create_sync("narrow", **spec)
    sync = scenario.wait_condition("narrow", "True", "Synced")
    refs = scenario.modelrefs()
    assert {name: version_of(obj) for name, obj in refs.items()} == expected
    assert sync["status"]["modelRefs"]["selected"] == len(expected)
    if case == "includeEmptyModels":
        assert sync["status"]["catalog"]["modelsListed"] == 6  # the empty one is listed too
