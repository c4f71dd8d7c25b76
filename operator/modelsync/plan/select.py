"""The `select` fields of a ModelCatalogSync, applied after listing (DESIGN section 2)."""

from __future__ import annotations

import re
from collections.abc import Collection

from modelsync.api.sync import SelectSpec
from modelsync.catalog.models import Model


def ml_repo_name(model: Model) -> str:
    """The ML repo name: from the fqn `model:{tenant}/{repo}/{name}`, else from the latest
    version's manifest, else the ML repo id."""
    _, _, path = model.fqn.partition(":")
    parts = path.split("/")
    if len(parts) == 3 and parts[1]:
        return parts[1]
    if model.latest_version is not None and model.latest_version.manifest.ml_repo:
        return model.latest_version.manifest.ml_repo
    return model.ml_repo_id


def matches_model(select: SelectSpec, model: Model) -> bool:
    """The model-level fields: namePattern (re.search on the name) and mlRepos."""
    if select.name_pattern is not None and re.search(select.name_pattern, model.name) is None:
        return False
    return not select.ml_repos or ml_repo_name(model) in select.ml_repos


def matches_version(select: SelectSpec, framework: str | None, tags: Collection[str]) -> bool:
    """The version-level fields, on the chosen version: frameworks and tags (all required)."""
    if select.frameworks and (framework is None or framework not in select.frameworks):
        return False
    return all(tag in tags for tag in select.tags)
