"""Which catalog version each model's ModelRef points at (docs/design.md, A sync pass, step 3)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from modelsync.api.constants import VersionPolicy
from modelsync.api.modelcatalogsync import SelectSpec
from modelsync.catalog.models import Model
from modelsync.catalog.records import ModelRecord, VersionRecord, record_of
from modelsync.plan.select import compile_select
from modelsync.plan.types import MISSING, UNSUPPORTED, CacheMiss, VersionResolution


@dataclass(frozen=True, slots=True)
class VersionChoice:
    """The outcome of version choice for one model that has versions.

    Exactly one of `version` (a catalog version to materialize) and `kept` (the
    `spec.version` of the existing ModelRef, kept as is) is set.
    """

    version: VersionRecord | None
    kept: Mapping[str, Any] | None
    deployable: bool  # Ready=True DeployableVersionResolved vs Ready=False NoDeployableVersion
    message: str


class LookupPending(Exception):
    """LatestDeployable needs the model-versions lookup for a model the shell did not resolve."""


def needs_lookup(model: ModelRecord, policy: VersionPolicy) -> bool:
    latest = model.latest_version
    return (
        policy is VersionPolicy.LATEST_DEPLOYABLE and latest is not None and not latest.deployable
    )


def models_needing_lookup(
    models: Iterable[ModelRecord | Model],
    policy: VersionPolicy,
    *,
    select: SelectSpec | None = None,
    cache: VersionLookupCache | None = None,
) -> list[ModelRecord]:
    """Models whose newest deployable version the shell must look up (model-versions endpoint).

    With `select`, models its model-level fields (namePattern, mlRepos) reject are skipped;
    with `cache`, models the cache already answers are skipped. Order follows `models`.
    pydantic Models are taken as their records.
    """
    selector = compile_select(select) if select is not None else None
    result = []
    for given in models:
        model = given if isinstance(given, ModelRecord) else record_of(given)
        if not needs_lookup(model, policy):
            continue
        if selector is not None and not selector.matches_model(model):
            continue
        if cache is not None and cache.get(model) is not MISSING:
            continue
        result.append(model)
    return result


class VersionLookupCache:
    """Lookup answers kept between syncs, keyed by the latest version's id.

    A new latest version (a new id) invalidates the entry by itself. Immutable: the
    `with_results` and `pruned` methods return new caches.
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, tuple[str, VersionResolution]] | None = None) -> None:
        # latest version id -> (model id, resolution)
        self._entries: dict[str, tuple[str, VersionResolution]] = dict(entries or {})

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VersionLookupCache) and self._entries == other._entries

    __hash__ = None  # type: ignore[assignment]

    def get(self, model: ModelRecord) -> VersionResolution | CacheMiss:
        latest = model.latest_version
        if latest is None:
            return MISSING
        entry = self._entries.get(latest.id)
        if entry is None or entry[0] != model.id:
            return MISSING
        return entry[1]

    def with_results(
        self, models: Iterable[ModelRecord], results: Mapping[str, VersionResolution]
    ) -> VersionLookupCache:
        """A cache that also holds `results` ({model id: resolution}) for these models."""
        entries = dict(self._entries)
        for model in models:
            latest = model.latest_version
            if latest is not None and model.id in results:
                entries[latest.id] = (model.id, results[model.id])
        return VersionLookupCache(entries)

    def pruned(self, models: Iterable[ModelRecord]) -> VersionLookupCache:
        """Only the entries still reachable from `models` (the last complete listing)."""
        keep: dict[str, tuple[str, VersionResolution]] = {}
        for model in models:
            latest = model.latest_version
            if latest is None:
                continue
            entry = self._entries.get(latest.id)
            if entry is not None and entry[0] == model.id:
                keep[latest.id] = entry
        return VersionLookupCache(keep)

    def resolutions(self, models: Iterable[ModelRecord]) -> dict[str, VersionResolution]:
        """{model id: resolution} for the models the cache answers."""
        found: dict[str, VersionResolution] = {}
        for model in models:
            answer = self.get(model)
            if not isinstance(answer, CacheMiss):
                found[model.id] = answer
        return found


def _label(version: VersionRecord) -> str:
    number = version.manifest.version
    text = f"version {number}" if number is not None else f"version {version.id}"
    alias = version.version_alias or version.manifest.version_alias
    return f"{text} ({alias})" if alias else text


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


def choose_version(
    model: ModelRecord,
    policy: VersionPolicy,
    resolution: VersionResolution | CacheMiss,
    existing_spec: Mapping[str, Any] | None = None,
) -> VersionChoice | None:
    """The version the ModelRef of `model` points at; None when the model has no versions.

    `resolution` is the shell's lookup answer for this model (MISSING when not looked up);
    it only matters under LatestDeployable when the latest version is not deployable.
    `existing_spec` is the spec of this model's existing ModelRef, if any.
    Raises LookupPending when a needed resolution is MISSING.

    Ready messages name only the chosen version, so a new non-deployable latest version
    changes nothing on a ModelRef that keeps its deployable version.
    """
    latest = model.latest_version
    if latest is None:
        return None
    if latest.deployable:
        return VersionChoice(latest, None, True, f"{_label(latest)} is deployable")
    if policy is VersionPolicy.LATEST:
        return VersionChoice(
            latest,
            None,
            False,
            f"{_label(latest)} is not marked deployable (versionPolicy Latest)",
        )
    if resolution is MISSING:
        raise LookupPending(model.id)
    if resolution is UNSUPPORTED:
        if existing_spec is not None and _holds_deployable(model, existing_spec):
            kept = existing_spec["version"]
            return VersionChoice(None, kept, True, f"{_kept_label(kept)} is deployable")
        return VersionChoice(
            latest,
            None,
            False,
            f"the latest {_label(latest)} is not deployable and the catalog cannot list "
            "older versions",
        )
    if (
        isinstance(resolution, VersionRecord)
        and resolution.deployable
        and resolution.model_id == model.id
    ):
        return VersionChoice(resolution, None, True, f"{_label(resolution)} is deployable")
    # None, or (defensively) an answer that does not fit this model.
    return VersionChoice(
        latest, None, False, f"no version is deployable; pointing at the latest {_label(latest)}"
    )
