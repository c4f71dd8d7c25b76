"""Generates sandbox/modelsync_sandbox/fixtures/catalog.json (deterministic).

Run `python tests/sandbox_catalog/generate_catalog_fixture.py` after editing the
table below; `test_fixture_data.py` checks the shipped file matches.

What the data covers: tenant `acme`, six ML repos, all 14 framework types,
all three source types, models whose latest version is not deployable (with an
older deployable one), models with no deployable version, models with no
versions, uppercase/underscore names and names differing only by case or
`_`/`-`, one name shared across repos, a run id shared by two models, version
numbers with gaps and listed out of order, one model with twelve versions.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TENANT = "acme"
REPOS = ("fraud", "churn", "nlp", "vision", "forecasting", "risk-scoring")
OUTPUT = Path(__file__).resolve().parents[2] / "sandbox/modelsync_sandbox/fixtures/catalog.json"
_EPOCH = datetime(2024, 1, 15, 9, 0, tzinfo=UTC)
_NS = uuid.UUID("6f1c1f64-3a4e-4b9e-9a55-2f1f6f0c0a11")

SUBJECTS: dict[str, dict[str, Any]] = {
    "alice": {
        "subjectId": "u-3f9c2a71",
        "subjectType": "user",
        "subjectSlug": "alice.chen@acme.com",
        "subjectDisplayName": "Alice Chen",
    },
    "bob": {
        "subjectId": "u-8b14e0d2",
        "subjectType": "user",
        "subjectSlug": "bob.okafor@acme.com",
        "subjectDisplayName": "Bob Okafor",
        "subjectPatName": "bob-laptop",
    },
    "ci": {
        "subjectId": "sa-1c7d55e9",
        "subjectType": "serviceaccount",
        "subjectSlug": "ci-training-pipeline",
        "subjectDisplayName": "CI training pipeline",
    },
    "bot": {
        "subjectId": "va-52aa90c4",
        "subjectType": "virtualaccount",
        "subjectSlug": "mlops-bot",
    },
    "team": {
        "subjectId": "t-0e6b3f18",
        "subjectType": "team",
        "subjectSlug": "risk-data-science",
        "subjectDisplayName": "Risk Data Science",
    },
    "gha": {
        "subjectId": "ei-77d0c3b5",
        "subjectType": "external-identity",
        "subjectSlug": "github-actions",
        "subjectExternalIdentitySlug": "github-actions:sub:repo:acme/ml-platform@acme.com",
    },
    "agent": {
        "subjectId": "ag-9e21f4a0",
        "subjectType": "agent-identity",
        "subjectSlug": "retrain-agent",
        "subjectControllerName": "retrain-controller",
    },
}

_SCHEMA_IO: dict[str, Any] = {
    "inputs": [
        {"name": "amount", "type": "float"},
        {"name": "merchant_category", "type": "string"},
        {"name": "hour_of_day", "type": "integer"},
    ],
    "outputs": [{"name": "score", "type": "float"}],
}

FRAMEWORKS: dict[str, dict[str, Any]] = {
    "sklearn": {
        "type": "sklearn",
        "model_filepath": "model.joblib",
        "serialization_format": "joblib",
    },
    "sklearn-schema": {
        "type": "sklearn",
        "model_filepath": "model.pkl",
        "serialization_format": "cloudpickle",
        "model_schema": {"infer_method_name": "predict_proba", **_SCHEMA_IO},
    },
    "xgboost": {"type": "xgboost", "serialization_format": "joblib"},
    "xgboost-schema": {
        "type": "xgboost",
        "serialization_format": "json",
        "model_filepath": "model.json",
        "model_schema": {"infer_method_name": "predict", **_SCHEMA_IO},
    },
    "lightgbm": {"type": "lightgbm"},
    "h2o": {"type": "h2o"},
    "statsmodels": {"type": "statsmodels"},
    "bert": {
        "type": "transformers",
        "library_name": "transformers",
        "pipeline_tag": "text-classification",
        "base_model": "google-bert/bert-base-uncased",
    },
    "sentence": {
        "type": "transformers",
        "library_name": "sentence-transformers",
        "pipeline_tag": "sentence-similarity",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2",
    },
    "llm": {
        "type": "transformers",
        "pipeline_tag": "text-generation",
        "base_model": "meta-llama/Llama-3.1-8B-Instruct",
    },
    "diffusers": {
        "type": "transformers",
        "library_name": "diffusers",
        "pipeline_tag": "text-to-image",
        "base_model": "stabilityai/stable-diffusion-xl-base-1.0",
    },
    "spacy": {"type": "spacy"},
    "pytorch": {"type": "pytorch"},
    "onnx": {"type": "onnx"},
    "paddle": {"type": "paddle"},
    "keras": {"type": "keras"},
    "gluon": {"type": "gluon"},
    "tensorflow": {"type": "tensorflow"},
    "fastai": {"type": "fastai"},
}

PIP: dict[str, list[str]] = {
    "sklearn": ["scikit-learn==1.5.1", "numpy==1.26.4", "pandas==2.2.2"],
    "xgboost": ["xgboost==2.1.1", "numpy==1.26.4"],
    "lightgbm": ["lightgbm==4.5.0", "pandas==2.2.2"],
    "h2o": ["h2o==3.46.0.4"],
    "statsmodels": ["statsmodels==0.14.2", "pandas==2.2.2"],
    "transformers": ["transformers==4.44.2", "torch==2.4.0", "accelerate==0.33.0"],
    "spacy": ["spacy==3.7.6"],
    "pytorch": ["torch==2.4.0", "torchvision==0.19.0"],
    "onnx": ["onnxruntime==1.19.0", "numpy==1.26.4"],
    "paddle": ["paddlepaddle==2.6.1", "paddleocr==2.8.1"],
    "keras": ["keras==3.5.0", "tensorflow==2.17.0"],
    "gluon": ["mxnet==1.9.1", "gluoncv==0.10.5"],
    "tensorflow": ["tensorflow==2.17.0"],
    "fastai": ["fastai==2.7.17"],
}

METRICS: dict[str, tuple[str, ...]] = {
    "fraud": ("auc", "precision_at_1pct_fpr", "recall"),
    "churn": ("auc", "f1", "log_loss"),
    "nlp": ("f1", "accuracy", "eval_loss"),
    "vision": ("top1_accuracy", "map_50", "latency_ms_p95"),
    "forecasting": ("rmse", "mape", "wape"),
    "risk-scoring": ("gini", "ks_statistic", "psi"),
}


@dataclass(frozen=True)
class V:
    """One version: number, deployable flag and optional extras."""

    number: int
    deployable: bool = True
    tags: tuple[str, ...] = ()
    alias: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class M:
    """One model: repo, name, framework key, source kind, versions, creator."""

    repo: str
    name: str
    framework: str = "sklearn"
    source: str = "tfy-s3"
    versions: tuple[V, ...] = ()
    creator: str = "alice"
    description: str = ""
    run_steps: tuple[int, ...] = field(default=())


def vs(*numbers: int, deployable: tuple[int, ...] | None = None) -> tuple[V, ...]:
    """Versions by number; all deployable unless `deployable` lists which are."""
    return tuple(V(n, deployable is None or n in deployable) for n in numbers)


SHARED_RUN = "run-2024-churn-q3-retrain"

MODELS: tuple[M, ...] = (
    # fraud
    M(
        "fraud",
        "fraud-detector",
        "sklearn",
        versions=(
            V(1, False, ("experiment",)),
            V(2, True, ("staging",)),
            V(3, True, ("prod",), "v1.0.0"),
            V(4, True, ("staging",), "v1.1.0"),
            V(5, True, ("prod", "champion"), "v2.1.0"),
        ),
        creator="team",
        description="Card-present transaction fraud classifier",
        run_steps=(0, 10, 20),
    ),
    M("fraud", "Fraud_Model", "xgboost", versions=vs(1, 2), creator="bob"),
    M("fraud", "fraud_model", "xgboost", "ext-s3", vs(1), creator="bob"),
    M("fraud", "fraud-model", "xgboost", versions=vs(1, 2, 3, deployable=(3,)), creator="ci"),
    M(
        "fraud",
        "txn-anomaly-lgbm",
        "lightgbm",
        versions=(
            V(1, True),
            V(2, True, ("prod",), "v1-prod"),
            V(3, True),
            V(4, False, ("candidate",), "v2-rc1"),
        ),
        creator="ci",
        description="Unsupervised transaction anomaly scores",
    ),
    M("fraud", "chargeback-h2o", "h2o", "ext-gs", vs(1, 2, deployable=(2,)), creator="team"),
    M("fraud", "baseline", "sklearn", versions=vs(1), creator="alice"),
    M("fraud", "fraud-graph-gnn", creator="alice", description="Placeholder, not trained yet"),
    # churn
    M(
        "churn",
        "churn-predictor",
        "xgboost",
        versions=(
            V(1),
            V(2),
            V(3, True, ("prod",), "v3"),
            V(4, True, ("prod", "q3"), "v4", SHARED_RUN),
            V(5, True, ("staging",)),
            V(6, False, ("candidate",), "v6-rc1"),
        ),
        creator="gha",
        description="Monthly subscriber churn propensity",
    ),
    M("churn", "ChurnPredictor", "sklearn-schema", versions=vs(1, 2, deployable=(2,))),
    M(
        "churn",
        "churn-survival",
        "statsmodels",
        "ext-wasbs",
        versions=(V(1), V(2, True, ("prod",), None, SHARED_RUN), V(3)),
        creator="bot",
    ),
    M(
        "churn",
        "churn_uplift",
        "lightgbm",
        versions=vs(1, 2, 3, deployable=()),
        creator="agent",
        description="Uplift model, still failing validation",
    ),
    M("churn", "baseline", "statsmodels", versions=vs(1), creator="alice"),
    M("churn", "churn-experimental", creator="bob"),
    # nlp
    M(
        "nlp",
        "sentiment-bert",
        "bert",
        versions=(V(1), V(2, True, (), "v1.0.0"), V(3, True, ("prod",), "v1.1.0"), V(4)),
        creator="alice",
        run_steps=(100, 200, 300, 400),
    ),
    M("nlp", "support-ticket-router", "sentence", "ext-wasbs", vs(1, 2), creator="ci"),
    M("nlp", "ner-spacy", "spacy", "local", vs(1, 2, 3), creator="bob"),
    M(
        "nlp",
        "llm-summarizer",
        "llm",
        versions=(
            V(1, True),
            V(2, True, ("prod",), "v2-prod"),
            V(3, False, ("eval-failed",)),
            V(4, False, ("eval-failed",)),
            V(5, False, ("candidate",), "v5-dev"),
        ),
        creator="agent",
        description="Call-centre transcript summarizer (LoRA fine-tune)",
    ),
    M("nlp", "Toxicity_Classifier", "pytorch", "tfy-gs", vs(1, 2), creator="team"),
    M("nlp", "intent-onnx", "onnx", versions=vs(1, 2, 3), creator="ci"),
    M("nlp", "draft-summarizer", creator="agent"),
    # vision
    M("vision", "defect-detector", "pytorch", "ext-s3", vs(1, 2, 3), creator="gha"),
    M("vision", "image-classifier-onnx", "onnx", "tfy-wasbs", vs(1, 2), creator="ci"),
    M("vision", "ocr-paddle", "paddle", versions=vs(1, 2), creator="bob"),
    M("vision", "product-tagger-keras", "keras", versions=vs(1, 2, 3), creator="alice"),
    M("vision", "sku-detector-gluon", "gluon", "ext-gs", vs(1, 2), creator="bot"),
    M("vision", "satellite-segmentation", "tensorflow", "tfy-gs", vs(1, 2, 3, 4), creator="team"),
    M("vision", "brand-diffusion", "diffusers", versions=vs(1, 2), creator="alice"),
    # forecasting
    M(
        "forecasting",
        "demand-forecast",
        "lightgbm",
        versions=(
            V(8, False, ("candidate",)),
            V(3, True, ("prod",), "v2024.03"),
            V(1, False),
            V(5, True, ("staging",), "v2024.05"),
            V(2, False),
        ),
        creator="ci",
        description="Store-level weekly demand; versions 4, 6, 7 were deleted",
    ),
    M(
        "forecasting",
        "energy-load-tf",
        "tensorflow",
        versions=vs(*range(1, 13), deployable=(3,)),
        creator="agent",
        description="Hourly grid load; nightly retrains, only v3 passed backtesting",
    ),
    M("forecasting", "sales-forecast-fastai", "fastai", "local", vs(1, 2), creator="bob"),
    M("forecasting", "Inventory_Forecast", "xgboost-schema", versions=vs(1, 2, 3), creator="gha"),
    M(
        "forecasting",
        "price-elasticity",
        "sklearn",
        versions=vs(1, 2, deployable=()),
        creator="alice",
    ),
    M("forecasting", "forecast-sandbox", creator="bob"),
    # risk-scoring
    M("risk-scoring", "credit-score", "sklearn-schema", versions=vs(1, 2, 3), creator="team"),
    M("risk-scoring", "credit_score", "h2o", "ext-gs", vs(1, 2), creator="team"),
    M("risk-scoring", "pd-model-onnx", "onnx", "ext-wasbs", vs(1), creator="ci"),
    M("risk-scoring", "kyc-docs-classifier", creator="alice"),
)


def _id(kind: str, key: str) -> str:
    return str(uuid.uuid5(_NS, f"{kind}:{key}"))


def _ts(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _source(kind: str, repo_id: str, name: str, number: int) -> dict[str, Any]:
    path = f"{repo_id}/{name}/v{number}"
    if kind == "local":
        return {"type": "local", "file_or_folder": f"artifacts/{name}/"}
    owner, scheme = kind.split("-")
    bucket = {
        "s3": f"s3://acme-ml-{'artifacts' if owner == 'tfy' else 'external'}/{path}/",
        "gs": f"gs://acme-ml-{'artifacts' if owner == 'tfy' else 'eu-models'}/{path}/",
        "wasbs": f"wasbs://models@acmeml{owner}.blob.core.windows.net/{path}/",
    }[scheme]
    return {"type": "truefoundry" if owner == "tfy" else "external", "uri": bucket}


def _version(model: M, index: int, repo_id: str, model_id: str, v: V) -> dict[str, Any]:
    rng = random.Random(f"{model.repo}/{model.name}/{v.number}")
    framework = dict(FRAMEWORKS[model.framework])
    created = _EPOCH + timedelta(days=7 * index + 3 * v.number, hours=rng.randint(0, 23))
    fqn = f"model:{TENANT}/{model.repo}/{model.name}:{v.number}"
    metrics = [
        {
            "key": key,
            "value": round(rng.uniform(0.55, 0.98), 4),
            "timestamp": int(created.timestamp() * 1000) - 60_000 * (3 - i),
            "step": 10 * v.number,
        }
        for i, key in enumerate(METRICS[model.repo])
    ]
    manifest: dict[str, Any] = {
        "name": model.name,
        "metadata": {
            "business-unit": {"fraud": "risk", "risk-scoring": "risk"}.get(model.repo, "growth"),
            "quality": "good" if v.deployable else "needs-review",
            "rating": round(rng.uniform(2.5, 5.0), 1),
            "training_rows": rng.randint(10_000, 5_000_000),
        },
        "ml_repo": model.repo,
        "version": v.number,
        "type": "model-version",
        "source": _source(model.source, repo_id, model.name, v.number),
        "framework": framework,
        "step": 10 * v.number,
    }
    if model.description:
        manifest["description"] = f"{model.description} (v{v.number})"
    if v.alias:
        manifest["version_alias"] = v.alias
    if v.number % 4 != 1 or v.deployable:
        manifest["environment"] = {
            "python_version": ("3.11.9", "3.10", "3.12.4")[v.number % 3],
            "pip_packages": PIP[framework["type"]],
        }
    manifest["run_id"] = v.run_id or f"run-{_id('run', fqn)[:8]}"
    version: dict[str, Any] = {
        "id": _id("model-version", fqn),
        "fqn": fqn,
        "created_by_subject": SUBJECTS[("ci", model.creator)[v.number % 2]],
        "created_at": _ts(created),
        "updated_at": _ts(created + timedelta(minutes=rng.randint(1, 90))),
        "manifest": manifest,
        "ml_repo_id": repo_id,
        "tags": list(v.tags),
        "model_id": model_id,
        "metrics": metrics,
        "deployable": v.deployable,
    }
    if v.alias:
        version["version_alias"] = v.alias
    if v.number % 2 == 0:
        version["usage_code_snippet"] = (
            "from truefoundry.ml import get_client\n"
            "client = get_client()\n"
            f'model_version = client.get_model_version_by_fqn("{fqn}")\n'
            'model_version.download(path="./model")\n'
        )
    return version


def build_catalog() -> dict[str, Any]:
    repo_ids = {repo: _id("ml-repo", f"{TENANT}/{repo}") for repo in REPOS}
    models = []
    for index, model in enumerate(MODELS):
        repo_id = repo_ids[model.repo]
        fqn = f"model:{TENANT}/{model.repo}/{model.name}"
        model_id = _id("model", fqn)
        versions = [_version(model, index, repo_id, model_id, v) for v in model.versions]
        created = _EPOCH + timedelta(days=7 * index)
        updated = max((v["updated_at"] for v in versions), default=_ts(created))
        entry: dict[str, Any] = {
            "id": model_id,
            "ml_repo_id": repo_id,
            "type": "model",
            "name": model.name,
            "fqn": fqn,
            "created_by_subject": SUBJECTS[model.creator],
            "created_at": _ts(created),
            "updated_at": updated,
        }
        if model.run_steps:
            entry["run_steps"] = list(model.run_steps)
        entry["versions"] = versions
        models.append(entry)
    return {"tenant": TENANT, "ml_repos": repo_ids, "models": models}


def render() -> str:
    return json.dumps(build_catalog(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT}")
