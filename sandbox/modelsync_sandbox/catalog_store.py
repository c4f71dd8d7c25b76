"""The sandbox catalog's data: fixture loading and a thread-safe, mutable store.

Fixture file format (JSON)::

    {
      "tenant": "acme",                      # informational; fqns already carry it
      "ml_repos": {"fraud": "<id>", ...},    # informational: ML repo name -> id
      "models": [
        {
          ...spec `Model` fields...,         # id, ml_repo_id, name, fqn, created_by_subject
                                             # required; type, created_at, updated_at,
                                             # run_steps optional. No `latest_version`:
                                             # the server derives it.
          "versions": [                      # optional, any order, may be empty
            {...spec `ModelVersion` fields...}   # id, fqn, created_by_subject, manifest
                                                 # (with an integer manifest.version >= 1),
                                                 # ml_repo_id, model_id
          ]
        }
      ]
    }

Loading checks what the server relies on (unique model and version ids,
version numbers unique per model, `model_id`/`ml_repo_id` consistent with the
owning model) and raises `FixtureError` otherwise. Conformance to the spec's
schemas is checked by the tests, not here.

What a team promotes by (`tags`, `version_alias`, `metrics`, `deployable`: the
*labels* of a version) can be set when a version is published and changed later
(`publish_version`, `relabel_version`); those labels are checked against the spec.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelsync_sandbox.catalog_query import (
    JsonObject,
    ModelFilter,
    VersionFilter,
    select_models,
    select_versions,
    sort_key,
    version_number,
)

SHIPPED_FIXTURES = Path(__file__).parent / "fixtures" / "catalog.json"

FixtureSource = Path | Mapping[str, Any] | None

_MODEL_REQUIRED = ("id", "ml_repo_id", "name", "fqn", "created_by_subject")
_VERSION_REQUIRED = ("id", "fqn", "created_by_subject", "manifest")
_SANDBOX_SUBJECT: JsonObject = {
    "subjectId": "sandbox",
    "subjectType": "serviceaccount",
    "subjectSlug": "sandbox",
    "subjectDisplayName": "Sandbox",
}


# The spec's ModelManifest.version_alias (the catalog refuses other aliases), e.g. v1.2.0,
# v2-prod: "v", then letters, digits, "." or "-", ending in a letter or digit.
_ALIAS_PATTERN = r"^v[a-zA-Z0-9.-]*[a-zA-Z0-9]$"
_ALIAS_MAX = 128


class FixtureError(ValueError):
    """The fixture data (or an entry added at runtime) is unusable."""


class Metric(BaseModel):
    """The spec's `Metric`; `value` left out is a metric logged without a value."""

    model_config = ConfigDict(extra="forbid", strict=True)

    key: str = Field(min_length=1)
    value: float | None = None
    timestamp: int | None = Field(default=None, ge=0)  # epoch milliseconds
    step: int | None = Field(default=None, ge=0)


class VersionLabels(BaseModel):
    """A version's promotion labels. A field left out keeps its value (on publish: the spec's
    default: no tags, no alias, no metrics, not deployable); `version_alias: null` removes it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    tags: list[str] | None = None
    version_alias: str | None = Field(default=None, max_length=_ALIAS_MAX, pattern=_ALIAS_PATTERN)
    metrics: list[Metric] | None = None
    deployable: bool | None = None

    def apply_to(self, version: JsonObject) -> None:
        """Set the given labels on a stored version (and its manifest's alias copy)."""
        given = self.model_fields_set
        if "tags" in given:
            version["tags"] = list(self.tags or ())
        if "metrics" in given:
            version["metrics"] = [m.model_dump(exclude_none=True) for m in self.metrics or ()]
        if "deployable" in given:
            version["deployable"] = bool(self.deployable)
        if "version_alias" in given:
            for holder in (version, version["manifest"]):
                if self.version_alias is None:
                    holder.pop("version_alias", None)
                else:
                    holder["version_alias"] = self.version_alias


def version_labels(labels: VersionLabels | Mapping[str, Any]) -> VersionLabels:
    """`labels` checked (a mapping as the admin API receives it); FixtureError when bad."""
    if isinstance(labels, VersionLabels):
        return labels
    try:
        return VersionLabels.model_validate(dict(labels))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'labels'}: {e['msg']}" for e in exc.errors()
        )
        raise FixtureError(f"bad version labels: {problems}") from None


def load_fixture_data(source: FixtureSource) -> JsonObject:
    """Raw fixture dict from a file, a dict (deep-copied) or, for None, the shipped file."""
    if source is None:
        source = SHIPPED_FIXTURES
    if isinstance(source, Path):
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise FixtureError(f"cannot read fixtures {source}: {exc}") from exc
    else:
        data = copy.deepcopy(dict(source))
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise FixtureError("fixtures must be an object with a 'models' list")
    return data


class CatalogStore:
    """Models with their versions, keyed by model id. Every method is thread-safe."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._lock = threading.RLock()
        self.tenant = ""
        self._entries: dict[str, JsonObject] = {}
        self.replace(data)

    def replace(self, data: Mapping[str, Any]) -> None:
        """Swap the whole content for a fixture dict (validated first)."""
        models = data.get("models")
        if not isinstance(models, list):
            raise FixtureError("fixtures must have a 'models' list")
        entries: dict[str, JsonObject] = {}
        for raw in models:
            entry = _checked_entry(raw)
            if entry["id"] in entries:
                raise FixtureError(f"duplicate model id {entry['id']!r}")
            entries[entry["id"]] = entry
        _check_unique_version_ids(entries.values())
        with self._lock:
            self.tenant = str(data.get("tenant", ""))
            self._entries = entries

    def upsert_model(self, model: Mapping[str, Any]) -> JsonObject:
        """Add or replace a model (with its optional `versions`); returns the stored copy."""
        entry = _checked_entry(model)
        with self._lock:
            others = [e for mid, e in self._entries.items() if mid != entry["id"]]
            _check_unique_version_ids([*others, entry])
            self._entries[entry["id"]] = entry
            return copy.deepcopy(entry)

    def remove_model(self, model_id: str) -> bool:
        """Remove a model; False when there was none with that id."""
        with self._lock:
            return self._entries.pop(model_id, None) is not None

    def add_version(self, model_id: str, version: Mapping[str, Any]) -> JsonObject:
        """Append a version to a model and return the stored copy.

        Missing bookkeeping fields are filled in: `manifest.version` (next
        number), `id`, `fqn`, `model_id`, `ml_repo_id`, `created_at`,
        `updated_at`, `created_by_subject`. The model's `latest_version`
        follows automatically (highest `manifest.version`).
        """
        with self._lock:
            entry = self._entries.get(model_id)
            if entry is None:
                raise KeyError(model_id)
            new = copy.deepcopy(dict(version))
            manifest = new.get("manifest")
            if not isinstance(manifest, dict):
                raise FixtureError("a version needs a 'manifest' object")
            if "version" not in manifest:
                manifest["version"] = 1 + max(map(version_number, entry["versions"]), default=0)
            now = _now()
            new.setdefault("id", str(uuid.uuid4()))
            new.setdefault("fqn", f"{entry['fqn']}:{manifest['version']}")
            new.setdefault("model_id", model_id)
            new.setdefault("ml_repo_id", entry["ml_repo_id"])
            new.setdefault("created_at", now)
            new.setdefault("updated_at", new["created_at"])
            new.setdefault("created_by_subject", copy.deepcopy(_SANDBOX_SUBJECT))
            candidate = {**entry, "versions": [*entry["versions"], new]}
            checked = _checked_entry(candidate)
            _check_unique_version_ids(self._entries.values(), extra=[new])
            checked["updated_at"] = new["updated_at"]
            self._entries[model_id] = checked
            return copy.deepcopy(new)

    def publish_version(
        self, model_id: str, labels: VersionLabels | Mapping[str, Any] | None = None
    ) -> JsonObject:
        """Add the next version of a model, as a training pipeline registers one: a copy of the
        latest version's manifest (a minimal one for a model without versions) with the given
        labels. Returns the stored copy; KeyError for an unknown model."""
        checked = version_labels(labels or {})
        with self._lock:
            entry = self._entries.get(model_id)
            if entry is None:
                raise KeyError(model_id)
            latest = max(entry["versions"], key=version_number, default=None)
            if latest is None:
                manifest: JsonObject = {
                    "name": entry["name"],
                    "metadata": {},
                    "ml_repo": entry["fqn"].split("/")[1],
                    "source": {"type": "truefoundry"},
                }
            else:
                manifest = copy.deepcopy(latest["manifest"])
                manifest.pop("version", None)
                manifest.pop("version_alias", None)
            new: JsonObject = {"manifest": manifest, "tags": [], "metrics": [], "deployable": False}
            checked.apply_to(new)
            return self.add_version(model_id, new)

    def relabel_version(
        self, model_id: str, number: int, labels: VersionLabels | Mapping[str, Any]
    ) -> JsonObject:
        """Change an existing version's labels (the fields given) and its `updated_at`;
        returns the stored copy. KeyError when the model or that version number is unknown."""
        checked = version_labels(labels)
        with self._lock:
            entry = self._entries.get(model_id)
            found = [v for v in (entry or {}).get("versions", ()) if version_number(v) == number]
            if entry is None or not found:
                raise KeyError(f"{model_id}:{number}")
            version = found[0]
            checked.apply_to(version)
            version["updated_at"] = entry["updated_at"] = _now()
            return copy.deepcopy(version)

    def models(self) -> list[JsonObject]:
        """Stored entries (fixture form: Model fields plus `versions`), by fqn; deep copies."""
        with self._lock:
            return [copy.deepcopy(e) for e in sorted(self._entries.values(), key=sort_key)]

    def model(self, model_id: str) -> JsonObject | None:
        """One stored entry (deep copy) or None."""
        with self._lock:
            entry = self._entries.get(model_id)
            return None if entry is None else copy.deepcopy(entry)

    def list_models(self, flt: ModelFilter) -> list[JsonObject]:
        """Served `Model` objects matching the filter, in listing order."""
        with self._lock:
            return select_models(self._entries.values(), flt)

    def list_versions(self, flt: VersionFilter) -> list[JsonObject]:
        """`ModelVersion` objects matching the filter, newest first per model."""
        with self._lock:
            return select_versions(self._entries.values(), flt)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _checked_entry(raw: object) -> JsonObject:
    if not isinstance(raw, Mapping):
        raise FixtureError("every model must be a JSON object")
    entry = copy.deepcopy(dict(raw))
    missing = [key for key in _MODEL_REQUIRED if not entry.get(key)]
    if missing:
        raise FixtureError(f"model {entry.get('id')!r} lacks {', '.join(missing)}")
    entry.pop("latest_version", None)
    versions = entry.setdefault("versions", [])
    if not isinstance(versions, list):
        raise FixtureError(f"model {entry['id']!r}: 'versions' must be a list")
    numbers: set[int] = set()
    for version in versions:
        _check_version(entry, version)
        number = version_number(version)
        if number in numbers:
            raise FixtureError(f"model {entry['id']!r} has version {number} twice")
        numbers.add(number)
    return entry


def _check_version(entry: Mapping[str, Any], version: object) -> None:
    where = f"model {entry['id']!r}"
    if not isinstance(version, Mapping):
        raise FixtureError(f"{where}: every version must be a JSON object")
    missing = [key for key in _VERSION_REQUIRED if not version.get(key)]
    if missing:
        raise FixtureError(f"{where}: version {version.get('id')!r} lacks {', '.join(missing)}")
    if version_number(version) < 1:
        raise FixtureError(f"{where}: version {version['id']!r} needs manifest.version >= 1")
    if version.get("model_id") != entry["id"]:
        raise FixtureError(f"{where}: version {version['id']!r} has another model_id")
    if version.get("ml_repo_id") != entry["ml_repo_id"]:
        raise FixtureError(f"{where}: version {version['id']!r} has another ml_repo_id")


def _check_unique_version_ids(
    entries: Iterable[Mapping[str, Any]], extra: list[Mapping[str, Any]] | None = None
) -> None:
    seen: set[str] = set()
    versions = [v for e in entries for v in e["versions"]] + list(extra or [])
    for version in versions:
        if version["id"] in seen:
            raise FixtureError(f"duplicate version id {version['id']!r}")
        seen.add(version["id"])
