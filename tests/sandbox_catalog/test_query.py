"""Unit and property tests of the pure query functions behind the sandbox catalog."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from modelsync_sandbox.catalog_query import (
    ModelFilter,
    VersionFilter,
    latest_version,
    model_matches,
    paginate,
    select_models,
    select_versions,
    served_model,
)


def _version(model_id: str, number: int, *, run_id: str | None = None) -> dict[str, Any]:
    name = model_id.removeprefix("id-")
    manifest: dict[str, Any] = {"name": name, "metadata": {}, "ml_repo": "r", "version": number}
    if run_id is not None:
        manifest["run_id"] = run_id
    return {"id": f"{model_id}:{number}", "model_id": model_id, "manifest": manifest, "tags": []}


def _entry(name: str, numbers: list[int], repo: str = "repo-1") -> dict[str, Any]:
    return {
        "id": f"id-{name}",
        "ml_repo_id": repo,
        "name": name,
        "fqn": f"model:acme/r/{name}",
        "versions": [_version(f"id-{name}", n, run_id=f"run-{n}") for n in numbers],
    }


names = st.text(alphabet="abAB_-", min_size=1, max_size=6)
version_lists = st.lists(st.integers(1, 50), unique=True, max_size=6)
entries = st.dictionaries(names, version_lists, max_size=12).map(
    lambda d: [_entry(name, numbers) for name, numbers in d.items()]
)


@given(st.lists(st.integers(), max_size=40), st.integers(0, 45), st.integers(1, 45))
def test_pages_partition_the_items(values: list[int], start: int, limit: int) -> None:
    items = [{"v": v} for v in values]
    collected: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = paginate(items, offset, limit)
        assert page["pagination"] == {"total": len(items), "offset": offset, "limit": limit}
        assert len(page["data"]) <= limit
        if not page["data"]:
            break
        collected += page["data"]
        offset += len(page["data"])
    assert collected == items
    assert paginate(items, start, limit)["data"] == items[start : start + limit]


@given(st.lists(st.integers(), max_size=20), st.integers(0, 25))
def test_no_limit_means_everything_from_offset(values: list[int], offset: int) -> None:
    items = [{"v": v} for v in values]
    page = paginate(items, offset, None)
    assert page["data"] == items[offset:]
    assert page["pagination"] == {"total": len(items), "offset": offset}


@given(version_lists)
def test_latest_is_the_highest_number_whatever_the_order(numbers: list[int]) -> None:
    versions = [_version("m", n) for n in numbers]
    latest = latest_version(versions)
    if not numbers:
        assert latest is None
    else:
        assert latest is not None
        assert latest["manifest"]["version"] == max(numbers)


@given(entries)
def test_select_models_sorts_serves_and_does_not_mutate(stored: list[dict[str, Any]]) -> None:
    before = copy.deepcopy(stored)
    served = select_models(stored, ModelFilter())
    assert stored == before
    assert [m["fqn"] for m in served] == sorted(m["fqn"] for m in stored)
    for model in served:
        assert "versions" not in model
        source = next(e for e in stored if e["id"] == model["id"])
        if source["versions"]:
            top = max(v["manifest"]["version"] for v in source["versions"])
            assert model["latest_version"]["manifest"]["version"] == top
        else:
            assert "latest_version" not in model


@given(entries, st.sampled_from([True, False]))
def test_include_empty_models(stored: list[dict[str, Any]], include: bool) -> None:
    served = select_models(stored, ModelFilter(include_empty_models=include))
    expected = [e for e in stored if include or e["versions"]]
    assert {m["id"] for m in served} == {e["id"] for e in expected}


@given(entries, st.integers(1, 50))
def test_run_id_matches_any_version(stored: list[dict[str, Any]], number: int) -> None:
    served = select_models(stored, ModelFilter(run_id=f"run-{number}"))
    expected = {
        e["id"] for e in stored if any(v["manifest"]["version"] == number for v in e["versions"])
    }
    assert {m["id"] for m in served} == expected


def test_filters_are_exact_and_combine() -> None:
    a, b = _entry("Fraud_Model", [1]), _entry("fraud-model", [], repo="repo-2")
    assert model_matches(a, ModelFilter(name="Fraud_Model"))
    assert not model_matches(a, ModelFilter(name="fraud_model"))
    assert model_matches(b, ModelFilter(fqn="model:acme/r/fraud-model", ml_repo_id="repo-2"))
    assert not model_matches(b, ModelFilter(fqn="model:acme/r/fraud-model", ml_repo_id="repo-1"))
    assert not model_matches(b, ModelFilter(include_empty_models=False))


def test_served_model_replaces_a_stale_latest_version() -> None:
    entry = {**_entry("m", [1, 3, 2]), "latest_version": {"stale": True}}
    assert served_model(entry)["latest_version"]["manifest"]["version"] == 3


def test_versions_newest_first_per_model_and_filters() -> None:
    stored = [_entry("b", [1, 3, 2]), _entry("a", [2, 1])]
    everything = select_versions(stored, VersionFilter())
    assert [v["id"] for v in everything] == ["id-a:2", "id-a:1", "id-b:3", "id-b:2", "id-b:1"]
    only_b = select_versions(stored, VersionFilter(model_id="id-b"))
    assert [v["manifest"]["version"] for v in only_b] == [3, 2, 1]
    assert select_versions(stored, VersionFilter(model_id="nope")) == []
    assert [v["id"] for v in select_versions(stored, VersionFilter(version=2, name="a"))] == [
        "id-a:2"
    ]
