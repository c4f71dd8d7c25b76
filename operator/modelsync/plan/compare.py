"""Content comparison and JSON merge patches (RFC 7386) over JSON-ready values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def canonical(value: Any) -> Any:
    """`value` without null-valued object members (the API server may prune them, and in a
    merge patch a null means "remove"), with tuples as lists. Lists keep their nulls."""
    if isinstance(value, Mapping):
        return {k: canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def same_content(existing: Any, desired: Any) -> bool:
    """Equal after canonicalisation; `desired` must already be canonical."""
    return bool(existing == desired) or bool(canonical(existing) == desired)


def merge_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The smallest JSON merge patch turning `old` into `new` (both canonical mappings)."""
    patch: dict[str, Any] = {}
    for key, new_value in new.items():
        if key not in old:
            patch[key] = new_value
            continue
        old_value = old[key]
        if old_value == new_value:
            continue
        if isinstance(old_value, Mapping) and isinstance(new_value, Mapping):
            nested = merge_diff(old_value, new_value)
            if nested:
                patch[key] = nested
        else:
            patch[key] = new_value
    for key in old:
        if key not in new:
            patch[key] = None
    return patch


def owned_map_patch(
    existing: Mapping[str, str], desired: Mapping[str, str], owned_keys: Iterable[str]
) -> dict[str, str | None]:
    """Merge patch for a labels/annotations map touching only `owned_keys` (and the keys of
    `desired`): set what differs, remove owned keys no longer desired, leave the rest alone."""
    patch: dict[str, str | None] = {}
    for key, value in desired.items():
        if existing.get(key) != value:
            patch[key] = value
    for key in owned_keys:
        if key not in desired and key in existing:
            patch[key] = None
    return patch
