from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml

from modelsync.api.constants import DeletionPolicy, FrameworkType, VersionPolicy
from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec, parse_spec, validate_spec
from modelsync.runtime.catalog_reads import catalog_filters

DESIGN_EXAMPLE = """
catalog:
  url: https://app.truefoundry.com
  apiPath: /api/ml/v1
  tokenSecretRef: {name: tfy-api, key: token}
  caSecretRef: {name: corp-ca, key: ca.crt}
  timeoutSeconds: 30
  pageSize: 100
filters:
  fqn: "model:acme/fraud/detector"
  mlRepoId: "..."
  name: "detector"
  runId: "..."
  includeEmptyModels: false
select:
  namePattern: "^fraud-"
  frameworks: [sklearn, xgboost]
  tags: [prod]
  mlRepos: [fraud]
versionPolicy: LatestDeployable
interval: 5m
suspend: false
deletionPolicy: Retain
maxDeletions: 10
modelRefTemplate:
  labels: {team: risk}
  annotations: {}
"""


def minimal(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "catalog": {"url": "https://tfy.example", "tokenSecretRef": {"name": "t", "key": "k"}}
    }
    spec.update(overrides)
    return spec


def test_design_example_parses() -> None:
    spec, errors = parse_spec(yaml.safe_load(DESIGN_EXAMPLE))
    assert errors == []
    assert spec is not None
    assert spec.catalog.ca_secret_ref is not None
    assert spec.catalog.ca_secret_ref.key == "ca.crt"
    assert spec.select.frameworks == [FrameworkType.SKLEARN, FrameworkType.XGBOOST]
    assert spec.model_ref_template.labels == {"team": "risk"}
    assert spec.interval_duration == timedelta(minutes=5)


def test_defaults() -> None:
    spec = ModelCatalogSyncSpec.from_k8s(minimal())
    assert spec.catalog.api_path == "/api/ml/v1"
    assert (spec.catalog.timeout_seconds, spec.catalog.page_size) == (30, 100)
    assert spec.version_policy is VersionPolicy.LATEST_DEPLOYABLE
    assert spec.deletion_policy is DeletionPolicy.RETAIN
    assert (spec.interval, spec.suspend, spec.max_deletions) == (None, False, 10)
    assert spec.filters.include_empty_models is False
    assert spec.select.name_pattern is None
    assert spec.select.frameworks == []
    assert spec.to_k8s() == {
        "catalog": {
            "url": "https://tfy.example",
            "apiPath": "/api/ml/v1",
            "tokenSecretRef": {"name": "t", "key": "k"},
            "timeoutSeconds": 30,
            "pageSize": 100,
        },
        "filters": {"includeEmptyModels": False},
        "versionPolicy": "LatestDeployable",
        "suspend": False,
        "deletionPolicy": "Retain",
        "maxDeletions": 10,
    }


def test_python_names_work_too() -> None:
    spec = ModelCatalogSyncSpec(
        catalog={"url": "http://127.0.0.1:8181", "token_secret_ref": {"name": "t", "key": "k"}},
        version_policy=VersionPolicy.LATEST,
    )
    assert spec.to_k8s()["versionPolicy"] == "Latest"
    assert spec.to_k8s()["catalog"]["tokenSecretRef"] == {"name": "t", "key": "k"}


def test_query_params() -> None:
    spec = ModelCatalogSyncSpec.from_k8s(
        minimal(filters={"mlRepoId": "r1", "name": "det", "includeEmptyModels": True})
    )
    assert catalog_filters(spec).to_params() == {
        "ml_repo_id": "r1",
        "name": "det",
        "include_empty_models": "true",
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"interval": "5s"}, "spec.interval: must be at least 10s"),
        ({"interval": "9999ms"}, "spec.interval: must be at least 10s"),
        ({"select": {"namePattern": "(unclosed"}}, "spec.select.namePattern: invalid regular"),
        ({"modelRefTemplate": {"labels": {"bad key!": "v"}}}, "not a valid label key"),
        ({"modelRefTemplate": {"labels": {"k": "-bad-"}}}, "not a valid label value"),
        ({"modelRefTemplate": {"annotations": {"a/b/c": "v"}}}, "annotations: 'a/b/c'"),
    ],
)
def test_semantic_errors(overrides: dict[str, Any], message: str) -> None:
    spec, errors = parse_spec(minimal(**overrides))
    assert spec is not None
    assert len(errors) == 1
    assert errors[0].startswith(message) or message in errors[0]


def test_valid_spec_has_no_errors() -> None:
    spec = ModelCatalogSyncSpec.from_k8s(minimal(interval="10s", select={"namePattern": "^a"}))
    assert validate_spec(spec) == []


@pytest.mark.parametrize(
    ("overrides", "location"),
    [
        ({"catalog": {"url": "ftp://x", "tokenSecretRef": {"name": "t", "key": "k"}}}, "url"),
        ({"catalog": {"url": "https://u:p@x", "tokenSecretRef": {"name": "t", "key": "k"}}}, "url"),
        ({"catalog": {"url": "https://x"}}, "spec.catalog.tokenSecretRef"),
        ({"interval": "5 minutes"}, "spec.interval"),
        ({"versionPolicy": "Newest"}, "spec.versionPolicy"),
        ({"select": {"frameworks": ["sklearn", "caffe"]}}, "spec.select.frameworks[1]"),
        ({"maxDeletions": -1}, "spec.maxDeletions"),
    ],
)
def test_schema_errors_are_reported_not_raised(overrides: dict[str, Any], location: str) -> None:
    spec, errors = parse_spec(minimal(**overrides))
    assert spec is None
    assert any(location in e for e in errors), errors


def test_error_messages_never_echo_input_values() -> None:
    secret_like = "https://x/" + "s3cr3t" + " " * 3
    _, errors = parse_spec(
        {"catalog": {"url": secret_like, "tokenSecretRef": {"name": "t", "key": "k"}}}
    )
    assert errors
    assert all("s3cr3t" not in e for e in errors)


def test_interval_duration_raises_for_garbage() -> None:
    spec = ModelCatalogSyncSpec.from_k8s(minimal()).model_copy(update={"interval": "soon"})
    with pytest.raises(ValueError, match="duration"):
        _ = spec.interval_duration
