"""The `select` fields, applied after version choice."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from modelsync.api.constants import VersionPolicy
from modelsync.catalog.records import ModelRecord
from modelsync.plan import ml_repo_name, models_needing_lookup, plan_sync
from plan import factories as f


def _selected(models: list[ModelRecord], **spec: Any) -> list[str]:
    plan = plan_sync(models, f.spec(**spec), [], sync=f.SYNC, now=f.NOW, listing_complete=True)
    return sorted(c.body["spec"]["model"]["name"] for c in plan.creates)


def test_ml_repo_name_comes_from_the_fqn_then_the_manifest() -> None:
    assert ml_repo_name(f.model(repo="fraud")) == "fraud"
    odd = msgspec.structs.replace(f.model(repo="fraud"), fqn="weird")
    assert ml_repo_name(odd) == "fraud"  # manifest.ml_repo
    bare = msgspec.structs.replace(f.model(empty=True), fqn="weird")
    assert ml_repo_name(bare) == "repo-fraud"  # last resort: the repo id


def test_name_pattern_is_a_regex_search_on_the_model_name() -> None:
    models = [f.model("fraud-a"), f.model("xfraud-b"), f.model("churn")]
    assert _selected(models, select={"namePattern": "^fraud-"}) == ["fraud-a"]
    assert _selected(models, select={"namePattern": "fraud"}) == ["fraud-a", "xfraud-b"]


def test_frameworks_match_the_chosen_version() -> None:
    models = [
        f.model("a", framework="sklearn"),
        f.model("b", framework="xgboost"),
        f.model("c", framework=None),
        f.model("d", framework="mystery-framework"),
    ]
    assert _selected(models, select={"frameworks": ["sklearn", "xgboost"]}) == ["a", "b"]
    assert _selected(models) == ["a", "b", "c", "d"]


def test_frameworks_use_the_looked_up_version_not_the_latest() -> None:
    m = f.model("a", framework="sklearn", deployable=False, number=2)
    older = f.version("a", 1, framework="xgboost")
    plan = plan_sync(
        [m],
        f.spec(select={"frameworks": ["xgboost"]}),
        [],
        sync=f.SYNC,
        now=f.NOW,
        listing_complete=True,
        resolutions={m.id: older},
    )
    assert [c.body["spec"]["version"]["version"] for c in plan.creates] == [1]


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [([], ["a", "b", "c"]), (["prod"], ["a", "b"]), (["prod", "eu"], ["a"]), (["x"], [])],
)
def test_tags_must_all_be_on_the_chosen_version(wanted: list[str], expected: list[str]) -> None:
    models = [
        f.model("a", tags=("prod", "eu")),
        f.model("b", tags=("prod",)),
        f.model("c", tags=()),
    ]
    assert _selected(models, select={"tags": wanted}) == expected


def test_ml_repos() -> None:
    models = [f.model("a", repo="fraud"), f.model("b", repo="churn"), f.model("c", repo="ads")]
    assert _selected(models, select={"mlRepos": ["fraud", "ads"]}) == ["a", "c"]


def test_all_fields_must_match() -> None:
    models = [
        f.model("fraud-a", repo="fraud", tags=("prod",)),
        f.model("fraud-b", repo="fraud", tags=()),
        f.model("fraud-c", repo="churn", tags=("prod",)),
    ]
    select = {"namePattern": "^fraud", "tags": ["prod"], "mlRepos": ["fraud"]}
    assert _selected(models, select=select) == ["fraud-a"]


@pytest.mark.timeout(20)
def test_catastrophic_name_pattern_selects_in_linear_time() -> None:
    hostile = ["a" * 30 + "_", "a" * 100_000 + "_", "a" * 100_000]
    models = [f.model(name, model_id=f"id-{i}") for i, name in enumerate(hostile)]
    models.append(f.model("aaa"))
    spec = {"select": {"namePattern": "^(a+)+$"}}
    assert _selected(models, **spec) == sorted(["a" * 100_000, "aaa"])


def test_name_pattern_also_narrows_the_version_lookups() -> None:
    hidden = f.model("b-hidden", deployable=False, number=2)
    shown = f.model("a-shown", deployable=False, number=2)
    select = f.spec(select={"namePattern": "^a-"}).select
    pending = models_needing_lookup([hidden, shown], VersionPolicy.LATEST_DEPLOYABLE, select=select)
    assert pending == [shown]
