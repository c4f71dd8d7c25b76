"""Desired vs existing ModelRefs -> a SyncPlan that writes only what changed."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from functools import partial
from types import MappingProxyType
from typing import Any

from modelsync.api.conditions import Condition, ready, set_condition
from modelsync.api.constants import (
    ANNOTATION_SPEC_DIGEST,
    API_VERSION,
    KIND_MODELREF,
    REASON_OWNED_BY_ANOTHER_SYNC,
    REASON_REMOVED_FROM_CATALOG,
    DeletionPolicy,
)
from modelsync.api.labels import OWNED_ANNOTATION_KEYS, OWNED_LABEL_KEYS
from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec
from modelsync.api.modelref import ModelRefStatus
from modelsync.api.timestamps import format_time
from modelsync.catalog.models import Model
from modelsync.catalog.records import ModelRecord
from modelsync.plan.compare import canonical, merge_diff, owned_map_patch, same_content
from modelsync.plan.desired import Selection, select_desired
from modelsync.plan.digest import digest_vouches
from modelsync.plan.existing import (
    Ownership,
    model_fqn_of,
    model_id_of,
    ownership,
    parse_conditions,
    parse_existing,
    raw_ready,
    version_of,
)
from modelsync.plan.types import (
    CreateRef,
    DeleteRef,
    DeletionGuard,
    DesiredRef,
    ExistingRef,
    JsonDict,
    ModelFailure,
    RetainRef,
    SyncPlan,
    SyncRef,
    UpdateRef,
    VersionChange,
    VersionResolution,
)


def _ready_matches(existing: Mapping[str, Any] | None, want: Condition) -> bool:
    if existing is None:
        return False
    return (
        existing.get("status") == want.status
        and existing.get("reason") == want.reason
        and (existing.get("message") or "") == want.message
        and existing.get("observedGeneration") == want.observed_generation
    )


def _status_patch(
    conditions: list[Condition],
    generation: int | None,
    now: datetime,
    previous_version: int | None = None,
    changed: bool = False,
) -> JsonDict:
    status = ModelRefStatus(
        observed_generation=generation,
        conditions=conditions,
        previous_version=previous_version if changed else None,
        version_changed_at=format_time(now) if changed else None,
    )
    return {"status": status.to_k8s()}


def _create_body(desired: DesiredRef) -> JsonDict:
    owner = desired.owner
    return {
        "apiVersion": API_VERSION,
        "kind": KIND_MODELREF,
        "metadata": {
            "name": desired.name,
            "namespace": owner.namespace,
            "labels": dict(desired.labels),
            "annotations": dict(desired.annotations),
            "ownerReferences": [owner.owner_reference()],
        },
        "spec": desired.spec,
    }


def _create_status(desired: DesiredRef, now: datetime) -> JsonDict:
    want = desired.ready.model_copy(update={"observed_generation": 1})
    return _status_patch(set_condition([], want, now), 1, now)


def _create(desired: DesiredRef, now: datetime) -> CreateRef:
    """Rendered when written (CreateRef.rendered), from `desired` and `now`."""
    return CreateRef.rendered(
        desired.name,
        desired.model_fqn,
        partial(_create_body, desired),
        partial(_create_status, desired, now),
    )


def _alias_of(spec: Mapping[str, Any]) -> str | None:
    version = spec.get("version")
    alias = version.get("versionAlias") if isinstance(version, Mapping) else None
    return alias if isinstance(alias, str) and alias else None


def _owner_patch(current: ExistingRef, owner: SyncRef) -> list[JsonDict] | None:
    if current.controller_uid == owner.uid:
        return None
    others = [dict(ref) for ref in current.owner_references if ref.get("uid") != owner.uid]
    return [*others, owner.owner_reference()]


def _update(desired: DesiredRef, current: ExistingRef, now: datetime) -> UpdateRef | None:
    """What to write so `current` matches `desired`; None when it already does."""
    spec_patch = None
    wanted_spec: JsonDict = {}  # rendered only when the digest cannot vouch for the spec
    if not digest_vouches(
        desired.spec_digest,
        current.annotations.get(ANNOTATION_SPEC_DIGEST),
        current.generation,
        current.status.get("observedGeneration"),
    ):
        if not current.spec_complete:
            raise ValueError(f"the spec of ModelRef {current.name} is needed but was not read")
        wanted_spec = desired.spec
        if not same_content(current.spec, wanted_spec):
            spec_patch = merge_diff(canonical(current.spec), wanted_spec)
    metadata: JsonDict = {}
    labels = owned_map_patch(current.labels, desired.labels, OWNED_LABEL_KEYS)
    if labels:
        metadata["labels"] = labels
    wanted_annotations = desired.annotations
    held_digest = current.annotations.get(ANNOTATION_SPEC_DIGEST)
    if desired.keeps_version and spec_patch is None and held_digest is not None:
        wanted_annotations = {**wanted_annotations, ANNOTATION_SPEC_DIGEST: held_digest}
    annotations = owned_map_patch(current.annotations, wanted_annotations, OWNED_ANNOTATION_KEYS)
    if annotations:
        metadata["annotations"] = annotations
    owners = _owner_patch(current, desired.owner)
    if owners is not None:
        metadata["ownerReferences"] = owners
    patch: JsonDict | None = None
    if spec_patch or metadata:
        patch = {}
        if metadata:
            patch["metadata"] = metadata
        if spec_patch:
            patch["spec"] = spec_patch

    change = None
    old_id, old_number = version_of(current.spec)
    if spec_patch and old_id != desired.version_id:
        change = VersionChange(
            desired.model_fqn,
            old_number,
            desired.version_number,
            old_alias=_alias_of(current.spec),
            new_alias=_alias_of(wanted_spec),
        )

    generation = current.generation
    if generation is not None and spec_patch:
        generation += 1  # the API server bumps it for a spec change; the shell may correct it
    want = desired.ready.model_copy(update={"observed_generation": generation})
    status_ok = (
        change is None
        and _ready_matches(raw_ready(current), want)
        and (generation is None or current.status.get("observedGeneration") == generation)
    )
    status = None
    if not status_ok:
        conditions = set_condition(parse_conditions(current.status.get("conditions")), want, now)
        status = _status_patch(conditions, generation, now, old_number, changed=change is not None)
    if patch is None and status is None:
        return None
    return UpdateRef(
        name=desired.name,
        uid=current.uid,
        resource_version=current.resource_version,
        model_fqn=desired.model_fqn,
        patch=patch,
        status=status,
        version_change=change,
    )


def _is_marked_removed(current: ExistingRef) -> bool:
    found = raw_ready(current)
    return (
        found is not None
        and found.get("status") == "False"
        and found.get("reason") == REASON_REMOVED_FROM_CATALOG
    )


def _mark_removed(current: ExistingRef, sync: SyncRef, now: datetime) -> RetainRef:
    fqn = model_fqn_of(current)
    what = f"model {fqn}" if fqn else "its model"
    want = ready(
        False,
        REASON_REMOVED_FROM_CATALOG,
        f"{what} is no longer selected by ModelCatalogSync {sync.name}; kept (deletionPolicy "
        "Retain)",
        current.generation,
    )
    conditions = set_condition(parse_conditions(current.status.get("conditions")), want, now)
    return RetainRef(
        name=current.name,
        uid=current.uid,
        model_fqn=fqn,
        status=_status_patch(conditions, current.generation, now),
    )


def _owned_by_another(desired: DesiredRef, current: ExistingRef) -> ModelFailure:
    if current.controller_uid is not None:
        owner = next(
            (r for r in current.owner_references if r.get("uid") == current.controller_uid), {}
        )
        holder = f"{owner.get('kind', 'object')} {owner.get('name', '?')}"
        message = f"ModelRef {desired.name} is controlled by {holder}; not touched"
    else:
        message = f"ModelRef {desired.name} exists and is not managed by modelsync; not touched"
    return ModelFailure(desired.model_fqn, REASON_OWNED_BY_ANOTHER_SYNC, message, desired.name)


_NO_FAILED_LOOKUPS: Mapping[str, str] = MappingProxyType({})


def _removals(
    stale: list[ExistingRef], spec: ModelCatalogSyncSpec, sync: SyncRef, now: datetime
) -> tuple[list[DeleteRef], list[RetainRef], DeletionGuard | None]:
    """Deletes or removal marks for ModelRefs whose model left the selection. Call only
    with a complete listing: these writes rest on the absence of a model."""
    if spec.deletion_policy is DeletionPolicy.RETAIN:
        return (
            [],
            [_mark_removed(ref, sync, now) for ref in stale if not _is_marked_removed(ref)],
            None,
        )
    if len(stale) > spec.max_deletions:
        guard = DeletionGuard(
            len(stale),
            spec.max_deletions,
            f"{len(stale)} ModelRefs left the selection, more than maxDeletions "
            f"({spec.max_deletions}); none deleted",
        )
        return [], [], guard
    return [DeleteRef(ref.name, ref.uid, model_fqn_of(ref)) for ref in stale], [], None


def plan_sync(
    models: Iterable[ModelRecord | Model],
    spec: ModelCatalogSyncSpec,
    existing: Iterable[Mapping[str, Any] | ExistingRef],
    *,
    sync: SyncRef,
    now: datetime,
    listing_complete: bool,
    listing_problem: str = "",
    resolutions: Mapping[str, VersionResolution] | None = None,
    failed_lookups: Mapping[str, str] = _NO_FAILED_LOOKUPS,
    skipped_model_ids: Collection[str] = (),
    preselected: Selection | None = None,
) -> SyncPlan:
    """Plan one sync (docs/design.md, A sync pass, steps 3-4).

    `models`: the listing (deduplicated by id here too); `existing`: the raw ModelRefs
    listed by the sync's label; `listing_complete`: whether the listing is known to hold
    every model the catalog has (`listing_problem` says what was wrong when not). Only a
    complete listing may lead to a delete, a RemovedFromCatalog mark or the deletion guard;
    an incomplete one still creates and updates the ModelRefs of the models it holds.
    `resolutions`: the shell's model-versions lookups ({model id: version | None |
    UNSUPPORTED}); `failed_lookups`: {model id: message} for lookups that failed (those
    models are reported as VersionLookupFailed and their ModelRefs left alone);
    `skipped_model_ids`: models the listing returned but could not parse (their ModelRefs
    are left alone). `existing` may hold ExistingRefs whose spec was only partly read
    (kube/modelref_states.py): their spec must be complete wherever the digest cannot vouch
    for it (`Selection.expected_digests`, plan/digest.py `digest_vouches`).
    `preselected`: `select_desired` of the same arguments with no existing ModelRefs, computed
    earlier (to know which specs to read); reused unless a version choice depends on the
    existing ModelRefs.
    """
    current = {
        ref.name: ref
        for ref in (r if isinstance(r, ExistingRef) else parse_existing(r) for r in existing)
    }
    if preselected is not None and not preselected.depends_on_existing:
        selection = preselected
    else:
        selection = select_desired(models, spec, sync, resolutions or {}, current, failed_lookups)
    failures = list(selection.failures)
    desired: dict[str, DesiredRef] = {}
    creates: list[CreateRef] = []
    updates: list[UpdateRef] = []
    unchanged = 0
    for name in sorted(selection.desired):
        want = selection.desired[name]
        found = current.get(name)
        if found is None:
            creates.append(_create(want, now))
        elif ownership(found, sync.uid) is Ownership.FOREIGN:
            failures.append(_owned_by_another(want, found))
            continue
        else:
            update = _update(want, found, now)
            if update is None:
                unchanged += 1
            else:
                updates.append(update)
        desired[name] = want

    keep = selection.protected | selection.desired.keys()
    skipped = set(skipped_model_ids)
    stale = [
        ref
        for name, ref in sorted(current.items())
        if name not in keep
        and ownership(ref, sync.uid) is Ownership.OURS
        and model_id_of(ref) not in skipped
    ]
    deletes: list[DeleteRef] = []
    marks: list[RetainRef] = []
    guard = None
    if listing_complete:
        deletes, marks, guard = _removals(stale, spec, sync, now)

    return SyncPlan(
        creates=tuple(creates),
        updates=tuple(updates),
        deletes=tuple(deletes),
        retained=tuple(marks),
        failures=tuple(sorted(failures, key=lambda f: (f.model, f.reason, f.name or ""))),
        selected=selection.selected,
        unchanged=unchanged,
        retained_total=len(stale) - len(deletes),
        guard=guard,
        desired=desired,
        listing_complete=listing_complete,
        listing_problem="" if listing_complete else listing_problem,
    )


def repair_plan(
    desired: DesiredRef, observed: Mapping[str, Any] | None, *, now: datetime
) -> CreateRef | UpdateRef | None:
    """Drift repair for one ModelRef: what to write so the object as just observed (None:
    deleted) matches `desired` again (spec, owned labels/annotations, owner, Ready).

    Returns None when nothing differs, when the object is being deleted, or when it
    belongs to someone else (never written).
    """
    if observed is None:
        return _create(desired, now)
    metadata = observed.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("deletionTimestamp"):
        return None
    found = parse_existing(observed)
    if ownership(found, desired.owner.uid) is Ownership.FOREIGN:
        return None
    return _update(desired, found, now)


def foreign_owner(desired: DesiredRef, observed: Mapping[str, Any]) -> ModelFailure | None:
    """The OwnedByAnotherSync failure when `observed` (e.g. fetched after a 409 on create)
    belongs to someone else; None when this sync may write it."""
    found = parse_existing(observed)
    if ownership(found, desired.owner.uid) is Ownership.FOREIGN:
        return _owned_by_another(desired, found)
    return None
