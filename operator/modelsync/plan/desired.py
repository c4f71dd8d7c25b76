"""Catalog models + sync spec -> the desired ModelRefs (version choice, select, naming)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from modelsync.api.conditions import ready
from modelsync.api.constants import (
    REASON_DEPLOYABLE_VERSION_RESOLVED,
    REASON_NO_DEPLOYABLE_VERSION,
    REASON_VERSION_LOOKUP_FAILED,
)
from modelsync.api.labels import modelref_annotations, modelref_labels
from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec
from modelsync.api.naming import modelref_name
from modelsync.catalog.models import Model
from modelsync.plan.existing import Ownership, ownership
from modelsync.plan.select import compile_select, ml_repo_name
from modelsync.plan.spec import kept_spec, modelref_spec
from modelsync.plan.types import (
    MISSING,
    DesiredRef,
    ExistingRef,
    ModelFailure,
    SyncRef,
    VersionResolution,
)
from modelsync.plan.versions import LookupPending, VersionChoice, choose_version, needs_lookup

# The name older callers use for REASON_VERSION_LOOKUP_FAILED.
REASON_VERSION_LOOKUP_PENDING: Final = REASON_VERSION_LOOKUP_FAILED
REASON_NAME_CONFLICT: Final = "NameConflict"
REASON_INVALID_MODEL: Final = "InvalidModel"


@dataclass(slots=True)
class Selection:
    desired: dict[str, DesiredRef] = field(default_factory=dict)
    failures: list[ModelFailure] = field(default_factory=list)
    selected: int = 0
    # ModelRef names that must not be removed although not desired (model not decided).
    protected: set[str] = field(default_factory=set)


def _preference(model: Model) -> tuple[bool, int, str]:
    latest = model.latest_version
    number = latest.manifest.version if latest is not None else None
    return (latest is not None, number if number is not None else -1, model.model_dump_json())


def unique_models(models: Iterable[Model]) -> list[Model]:
    """One model per id, ordered by id, so the result never depends on the listing order.
    Of two different entries with one id (a model that changed while being paged through),
    the one with the newer latest version wins."""
    by_id: dict[str, Model] = {}
    for model in models:
        seen = by_id.setdefault(model.id, model)
        if seen is not model and seen != model:
            by_id[model.id] = max(seen, model, key=_preference)
    return [by_id[key] for key in sorted(by_id)]


def _version_facts(choice: VersionChoice) -> tuple[str | None, Collection[str]]:
    """framework.type and tags of the chosen version (for select and the framework label)."""
    if choice.version is not None:
        framework = choice.version.manifest.framework
        return (framework.type if framework is not None else None), choice.version.tags
    kept = choice.kept or {}
    kept_framework = kept.get("framework")
    kind = kept_framework.get("type") if isinstance(kept_framework, Mapping) else None
    kept_tags = kept.get("tags")
    tags = [t for t in kept_tags if isinstance(t, str)] if isinstance(kept_tags, list) else []
    return (kind if isinstance(kind, str) else None), tags


def _lookup_failed(model: Model, name: str, problem: str) -> ModelFailure:
    return ModelFailure(
        model.fqn,
        REASON_VERSION_LOOKUP_FAILED,
        f"the latest version is not deployable and looking up older versions failed ({problem}); "
        "the ModelRef is left as it is until a lookup succeeds",
        name,
    )


def select_desired(
    models: Iterable[Model],
    spec: ModelCatalogSyncSpec,
    sync: SyncRef,
    resolutions: Mapping[str, VersionResolution],
    existing: Mapping[str, ExistingRef],
    failed_lookups: Mapping[str, str],
) -> Selection:
    """Version choice, then select, then one DesiredRef per model (docs/design.md, A sync pass).

    A model whose version lookup failed (`failed_lookups`, or needed and not in
    `resolutions`) is a failure, counted as selected, and its ModelRef is protected: neither
    written nor removed.
    """
    out = Selection()
    template = spec.model_ref_template
    selector = compile_select(spec.select)
    for model in unique_models(models):
        if model.latest_version is None or not selector.matches_model(model):
            continue
        repo = ml_repo_name(model)
        name = modelref_name(repo, model.name, model.fqn)
        problem = failed_lookups.get(model.id)
        if problem is not None and needs_lookup(model, spec.version_policy):
            out.failures.append(_lookup_failed(model, name, problem))
            out.protected.add(name)
            out.selected += 1
            continue
        current = existing.get(name)
        owned_spec = (
            current.spec
            if current is not None and ownership(current, sync.uid) is not Ownership.FOREIGN
            else None
        )
        try:
            choice = choose_version(
                model, spec.version_policy, resolutions.get(model.id, MISSING), owned_spec
            )
        except LookupPending:
            out.failures.append(_lookup_failed(model, name, "no answer for this model"))
            out.protected.add(name)
            out.selected += 1
            continue
        if choice is None:
            continue
        framework_type, tags = _version_facts(choice)
        if not selector.matches_version(framework_type, tags):
            continue
        out.selected += 1
        if name in out.desired:
            other = out.desired[name]
            out.failures.append(
                ModelFailure(
                    model.fqn,
                    REASON_NAME_CONFLICT,
                    f"ModelRef name {name!r} is already used by {other.model_fqn}",
                    name,
                )
            )
            continue
        try:
            if choice.version is not None:
                body = modelref_spec(model, repo, choice.version)
            else:
                assert choice.kept is not None
                body = kept_spec(model, repo, choice.kept)
        except ValueError as exc:
            out.failures.append(ModelFailure(model.fqn, REASON_INVALID_MODEL, str(exc), name))
            out.protected.add(name)
            continue
        reason = (
            REASON_DEPLOYABLE_VERSION_RESOLVED
            if choice.deployable
            else REASON_NO_DEPLOYABLE_VERSION
        )
        out.desired[name] = DesiredRef(
            name=name,
            model_id=model.id,
            model_fqn=model.fqn,
            labels=modelref_labels(sync.name, repo, framework_type, template.labels),
            annotations=modelref_annotations(model.fqn, template.annotations),
            spec=body,
            ready=ready(choice.deployable, reason, choice.message),
            owner=sync,
        )
    return out
