"""Catalog models + sync spec -> the desired ModelRefs (version choice, select, naming)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Final

import msgspec

from modelsync.api.conditions import Condition, ready
from modelsync.api.constants import REASON_VERSION_LOOKUP_FAILED
from modelsync.api.labels import modelref_annotations, modelref_labels
from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec
from modelsync.api.naming import modelref_name
from modelsync.api.wire import INT64_MAX, INT64_MIN
from modelsync.catalog.models import Model
from modelsync.catalog.records import ModelRecord, VersionRecord, record_of
from modelsync.plan.digest import kept_spec_digest, spec_digest
from modelsync.plan.existing import Ownership, ownership, version_of
from modelsync.plan.select import compile_select, ml_repo_name
from modelsync.plan.spec import kept_spec, modelref_spec
from modelsync.plan.types import (
    MISSING,
    DesiredRef,
    ExistingRef,
    JsonDict,
    ModelFailure,
    SyncRef,
    VersionResolution,
)
from modelsync.plan.version_selector import compile_rules
from modelsync.plan.versions import (
    LookupPending,
    VersionChoice,
    choose_version,
    keeps_existing,
)

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
    # Names whose version choice read the existing ModelRef's spec (a kept version).
    depends_on_existing: set[str] = field(default_factory=set)

    def expected_digests(self) -> dict[str, str | None]:
        """{ModelRef name: the spec digest wanted}; None where the plan must read the whole
        existing spec (its version choice depends on it)."""
        expected: dict[str, str | None] = {n: d.spec_digest for n, d in self.desired.items()}
        for name in self.depends_on_existing:
            expected[name] = None
        return expected


def _content(model: ModelRecord) -> bytes:
    try:
        return msgspec.json.encode(model)
    except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800"; UTF-8 does not)
        return repr(model).encode("utf-8", "surrogatepass")


def _preference(model: ModelRecord) -> tuple[bool, int, bytes]:
    latest = model.latest_version
    number = latest.manifest.version if latest is not None else None
    return (latest is not None, number if number is not None else -1, _content(model))


def unique_models(models: Iterable[ModelRecord | Model]) -> list[ModelRecord]:
    """One model per id, ordered by id, so the result never depends on the listing order.
    Of two different entries with one id (a model that changed while being paged through),
    the one with the newer latest version wins. pydantic Models are taken as their records."""
    by_id: dict[str, ModelRecord] = {}
    for given in models:
        model = given if isinstance(given, ModelRecord) else record_of(given)
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


def _lookup_failed(model: ModelRecord, name: str, problem: str, plain: bool) -> ModelFailure:
    why = (
        "the latest version is not deployable"
        if plain
        else "the latest version is not the one spec.pins or versionSelector asks for"
    )
    return ModelFailure(
        model.fqn,
        REASON_VERSION_LOOKUP_FAILED,
        f"{why} and looking up older versions failed ({problem}); "
        "the ModelRef is left as it is until a lookup succeeds",
        name,
    )


def int64_problem(version: VersionRecord) -> str:
    """Why the spec of `version` cannot be rendered (a number the CRD's int64 fields cannot
    hold), or "" (plan/spec.py raises the same, but renders lazily)."""
    manifest = version.manifest
    if not _fits(manifest.version):
        return f"version {manifest.version} does not fit in int64"
    if not _fits(manifest.step):
        return f"step {manifest.step} does not fit in int64"
    for metric in version.metrics:
        if not _fits(metric.step):
            return f"metric step {metric.step} does not fit in int64"
        if not _fits(metric.timestamp):
            return f"metric timestamp {metric.timestamp} does not fit in int64"
    return ""


def _fits(value: int | None) -> bool:
    return value is None or INT64_MIN <= value <= INT64_MAX


def select_desired(
    models: Iterable[ModelRecord | Model],
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
    rules = compile_rules(spec)
    plain = not rules.has_selector and not rules.has_pins
    shared_labels: dict[tuple[str, str | None], dict[str, str]] = {}
    shared_ready: dict[tuple[bool, str, str], Condition] = {}
    for model in unique_models(models):
        if model.latest_version is None or not selector.matches_model(model):
            continue
        repo = ml_repo_name(model)
        name = modelref_name(repo, model.name, model.fqn)
        problem = failed_lookups.get(model.id)
        if problem is not None and rules.needs_lookup(model):
            out.failures.append(_lookup_failed(model, name, problem, plain))
            out.protected.add(name)
            out.selected += 1
            continue
        current = existing.get(name)
        owned_spec = (
            current.spec
            if current is not None and ownership(current, sync.uid) is not Ownership.FOREIGN
            else None
        )
        if keeps_existing(model, rules, resolutions.get(model.id, MISSING)):
            out.depends_on_existing.add(name)
            if current is not None and not current.spec_complete:
                raise ValueError(f"the whole spec of ModelRef {name} is needed but was not read")
        try:
            choice = choose_version(model, rules, resolutions.get(model.id, MISSING), owned_spec)
        except LookupPending:
            out.failures.append(_lookup_failed(model, name, "no answer for this model", plain))
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
        render: Callable[[], JsonDict]
        if choice.version is not None:
            version = choice.version
            problem = int64_problem(version)
            if problem:
                out.failures.append(ModelFailure(model.fqn, REASON_INVALID_MODEL, problem, name))
                out.protected.add(name)
                continue
            digest = spec_digest(model, repo, version, pinned=choice.pinned)
            render = partial(modelref_spec, model, repo, version, pinned=choice.pinned)
            version_id: str | None = version.id
            version_number = version.manifest.version
        else:
            assert choice.kept is not None
            kept = choice.kept
            version_id, version_number = version_of({"version": kept})
            digest = kept_spec_digest(model, repo, kept.get("id"))
            render = partial(kept_spec, model, repo, kept)
        reason = choice.reason
        # Most models share their labels and Ready condition (read-only values): build each
        # distinct one once per plan.
        label_key = (repo, framework_type)
        labels = shared_labels.get(label_key)
        if labels is None:
            labels = shared_labels[label_key] = modelref_labels(
                sync.name, repo, framework_type, template.labels
            )
        ready_key = (choice.ready, reason, choice.message)
        condition = shared_ready.get(ready_key)
        if condition is None:
            condition = shared_ready[ready_key] = ready(*ready_key)
        out.desired[name] = DesiredRef(
            name=name,
            model_id=model.id,
            model_fqn=model.fqn,
            labels=labels,
            annotations=modelref_annotations(model.fqn, template.annotations, digest),
            ready=condition,
            owner=sync,
            spec_digest=digest,
            version_id=version_id,
            version_number=version_number,
            render=render,
            keeps_version=choice.kept is not None,
        )
    return out
