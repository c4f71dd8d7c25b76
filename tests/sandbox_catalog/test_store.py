"""The mutable catalog store: loading checks and runtime changes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from fixtures_catalog import spec_validator
from modelsync_sandbox.catalog_query import ModelFilter, VersionFilter
from modelsync_sandbox.catalog_store import CatalogStore, FixtureError, load_fixture_data

SUBJECT = {"subjectId": "u1", "subjectType": "user"}


def _model(model_id: str = "m1", name: str = "demo") -> dict[str, Any]:
    return {
        "id": model_id,
        "ml_repo_id": "repo-1",
        "name": name,
        "fqn": f"model:acme/demo/{name}",
        "created_by_subject": SUBJECT,
    }


def _manifest(version: int | None = None) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "name": "demo",
        "metadata": {},
        "ml_repo": "demo",
        "source": {"type": "truefoundry", "uri": "s3://bucket/demo/"},
        "framework": {"type": "sklearn"},
    }
    if version is not None:
        manifest["version"] = version
    return manifest


def test_load_from_path_dict_and_default(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"tenant": "t", "models": [_model()]}))
    assert load_fixture_data(path)["tenant"] == "t"
    source = {"models": [_model()]}
    loaded = load_fixture_data(source)
    loaded["models"].clear()
    assert source["models"], "a dict source is copied"
    assert len(load_fixture_data(None)["models"]) > 30


@pytest.mark.parametrize(
    "data",
    [
        {"models": "nope"},
        {"models": [{"id": "m1"}]},
        {"models": [_model(), _model()]},
        {"models": [{**_model(), "versions": [{"id": "v"}]}]},
    ],
)
def test_bad_fixtures_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(FixtureError):
        CatalogStore(data)


def test_unreadable_file_is_a_fixture_error(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(FixtureError):
        load_fixture_data(tmp_path / "bad.json")
    with pytest.raises(FixtureError):
        load_fixture_data(tmp_path / "missing.json")


def test_add_version_fills_bookkeeping_and_becomes_latest() -> None:
    store = CatalogStore({"models": [_model()]})
    first = store.add_version("m1", {"manifest": _manifest()})
    second = store.add_version("m1", {"manifest": _manifest(), "deployable": True})
    assert (first["manifest"]["version"], second["manifest"]["version"]) == (1, 2)
    assert second["fqn"] == "model:acme/demo/demo:2"
    assert second["model_id"] == "m1"
    assert second["ml_repo_id"] == "repo-1"
    served = store.list_models(ModelFilter())[0]
    assert served["latest_version"]["id"] == second["id"]
    spec_validator("Model").validate(served)
    older = store.add_version("m1", {"manifest": _manifest(version=1_000)})
    assert store.list_models(ModelFilter())[0]["latest_version"]["id"] == older["id"]


def test_add_version_refuses_bad_input() -> None:
    store = CatalogStore({"models": [_model()]})
    with pytest.raises(KeyError):
        store.add_version("missing", {"manifest": _manifest()})
    with pytest.raises(FixtureError):
        store.add_version("m1", {"tags": []})
    store.add_version("m1", {"manifest": _manifest(version=1)})
    with pytest.raises(FixtureError):
        store.add_version("m1", {"manifest": _manifest(version=1)})


def test_upsert_replace_and_remove() -> None:
    store = CatalogStore({"models": [_model()]})
    store.upsert_model({**_model("m2", "other"), "latest_version": {"ignored": True}})
    store.upsert_model({**_model("m1", "renamed")})
    assert [m["name"] for m in store.models()] == ["other", "renamed"]
    stored = store.model("m2")
    assert stored is not None
    assert "latest_version" not in stored
    assert store.remove_model("m1")
    assert not store.remove_model("m1")
    assert [m["id"] for m in store.list_models(ModelFilter())] == ["m2"]


def test_returned_data_are_copies() -> None:
    store = CatalogStore({"models": [_model()]})
    store.add_version("m1", {"manifest": _manifest()})
    snapshot = store.models()
    snapshot[0]["versions"].clear()
    listed = store.list_versions(VersionFilter(model_id="m1"))
    listed[0]["manifest"]["version"] = 99
    assert store.list_versions(VersionFilter(model_id="m1"))[0]["manifest"]["version"] == 1


def test_replace_keeps_old_content_when_new_is_bad() -> None:
    store = CatalogStore({"models": [_model()]})
    before = copy.deepcopy(store.models())
    with pytest.raises(FixtureError):
        store.replace({"models": [_model(), _model()]})
    assert store.models() == before


def test_publish_version_copies_the_latest_manifest_with_the_given_labels() -> None:
    store = CatalogStore({"models": [_model()]})
    first = store.publish_version("m1")
    assert first["manifest"] == {
        "name": "demo",
        "metadata": {},
        "ml_repo": "demo",
        "source": {"type": "truefoundry"},
        "version": 1,
    }
    assert (first["tags"], first["metrics"], first["deployable"]) == ([], [], False)
    assert "version_alias" not in first
    store.relabel_version("m1", 1, {"version_alias": "v1.0.0"})
    labels = {
        "tags": ["prod", "champion"],
        "version_alias": "v2.1.0",
        "metrics": [{"key": "auc", "value": 0.93, "timestamp": 1_700_000_000_000, "step": 3}],
        "deployable": True,
    }
    second = store.publish_version("m1", labels)
    assert second["manifest"]["version"] == 2
    assert second["manifest"]["version_alias"] == second["version_alias"] == "v2.1.0"
    assert {key: second[key] for key in labels} == labels
    served = store.list_models(ModelFilter())[0]
    spec_validator("Model").validate(served)
    assert served["latest_version"] == second
    listed = store.list_versions(VersionFilter(model_id="m1"))
    assert [v["version_alias"] for v in listed] == ["v2.1.0", "v1.0.0"]
    for version in listed:
        spec_validator("ModelVersion").validate(version)
    assert store.list_versions(VersionFilter(tag="champion")) == [second]


def test_relabel_version_changes_only_the_given_labels() -> None:
    store = CatalogStore({"models": [_model()]})
    labels = {"tags": ["prod"], "version_alias": "v1-prod", "metrics": [{"key": "auc"}]}
    published = store.publish_version("m1", {**labels, "deployable": True})
    store.publish_version("m1")
    changed = store.relabel_version("m1", 1, {"tags": ["retired"], "metrics": []})
    assert changed["tags"] == ["retired"]
    assert changed["metrics"] == []
    assert (changed["version_alias"], changed["deployable"]) == ("v1-prod", True)
    assert changed["updated_at"] >= published["updated_at"]
    removed = store.relabel_version("m1", 1, {"version_alias": None, "deployable": False})
    assert "version_alias" not in removed
    assert "version_alias" not in removed["manifest"]
    assert removed["deployable"] is False
    assert store.list_versions(VersionFilter(version=1)) == [removed]
    assert store.list_models(ModelFilter())[0]["latest_version"]["manifest"]["version"] == 2


@pytest.mark.parametrize(
    "labels",
    [
        {"tags": "prod"},
        {"tags": [1]},
        {"version_alias": "1.2.0"},
        {"version_alias": "v1.2.0-"},
        {"version_alias": "v" + "1" * 128},
        {"metrics": [{"value": 0.9}]},
        {"metrics": [{"key": "auc", "value": "high"}]},
        {"metrics": [{"key": "auc", "value": True}]},
        {"metrics": [{"key": "auc", "step": -1}]},
        {"deployable": "yes"},
        {"colour": "blue"},
    ],
)
def test_bad_labels_are_refused_and_change_nothing(labels: dict[str, Any]) -> None:
    store = CatalogStore({"models": [_model()]})
    store.publish_version("m1", {"tags": ["prod"]})
    before = store.models()
    with pytest.raises(FixtureError, match="bad version labels"):
        store.publish_version("m1", labels)
    with pytest.raises(FixtureError, match="bad version labels"):
        store.relabel_version("m1", 1, labels)
    assert store.models() == before


def test_publish_and_relabel_unknown_model_or_version() -> None:
    store = CatalogStore({"models": [_model()]})
    with pytest.raises(KeyError):
        store.publish_version("missing")
    with pytest.raises(KeyError):
        store.relabel_version("m1", 1, {"tags": []})
    with pytest.raises(KeyError):
        store.relabel_version("missing", 1, {"tags": []})
