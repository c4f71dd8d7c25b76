"""N realistic catalog models, built in memory from the shape of the shipped sandbox fixtures.

Every generated model copies one deployable version of a fixture model (framework, source,
metrics, environment, tags, metadata) and gets two versions: v1 (deployable) and v2 (the
latest). v2 is deployable unless the model falls in the `non_deployable` fraction; then the
operator has to page the model-versions endpoint to find v1. Ids are uuid5 of the index, so
the same N gives the same catalog.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from modelsync_sandbox.catalog_store import load_fixture_data

__all__ = ["TENANT", "generate_catalog", "model_name", "non_deployable_indices"]

JsonObject = dict[str, Any]

TENANT = "acme"
_NAMESPACE = uuid.UUID("6f1d2a4e-4b0c-4d7e-9a51-8c3f0e2b7d19")


def _uid(kind: str, index: int, extra: str = "") -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{kind}/{index}/{extra}"))


def _templates(fixtures: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(model, version) pairs of every deployable fixture version, in fixture order."""
    found = []
    for model in fixtures["models"]:
        for version in model.get("versions", ()):
            if version.get("deployable") and version.get("manifest", {}).get("framework"):
                found.append((model, version))
    if not found:
        raise ValueError("the fixtures hold no deployable version to copy")
    return found


def model_name(index: int) -> str:
    return f"model-{index:06d}"


def _version(
    template: Mapping[str, Any],
    *,
    model: Mapping[str, Any],
    number: int,
    deployable: bool,
) -> JsonObject:
    version = copy.deepcopy(dict(template))
    manifest = version["manifest"]
    manifest["name"] = model["name"]
    manifest["version"] = number
    manifest["ml_repo"] = model["fqn"].split("/")[1]
    if "source" in manifest and "uri" in manifest["source"]:
        manifest["source"]["uri"] = f"s3://bench-artifacts/{model['name']}/v{number}/"
    manifest.pop("version_alias", None)
    version.update(
        id=_uid("version", int(model["name"].split("-")[1]), str(number)),
        fqn=f"{model['fqn']}:{number}",
        model_id=model["id"],
        ml_repo_id=model["ml_repo_id"],
        deployable=deployable,
    )
    version.pop("usage_code_snippet", None)
    return version


def non_deployable_indices(n: int, fraction: float) -> range:
    """The models whose latest version is not deployable: every k-th, k = 1/fraction."""
    if fraction <= 0:
        return range(0)
    return range(0, n, max(1, round(1 / fraction)))


def generate_catalog(n: int, *, non_deployable: float = 0.0) -> JsonObject:
    """Fixture data (the `catalog_store` format) with `n` models spread over the fixture's
    ML repos; a `non_deployable` fraction (0..1) of them has a non-deployable latest version."""
    if n < 0 or not 0.0 <= non_deployable <= 1.0:
        raise ValueError("n must be >= 0 and non_deployable within 0..1")
    fixtures = load_fixture_data(None)
    repos: Mapping[str, str] = fixtures["ml_repos"]
    repo_names = sorted(repos)
    templates = _templates(fixtures)
    not_deployable = set(non_deployable_indices(n, non_deployable))
    models: list[JsonObject] = []
    for index in range(n):
        template_model, template_version = templates[index % len(templates)]
        repo = repo_names[index % len(repo_names)]
        name = model_name(index)
        model: JsonObject = {
            "id": _uid("model", index),
            "ml_repo_id": repos[repo],
            "type": "model",
            "name": name,
            "fqn": f"model:{TENANT}/{repo}/{name}",
            "created_by_subject": copy.deepcopy(template_model["created_by_subject"]),
            "created_at": template_model.get("created_at"),
            "updated_at": template_model.get("updated_at"),
        }
        latest_deployable = index not in not_deployable
        model["versions"] = [
            _version(template_version, model=model, number=1, deployable=True),
            _version(template_version, model=model, number=2, deployable=latest_deployable),
        ]
        models.append(model)
    return {"tenant": TENANT, "ml_repos": dict(repos), "models": models}
