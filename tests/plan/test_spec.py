"""The ModelRef spec built from a catalog record equals what api.ModelRefSpec.to_k8s() gives
for the same catalog payload read by the pydantic models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from modelsync.api.modelref import ModelRefSpec
from modelsync.catalog.models import Model, ModelVersion
from modelsync.catalog.records import record_of, version_record_of
from modelsync.plan.compare import canonical
from modelsync.plan.spec import _time, modelref_spec
from plan import factories as f

# Payload pieces as the catalog sends them, including unknown framework/source types.
_frameworks = st.sampled_from(
    [
        None,
        {"type": "sklearn"},
        {
            "type": "sklearn",
            "model_filepath": "m.joblib",
            "serialization_format": "joblib",
            "model_schema": {
                "infer_method_name": "predict",
                "inputs": [{"name": "x", "type": None}],
                "outputs": [],
            },
        },
        {"type": "transformers", "pipeline_tag": "fill-mask", "library_name": None},
        {"type": "brand-new", "some_field": {"a": None, "b": [1, None]}, "other": None},
    ]
)
_sources = st.sampled_from(
    [
        {"type": "truefoundry"},
        {"type": "truefoundry", "uri": "s3://b/k"},
        {"type": "external", "uri": "gs://b/k"},
        {"type": "local", "file_or_folder": "./m"},
        {"type": "ipfs", "uri": "ipfs://x", "cid": "abc"},
    ]
)
_json_leaf = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=5)
_metadata = st.dictionaries(
    st.text(max_size=5),
    st.recursive(
        _json_leaf,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=6,
    ),
    max_size=4,
)
_times = st.none() | st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)
).map(lambda d: d.isoformat() + "Z")
_metrics = st.lists(
    st.fixed_dictionaries(
        {"key": st.text(min_size=1, max_size=4)},
        optional={
            "value": st.none() | st.floats(allow_nan=True, allow_infinity=True),
            "step": st.none() | st.integers(0, 10**6),
            "timestamp": st.none() | st.integers(0, 2**50),
        },
    ),
    max_size=3,
)


@st.composite
def _versions(draw: st.DrawFn) -> ModelVersion:
    manifest: dict[str, Any] = {
        "name": "detector",
        "metadata": draw(_metadata),
        "ml_repo": "fraud",
        "source": draw(_sources),
        "version": draw(st.none() | st.integers(1, 10**6)),
        "description": draw(st.none() | st.text(max_size=8)),
        "version_alias": draw(st.none() | st.just("v1.0")),
        "framework": draw(_frameworks),
        "environment": draw(
            st.none()
            | st.fixed_dictionaries(
                {
                    "python_version": st.none() | st.just("3.11"),
                    "pip_packages": st.none() | st.lists(st.just("numpy"), max_size=2),
                }
            )
        ),
        "step": draw(st.none() | st.integers(0, 100)),
        "run_id": draw(st.none() | st.just("run-1")),
    }
    subject = {
        "subjectId": "u-1",
        "subjectType": draw(st.sampled_from(["user", "robot"])),
        "subjectSlug": draw(st.none() | st.just("jane")),
        "subjectDisplayName": draw(st.none() | st.just("Jane")),
    }
    return ModelVersion.model_validate(
        {
            "id": "v-1",
            "fqn": "model:acme/fraud/detector:1",
            "created_by_subject": subject,
            "manifest": manifest,
            "ml_repo_id": "repo-1",
            "model_id": "m-1",
            "created_at": draw(_times),
            "updated_at": draw(_times),
            "tags": draw(st.none() | st.lists(st.sampled_from(["prod", "eu"]), max_size=2)),
            "version_alias": draw(st.none() | st.just("v2.0")),
            "metrics": draw(st.none() | _metrics),
            "deployable": draw(st.none() | st.booleans()),
        }
    )


def _pydantic_json(value: Any) -> Any:
    """A pydantic catalog value as JSON with camelCase keys, extra fields included, nulls
    left out (the contract for `framework`, independent of plan/spec.py)."""
    if isinstance(value, BaseModel):
        fields = {to_camel(name): getattr(value, name) for name in type(value).model_fields}
        for key, item in (value.model_extra or {}).items():
            fields.setdefault(to_camel(key), item)
        return {k: _pydantic_json(v) for k, v in fields.items() if v is not None}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _pydantic_json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_pydantic_json(item) for item in value]
    return value


def _via_api(model: Model, version: ModelVersion) -> dict[str, Any]:
    """The same spec built the slow way, from the pydantic models through the api models
    (the contract)."""
    from modelsync.api.modelref import (
        CreatedBy,
        EnvironmentInfo,
        FrameworkInfo,
        MetricPoint,
        ModelInfo,
        SourceInfo,
        VersionInfo,
    )

    manifest = version.manifest
    subject = version.created_by_subject
    source = manifest.source
    extra = source.model_extra or {}
    env = manifest.environment
    info = VersionInfo(
        id=version.id,
        fqn=version.fqn,
        version=manifest.version,
        version_alias=version.version_alias or manifest.version_alias,
        deployable=version.deployable,
        created_at=version.created_at,
        updated_at=version.updated_at,
        created_by=CreatedBy(
            subject_id=subject.subject_id,
            subject_type=str(subject.subject_type),
            subject_slug=subject.subject_slug,
            subject_display_name=subject.subject_display_name,
        ),
        tags=list(version.tags),
        description=manifest.description,
        metadata=canonical(manifest.metadata),  # nulls inside are not kept by the server
        framework=FrameworkInfo.model_validate(_pydantic_json(manifest.framework))
        if manifest.framework
        else None,
        source=SourceInfo(
            type=source.type,
            uri=getattr(source, "uri", None) or extra.get("uri"),
            file_or_folder=getattr(source, "file_or_folder", None) or extra.get("file_or_folder"),
        ),
        environment=EnvironmentInfo(
            python_version=env.python_version, pip_packages=list(env.pip_packages)
        )
        if env
        else None,
        metrics=[
            MetricPoint(key=m.key, value=m.value, step=m.step, timestamp=m.timestamp)
            for m in version.metrics
        ],
        step=manifest.step,
        run_id=manifest.run_id,
    )
    spec = ModelRefSpec(
        model=ModelInfo(
            id=model.id,
            name=model.name,
            fqn=model.fqn,
            ml_repo_id=model.ml_repo_id,
            ml_repo="fraud",
        ),
        version=info,
    )
    result: dict[str, Any] = canonical(spec.to_k8s())
    return result


@settings(max_examples=150, deadline=None)
@given(_versions())
def test_spec_equals_the_api_models_serialization(version: ModelVersion) -> None:
    model = f.pydantic_model(latest=version)
    built = modelref_spec(record_of(model), "fraud", version_record_of(version))
    assert built == _via_api(model, version)
    assert canonical(ModelRefSpec.from_k8s(built).to_k8s()) == built
    assert canonical(built) == built


def test_spec_field_names_follow_the_design() -> None:
    version = f.version(number=7, alias="v1.2", tags=("prod",))
    spec = modelref_spec(f.model(latest=version), "fraud", version)
    assert set(spec) == {"model", "version"}
    assert spec["model"] == {
        "id": "id-fraud-detector",
        "name": "detector",
        "fqn": "model:acme/fraud/detector",
        "mlRepoId": "repo-fraud",
        "mlRepo": "fraud",
    }
    assert set(spec["version"]) == {
        "id",
        "fqn",
        "version",
        "versionAlias",
        "deployable",
        "createdAt",
        "updatedAt",
        "createdBy",
        "tags",
        "metadata",
        "framework",
        "source",
        "environment",
        "metrics",
        "step",
    }
    assert spec["version"]["createdBy"] == {
        "subjectId": "u-1",
        "subjectType": "user",
        "subjectSlug": "jane@example.com",
    }


@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)),
    st.sampled_from(
        [
            None,
            UTC,
            timezone(timedelta(hours=2)),
            timezone(timedelta(hours=-7)),
            timezone(timedelta(hours=5, minutes=30, seconds=15)),
        ]
    ),
)
def test_time_formatting_matches_the_api(value: datetime, tz: timezone | None) -> None:
    from modelsync.api.timestamps import format_time_precise

    stamped = value.replace(tzinfo=tz)
    assert _time(stamped) == format_time_precise(stamped)
