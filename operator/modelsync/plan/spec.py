"""Catalog model + chosen version -> the ModelRef `spec` (the ModelRef fields in docs/reference.md).

The spec is built as a plain dict in exactly the shape `api.ModelRefSpec(...).to_k8s()`
gives (camelCase, empty optional fields left out; tests hold the two equal), because going
through the pydantic models costs several times the catalog parse on 10,000 models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from msgspec import Struct
from pydantic.alias_generators import to_camel

from modelsync.api.wire import INT64_MAX, INT64_MIN
from modelsync.catalog.records import (
    ExternalSourceRecord,
    LocalSourceRecord,
    ModelRecord,
    TrueFoundrySourceRecord,
    UnknownFrameworkRecord,
    UnknownSourceRecord,
    VersionRecord,
)
from modelsync.plan.compare import canonical

JsonDict = dict[str, Any]


_FIELD_KEYS: dict[type[Struct], tuple[tuple[str, str], ...]] = {}


def _field_keys(cls: type[Struct]) -> tuple[tuple[str, str], ...]:
    """(attribute, camelCase key) per field of a catalog record class, computed once."""
    keys = _FIELD_KEYS.get(cls)
    if keys is None:
        keys = _FIELD_KEYS[cls] = tuple((name, to_camel(name)) for name in cls.__struct_fields__)
    return keys


def _json(value: Any) -> Any:
    """A catalog value as canonical JSON: records with camelCase keys (a tagged record's
    `type` first; an unknown framework's or source's other fields after the known ones, their
    keys camelCased too), free-form dicts with their keys as given, null members left out."""
    if isinstance(value, Struct):
        if isinstance(value, UnknownFrameworkRecord | UnknownSourceRecord):
            out: JsonDict = {"type": value.type}
            for key, item in value.extra.items():
                if item is not None:
                    out.setdefault(to_camel(key), _json(item))
            return out
        out = {}
        tag = value.__struct_config__.tag
        if isinstance(tag, str):
            out["type"] = tag
        for name, key in _field_keys(type(value)):
            item = getattr(value, name)
            if item is not None:
                out[key] = _json(item)
        return out
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _json(item) for key, item in value.items() if item is not None}
    return value


def _int64(value: int | None, field: str) -> int | None:
    if value is not None and not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{field} {value} does not fit in int64")
    return value


def _put(out: JsonDict, key: str, value: Any) -> None:
    """Set `key` unless `value` is empty (None, [] or {}), as the api models' to_k8s does."""
    if value is not None and value != [] and value != {}:
        out[key] = value


def _time(value: datetime | None) -> str | None:
    """format_time_precise (RFC 3339 UTC, microseconds only when there are any), inlined
    because it is called twice per model per sync."""
    if value is None:
        return None
    offset = value.utcoffset()
    if offset is None:
        return value.isoformat() + "Z"
    if offset:
        return (value - offset).replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()[:-6] + "Z"  # drop the "+00:00" an aware UTC time ends with


def _source(version: VersionRecord) -> JsonDict:
    source = version.manifest.source
    uri: object = None
    file_or_folder: object = None
    if isinstance(source, TrueFoundrySourceRecord | ExternalSourceRecord):
        uri = source.uri
    elif isinstance(source, LocalSourceRecord):
        file_or_folder = source.file_or_folder
    else:  # an unknown source: take the usual fields if they are there
        uri = source.extra.get("uri")
        file_or_folder = source.extra.get("file_or_folder")
    out: JsonDict = {"type": source.type}
    if isinstance(uri, str):
        out["uri"] = uri
    if isinstance(file_or_folder, str):
        out["fileOrFolder"] = file_or_folder
    return out


def _metric(key: str, value: float | None, step: int, timestamp: int | None) -> JsonDict:
    out: JsonDict = {"key": key}
    if value is not None and math.isfinite(value):  # NaN/inf have no JSON form
        out["value"] = value
    _put(out, "step", _int64(step, "metric step"))
    _put(out, "timestamp", _int64(timestamp, "metric timestamp"))
    return out


def version_spec(version: VersionRecord) -> JsonDict:
    manifest = version.manifest
    subject = version.created_by_subject
    created_by: JsonDict = {}
    _put(created_by, "subjectId", subject.subject_id)
    _put(created_by, "subjectType", subject.subject_type)
    _put(created_by, "subjectSlug", subject.subject_slug)
    _put(created_by, "subjectDisplayName", subject.subject_display_name)
    environment: JsonDict = {}
    if manifest.environment is not None:
        _put(environment, "pythonVersion", manifest.environment.python_version)
        _put(environment, "pipPackages", list(manifest.environment.pip_packages))
    out: JsonDict = {"id": version.id, "fqn": version.fqn}
    _put(out, "version", _int64(manifest.version, "version"))
    _put(out, "versionAlias", version.version_alias or manifest.version_alias)
    out["deployable"] = version.deployable
    _put(out, "createdAt", _time(version.created_at))
    _put(out, "updatedAt", _time(version.updated_at))
    _put(out, "createdBy", created_by)
    _put(out, "tags", list(version.tags))
    _put(out, "description", manifest.description)
    _put(out, "metadata", canonical(manifest.metadata))
    if manifest.framework is not None:
        out["framework"] = _json(manifest.framework)
    out["source"] = _source(version)
    if manifest.environment is not None:
        out["environment"] = environment  # kept even when empty, as the api model does
    _put(out, "metrics", [_metric(m.key, m.value, m.step, m.timestamp) for m in version.metrics])
    _put(out, "step", _int64(manifest.step, "step"))
    _put(out, "runId", manifest.run_id)
    return out


def model_spec(model: ModelRecord, ml_repo: str) -> JsonDict:
    out: JsonDict = {"id": model.id, "name": model.name, "fqn": model.fqn}
    _put(out, "mlRepoId", model.ml_repo_id)
    _put(out, "mlRepo", ml_repo)
    return out


def modelref_spec(
    model: ModelRecord, ml_repo: str, version: VersionRecord, *, pinned: bool = False
) -> JsonDict:
    """The canonical (camelCase, null-free) spec for `model` pointing at `version`; `pinned`
    adds `pinned: true` (absent otherwise, as before pins existed).

    Raises ValueError when a number does not fit the CRD's int64 fields.
    """
    out: JsonDict = {"model": model_spec(model, ml_repo), "version": version_spec(version)}
    if pinned:
        out["pinned"] = True
    return out


def kept_spec(model: ModelRecord, ml_repo: str, kept_version: Mapping[str, Any]) -> JsonDict:
    """The spec for `model` keeping the `spec.version` its ModelRef already holds."""
    return {"model": model_spec(model, ml_repo), "version": canonical(kept_version)}
