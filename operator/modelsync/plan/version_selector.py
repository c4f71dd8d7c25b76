"""Which versions of a model may be chosen: spec.pins, else versionPolicy and versionSelector.

`VersionRules` is compiled once per plan from a sync's spec. The order of rules, per model:

1. a pin (spec.pins, by "<ml_repo>/<name>") names the version, whatever the policy and the
   selector say (Ready=True PinnedVersionResolved, or Ready=False PinnedVersionNotFound);
2. else the newest version (highest version number) that the policy (LatestDeployable: marked
   deployable) and every given versionSelector field accept;
3. with none, the latest version, Ready=False: NoDeployableVersion when the policy alone
   excluded the versions (no selector), else NoMatchingVersion naming what excluded the
   newest ones.

The latest version comes with the model's listing; only when it is not the answer does the
shell list the model's versions (`needs_lookup`) and hand them to `resolve`, which keeps just
the chosen version (or why there is none): the shell caches that, not the list.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from modelsync.api.constants import VersionPolicy
from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec, Pin
from modelsync.api.patterns import NamePattern, compile_name_pattern
from modelsync.api.semver import SemverRange, parse_range
from modelsync.api.wire import is_empty
from modelsync.catalog.records import MetricRecord, ModelRecord, VersionRecord
from modelsync.plan.select import ml_repo_name
from modelsync.plan.types import NoVersion, VersionResolution

__all__ = [
    "MAX_NAMED_EXCLUSIONS",
    "MetricRule",
    "VersionRules",
    "alias_of",
    "compile_rules",
    "latest_metric",
    "version_label",
    "version_number",
]

# How many excluded versions a NoMatchingVersion message names before "and N more".
MAX_NAMED_EXCLUSIONS: Final = 3


def version_number(version: VersionRecord) -> int:
    """The version number to order by; a version without one sorts oldest."""
    number = version.manifest.version
    return -1 if number is None else number


def alias_of(version: VersionRecord) -> str | None:
    return version.version_alias or version.manifest.version_alias


def version_label(version: VersionRecord) -> str:
    """`version 7 (v3.0.0)`; the id when the version has no number."""
    number = version.manifest.version
    text = f"version {number}" if number is not None else f"version {version.id}"
    alias = alias_of(version)
    return f"{text} ({alias})" if alias else text


def latest_metric(metrics: Iterable[MetricRecord], key: str) -> MetricRecord | None:
    """The point of `key` with the greatest (timestamp, step), a missing timestamp counting
    as the oldest; of equal ones the last listed."""
    found: MetricRecord | None = None
    best: tuple[bool, int, int] | None = None
    for metric in metrics:
        if metric.key != key:
            continue
        order = (metric.timestamp is not None, metric.timestamp or 0, metric.step)
        if best is None or order >= best:
            found, best = metric, order
    return found


@dataclass(frozen=True, slots=True)
class MetricRule:
    key: str
    minimum: float | None
    maximum: float | None

    def excludes(self, version: VersionRecord) -> str | None:
        point = latest_metric(version.metrics, self.key)
        if point is None:
            return f"has no metric {self.key}"
        value = point.value
        if value is None or math.isnan(value):
            return f"has no value for metric {self.key}"
        if self.minimum is not None and value < self.minimum:
            return f"has {self.key} {value:g} < {self.minimum:g}"
        if self.maximum is not None and value > self.maximum:
            return f"has {self.key} {value:g} > {self.maximum:g}"
        return None


def _pin_key(pin: Pin) -> tuple[str, int | None, str | None]:
    return (pin.model, pin.version, pin.alias)


def _describe_pin(pin: Pin) -> str:
    return f"version {pin.version}" if pin.version is not None else f"alias {pin.alias}"


@dataclass(frozen=True, slots=True, eq=False)
class VersionRules:
    """A sync's pins, versionPolicy and versionSelector, compiled (see the module docstring).

    `key` identifies policy and selector; with a model's pin it keys the look-up cache, so a
    changed spec never reuses an answer chosen under other rules.
    """

    policy: VersionPolicy
    tags: tuple[str, ...] = ()
    alias_pattern: NamePattern | None = None
    alias_semver: SemverRange | None = None
    metrics: tuple[MetricRule, ...] = ()
    pins: Mapping[str, Pin] | None = None
    key: tuple[Any, ...] = ()

    @classmethod
    def of_policy(cls, policy: VersionPolicy) -> VersionRules:
        """The rules of a spec with this policy, no selector and no pins."""
        return cls(policy, key=(policy.value,))

    @property
    def has_selector(self) -> bool:
        return bool(self.tags or self.alias_pattern or self.alias_semver or self.metrics)

    @property
    def has_pins(self) -> bool:
        return bool(self.pins)

    def pin_for(self, model: ModelRecord) -> Pin | None:
        if not self.pins:
            return None
        return self.pins.get(f"{ml_repo_name(model)}/{model.name}")

    def cache_key(self, model: ModelRecord) -> tuple[Any, ...]:
        pin = self.pin_for(model)
        return (self.key, _pin_key(pin)) if pin is not None else self.key

    @staticmethod
    def pin_matches(pin: Pin, version: VersionRecord) -> bool:
        if pin.version is not None:
            return version.manifest.version == pin.version
        return alias_of(version) == pin.alias

    def excluded_by(self, version: VersionRecord) -> str | None:
        """Why `version` does not qualify under the policy and selector (the first rule that
        fails, in the order policy, tags, aliasPattern, aliasSemver, metrics), or None."""
        if self.policy is VersionPolicy.LATEST_DEPLOYABLE and not version.deployable:
            return "is not marked deployable"
        for tag in self.tags:
            if tag not in version.tags:
                return f"lacks tag {tag}"
        alias = alias_of(version)
        if (self.alias_pattern is not None or self.alias_semver is not None) and not alias:
            return "has no alias"
        if self.alias_pattern is not None and not self.alias_pattern.search(alias or ""):
            return f"alias {alias} does not match aliasPattern {self.alias_pattern.pattern}"
        if self.alias_semver is not None and not self.alias_semver.matches(alias):
            return f"alias {alias} is not in the semver range {self.alias_semver.text}"
        for rule in self.metrics:
            problem = rule.excludes(version)
            if problem is not None:
                return problem
        return None

    def latest_is_chosen(self, model: ModelRecord) -> bool:
        """Whether the listing's latest version is the answer without a look-up: it is the
        pinned one, or (no pin) it qualifies, or policy Latest without a selector."""
        latest = model.latest_version
        if latest is None:
            return True
        pin = self.pin_for(model)
        if pin is not None:
            return self.pin_matches(pin, latest)
        return self.excluded_by(latest) is None

    def needs_lookup(self, model: ModelRecord) -> bool:
        """Whether choosing this model's version needs its version list (model-versions)."""
        return not self.latest_is_chosen(model)

    def resolve(self, model: ModelRecord, versions: Sequence[VersionRecord]) -> VersionResolution:
        """The pure chooser over a model's whole version list (`versions`, any order): the
        pinned version, else the newest qualifying one; else NoVersion saying why (for a
        spec without selector or pins: None, no deployable version, as before)."""
        ordered = sorted(
            (v for v in versions if v.model_id == model.id), key=version_number, reverse=True
        )
        pin = self.pin_for(model)
        if pin is not None:
            match = next((v for v in ordered if self.pin_matches(pin, v)), None)
            if match is not None:
                return match
            return NoVersion(f"the catalog has no {_describe_pin(pin)} of this model")
        excluded: list[str] = []
        for version in ordered:
            problem = self.excluded_by(version)
            if problem is None:
                return version
            excluded.append(f"{version_label(version)} {problem}")
        if not self.has_selector:
            return None
        return NoVersion(_exclusions(excluded))


def _exclusions(excluded: Sequence[str]) -> str:
    if not excluded:
        return "no version qualifies: the catalog lists no version"
    named = "; ".join(excluded[:MAX_NAMED_EXCLUSIONS])
    more = len(excluded) - MAX_NAMED_EXCLUSIONS
    return f"no version qualifies: {named}" + (f"; and {more} more" if more > 0 else "")


def no_match_message(rules: VersionRules, latest: VersionRecord) -> str:
    """Why the latest version alone does not qualify (when the older ones cannot be read)."""
    problem = rules.excluded_by(latest)
    return _exclusions([f"{version_label(latest)} {problem}"] if problem else [])


def compile_rules(spec: ModelCatalogSyncSpec) -> VersionRules:
    """Raises InvalidPattern or InvalidRange (ValueErrors) for a selector that `parse_spec`
    would have refused."""
    selector = spec.version_selector
    if not spec.pins and is_empty(selector):
        return VersionRules.of_policy(spec.version_policy)
    pattern, semver = selector.alias_pattern, selector.alias_semver
    metrics = tuple(MetricRule(b.key, b.minimum, b.maximum) for b in selector.metrics)
    return VersionRules(
        policy=spec.version_policy,
        tags=tuple(selector.tags),
        alias_pattern=compile_name_pattern(pattern) if pattern is not None else None,
        alias_semver=parse_range(semver) if semver is not None else None,
        metrics=metrics,
        pins={pin.model: pin for pin in spec.pins} or None,
        key=(
            spec.version_policy.value,
            tuple(selector.tags),
            pattern,
            semver,
            tuple((m.key, m.minimum, m.maximum) for m in metrics),
        ),
    )
