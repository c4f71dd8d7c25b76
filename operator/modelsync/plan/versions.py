"""Which catalog version each model's ModelRef points at (docs/design.md, A sync pass, step 3;
the rules: plan/version_selector.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from modelsync.api.constants import (
    REASON_DEPLOYABLE_VERSION_RESOLVED,
    REASON_NO_DEPLOYABLE_VERSION,
    REASON_NO_MATCHING_VERSION,
    REASON_PINNED_VERSION_NOT_FOUND,
    REASON_PINNED_VERSION_RESOLVED,
    VersionPolicy,
)
from modelsync.api.modelcatalogsync import Pin, SelectSpec
from modelsync.catalog.models import Model
from modelsync.catalog.records import ModelRecord, VersionRecord, record_of
from modelsync.plan.select import compile_select
from modelsync.plan.types import MISSING, UNSUPPORTED, CacheMiss, NoVersion, VersionResolution
from modelsync.plan.version_selector import VersionRules, no_match_message, version_label

# A cached look-up answer older than this is looked up again by the next full sync: an older
# version's deployable flag, tags, alias or metrics can change while the latest version (the
# cache key) stays. Named refreshes always look up the models they name.
VERSION_LOOKUP_MAX_AGE: Final = 600.0

_PLAIN: Final = VersionRules.of_policy(VersionPolicy.LATEST_DEPLOYABLE)


def rules_of(rules: VersionRules | VersionPolicy) -> VersionRules:
    """`rules`, or the rules of a spec with just this versionPolicy."""
    return rules if isinstance(rules, VersionRules) else VersionRules.of_policy(rules)


@dataclass(frozen=True, slots=True)
class VersionChoice:
    """The outcome of version choice for one model that has versions.

    Exactly one of `version` (a catalog version to materialize) and `kept` (the
    `spec.version` of the existing ModelRef, kept as is) is set. `ready` and `reason` are the
    ModelRef's Ready condition; `pinned`: the version comes from spec.pins.
    """

    version: VersionRecord | None
    kept: Mapping[str, Any] | None
    ready: bool
    message: str
    reason: str = REASON_DEPLOYABLE_VERSION_RESOLVED
    pinned: bool = False


class LookupPending(Exception):
    """The choice needs the model-versions look-up of a model the shell did not resolve."""


def needs_lookup(model: ModelRecord, rules: VersionRules | VersionPolicy) -> bool:
    return rules_of(rules).needs_lookup(model)


def models_needing_lookup(
    models: Iterable[ModelRecord | Model],
    rules: VersionRules | VersionPolicy,
    *,
    select: SelectSpec | None = None,
    cache: VersionLookupCache | None = None,
    now: float | None = None,
    max_age: float = VERSION_LOOKUP_MAX_AGE,
) -> list[ModelRecord]:
    """Models whose version list the shell must read (model-versions endpoint).

    With `select`, models its model-level fields (namePattern, mlRepos) reject are skipped;
    with `cache`, models the cache already answers are skipped (with `now`, only by an answer
    younger than `max_age` seconds). Order follows `models`. pydantic Models are taken as
    their records.
    """
    compiled = rules_of(rules)
    selector = compile_select(select) if select is not None else None
    result = []
    for given in models:
        model = given if isinstance(given, ModelRecord) else record_of(given)
        if not compiled.needs_lookup(model):
            continue
        if selector is not None and not selector.matches_model(model):
            continue
        if cache is not None and cache.answers(model, compiled, now, max_age):
            continue
        result.append(model)
    return result


class _Entry(NamedTuple):
    model_id: str
    key: tuple[Any, ...]  # VersionRules.cache_key: the rules the answer was chosen under
    resolution: VersionResolution
    fetched_at: float


class VersionLookupCache:
    """Look-up answers kept between syncs, keyed by the latest version's id.

    A new latest version (a new id) invalidates the entry by itself, and so do other rules
    (a changed spec). Each entry keeps only the chosen version (or None / NoVersion /
    UNSUPPORTED), never the version list. Immutable: the `with_results` and `pruned`
    methods return new caches.
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, _Entry] | None = None) -> None:
        self._entries: dict[str, _Entry] = dict(entries or {})

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VersionLookupCache) and self._entries == other._entries

    __hash__ = None  # type: ignore[assignment]

    def _entry(self, model: ModelRecord, rules: VersionRules) -> _Entry | None:
        latest = model.latest_version
        if latest is None:
            return None
        entry = self._entries.get(latest.id)
        if entry is None or entry.model_id != model.id or entry.key != rules.cache_key(model):
            return None
        return entry

    def get(
        self, model: ModelRecord, rules: VersionRules | VersionPolicy = _PLAIN
    ) -> VersionResolution | CacheMiss:
        entry = self._entry(model, rules_of(rules))
        return MISSING if entry is None else entry.resolution

    def answers(
        self,
        model: ModelRecord,
        rules: VersionRules | VersionPolicy = _PLAIN,
        now: float | None = None,
        max_age: float = VERSION_LOOKUP_MAX_AGE,
    ) -> bool:
        """Whether the cache holds an answer for `model` under `rules` (with `now`: one
        fetched less than `max_age` seconds before it)."""
        entry = self._entry(model, rules_of(rules))
        return entry is not None and (now is None or now - entry.fetched_at < max_age)

    def with_results(
        self,
        models: Iterable[ModelRecord],
        results: Mapping[str, VersionResolution],
        rules: VersionRules | VersionPolicy = _PLAIN,
        now: float = 0.0,
    ) -> VersionLookupCache:
        """A cache that also holds `results` ({model id: resolution}, chosen under `rules`
        at time `now`) for these models."""
        compiled = rules_of(rules)
        entries = dict(self._entries)
        for model in models:
            latest = model.latest_version
            if latest is not None and model.id in results:
                key = compiled.cache_key(model)
                entries[latest.id] = _Entry(model.id, key, results[model.id], now)
        return VersionLookupCache(entries)

    def pruned(self, models: Iterable[ModelRecord]) -> VersionLookupCache:
        """Only the entries still reachable from `models` (the last complete listing)."""
        keep: dict[str, _Entry] = {}
        for model in models:
            latest = model.latest_version
            if latest is None:
                continue
            entry = self._entries.get(latest.id)
            if entry is not None and entry.model_id == model.id:
                keep[latest.id] = entry
        return VersionLookupCache(keep)

    def resolutions(
        self, models: Iterable[ModelRecord], rules: VersionRules | VersionPolicy = _PLAIN
    ) -> dict[str, VersionResolution]:
        """{model id: resolution} for the models the cache answers under `rules`, however old."""
        compiled = rules_of(rules)
        found: dict[str, VersionResolution] = {}
        for model in models:
            entry = self._entry(model, compiled)
            if entry is not None:
                found[model.id] = entry.resolution
        return found


def _kept_label(kept: Mapping[str, Any]) -> str:
    number = kept.get("version")
    text = f"version {number}" if number is not None else f"version {kept.get('id')}"
    alias = kept.get("versionAlias")
    return f"{text} ({alias})" if alias else text


def _holds_deployable(model: ModelRecord, existing_spec: Mapping[str, Any] | None) -> bool:
    if existing_spec is None:
        return False
    kept_model = existing_spec.get("model")
    kept = existing_spec.get("version")
    return (
        isinstance(kept_model, Mapping)
        and kept_model.get("id") == model.id
        and isinstance(kept, Mapping)
        and kept.get("deployable") is True
        and isinstance(kept.get("id"), str)
    )


def keeps_existing(
    model: ModelRecord, rules: VersionRules, resolution: VersionResolution | CacheMiss
) -> bool:
    """Whether the choice may keep the version the existing ModelRef holds: plain
    LatestDeployable (no selector, no pin), the latest version is not deployable and the
    catalog cannot list older ones."""
    latest = model.latest_version
    return (
        rules.policy is VersionPolicy.LATEST_DEPLOYABLE
        and not rules.has_selector
        and rules.pin_for(model) is None
        and latest is not None
        and not latest.deployable
        and resolution is UNSUPPORTED
    )


def _pinned(version: VersionRecord) -> VersionChoice:
    label = version_label(version)
    message = (
        f"{label} is pinned and deployable"
        if version.deployable
        else f"{label} is pinned; it is not marked deployable"
    )
    return VersionChoice(version, None, True, message, REASON_PINNED_VERSION_RESOLVED, True)


def _choose_pinned(
    model: ModelRecord,
    rules: VersionRules,
    pin: Pin,
    resolution: VersionResolution | CacheMiss,
) -> VersionChoice:
    latest = model.latest_version
    assert latest is not None
    if rules.pin_matches(pin, latest):
        return _pinned(latest)
    if resolution is MISSING:
        raise LookupPending(model.id)
    if (
        isinstance(resolution, VersionRecord)
        and resolution.model_id == model.id
        and rules.pin_matches(pin, resolution)
    ):
        return _pinned(resolution)
    wanted = f"version {pin.version}" if pin.version is not None else f"alias {pin.alias}"
    if resolution is UNSUPPORTED:
        why = f"the latest {version_label(latest)} is not pinned {wanted} and the catalog "
        why += "cannot list older versions"
    else:
        why = f"the catalog has no {wanted} of this model"
    return VersionChoice(
        latest,
        None,
        False,
        f"pinned {wanted} not found: {why}; pointing at the latest {version_label(latest)}",
        REASON_PINNED_VERSION_NOT_FOUND,
    )


def _qualified(version: VersionRecord) -> VersionChoice:
    label = version_label(version)
    if version.deployable:
        return VersionChoice(version, None, True, f"{label} is deployable")
    return VersionChoice(
        version,
        None,
        False,
        f"{label} is not marked deployable (versionPolicy Latest)",
        REASON_NO_DEPLOYABLE_VERSION,
    )


def choose_version(
    model: ModelRecord,
    rules: VersionRules | VersionPolicy,
    resolution: VersionResolution | CacheMiss,
    existing_spec: Mapping[str, Any] | None = None,
) -> VersionChoice | None:
    """The version the ModelRef of `model` points at; None when the model has no versions.

    `resolution` is the shell's look-up answer for this model (MISSING when not looked up);
    it only matters when the latest version is not the answer (`VersionRules.needs_lookup`).
    `existing_spec` is the spec of this model's existing ModelRef, if any.
    Raises LookupPending when a needed resolution is MISSING.

    Ready messages of a chosen version name only that version, so a new non-qualifying
    latest version changes nothing on a ModelRef that keeps a qualifying one.
    """
    compiled = rules_of(rules)
    latest = model.latest_version
    if latest is None:
        return None
    pin = compiled.pin_for(model)
    if pin is not None:
        return _choose_pinned(model, compiled, pin, resolution)
    if compiled.excluded_by(latest) is None:
        return _qualified(latest)
    if resolution is MISSING:
        raise LookupPending(model.id)
    if resolution is UNSUPPORTED:
        if compiled.has_selector:
            return VersionChoice(
                latest,
                None,
                False,
                f"{no_match_message(compiled, latest)}, and the catalog cannot list older "
                f"versions; pointing at the latest {version_label(latest)}",
                REASON_NO_MATCHING_VERSION,
            )
        if existing_spec is not None and _holds_deployable(model, existing_spec):
            kept = existing_spec["version"]
            return VersionChoice(None, kept, True, f"{_kept_label(kept)} is deployable")
        return VersionChoice(
            latest,
            None,
            False,
            f"the latest {version_label(latest)} is not deployable and the catalog cannot list "
            "older versions",
            REASON_NO_DEPLOYABLE_VERSION,
        )
    if (
        isinstance(resolution, VersionRecord)
        and resolution.model_id == model.id
        and compiled.excluded_by(resolution) is None
    ):
        return _qualified(resolution)
    if compiled.has_selector:
        why = resolution.why if isinstance(resolution, NoVersion) else "no version qualifies"
        return VersionChoice(
            latest,
            None,
            False,
            f"{why}; pointing at the latest {version_label(latest)}",
            REASON_NO_MATCHING_VERSION,
        )
    # None, or (defensively) an answer that does not fit this model.
    return VersionChoice(
        latest,
        None,
        False,
        f"no version is deployable; pointing at the latest {version_label(latest)}",
        REASON_NO_DEPLOYABLE_VERSION,
    )
