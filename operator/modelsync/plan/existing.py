"""Reading listed ModelRef objects (raw JSON mappings) without copying them."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from modelsync.api.conditions import Condition, raw_condition
from modelsync.api.constants import (
    ANNOTATION_MODEL_FQN,
    CONDITION_READY,
    LABEL_MANAGED_BY,
    MANAGED_BY_VALUE,
)
from modelsync.plan.types import ExistingRef

_EMPTY: Mapping[str, Any] = {}


class Ownership(Enum):
    OURS = "ours"  # controlled by this sync
    ORPHAN = "orphan"  # no controller, labelled managed-by modelsync: this sync adopts it
    FOREIGN = "foreign"  # controlled by someone else, or not a modelsync object: never written


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def parse_existing(obj: Mapping[str, Any]) -> ExistingRef:
    metadata = _mapping(obj.get("metadata"))
    raw_owners = metadata.get("ownerReferences")
    owners = tuple(
        ref
        for ref in (raw_owners if isinstance(raw_owners, list) else ())
        if isinstance(ref, Mapping)
    )
    controller = next((ref for ref in owners if ref.get("controller") is True), None)
    generation = metadata.get("generation")
    return ExistingRef(
        name=str(metadata.get("name", "")),
        uid=metadata.get("uid"),
        resource_version=metadata.get("resourceVersion"),
        generation=generation if isinstance(generation, int) else None,
        labels=_mapping(metadata.get("labels")),
        annotations=_mapping(metadata.get("annotations")),
        owner_references=owners,
        controller_uid=controller.get("uid") if controller is not None else None,
        spec=_mapping(obj.get("spec")),
        status=_mapping(obj.get("status")),
    )


def ownership(ref: ExistingRef, sync_uid: str) -> Ownership:
    if ref.controller_uid == sync_uid:
        return Ownership.OURS
    if ref.controller_uid is None and ref.labels.get(LABEL_MANAGED_BY) == MANAGED_BY_VALUE:
        return Ownership.ORPHAN
    return Ownership.FOREIGN


def raw_ready(ref: ExistingRef) -> Mapping[str, Any] | None:
    return raw_condition(ref.status, CONDITION_READY)


def parse_conditions(raw: Any) -> list[Condition]:
    """Valid conditions of a raw `status.conditions` list; malformed entries are dropped."""
    result: list[Condition] = []
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, Mapping):
            continue
        try:
            result.append(Condition.from_k8s(item))
        except ValueError:
            continue
    return result


def model_fqn_of(ref: ExistingRef) -> str | None:
    fqn = ref.annotations.get(ANNOTATION_MODEL_FQN)
    if isinstance(fqn, str):
        return fqn
    model = ref.spec.get("model")
    found = model.get("fqn") if isinstance(model, Mapping) else None
    return found if isinstance(found, str) else None


def model_id_of(ref: ExistingRef) -> str | None:
    model = ref.spec.get("model")
    found = model.get("id") if isinstance(model, Mapping) else None
    return found if isinstance(found, str) else None


def version_of(spec: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """(version id, version number) of a ModelRef spec."""
    version = spec.get("version")
    if not isinstance(version, Mapping):
        return None, None
    vid, number = version.get("id"), version.get("version")
    return (
        vid if isinstance(vid, str) else None,
        number if isinstance(number, int) and not isinstance(number, bool) else None,
    )
