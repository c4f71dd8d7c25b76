"""The `select` fields of a ModelCatalogSync, applied after listing (spec.select)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from modelsync.api.modelcatalogsync import SelectSpec
from modelsync.api.patterns import NamePattern, compile_name_pattern
from modelsync.catalog.records import ModelRecord


def ml_repo_name(model: ModelRecord) -> str:
    """The ML repo name: from the fqn `model:{tenant}/{repo}/{name}`, else from the latest
    version's manifest, else the ML repo id."""
    _, _, path = model.fqn.partition(":")
    parts = path.split("/")
    if len(parts) == 3 and parts[1]:
        return parts[1]
    if model.latest_version is not None and model.latest_version.manifest.ml_repo:
        return model.latest_version.manifest.ml_repo
    return model.ml_repo_id


@dataclass(frozen=True, slots=True)
class Selector:
    """`select` compiled once per plan: the name pattern is an RE2 regex searched in the
    model name (linear time, so a hostile model name cannot stall the operator)."""

    name_pattern: NamePattern | None
    frameworks: frozenset[str]
    tags: tuple[str, ...]
    ml_repos: frozenset[str]

    def matches_model(self, model: ModelRecord) -> bool:
        """The model-level fields: namePattern (a search on the name) and mlRepos."""
        if self.name_pattern is not None and not self.name_pattern.search(model.name):
            return False
        return not self.ml_repos or ml_repo_name(model) in self.ml_repos

    def matches_version(self, framework: str | None, tags: Collection[str]) -> bool:
        """The version-level fields, on the chosen version: frameworks and tags (all required)."""
        if self.frameworks and (framework is None or framework not in self.frameworks):
            return False
        return all(tag in tags for tag in self.tags)


def compile_select(select: SelectSpec) -> Selector:
    """Raises InvalidPattern (a ValueError) for a namePattern RE2 cannot compile; specs that
    passed `parse_spec` never do."""
    pattern = select.name_pattern
    return Selector(
        name_pattern=compile_name_pattern(pattern) if pattern is not None else None,
        frameworks=frozenset(str(framework) for framework in select.frameworks),
        tags=tuple(select.tags),
        ml_repos=frozenset(select.ml_repos),
    )
