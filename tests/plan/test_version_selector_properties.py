"""Hypothesis properties of version choice: a spec without versionSelector and pins chooses
exactly as the planner did before them (a frozen copy of that code is the oracle), the newest
qualifying version wins, and pins beat every other rule."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelsync.api import constants as c
from modelsync.api.constants import VersionPolicy
from modelsync.api.semver import parse_range
from modelsync.catalog.records import MetricRecord, ModelRecord, VersionRecord
from modelsync.plan import MISSING, UNSUPPORTED, NoVersion, compile_rules
from modelsync.plan.digest import SPEC_FORMAT, spec_digest
from modelsync.plan.types import CacheMiss, VersionResolution
from modelsync.plan.version_selector import latest_metric
from modelsync.plan.versions import LookupPending, VersionChoice, choose_version
from plan import factories as f

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_ALIASES = [None, "v1.0.0", "v1.4.2", "2.0.0", "v2.1.0-rc.1", "v3-dev", "v1-prod", "prod"]
_TAGS = ["prod", "eu"]
_PATTERNS = [r"^v2\.", "-prod$", "^v1", "dev"]
_RANGES = [">=1.2.0 <2.0.0", "^2", "~1.0", "1.x || 3.x", "*"]


# --- the oracle: version choice as it was before versionSelector and pins ---------------------


def _label(version: VersionRecord) -> str:
    number = version.manifest.version
    text = f"version {number}" if number is not None else f"version {version.id}"
    alias = version.version_alias or version.manifest.version_alias
    return f"{text} ({alias})" if alias else text


def _old_choice(
    model: ModelRecord,
    policy: VersionPolicy,
    resolution: VersionResolution | CacheMiss,
    existing_spec: Mapping[str, Any] | None,
) -> tuple[Any, ...] | None:
    """(version, kept, Ready status, reason, message), as plan/versions.py chose before."""
    no = c.REASON_NO_DEPLOYABLE_VERSION
    yes = c.REASON_DEPLOYABLE_VERSION_RESOLVED
    latest = model.latest_version
    if latest is None:
        return None
    if latest.deployable:
        return (latest, None, True, yes, f"{_label(latest)} is deployable")
    if policy is VersionPolicy.LATEST:
        return (
            latest,
            None,
            False,
            no,
            f"{_label(latest)} is not marked deployable (versionPolicy Latest)",
        )
    if resolution is MISSING:
        raise LookupPending(model.id)
    if resolution is UNSUPPORTED:
        kept = (existing_spec or {}).get("version")
        kept_model = (existing_spec or {}).get("model")
        if (
            isinstance(kept_model, Mapping)
            and kept_model.get("id") == model.id
            and isinstance(kept, Mapping)
            and kept.get("deployable") is True
            and isinstance(kept.get("id"), str)
        ):
            number = kept.get("version")
            text = f"version {number}" if number is not None else f"version {kept.get('id')}"
            alias = kept.get("versionAlias")
            label = f"{text} ({alias})" if alias else text
            return (None, kept, True, yes, f"{label} is deployable")
        return (
            latest,
            None,
            False,
            no,
            f"the latest {_label(latest)} is not deployable and the catalog cannot list "
            "older versions",
        )
    if (
        isinstance(resolution, VersionRecord)
        and resolution.deployable
        and resolution.model_id == model.id
    ):
        return (resolution, None, True, yes, f"{_label(resolution)} is deployable")
    return (
        latest,
        None,
        False,
        no,
        f"no version is deployable; pointing at the latest {_label(latest)}",
    )


def _old_newest_deployable(versions: list[VersionRecord]) -> VersionRecord | None:
    """CatalogClient.newest_deployable_version, the look-up before versionSelector."""
    deployable = [v for v in versions if v.deployable]
    if not deployable:
        return None
    return max(deployable, key=lambda v: -1 if v.manifest.version is None else v.manifest.version)


def _old_spec_digest(model: ModelRecord, repo: str, version: VersionRecord) -> str:
    parts = (SPEC_FORMAT, model.id, model.name, model.fqn, model.ml_repo_id, repo, version)
    encoded = msgspec.json.Encoder(order="deterministic").encode(parts)
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


def _as_tuple(choice: VersionChoice | None) -> tuple[Any, ...] | None:
    if choice is None:
        return None
    assert not choice.pinned
    return (choice.version, choice.kept, choice.ready, choice.reason, choice.message)


# --- strategies ----------------------------------------------------------------------------


@st.composite
def version_lists(draw: st.DrawFn, name: str = "detector") -> list[VersionRecord]:
    numbers = draw(st.lists(st.integers(1, 9), min_size=1, max_size=6, unique=True))
    versions = []
    for number in numbers:
        record = f.version(
            name,
            number,
            deployable=draw(st.booleans()),
            tags=tuple(draw(st.sets(st.sampled_from(_TAGS)))),
            alias=draw(st.sampled_from(_ALIASES)),
        )
        points = draw(
            st.lists(
                st.builds(
                    MetricRecord,
                    key=st.sampled_from(["auc", "loss"]),
                    value=st.none() | st.floats(0, 1),
                    timestamp=st.none() | st.integers(0, 3),
                    step=st.integers(0, 2),
                ),
                max_size=3,
            )
        )
        versions.append(msgspec.structs.replace(record, metrics=tuple(points)))
    return versions


def _model_of(versions: list[VersionRecord]) -> ModelRecord:
    latest = max(versions, key=lambda v: v.manifest.version or 0)
    return f.model("detector", latest=latest)


@st.composite
def selectors(draw: st.DrawFn) -> dict[str, Any]:
    selector: dict[str, Any] = {}
    if draw(st.booleans()):
        selector["tags"] = draw(st.lists(st.sampled_from(_TAGS), max_size=2, unique=True))
    if draw(st.booleans()):
        selector["aliasPattern"] = draw(st.sampled_from(_PATTERNS))
    if draw(st.booleans()):
        selector["aliasSemver"] = draw(st.sampled_from(_RANGES))
    if draw(st.booleans()):
        bound: dict[str, Any] = {"key": draw(st.sampled_from(["auc", "loss"]))}
        low, high = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
        side = draw(st.sampled_from(["min", "max", "both"]))
        if side in ("min", "both"):
            bound["min"] = low
        if side in ("max", "both"):
            bound["max"] = high
        selector["metrics"] = [bound]
    return selector


def _qualifies(version: VersionRecord, policy: str, selector: Mapping[str, Any]) -> bool:
    """The oracle of one version under a policy and a selector, written from the issue."""
    if policy == "LatestDeployable" and not version.deployable:
        return False
    if not set(selector.get("tags", [])) <= set(version.tags):
        return False
    alias = version.version_alias or version.manifest.version_alias
    if "aliasPattern" in selector and (
        alias is None or not re.search(selector["aliasPattern"], alias)
    ):
        return False
    if "aliasSemver" in selector and not parse_range(selector["aliasSemver"]).matches(alias):
        return False
    for bound in selector.get("metrics", []):
        point = latest_metric(version.metrics, bound["key"])
        if point is None or point.value is None:
            return False
        if "min" in bound and point.value < bound["min"]:
            return False
        if "max" in bound and point.value > bound["max"]:
            return False
    return True


# --- properties ----------------------------------------------------------------------------


@SETTINGS
@given(
    version_lists(),
    st.sampled_from(list(VersionPolicy)),
    st.sampled_from(["missing", "looked up", "unsupported", "foreign", "stale"]),
    st.booleans(),
)
def test_without_selector_and_pins_the_choice_is_the_old_one(
    versions: list[VersionRecord],
    policy: VersionPolicy,
    answer: str,
    holds_deployable: bool,
) -> None:
    model = _model_of(versions)
    rules = compile_rules(f.spec(versionPolicy=policy.value))
    resolution: VersionResolution | CacheMiss
    if answer == "missing":
        resolution = MISSING
    elif answer == "looked up":
        new = rules.resolve(model, versions)
        assert new == _old_newest_deployable(versions) or policy is VersionPolicy.LATEST
        resolution = new
    elif answer == "unsupported":
        resolution = UNSUPPORTED
    elif answer == "foreign":
        resolution = f.version("other", 3)
    else:
        resolution = f.version("detector", 1, deployable=False)
    existing = None
    if holds_deployable:
        existing = {
            "model": {"id": model.id},
            "version": {"id": "kept-1", "version": 1, "deployable": True},
        }
    try:
        old = _old_choice(model, policy, resolution, existing)
    except LookupPending:
        try:
            choose_version(model, rules, resolution, existing)
        except LookupPending:
            return
        raise AssertionError("the old code needed a look-up; the new one did not") from None
    assert _as_tuple(choose_version(model, rules, resolution, existing)) == old
    # plain rules ask for a look-up exactly when the old code did
    latest = model.latest_version
    assert latest is not None
    assert rules.needs_lookup(model) == (
        policy is VersionPolicy.LATEST_DEPLOYABLE and not latest.deployable
    )


@SETTINGS
@given(version_lists(), st.booleans())
def test_an_unpinned_spec_digest_is_the_old_one(
    versions: list[VersionRecord], pinned: bool
) -> None:
    model = _model_of(versions)
    version = versions[0]
    old = _old_spec_digest(model, "fraud", version)
    assert (spec_digest(model, "fraud", version, pinned=pinned) == old) is not pinned


@SETTINGS
@given(version_lists(), st.sampled_from(["Latest", "LatestDeployable"]), selectors())
def test_the_newest_qualifying_version_wins(
    versions: list[VersionRecord], policy: str, selector: dict[str, Any]
) -> None:
    model = _model_of(versions)
    rules = compile_rules(f.spec(versionPolicy=policy, versionSelector=selector))
    qualifying = [v for v in versions if _qualifies(v, policy, selector)]
    expected = max(qualifying, key=lambda v: v.manifest.version or 0) if qualifying else None
    latest = model.latest_version
    assert latest is not None
    assert rules.needs_lookup(model) == (expected is not latest)
    answer = rules.resolve(model, versions)
    if expected is not None:
        assert answer == expected
        choice = choose_version(model, rules, answer)
        assert choice is not None
        assert choice.version == expected
        assert choice.ready == expected.deployable
        return
    if selector:
        assert isinstance(answer, NoVersion)
        assert answer.why.startswith("no version qualifies: ")
        assert answer.why.count("; ") <= 3
        choice = choose_version(model, rules, answer)
        assert choice is not None
        assert choice.version == latest
        assert (choice.ready, choice.reason) == (False, c.REASON_NO_MATCHING_VERSION)
    else:
        assert answer is None


@SETTINGS
@given(
    version_lists(),
    st.sampled_from(["Latest", "LatestDeployable"]),
    selectors(),
    st.integers(1, 9) | st.sampled_from(_ALIASES[1:]),
)
def test_pins_beat_policies_and_selectors(
    versions: list[VersionRecord], policy: str, selector: dict[str, Any], pin_to: int | str
) -> None:
    model = _model_of(versions)
    pin = {"model": "fraud/detector"}
    pin["version" if isinstance(pin_to, int) else "alias"] = pin_to  # type: ignore[assignment]
    rules = compile_rules(f.spec(versionPolicy=policy, versionSelector=selector, pins=[pin]))

    def named(v: VersionRecord) -> bool:
        alias = v.version_alias or v.manifest.version_alias
        return v.manifest.version == pin_to if isinstance(pin_to, int) else alias == pin_to

    matching = [v for v in versions if named(v)]
    answer = rules.resolve(model, versions)
    choice = choose_version(model, rules, answer)
    assert choice is not None
    if matching:
        expected = max(matching, key=lambda v: v.manifest.version or 0)
        assert choice.version == expected
        assert choice.pinned
        assert (choice.ready, choice.reason) == (True, c.REASON_PINNED_VERSION_RESOLVED)
    else:
        assert choice.version == model.latest_version
        assert not choice.pinned
        assert (choice.ready, choice.reason) == (False, c.REASON_PINNED_VERSION_NOT_FOUND)
