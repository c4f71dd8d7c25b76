"""Pure functions that answer catalog queries from stored fixture entries.

A stored *entry* is a spec `Model` object without `latest_version`, plus a
`versions` list of spec `ModelVersion` objects (see `catalog_store`). These
functions never mutate their input; what they return is safe to serialise.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class ModelFilter:
    """The List Models filters; `None` means "not given"."""

    fqn: str | None = None
    ml_repo_id: str | None = None
    name: str | None = None
    run_id: str | None = None
    include_empty_models: bool = True


@dataclass(frozen=True)
class VersionFilter:
    """The model-versions filters the sandbox understands; `None` means "not given"."""

    model_id: str | None = None
    fqn: str | None = None
    ml_repo_id: str | None = None
    name: str | None = None
    version: int | None = None
    tag: str | None = None


def version_number(version: Mapping[str, Any]) -> int:
    """`manifest.version` of a ModelVersion (0 when absent, which fixtures never are)."""
    manifest = version.get("manifest")
    if isinstance(manifest, Mapping):
        number = manifest.get("version")
        if isinstance(number, int) and not isinstance(number, bool):
            return number
    return 0


def latest_version(versions: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The highest-numbered version, or None when there is none."""
    return max(versions, key=version_number, default=None)


def served_model(entry: Mapping[str, Any]) -> JsonObject:
    """The spec `Model` the API returns for a stored entry: no `versions`, `latest_version` set."""
    model = {key: copy.deepcopy(value) for key, value in entry.items() if key != "versions"}
    model.pop("latest_version", None)
    latest = latest_version(entry.get("versions", ()))
    if latest is not None:
        model["latest_version"] = copy.deepcopy(dict(latest))
    return model


def model_matches(entry: Mapping[str, Any], flt: ModelFilter) -> bool:
    """True when the entry passes every given filter (exact, case-sensitive matches)."""
    versions: Sequence[Mapping[str, Any]] = entry.get("versions", ())
    if flt.fqn is not None and entry.get("fqn") != flt.fqn:
        return False
    if flt.ml_repo_id is not None and entry.get("ml_repo_id") != flt.ml_repo_id:
        return False
    if flt.name is not None and entry.get("name") != flt.name:
        return False
    if flt.run_id is not None and not any(
        _manifest(version).get("run_id") == flt.run_id for version in versions
    ):
        return False
    return flt.include_empty_models or bool(versions)


def sort_key(entry: Mapping[str, Any]) -> tuple[str, str]:
    """Listing order: by fqn, then id (code-point order, so `Fraud_Model` < `fraud-model`)."""
    return (str(entry.get("fqn", "")), str(entry.get("id", "")))


def select_models(entries: Iterable[Mapping[str, Any]], flt: ModelFilter) -> list[JsonObject]:
    """Served models that pass the filter, in listing order."""
    chosen = sorted((e for e in entries if model_matches(e, flt)), key=sort_key)
    return [served_model(entry) for entry in chosen]


def version_matches(version: Mapping[str, Any], flt: VersionFilter) -> bool:
    """True when a version passes every given filter."""
    manifest = _manifest(version)
    if flt.model_id is not None and version.get("model_id") != flt.model_id:
        return False
    if flt.fqn is not None and version.get("fqn") != flt.fqn:
        return False
    if flt.ml_repo_id is not None and version.get("ml_repo_id") != flt.ml_repo_id:
        return False
    if flt.name is not None and manifest.get("name") != flt.name:
        return False
    if flt.version is not None and version_number(version) != flt.version:
        return False
    return flt.tag is None or flt.tag in version.get("tags", ())


def select_versions(entries: Iterable[Mapping[str, Any]], flt: VersionFilter) -> list[JsonObject]:
    """Matching versions, grouped by model in listing order, newest version first."""
    result: list[JsonObject] = []
    for entry in sorted(entries, key=sort_key):
        versions = [v for v in entry.get("versions", ()) if version_matches(v, flt)]
        versions.sort(key=version_number, reverse=True)
        result.extend(copy.deepcopy(dict(v)) for v in versions)
    return result


def paginate(items: Sequence[JsonObject], offset: int, limit: int | None) -> JsonObject:
    """`{data, pagination}` for one page.

    `pagination.limit` echoes the requested limit and is left out when none was
    given: the spec makes it optional and, the spec being OpenAPI 3.1, `null`
    would not be a valid integer.
    """
    end = len(items) if limit is None else offset + limit
    pagination: JsonObject = {"total": len(items), "offset": offset}
    if limit is not None:
        pagination["limit"] = limit
    return {"data": list(items[offset:end]), "pagination": pagination}


def _manifest(version: Mapping[str, Any]) -> Mapping[str, Any]:
    manifest = version.get("manifest")
    return manifest if isinstance(manifest, Mapping) else {}
