"""The shipped fixture file: spec-valid, consistent, and covering what the tests need."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from fixtures_catalog import spec_validator
from modelsync_sandbox.catalog_query import served_model, version_number
from modelsync_sandbox.catalog_store import SHIPPED_FIXTURES, CatalogStore

from .generate_catalog_fixture import render

ALL_FRAMEWORKS = {
    "transformers",
    "tensorflow",
    "sklearn",
    "pytorch",
    "keras",
    "xgboost",
    "lightgbm",
    "fastai",
    "h2o",
    "onnx",
    "spacy",
    "statsmodels",
    "gluon",
    "paddle",
}


def _versions(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for m in data["models"] for v in m["versions"]]


def test_shipped_file_is_what_the_generator_writes() -> None:
    assert SHIPPED_FIXTURES.read_text(encoding="utf-8") == render()


def test_loads_into_the_store(catalog_fixture_data: dict[str, Any]) -> None:
    store = CatalogStore(catalog_fixture_data)
    assert len(store.models()) == len(catalog_fixture_data["models"])
    assert store.tenant == "acme"


def test_every_served_model_and_version_is_spec_valid(catalog_fixture_data: dict[str, Any]) -> None:
    model_validator = spec_validator("Model")
    version_validator = spec_validator("ModelVersion")
    for entry in catalog_fixture_data["models"]:
        model_validator.validate(served_model(entry))
        for version in entry["versions"]:
            version_validator.validate(version)


def test_size_and_unique_ids(catalog_fixture_data: dict[str, Any]) -> None:
    models = catalog_fixture_data["models"]
    assert 30 <= len(models) <= 40
    ids = [m["id"] for m in models] + [v["id"] for v in _versions(catalog_fixture_data)]
    assert len(ids) == len(set(ids))
    assert len({m["fqn"] for m in models}) == len(models)


def test_fqns_and_ids_are_consistent(catalog_fixture_data: dict[str, Any]) -> None:
    tenant = catalog_fixture_data["tenant"]
    repo_ids = catalog_fixture_data["ml_repos"]
    for model in catalog_fixture_data["models"]:
        repo = model["fqn"].split("/")[1]
        assert model["fqn"] == f"model:{tenant}/{repo}/{model['name']}"
        assert model["ml_repo_id"] == repo_ids[repo]
        for version in model["versions"]:
            manifest = version["manifest"]
            assert version["fqn"] == f"{model['fqn']}:{manifest['version']}"
            assert version["model_id"] == model["id"]
            assert version["ml_repo_id"] == model["ml_repo_id"]
            assert manifest["name"] == model["name"]
            assert manifest["ml_repo"] == repo
            assert version.get("version_alias") == manifest.get("version_alias")


def test_timestamps_are_rfc3339(catalog_fixture_data: dict[str, Any]) -> None:
    # jsonschema checks `format: date-time` only with an extra package; check here instead.
    stamps = [
        obj[key]
        for obj in [*catalog_fixture_data["models"], *_versions(catalog_fixture_data)]
        for key in ("created_at", "updated_at")
    ]
    for stamp in stamps:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", stamp), stamp
        datetime.fromisoformat(stamp)


def test_covers_frameworks_sources_and_subjects(catalog_fixture_data: dict[str, Any]) -> None:
    versions = _versions(catalog_fixture_data)
    assert {v["manifest"]["framework"]["type"] for v in versions} == ALL_FRAMEWORKS
    sources = {v["manifest"]["source"]["type"] for v in versions}
    assert sources == {"truefoundry", "external", "local"}
    schemes = {
        v["manifest"]["source"]["uri"].split("://")[0]
        for v in versions
        if "uri" in v["manifest"]["source"]
    }
    assert schemes == {"s3", "gs", "wasbs"}
    subject_types = {v["created_by_subject"]["subjectType"] for v in versions}
    assert {"user", "serviceaccount", "team", "virtualaccount"} <= subject_types
    assert any(v.get("version_alias") for v in versions)
    assert any(v.get("tags") for v in versions)
    assert any(v["manifest"].get("environment") for v in versions)
    assert any(not v["manifest"].get("environment") for v in versions)


def test_covers_version_edge_cases(catalog_fixture_data: dict[str, Any]) -> None:
    models = catalog_fixture_data["models"]
    empty = [m for m in models if not m["versions"]]
    assert len(empty) >= 3
    latest_not_deployable_with_older = [
        m
        for m in models
        if m["versions"]
        and not max(m["versions"], key=version_number)["deployable"]
        and any(v["deployable"] for v in m["versions"])
    ]
    assert len(latest_not_deployable_with_older) >= 3
    never_deployable = [
        m for m in models if m["versions"] and not any(v["deployable"] for v in m["versions"])
    ]
    assert len(never_deployable) >= 1
    numbers = [[version_number(v) for v in m["versions"]] for m in models]
    assert any(n != sorted(n) for n in numbers), "some model lists versions out of order"
    assert any(n and sorted(n) != list(range(1, len(n) + 1)) for n in numbers), "gaps"
    assert max(len(n) for n in numbers) >= 10, "a model with many versions, for paging"


def test_covers_awkward_names(catalog_fixture_data: dict[str, Any]) -> None:
    models = catalog_fixture_data["models"]
    names = [m["name"] for m in models]
    assert any(re.search("[A-Z]", n) for n in names)
    assert any("_" in n for n in names)
    by_repo: dict[str, list[str]] = {}
    for model in models:
        by_repo.setdefault(model["ml_repo_id"], []).append(model["name"])
    collisions = [
        group
        for group in by_repo.values()
        if any(
            Counter(n.lower().replace("_", "-") for n in group)[key] > 1
            for key in {n.lower().replace("_", "-") for n in group}
        )
    ]
    assert collisions, "names differing only by case or _/- in one repo"
    fraud = next(g for g in collisions if "fraud-model" in g)
    assert {"Fraud_Model", "fraud_model", "fraud-model"} <= set(fraud)
    assert max(Counter(names).values()) >= 2, "one name used in two repos"


@pytest.mark.parametrize("run_id", ["run-2024-churn-q3-retrain"])
def test_a_run_id_spans_two_models(catalog_fixture_data: dict[str, Any], run_id: str) -> None:
    owners = {
        m["id"]
        for m in catalog_fixture_data["models"]
        for v in m["versions"]
        if v["manifest"].get("run_id") == run_id
    }
    assert len(owners) == 2


def test_covers_promotion_labels(catalog_fixture_data: dict[str, Any]) -> None:
    """What version selectors need: semver and other aliases, tags, metrics on every version,
    and models whose newest version is not the one tagged for production."""
    versions = _versions(catalog_fixture_data)
    aliases = {v["version_alias"] for v in versions if v.get("version_alias")}
    assert {"v1.0.0", "v1.1.0", "v2.1.0"} <= aliases, "semver aliases"
    assert {"v1-prod", "v6-rc1", "v3"} <= aliases, "aliases that are not full semver"
    assert all(v["metrics"] and all("value" in m for m in v["metrics"]) for v in versions)
    assert all(v.get("version_alias", "").startswith("v") for v in versions if "version_alias" in v)
    promoted_before_latest = [
        m
        for m in catalog_fixture_data["models"]
        if m["versions"]
        and "prod" not in max(m["versions"], key=version_number)["tags"]
        and any("prod" in v["tags"] for v in m["versions"])
    ]
    assert len(promoted_before_latest) >= 3
