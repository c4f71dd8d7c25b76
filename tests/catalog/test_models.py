"""The catalog models against hand-written payloads (each checked against the vendor spec)."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from pydantic import TypeAdapter, ValidationError

from catalog import examples
from catalog.spec_schemas import load_spec, standalone_schema
from modelsync.catalog import (
    Framework,
    HTTPValidationError,
    ListModelsResponse,
    ListModelVersionsResponse,
    Model,
    ModelManifest,
    ModelVersion,
    Pagination,
    Source,
    Subject,
    SubjectType,
    UnknownFramework,
    UnknownSource,
    ValidationErrorDetail,
)
from modelsync.catalog import models as m
from modelsync.catalog.pages import SkippedModel, parse_page

FRAMEWORK = TypeAdapter[Framework](Framework)
SOURCE = TypeAdapter[Source](Source)

FRAMEWORK_CLASSES: dict[str, type[Any]] = {
    "transformers": m.TransformersFramework,
    "tensorflow": m.TensorFlowFramework,
    "sklearn": m.SklearnFramework,
    "pytorch": m.PyTorchFramework,
    "keras": m.KerasFramework,
    "xgboost": m.XGBoostFramework,
    "lightgbm": m.LightGBMFramework,
    "fastai": m.FastAIFramework,
    "h2o": m.H2OFramework,
    "onnx": m.ONNXFramework,
    "spacy": m.SpaCyFramework,
    "statsmodels": m.StatsModelsFramework,
    "gluon": m.GluonFramework,
    "paddle": m.PaddleFramework,
}
SOURCE_CLASSES: dict[str, type[Any]] = {
    "truefoundry": m.TrueFoundryManagedSource,
    "external": m.ExternalBlobStorageSource,
    "local": m.LocalModelSource,
}


def assert_spec_valid(schema_name: str, payload: Any) -> None:
    jsonschema.Draft202012Validator(standalone_schema(schema_name)).validate(payload)


def test_examples_cover_every_framework_and_source_of_the_spec() -> None:
    schemas = load_spec()["components"]["schemas"]
    manifest_props = schemas["ModelManifest"]["properties"]
    assert set(manifest_props["framework"]["discriminator"]["mapping"]) == set(FRAMEWORK_CLASSES)
    assert set(manifest_props["source"]["discriminator"]["mapping"]) == set(SOURCE_CLASSES)
    assert set(examples.FRAMEWORKS) == set(FRAMEWORK_CLASSES)
    assert set(examples.SOURCES) == set(SOURCE_CLASSES)


@pytest.mark.parametrize("kind", sorted(examples.FRAMEWORKS))
def test_every_framework_parses_to_its_class(kind: str) -> None:
    payload = examples.model_version(framework=examples.FRAMEWORKS[kind])
    assert_spec_valid("ModelVersion", payload)
    version = ModelVersion.model_validate(payload)
    framework = version.manifest.framework
    assert isinstance(framework, FRAMEWORK_CLASSES[kind])
    assert framework.type == kind
    assert framework.model_dump(mode="json", exclude_defaults=True) == examples.FRAMEWORKS[kind]


@pytest.mark.parametrize("kind", sorted(examples.SOURCES))
def test_every_source_parses_to_its_class(kind: str) -> None:
    payload = examples.model_version(source=examples.SOURCES[kind])
    assert_spec_valid("ModelVersion", payload)
    source = ModelVersion.model_validate(payload).manifest.source
    assert isinstance(source, SOURCE_CLASSES[kind])
    assert source.model_dump(mode="json") == examples.SOURCES[kind]


def test_full_model_fields() -> None:
    payload = examples.model()
    assert_spec_valid("Model", payload)
    parsed = Model.model_validate(payload)
    assert parsed.id == "m-1"
    assert parsed.run_steps == (1, 2, 3)
    assert parsed.created_by_subject.subject_type is SubjectType.USER
    latest = parsed.latest_version
    assert latest is not None
    assert latest.deployable is True
    assert latest.tags == ("prod", "eu")
    assert latest.created_at is not None
    assert latest.created_at.tzinfo is not None
    assert latest.manifest.version == 7
    assert latest.manifest.metadata["nested"] == {"a": [1, None]}
    assert latest.manifest.environment is not None
    assert latest.manifest.environment.pip_packages == ("scikit-learn==1.5.0",)
    assert [metric.key for metric in latest.metrics] == ["auc", "loss"]
    assert latest.metrics[1].step == 0
    assert latest.metrics[1].value is None


def test_truefoundry_source_uri_is_optional() -> None:
    assert SOURCE.validate_python({"type": "truefoundry"}) == m.TrueFoundryManagedSource(
        type="truefoundry"
    )


def test_unknown_framework_is_kept_with_all_fields() -> None:
    payload = {"type": "catboost", "model_filepath": "m.cbm", "params": {"depth": 6}}
    framework = FRAMEWORK.validate_python(payload)
    assert isinstance(framework, UnknownFramework)
    assert framework.type == "catboost"
    assert framework.model_extra == {"model_filepath": "m.cbm", "params": {"depth": 6}}
    assert framework.model_dump() == payload
    version = ModelVersion.model_validate(examples.model_version(framework=payload))
    assert isinstance(version.manifest.framework, UnknownFramework)


def test_unknown_source_is_kept_with_all_fields() -> None:
    payload = {"type": "huggingface-hub", "repo_id": "org/model", "revision": "main"}
    source = SOURCE.validate_python(payload)
    assert isinstance(source, UnknownSource)
    assert source.model_dump() == payload


@pytest.mark.parametrize("bad", [{}, {"type": None}, {"type": 3}, "sklearn", None])
def test_framework_without_a_string_type_is_rejected(bad: Any) -> None:
    with pytest.raises(ValidationError):
        FRAMEWORK.validate_python(bad)


@pytest.mark.parametrize(
    ("payload", "missing"),
    [({"type": "external"}, "uri"), ({"type": "local"}, "file_or_folder")],
)
def test_known_source_still_needs_its_required_fields(payload: Any, missing: str) -> None:
    with pytest.raises(ValidationError, match=missing):
        SOURCE.validate_python(payload)


def test_subject_types_known_and_unknown() -> None:
    known = Subject.model_validate({"subjectId": "a", "subjectType": "serviceaccount"})
    assert known.subject_type is SubjectType.SERVICEACCOUNT
    unknown = Subject.model_validate({"subjectId": "a", "subjectType": "robot-overlord"})
    assert unknown.subject_type == "robot-overlord"
    assert not isinstance(unknown.subject_type, SubjectType)


def test_subject_accepts_names_and_aliases_and_dumps_camel_case() -> None:
    by_alias = Subject.model_validate(examples.SUBJECT)
    by_name = Subject(
        subject_id="u-123",
        subject_type=SubjectType.USER,
        subject_slug="jane@example.com",
        subject_display_name="Jane",
    )
    assert by_alias == by_name
    dumped = by_alias.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped == examples.SUBJECT


@pytest.mark.parametrize(
    ("framework", "field", "value"),
    [
        ("transformers", "library_name", "timm"),
        ("sklearn", "serialization_format", "skops"),
        ("xgboost", "serialization_format", "ubj"),
    ],
)
def test_unknown_values_of_other_enums_are_kept(framework: str, field: str, value: str) -> None:
    payload = {**examples.FRAMEWORKS[framework], field: value}
    assert getattr(FRAMEWORK.validate_python(payload), field) == value


def test_known_enum_values_become_members() -> None:
    sklearn = FRAMEWORK.validate_python(examples.FRAMEWORKS["sklearn"])
    assert isinstance(sklearn, m.SklearnFramework)
    assert sklearn.serialization_format is m.SklearnSerializationFormat.JOBLIB
    assert sklearn.model_schema is not None
    assert sklearn.model_schema.infer_method_name is m.InferMethodName.PREDICT_PROBA
    transformers = FRAMEWORK.validate_python({"type": "transformers"})
    assert isinstance(transformers, m.TransformersFramework)
    assert transformers.library_name is m.LibraryName.TRANSFORMERS


# --- required fields, straight from the spec's `required` lists ----------------------------


def _valid_payloads() -> dict[str, tuple[type[Any], dict[str, Any]]]:
    version = examples.model_version()
    return {
        "Model": (Model, examples.model()),
        "ModelVersion": (ModelVersion, version),
        "ModelManifest": (ModelManifest, version["manifest"]),
        "Subject": (Subject, dict(examples.SUBJECT)),
        "Metric": (m.Metric, {"key": "auc", "value": 0.5}),
        "Pagination": (Pagination, {"total": 3, "offset": 0, "limit": 2}),
        "ListModelsResponse": (ListModelsResponse, examples.page([examples.model()])),
        "ValidationError": (
            ValidationErrorDetail,
            {"loc": ["query", "limit"], "msg": "bad", "type": "int_parsing"},
        ),
        "ExternalBlobStorageSource": (m.ExternalBlobStorageSource, examples.SOURCES["external"]),
        "LocalModelSource": (m.LocalModelSource, examples.SOURCES["local"]),
        "SklearnModelSchema": (
            m.SklearnModelSchema,
            examples.FRAMEWORKS["sklearn"]["model_schema"],
        ),
        "XGBoostModelSchema": (
            m.XGBoostModelSchema,
            examples.FRAMEWORKS["xgboost"]["model_schema"],
        ),
    }


def _required_cases() -> list[tuple[str, str]]:
    schemas = load_spec()["components"]["schemas"]
    return [
        (name, field)
        for name in sorted(_valid_payloads())
        for field in schemas[name].get("required", [])
    ]


def test_every_schema_with_required_fields_is_covered() -> None:
    schemas = load_spec()["components"]["schemas"]
    with_required = {
        name
        for name, schema in schemas.items()
        if schema.get("required")
        and not name.endswith("Framework")
        and name != "TrueFoundryManagedSource"
    }
    # Framework and TrueFoundry source schemas only require `type`, covered by the union tests.
    assert with_required <= set(_valid_payloads())


@pytest.mark.parametrize("payload_name", sorted(_valid_payloads()))
def test_valid_payloads_are_spec_valid_and_parse(payload_name: str) -> None:
    cls, payload = _valid_payloads()[payload_name]
    assert_spec_valid(payload_name, payload)
    cls.model_validate(payload)


@pytest.mark.parametrize(("schema_name", "field"), _required_cases())
def test_missing_required_field_is_rejected(schema_name: str, field: str) -> None:
    cls, payload = _valid_payloads()[schema_name]
    broken = copy.deepcopy(payload)
    del broken[field]
    with pytest.raises(ValidationError):
        cls.model_validate(broken)


# --- leniency ---------------------------------------------------------------------------


def _with_extras(node: Any) -> Any:
    if isinstance(node, dict):
        return {**{k: _with_extras(v) for k, v in node.items()}, "added_in_2030": {"x": [1]}}
    if isinstance(node, list):
        return [_with_extras(item) for item in node]
    return node


def test_extra_fields_anywhere_are_ignored() -> None:
    payload = examples.model()
    payload["latest_version"]["manifest"]["framework"] = examples.FRAMEWORKS["transformers"]
    noisy = _with_extras(payload)
    # metadata and model_schema inputs are free-form objects: their keys are data, not schema.
    noisy["latest_version"]["manifest"]["metadata"] = payload["latest_version"]["manifest"][
        "metadata"
    ]
    assert Model.model_validate(noisy) == Model.model_validate(payload)


def test_null_means_the_spec_default() -> None:
    payload = examples.model_version()
    payload.update(tags=None, metrics=None, deployable=None)
    payload["manifest"].update(step=None, type=None)
    version = ModelVersion.model_validate(payload)
    assert version.tags == ()
    assert version.metrics == ()
    assert version.deployable is False
    assert version.manifest.step == 0
    assert version.manifest.type == "model-version"


def test_optional_fields_may_be_absent_or_null() -> None:
    minimal = {
        "id": "v",
        "fqn": "model:a/b/c:1",
        "created_by_subject": {"subjectId": "s", "subjectType": "user", "subjectSlug": None},
        "manifest": {
            "name": "c",
            "metadata": {},
            "ml_repo": "b",
            "source": {"type": "local", "file_or_folder": "."},
            "framework": None,
        },
        "ml_repo_id": "r",
        "model_id": "m",
        "version_alias": None,
        "created_at": None,
    }
    version = ModelVersion.model_validate(minimal)
    assert version.deployable is False
    assert version.manifest.framework is None
    assert version.manifest.version is None


def test_spec_patterns_and_lengths_are_not_enforced() -> None:
    payload = examples.model_version()
    payload["manifest"].update(
        name="Fraud Model (v2)",
        ml_repo="x",
        version_alias="latest",
        description="d" * 2000,
        version=0,
    )
    payload["manifest"]["source"] = {"type": "external", "uri": "https://not-a-bucket/path"}
    payload["manifest"]["environment"] = {"python_version": "three point eleven"}
    version = ModelVersion.model_validate(payload)
    assert version.manifest.name == "Fraud Model (v2)"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("created_by_subject",), "jane"),
        (("deployable",), "maybe"),
        (("manifest", "version"), "seven"),
        (("manifest", "metadata"), ["not", "an", "object"]),
        (("tags",), "prod"),
        (("created_at",), "yesterday"),
        (("manifest", "source"), "s3://bucket"),
    ],
)
def test_wrong_types_are_rejected(path: tuple[str, ...], value: Any) -> None:
    payload = examples.model_version()
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError):
        ModelVersion.model_validate(payload)


def test_models_are_frozen() -> None:
    version = ModelVersion.model_validate(examples.model_version())
    with pytest.raises(ValidationError):
        version.deployable = False  # type: ignore[misc]
    framework = FRAMEWORK.validate_python({"type": "new-thing", "a": 1})
    with pytest.raises(ValidationError):
        framework.type = "other"  # type: ignore[misc]


def test_http_validation_error_detail() -> None:
    body = {
        "detail": [
            {"loc": ["query", "limit"], "msg": "Input should be a valid integer", "type": "int"},
            {"loc": ["body", 0, "name"], "msg": "Field required", "type": "missing", "input": {}},
        ]
    }
    assert_spec_valid("HTTPValidationError", body)
    parsed = HTTPValidationError.model_validate(body)
    assert parsed.detail[1].loc == ("body", 0, "name")
    assert HTTPValidationError.model_validate({}).detail == ()


def test_list_model_versions_response() -> None:
    parsed = ListModelVersionsResponse.model_validate(
        examples.page([examples.model_version(version=1), examples.model_version(version=2)])
    )
    assert [v.manifest.version for v in parsed.data] == [1, 2]


# --- page parsing with per-model leniency -------------------------------------------------


def test_page_keeps_good_models_and_reports_bad_ones() -> None:
    broken = examples.model("m-broken")
    del broken["created_by_subject"]
    broken["secret_looking"] = "do-not-echo-me"
    payload = examples.page([examples.model("m-1"), broken, 42, examples.model("m-3")])
    page = parse_page(payload, Model)
    assert [model.id for model in page.items] == ["m-1", "m-3"]
    assert page.size == 4
    assert page.pagination.total == 4
    assert [s.id for s in page.skipped] == ["m-broken", None]
    assert isinstance(page.skipped[0], SkippedModel)
    assert "created_by_subject" in page.skipped[0].reason
    assert "Field required" in page.skipped[0].reason
    assert all("do-not-echo-me" not in s.reason for s in page.skipped)


def test_page_reason_is_short_when_a_model_is_very_wrong() -> None:
    page = parse_page(examples.page([{"id": "x", "name": 1, "fqn": [], "ml_repo_id": {}}]), Model)
    assert page.skipped[0].reason.endswith("more")


@pytest.mark.parametrize(
    "payload",
    [
        {"data": []},
        {"pagination": {"total": 0}},
        {"data": {}, "pagination": {"total": 0}},
        {"data": [], "pagination": {"offset": 0}},
        [],
        "text",
        None,
    ],
)
def test_bad_envelope_is_rejected(payload: Any) -> None:
    with pytest.raises(ValidationError):
        parse_page(payload, Model)
