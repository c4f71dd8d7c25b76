"""Reading the raw JSON bodies the watches deliver: metadata, spec, status, the trigger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelsync.api.constants import (
    ANNOTATION_RECONCILE_MODELS,
    ANNOTATION_RECONCILE_REQUESTED_AT,
)
from modelsync.api.model_names import split_reconcile_models

__all__ = ["metadata_of", "reconcile_models", "spec_of", "status_of", "trigger_value"]

_EMPTY: Mapping[str, Any] = {}


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def metadata_of(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(body.get("metadata"))


def spec_of(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(body.get("spec"))


def status_of(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the body's status as the API server holds it (empty when there is none)."""
    return dict(_mapping(body.get("status")))


def _annotation(body: Mapping[str, Any], key: str) -> str | None:
    value = _mapping(metadata_of(body).get("annotations")).get(key)
    return value if isinstance(value, str) else None


def trigger_value(body: Mapping[str, Any]) -> str | None:
    """The manual-trigger annotation's value, if set."""
    return _annotation(body, ANNOTATION_RECONCILE_REQUESTED_AT)


def reconcile_models(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The models the trigger names (`modelsync reconcile --model`); empty: a full sync."""
    value = _annotation(body, ANNOTATION_RECONCILE_MODELS)
    return split_reconcile_models(value) if value is not None else ()
