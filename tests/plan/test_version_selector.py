"""spec.versionSelector and spec.pins: each rule, the order of rules, the messages."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from modelsync.api import constants as c
from modelsync.api.constants import VersionPolicy
from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec, parse_spec
from modelsync.api.semver import InvalidRange, parse_alias, parse_range
from modelsync.catalog.records import MetricRecord, ModelRecord, VersionRecord
from modelsync.plan import (
    MISSING,
    UNSUPPORTED,
    NoVersion,
    VersionLookupCache,
    VersionRules,
    choose_version,
    compile_rules,
    models_needing_lookup,
    plan_sync,
)
from modelsync.plan.version_selector import latest_metric
from modelsync.plan.versions import LookupPending
from plan import factories as f

LD = VersionPolicy.LATEST_DEPLOYABLE

# (range, version, expected), as node-semver answers (npm's semver package).
SEMVER_REFERENCE: list[tuple[str, str, bool]] = [
    (">=1.2.0 <2.0.0", "1.2.0", True),
    (">=1.2.0 <2.0.0", "1.9.9", True),
    (">=1.2.0 <2.0.0", "2.0.0", False),
    (">=1.2.0 <2.0.0", "1.1.9", False),
    (">=1.2.0 <2.0.0", "2.0.0-rc.1", False),
    (">=1.2.0 <2.0.0", "1.5.0-beta", False),  # prerelease of another tuple: never
    ("^1.2.3", "1.2.3", True),
    ("^1.2.3", "1.9.0", True),
    ("^1.2.3", "2.0.0", False),
    ("^1.2.3", "1.2.2", False),
    ("^0.2.3", "0.2.9", True),
    ("^0.2.3", "0.3.0", False),
    ("^0.0.3", "0.0.4", False),
    ("^1.2.3-beta.2", "1.2.3-beta.4", True),
    ("^1.2.3-beta.2", "1.2.3-beta.1", False),
    ("^1.2.3-beta.2", "1.2.4-beta.1", False),
    ("~1.2.3", "1.2.9", True),
    ("~1.2.3", "1.3.0", False),
    ("~1.2", "1.2.0", True),
    ("~1", "1.9.0", True),
    ("~1", "2.0.0", False),
    ("1.x", "1.4.2", True),
    ("1.x", "2.0.0", False),
    ("1.2.x", "1.2.7", True),
    ("1.2.x", "1.3.0", False),
    ("*", "3.1.4", True),
    ("*", "3.1.4-alpha", False),
    ("1.2.3 - 2.3.4", "1.2.3", True),
    ("1.2.3 - 2.3.4", "2.3.4", True),
    ("1.2.3 - 2.3.4", "2.3.5", False),
    ("1.2 - 2.3", "2.3.9", True),
    ("1.2 - 2.3", "2.4.0", False),
    ("^1.0.0 || ^3.0.0", "3.2.0", True),
    ("^1.0.0 || ^3.0.0", "2.2.0", False),
    ("<1.0.0 || >=2.1.0", "0.9.0", True),
    ("<1.0.0 || >=2.1.0", "2.0.0", False),
    (">=1.0.0-alpha", "1.0.0-alpha.1", True),
    (">=1.0.0-alpha", "1.0.1-alpha.1", False),
    ("=2.1.0", "2.1.0", True),
    ("2.1.0", "2.1.1", False),
    ("v2.1.0", "2.1.0", True),
]


def _version(
    number: int,
    *,
    deployable: bool = True,
    tags: tuple[str, ...] = ("prod",),
    alias: str | None = None,
    metrics: tuple[MetricRecord, ...] | None = None,
    name: str = "detector",
) -> VersionRecord:
    record = f.version(name, number, deployable=deployable, tags=tags, alias=alias)
    if metrics is not None:
        record = msgspec.structs.replace(record, metrics=metrics)
    return record


def _model(latest: VersionRecord, name: str = "detector") -> ModelRecord:
    return f.model(name, latest=latest)


def _rules(**spec: Any) -> VersionRules:
    return compile_rules(f.spec(**spec))


def _auc(value: float | None, timestamp: int | None = None, step: int = 0) -> MetricRecord:
    return MetricRecord(key="auc", value=value, timestamp=timestamp, step=step)


@pytest.mark.parametrize(("spec_range", "version", "expected"), SEMVER_REFERENCE)
def test_semver_ranges_against_the_reference_list(
    spec_range: str, version: str, expected: bool
) -> None:
    compiled = parse_range(spec_range)
    assert compiled.matches(version) is expected
    assert compiled.matches(f"v{version}") is expected  # a leading v is allowed


@pytest.mark.parametrize("alias", [None, "", "v1", "1.2", "prod", "v1.2.3.4", "vv1.2.3", "01.2.3"])
def test_aliases_that_are_not_semver_never_qualify(alias: str | None) -> None:
    assert parse_alias(alias) is None
    assert not parse_range("*").matches(alias)
    assert not parse_range(">=0.0.0").matches(alias)


@pytest.mark.parametrize("text", ["", "  ", "garbage", ">=1.2.0, <2", "~>1.2"])
def test_invalid_ranges_are_refused(text: str) -> None:
    with pytest.raises(InvalidRange, match="npm range syntax is required"):
        parse_range(text)


def test_tags_must_all_be_on_the_version() -> None:
    rules = _rules(versionSelector={"tags": ["prod", "eu"]})
    assert rules.excluded_by(_version(1, tags=("prod", "eu", "x"))) is None
    assert rules.excluded_by(_version(1, tags=("prod",))) == "lacks tag eu"
    assert rules.excluded_by(_version(1, tags=())) == "lacks tag prod"


def test_alias_pattern_is_searched_in_the_alias() -> None:
    rules = _rules(versionSelector={"aliasPattern": r"^v2\."})
    assert rules.excluded_by(_version(1, alias="v2.1.0")) is None
    assert rules.excluded_by(_version(1, alias="v3.0.0")) == (
        r"alias v3.0.0 does not match aliasPattern ^v2\."
    )
    assert rules.excluded_by(_version(1, alias=None)) == "has no alias"
    prod = _rules(versionSelector={"aliasPattern": "-prod$"})
    assert prod.excluded_by(_version(1, alias="v1-prod")) is None
    assert prod.excluded_by(_version(1, alias="v1-prod-old")) is not None


def test_alias_semver_reads_the_alias() -> None:
    rules = _rules(versionSelector={"aliasSemver": ">=1.2.0 <2.0.0"})
    assert rules.excluded_by(_version(1, alias="v1.4.0")) is None
    assert rules.excluded_by(_version(1, alias="v2.0.0")) == (
        "alias v2.0.0 is not in the semver range >=1.2.0 <2.0.0"
    )
    assert rules.excluded_by(_version(1, alias="v1-prod")) == (
        "alias v1-prod is not in the semver range >=1.2.0 <2.0.0"
    )


def test_latest_metric_value_is_the_one_with_the_greatest_timestamp_then_step() -> None:
    points = (_auc(0.99, 200, 1), _auc(0.5, 300, 0), _auc(0.7, None, 9), _auc(0.6, 300, 0))
    found = latest_metric(points, "auc")
    assert found is not None
    assert found.value == 0.6  # equal (timestamp, step): the last listed
    steps = (_auc(0.1, None, 3), _auc(0.2, None, 1))
    latest = latest_metric(steps, "auc")
    assert latest is not None
    assert latest.value == 0.1
    assert latest_metric(points, "loss") is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (0.9, None),  # inclusive
        (0.95, None),
        (1.0, None),  # inclusive
        (0.89, "has auc 0.89 < 0.9"),
        (1.01, "has auc 1.01 > 1"),
        (None, "has no value for metric auc"),
    ],
)
def test_metric_bounds_are_inclusive(value: float | None, problem: str | None) -> None:
    rules = _rules(versionSelector={"metrics": [{"key": "auc", "min": 0.9, "max": 1.0}]})
    assert rules.excluded_by(_version(1, metrics=(_auc(value),))) == problem


def test_a_missing_metric_or_one_sided_bounds() -> None:
    only_max = _rules(versionSelector={"metrics": [{"key": "loss", "max": 0.2}]})
    assert only_max.excluded_by(_version(1, metrics=(_auc(0.9),))) == "has no metric loss"
    loss = MetricRecord(key="loss", value=-5.0)
    assert only_max.excluded_by(_version(1, metrics=(loss,))) is None


def test_every_given_field_must_hold_and_the_policy_too() -> None:
    rules = _rules(versionSelector={"tags": ["prod"], "aliasSemver": "^2"})
    assert rules.excluded_by(_version(1, alias="v2.0.0")) is None
    assert rules.excluded_by(_version(1, alias="v2.0.0", deployable=False)) == (
        "is not marked deployable"
    )
    latest = _rules(versionPolicy="Latest", versionSelector={"tags": ["prod"]})
    assert latest.excluded_by(_version(1, alias="v2.0.0", deployable=False)) is None


def test_the_newest_qualifying_version_wins() -> None:
    rules = _rules(versionSelector={"aliasSemver": "^2"})
    versions = [
        _version(4, alias="v3.0.0"),
        _version(2, alias="v2.0.0"),
        _version(3, alias="v2.1.0"),
        _version(1, alias="v2.2.0"),
    ]
    model = _model(versions[0])
    assert rules.needs_lookup(model)
    chosen = rules.resolve(model, versions)
    assert isinstance(chosen, VersionRecord)
    assert chosen.manifest.version == 3
    choice = choose_version(model, rules, chosen)
    assert choice is not None
    assert choice.version == chosen
    assert (choice.ready, choice.reason) == (True, c.REASON_DEPLOYABLE_VERSION_RESOLVED)


def test_a_qualifying_latest_needs_no_lookup() -> None:
    rules = _rules(versionSelector={"tags": ["prod"]})
    model = _model(_version(5, tags=("prod",)))
    assert not rules.needs_lookup(model)
    choice = choose_version(model, rules, MISSING)
    assert choice is not None
    assert choice.version == model.latest_version
    with pytest.raises(LookupPending):
        choose_version(_model(_version(5, tags=())), rules, MISSING)


def test_no_matching_version_names_the_rules_that_excluded_the_newest() -> None:
    rules = _rules(
        versionSelector={"tags": ["prod"], "metrics": [{"key": "auc", "min": 0.9}]},
    )
    versions = [
        _version(7, alias="v3.0.0", tags=()),
        _version(6, alias="v2.1.0", metrics=(_auc(0.85),)),
        _version(5, deployable=False),
        _version(4, tags=("dev",)),
        _version(3, tags=("dev",)),
    ]
    model = _model(versions[0])
    answer = rules.resolve(model, versions)
    assert answer == NoVersion(
        "no version qualifies: version 7 (v3.0.0) lacks tag prod; version 6 (v2.1.0) has auc "
        "0.85 < 0.9; version 5 is not marked deployable; and 2 more"
    )
    choice = choose_version(model, rules, answer)
    assert choice is not None
    assert choice.version == model.latest_version  # points at the latest, as documented
    assert (choice.ready, choice.reason) == (False, c.REASON_NO_MATCHING_VERSION)
    assert choice.message.endswith("; pointing at the latest version 7 (v3.0.0)")
    assert "lacks tag prod" in choice.message


def test_pins_beat_policy_and_selector() -> None:
    rules = _rules(
        versionSelector={"tags": ["prod"]},
        pins=[{"model": "fraud/detector", "version": 2}],
    )
    versions = [_version(3), _version(2, deployable=False, tags=()), _version(1)]
    model = _model(versions[0])
    assert rules.needs_lookup(model)  # the latest qualifies, but is not the pinned one
    chosen = rules.resolve(model, versions)
    assert isinstance(chosen, VersionRecord)
    assert chosen.manifest.version == 2
    choice = choose_version(model, rules, chosen)
    assert choice is not None
    assert choice.version == chosen
    assert choice.pinned
    assert (choice.ready, choice.reason) == (True, c.REASON_PINNED_VERSION_RESOLVED)
    assert choice.message == "version 2 is pinned; it is not marked deployable"


def test_a_pin_by_alias_takes_the_newest_version_with_that_alias() -> None:
    rules = _rules(pins=[{"model": "fraud/detector", "alias": "v2.1.0"}])
    versions = [_version(4, alias="v3"), _version(3, alias="v2.1.0"), _version(2, alias="v2.1.0")]
    chosen = rules.resolve(_model(versions[0]), versions)
    assert isinstance(chosen, VersionRecord)
    assert chosen.manifest.version == 3


def test_a_pin_naming_the_latest_needs_no_lookup() -> None:
    rules = _rules(
        versionPolicy="LatestDeployable", pins=[{"model": "fraud/detector", "version": 5}]
    )
    model = _model(_version(5, deployable=False))
    assert not rules.needs_lookup(model)
    choice = choose_version(model, rules, MISSING)
    assert choice is not None
    assert choice.pinned
    assert choice.ready
    assert choice.reason == c.REASON_PINNED_VERSION_RESOLVED


@pytest.mark.parametrize(
    ("pin", "wanted"), [({"version": 9}, "version 9"), ({"alias": "v9.9.9"}, "alias v9.9.9")]
)
def test_a_pin_to_a_missing_version_is_not_found(pin: dict[str, Any], wanted: str) -> None:
    rules = _rules(pins=[{"model": "fraud/detector", **pin}])
    versions = [_version(2, alias="v2.0.0"), _version(1, alias="v1.0.0")]
    model = _model(versions[0])
    answer = rules.resolve(model, versions)
    assert isinstance(answer, NoVersion)
    choice = choose_version(model, rules, answer)
    assert choice is not None
    assert choice.version == model.latest_version
    assert not choice.pinned
    assert (choice.ready, choice.reason) == (False, c.REASON_PINNED_VERSION_NOT_FOUND)
    assert choice.message == (
        f"pinned {wanted} not found: the catalog has no {wanted} of this model; pointing at "
        "the latest version 2 (v2.0.0)"
    )
    unsupported = choose_version(model, rules, UNSUPPORTED)
    assert unsupported is not None
    assert unsupported.reason == c.REASON_PINNED_VERSION_NOT_FOUND
    assert "cannot list older versions" in unsupported.message


def test_pins_apply_to_their_model_only() -> None:
    rules = _rules(pins=[{"model": "fraud/other", "version": 1}])
    model = _model(_version(3))
    assert rules.pin_for(model) is None
    assert not rules.needs_lookup(model)


def test_the_cache_key_holds_the_rules_and_the_pin() -> None:
    model = _model(_version(3, tags=()))
    prod = _rules(versionSelector={"tags": ["prod"]})
    eu = _rules(versionSelector={"tags": ["eu"]})
    cache = VersionLookupCache().with_results([model], {model.id: None}, prod, now=100.0)
    assert cache.get(model, prod) is None
    assert cache.get(model, eu) is MISSING  # another spec never reuses the answer
    assert cache.get(model, LD) is MISSING
    pinned = _rules(
        versionSelector={"tags": ["prod"]}, pins=[{"model": "fraud/detector", "version": 1}]
    )
    assert cache.get(model, pinned) is MISSING


def test_cached_answers_older_than_the_max_age_are_looked_up_again() -> None:
    model = _model(_version(3, deployable=False))
    cache = VersionLookupCache().with_results([model], {model.id: None}, LD, now=1000.0)
    assert models_needing_lookup([model], LD, cache=cache, now=1000.0 + 599) == []
    assert models_needing_lookup([model], LD, cache=cache, now=1000.0 + 600) == [model]
    assert models_needing_lookup([model], LD, cache=cache) == []  # no clock: any age
    assert cache.resolutions([model], LD) == {model.id: None}  # still the fallback answer


def test_an_invalid_selector_is_an_invalid_spec() -> None:
    raw = f.spec().to_k8s()
    raw["versionSelector"] = {
        "aliasPattern": "(?=x)",
        "aliasSemver": "not a range",
        "metrics": [{"key": "auc", "min": 2, "max": 1}],
    }
    raw["pins"] = [
        {"model": "fraud/a", "version": 1},
        {"model": "fraud/a", "alias": "v1"},
    ]
    spec, errors = parse_spec(raw)
    assert spec is not None
    assert [e.split(":")[0] for e in errors] == [
        "spec.versionSelector.aliasPattern",
        "spec.versionSelector.aliasSemver",
        "spec.versionSelector.metrics[0]",
        "spec.pins[1].model",
    ]
    assert "min 2 is greater than max 1" in errors[2]
    assert "pinned more than once" in errors[3]


def test_a_pinned_modelref_says_so_and_an_unpinned_one_does_not() -> None:
    versions = {"v1": _version(1), "v2": _version(2)}
    model = _model(versions["v2"])
    pinned_spec: ModelCatalogSyncSpec = f.spec(pins=[{"model": "fraud/detector", "version": 1}])
    plan = plan_sync(
        [model],
        pinned_spec,
        [],
        sync=f.SYNC,
        now=f.NOW,
        resolutions={model.id: versions["v1"]},
        listing_complete=True,
    )
    (create,) = plan.creates
    assert create.body["spec"]["pinned"] is True
    assert create.body["spec"]["version"]["version"] == 1
    assert create.status["status"]["conditions"][0]["reason"] == c.REASON_PINNED_VERSION_RESOLVED
    plain = plan_sync([model], f.spec(), [], sync=f.SYNC, now=f.NOW, listing_complete=True)
    (unpinned,) = plain.creates
    assert "pinned" not in unpinned.body["spec"]
    assert unpinned.body["metadata"]["annotations"] != create.body["metadata"]["annotations"]
