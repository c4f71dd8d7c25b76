"""Constructors for validation causes, worded like k8s.io/apimachinery field.Error
(validation.py has Invalid and Required; these are the other error types the sandbox needs)."""

from __future__ import annotations

import json
from typing import Any

from modelsync.crds.apimachinery import too_long
from modelsync_sandbox.kube.validation import Cause, format_go_value, invalid, required

__all__ = [
    "duplicate",
    "forbidden",
    "immutable",
    "invalid",
    "not_supported",
    "required",
    "too_long",
]


def forbidden(field: str, detail: str) -> Cause:
    return Cause("FieldValueForbidden", f"Forbidden: {detail}", field)


def not_supported(field: str, value: Any, supported: list[str]) -> Cause:
    values = ", ".join(json.dumps(v) for v in supported)
    return Cause(
        "FieldValueNotSupported",
        f"Unsupported value: {format_go_value(value)}: supported values: {values}",
        field,
    )


def duplicate(field: str, value: Any) -> Cause:
    return Cause("FieldValueDuplicate", f"Duplicate value: {format_go_value(value)}", field)


def immutable(field: str, value: Any) -> Cause:
    return invalid(field, value, "field is immutable")
