"""Small factories for catalog records, sync specs and listed ModelRefs in planner tests.

Catalog payloads go through the pydantic models and `record_of`, the path the client takes
for a page its fast decoder refuses, so the records are what the client would return."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec
from modelsync.catalog.models import Model, ModelVersion
from modelsync.catalog.records import ModelRecord, VersionRecord, record_of, version_record_of
from modelsync.plan import SyncRef

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
SYNC = SyncRef(name="prod-models", namespace="ml-serving", uid="sync-uid-1")
OTHER_SYNC = SyncRef(name="other-models", namespace="ml-serving", uid="sync-uid-2")

_SUBJECT = {"subjectId": "u-1", "subjectType": "user", "subjectSlug": "jane@example.com"}


def version(
    model: str = "detector",
    number: int = 1,
    *,
    repo: str = "fraud",
    model_id: str | None = None,
    deployable: bool = True,
    framework: str | None = "sklearn",
    tags: tuple[str, ...] = ("prod",),
    alias: str | None = None,
    metadata: dict[str, Any] | None = None,
    updated_at: str = "2024-05-02T08:30:00Z",
) -> VersionRecord:
    return version_record_of(
        pydantic_version(
            model,
            number,
            repo=repo,
            model_id=model_id,
            deployable=deployable,
            framework=framework,
            tags=tags,
            alias=alias,
            metadata=metadata,
            updated_at=updated_at,
        )
    )


def pydantic_version(
    model: str = "detector",
    number: int = 1,
    *,
    repo: str = "fraud",
    model_id: str | None = None,
    deployable: bool = True,
    framework: str | None = "sklearn",
    tags: tuple[str, ...] = ("prod",),
    alias: str | None = None,
    metadata: dict[str, Any] | None = None,
    updated_at: str = "2024-05-02T08:30:00Z",
) -> ModelVersion:
    mid = model_id or f"id-{repo}-{model}"
    manifest: dict[str, Any] = {
        "name": model,
        "metadata": metadata if metadata is not None else {"team": "risk"},
        "ml_repo": repo,
        "version": number,
        "source": {"type": "truefoundry", "uri": f"s3://bucket/{repo}/{model}/{number}"},
        "environment": {"python_version": "3.11", "pip_packages": ["scikit-learn==1.5.0"]},
        "step": 0,
    }
    if framework is not None:
        manifest["framework"] = {"type": framework}
    return ModelVersion.model_validate(
        {
            "id": f"{mid}-v{number}",
            "fqn": f"model:acme/{repo}/{model}:{number}",
            "created_by_subject": _SUBJECT,
            "created_at": "2024-05-01T12:00:00Z",
            "updated_at": updated_at,
            "manifest": manifest,
            "ml_repo_id": f"repo-{repo}",
            "model_id": mid,
            "tags": list(tags),
            "version_alias": alias,
            "metrics": [{"key": "auc", "value": 0.93, "step": 1}],
            "deployable": deployable,
        }
    )


def model(
    name: str = "detector",
    *,
    repo: str = "fraud",
    latest: VersionRecord | None = None,
    empty: bool = False,
    model_id: str | None = None,
    **version_kwargs: Any,
) -> ModelRecord:
    mid = model_id or f"id-{repo}-{name}"
    if latest is None and not empty:
        latest = version(name, repo=repo, model_id=mid, **version_kwargs)
    bare = record_of(pydantic_model(name, repo=repo, empty=True, model_id=mid))
    return msgspec.structs.replace(bare, latest_version=latest)


def pydantic_model(
    name: str = "detector",
    *,
    repo: str = "fraud",
    latest: ModelVersion | None = None,
    empty: bool = False,
    model_id: str | None = None,
    **version_kwargs: Any,
) -> Model:
    mid = model_id or f"id-{repo}-{name}"
    if latest is None and not empty:
        latest = pydantic_version(name, repo=repo, model_id=mid, **version_kwargs)
    return Model.model_validate(
        {
            "id": mid,
            "ml_repo_id": f"repo-{repo}",
            "name": name,
            "fqn": f"model:acme/{repo}/{name}",
            "created_by_subject": _SUBJECT,
            "latest_version": latest.model_dump() if latest is not None else None,
        }
    )


def spec(**fields: Any) -> ModelCatalogSyncSpec:
    body: dict[str, Any] = {
        "catalog": {
            "url": "https://catalog.example.com",
            "tokenSecretRef": {"name": "tfy-api", "key": "token"},
        }
    }
    body.update(fields)
    return ModelCatalogSyncSpec.from_k8s(body)
