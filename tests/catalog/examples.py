"""Hand-written catalog payloads for the model tests (each one valid against the spec)."""

from __future__ import annotations

import copy
from typing import Any

SUBJECT: dict[str, Any] = {
    "subjectId": "u-123",
    "subjectType": "user",
    "subjectSlug": "jane@example.com",
    "subjectDisplayName": "Jane",
}

FRAMEWORKS: dict[str, dict[str, Any]] = {
    "transformers": {
        "type": "transformers",
        "library_name": "sentence-transformers",
        "pipeline_tag": "feature-extraction",
        "base_model": "BAAI/bge-small-en",
    },
    "tensorflow": {"type": "tensorflow"},
    "sklearn": {
        "type": "sklearn",
        "model_filepath": "model.joblib",
        "serialization_format": "joblib",
        "model_schema": {
            "infer_method_name": "predict_proba",
            "inputs": [{"name": "amount", "type": "float"}],
            "outputs": [{"name": "fraud", "type": "float"}],
        },
    },
    "pytorch": {"type": "pytorch"},
    "keras": {"type": "keras"},
    "xgboost": {
        "type": "xgboost",
        "serialization_format": "json",
        "model_filepath": "model.json",
        "model_schema": {"infer_method_name": "predict", "inputs": [], "outputs": []},
    },
    "lightgbm": {"type": "lightgbm"},
    "fastai": {"type": "fastai"},
    "h2o": {"type": "h2o"},
    "onnx": {"type": "onnx"},
    "spacy": {"type": "spacy"},
    "statsmodels": {"type": "statsmodels"},
    "gluon": {"type": "gluon"},
    "paddle": {"type": "paddle"},
}

SOURCES: dict[str, dict[str, Any]] = {
    "truefoundry": {"type": "truefoundry", "uri": "s3://tfy-bucket/fraud/detector/7"},
    "external": {"type": "external", "uri": "gs://corp-models/fraud/detector"},
    "local": {"type": "local", "file_or_folder": "./artifacts/model"},
}


def manifest(
    framework: dict[str, Any] | None = None, source: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "name": "fraud-detector",
        "metadata": {"business-unit": "risk", "rating": 4.5, "nested": {"a": [1, None]}},
        "ml_repo": "fraud",
        "version": 7,
        "type": "model-version",
        "description": "gradient boosted fraud detector",
        "version_alias": "v1.2.0",
        "source": copy.deepcopy(source if source is not None else SOURCES["truefoundry"]),
        "framework": copy.deepcopy(framework if framework is not None else FRAMEWORKS["sklearn"]),
        "environment": {"python_version": "3.11", "pip_packages": ["scikit-learn==1.5.0"]},
        "step": 3,
        "run_id": "run-42",
    }


def model_version(
    *,
    version: int = 7,
    deployable: bool = True,
    framework: dict[str, Any] | None = None,
    source: dict[str, Any] | None = None,
    model_id: str = "m-1",
) -> dict[str, Any]:
    body = manifest(framework, source)
    body["version"] = version
    return {
        "id": f"{model_id}-v{version}",
        "fqn": f"model:acme/fraud/fraud-detector:{version}",
        "created_by_subject": dict(SUBJECT),
        "created_at": "2024-05-01T12:00:00Z",
        "updated_at": "2024-05-02T08:30:00.123456+02:00",
        "manifest": body,
        "ml_repo_id": "repo-1",
        "tags": ["prod", "eu"],
        "version_alias": "v1.2.0",
        "usage_code_snippet": "from truefoundry import ml",
        "model_id": model_id,
        "metrics": [
            {"key": "auc", "value": 0.93, "timestamp": 1714564800000, "step": 10},
            {"key": "loss"},
        ],
        "deployable": deployable,
    }


def model(model_id: str = "m-1", *, latest_version: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": model_id,
        "ml_repo_id": "repo-1",
        "type": "model",
        "name": "fraud-detector",
        "fqn": "model:acme/fraud/fraud-detector",
        "created_by_subject": dict(SUBJECT),
        "created_at": "2024-04-01T00:00:00Z",
        "updated_at": "2024-05-02T08:30:00Z",
        "latest_version": latest_version
        if latest_version is not None
        else model_version(model_id=model_id),
        "run_steps": [1, 2, 3],
    }


def page(items: list[Any], *, total: int | None = None, offset: int = 0) -> dict[str, Any]:
    return {
        "data": items,
        "pagination": {
            "total": len(items) if total is None else total,
            "offset": offset,
            "limit": 100,
        },
    }
