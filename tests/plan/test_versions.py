"""Version choice per versionPolicy, the lookup list and the lookup cache."""

from __future__ import annotations

import pytest

from modelsync.api.constants import VersionPolicy
from modelsync.plan import (
    MISSING,
    UNSUPPORTED,
    VersionLookupCache,
    choose_version,
    models_needing_lookup,
)
from modelsync.plan.versions import LookupPending
from plan import factories as f

LD = VersionPolicy.LATEST_DEPLOYABLE


def test_deployable_latest_is_chosen_without_lookup() -> None:
    m = f.model(number=7)
    choice = choose_version(m, LD, MISSING)
    assert choice is not None
    assert choice.version == m.latest_version
    assert choice.ready
    assert choice.message == "version 7 is deployable"


def test_model_without_versions_gets_no_choice() -> None:
    assert choose_version(f.model(empty=True), LD, MISSING) is None
    assert choose_version(f.model(empty=True), VersionPolicy.LATEST, MISSING) is None


def test_latest_policy_takes_a_non_deployable_latest_version_but_is_not_ready() -> None:
    m = f.model(number=3, deployable=False)
    choice = choose_version(m, VersionPolicy.LATEST, MISSING)
    assert choice is not None
    assert choice.version == m.latest_version
    assert not choice.ready
    assert "version 3" in choice.message


def test_latest_deployable_uses_the_looked_up_version() -> None:
    m = f.model(number=8, deployable=False)
    older = f.version(number=6, alias="v1.6")
    choice = choose_version(m, LD, older)
    assert choice is not None
    assert choice.version == older
    assert choice.ready
    assert choice.message == "version 6 (v1.6) is deployable"


def test_no_deployable_version_points_at_latest() -> None:
    m = f.model(number=8, deployable=False)
    choice = choose_version(m, LD, None)
    assert choice is not None
    assert choice.version == m.latest_version
    assert not choice.ready
    assert "version 8" in choice.message


def test_a_lookup_answer_for_another_model_or_not_deployable_counts_as_none() -> None:
    m = f.model(number=8, deployable=False)
    for answer in (f.version("other", 2), f.version(number=2, deployable=False)):
        choice = choose_version(m, LD, answer)
        assert choice is not None
        assert choice.version == m.latest_version
        assert not choice.ready


def test_missing_resolution_when_needed_raises() -> None:
    with pytest.raises(LookupPending):
        choose_version(f.model(deployable=False), LD, MISSING)


def _existing_spec(model_id: str, *, deployable: bool) -> dict[str, object]:
    return {
        "model": {"id": model_id, "name": "detector", "fqn": "model:acme/fraud/detector"},
        "version": {"id": "v-5", "fqn": "x:5", "version": 5, "deployable": deployable},
    }


def test_unsupported_keeps_the_deployable_version_the_ref_holds() -> None:
    m = f.model(number=8, deployable=False)
    held = _existing_spec(m.id, deployable=True)
    choice = choose_version(m, LD, UNSUPPORTED, held)
    assert choice is not None
    assert choice.version is None
    assert choice.kept == held["version"]
    assert choice.ready
    assert choice.message == "version 5 is deployable"


@pytest.mark.parametrize("held", [None, "not-deployable", "other-model"])
def test_unsupported_without_a_held_deployable_version_points_at_latest(held: str | None) -> None:
    m = f.model(number=8, deployable=False)
    existing = None
    if held == "not-deployable":
        existing = _existing_spec(m.id, deployable=False)
    elif held == "other-model":
        existing = _existing_spec("someone-else", deployable=True)
    choice = choose_version(m, LD, UNSUPPORTED, existing)
    assert choice is not None
    assert choice.version == m.latest_version
    assert not choice.ready
    assert "cannot list older versions" in choice.message


def test_models_needing_lookup() -> None:
    ok = f.model("a")
    pending = f.model("b", deployable=False)
    empty = f.model("c", empty=True)
    other_repo = f.model("d", repo="other", deployable=False)
    models = [ok, pending, empty, other_repo]
    assert models_needing_lookup(models, LD) == [pending, other_repo]
    assert models_needing_lookup(models, VersionPolicy.LATEST) == []
    select = f.spec(select={"mlRepos": ["fraud"]}).select
    assert models_needing_lookup(models, LD, select=select) == [pending]
    cache = VersionLookupCache().with_results([pending], {pending.id: None})
    assert models_needing_lookup(models, LD, cache=cache) == [other_repo]


def test_cache_is_keyed_by_the_latest_version_id() -> None:
    m = f.model(number=8, deployable=False)
    found = f.version(number=6)
    cache = VersionLookupCache()
    assert cache.get(m) is MISSING
    filled = cache.with_results([m], {m.id: found})
    assert cache.get(m) is MISSING  # immutable
    assert filled.get(m) == found
    assert filled.resolutions([m]) == {m.id: found}
    newer = f.model(latest=f.version(number=9, deployable=False))
    assert filled.get(newer) is MISSING
    assert filled.with_results([m], {m.id: UNSUPPORTED}).get(m) is UNSUPPORTED
    assert f.model(empty=True).id == m.id
    assert filled.get(f.model(empty=True)) is MISSING


def test_cache_pruning_keeps_only_listed_models() -> None:
    a = f.model("a", deployable=False)
    b = f.model("b", deployable=False)
    cache = VersionLookupCache().with_results([a, b], {a.id: None, b.id: None})
    assert len(cache) == 2
    pruned = cache.pruned([a])
    assert len(pruned) == 1
    assert pruned.get(a) is None
    assert pruned.get(b) is MISSING
    assert cache.pruned([f.model("a", number=2, deployable=False)]) == VersionLookupCache()
