"""Pydantic models of the TrueFoundry catalog API (List Models and model versions).

Lenient on purpose, because these parse responses of a service we do not control:
- unknown fields are ignored; an unknown `framework.type` / `source.type` is kept as
  `UnknownFramework` / `UnknownSource` (all fields preserved); unknown enum values
  (subject type, library name, serialization format, ...) are kept as plain `str`;
- a `null` where the spec gives a default (`deployable`, `step`, `tags`, ...) means the default;
- the spec's `pattern`, `maxLength` and `minimum` constraints are NOT enforced: names and
  aliases are the catalog's to decide, and we only reject what breaks us (missing required
  fields, values of the wrong type).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
)

__all__ = [
    "ExternalBlobStorageSource",
    "FastAIFramework",
    "Framework",
    "GluonFramework",
    "H2OFramework",
    "HTTPValidationError",
    "InferMethodName",
    "KerasFramework",
    "LibraryName",
    "LightGBMFramework",
    "ListModelVersionsResponse",
    "ListModelsResponse",
    "LocalModelSource",
    "Metric",
    "Model",
    "ModelManifest",
    "ModelVersion",
    "ModelVersionEnvironment",
    "ONNXFramework",
    "PaddleFramework",
    "Pagination",
    "PyTorchFramework",
    "SklearnFramework",
    "SklearnModelSchema",
    "SklearnSerializationFormat",
    "Source",
    "SpaCyFramework",
    "StatsModelsFramework",
    "Subject",
    "SubjectType",
    "TensorFlowFramework",
    "TransformersFramework",
    "TrueFoundryManagedSource",
    "UnknownFramework",
    "UnknownSource",
    "ValidationErrorDetail",
    "XGBoostFramework",
    "XGBoostModelSchema",
    "XGBoostSerializationFormat",
]


class _ApiModel(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
    )


def _null_means(default: Any) -> BeforeValidator:
    """A `null` in the payload stands for the spec's default value."""
    return BeforeValidator(lambda value: default if value is None else value)


def _open_enum() -> Any:
    """Known values become the enum member, unknown strings stay `str` (forward compatible)."""
    return Field(union_mode="left_to_right")


# --- enums (open: the `| str` fields below keep values added by the vendor later) ----------


class SubjectType(StrEnum):
    USER = "user"
    TEAM = "team"
    SERVICEACCOUNT = "serviceaccount"
    VIRTUALACCOUNT = "virtualaccount"
    EXTERNAL_IDENTITY = "external-identity"
    AGENT_IDENTITY = "agent-identity"
    ROLE = "role"


class LibraryName(StrEnum):
    TRANSFORMERS = "transformers"
    SENTENCE_TRANSFORMERS = "sentence-transformers"
    DIFFUSERS = "diffusers"


class SklearnSerializationFormat(StrEnum):
    CLOUDPICKLE = "cloudpickle"
    JOBLIB = "joblib"
    PICKLE = "pickle"


class XGBoostSerializationFormat(StrEnum):
    CLOUDPICKLE = "cloudpickle"
    JOBLIB = "joblib"
    PICKLE = "pickle"
    JSON = "json"


class InferMethodName(StrEnum):
    PREDICT = "predict"
    PREDICT_PROBA = "predict_proba"


# --- small shared pieces ------------------------------------------------------------------


class Subject(_ApiModel):
    subject_id: str = Field(alias="subjectId")
    subject_type: Annotated[SubjectType | str, _open_enum()] = Field(alias="subjectType")
    subject_slug: str | None = Field(default=None, alias="subjectSlug")
    subject_display_name: str | None = Field(default=None, alias="subjectDisplayName")
    subject_pat_name: str | None = Field(default=None, alias="subjectPatName")
    subject_controller_name: str | None = Field(default=None, alias="subjectControllerName")
    subject_external_identity_slug: str | None = Field(
        default=None, alias="subjectExternalIdentitySlug"
    )


class Metric(_ApiModel):
    key: str
    value: float | None = None
    timestamp: int | None = None
    step: Annotated[int, _null_means(0)] = 0


class ModelVersionEnvironment(_ApiModel):
    python_version: str | None = None
    pip_packages: Annotated[tuple[str, ...], _null_means(())] = ()


class Pagination(_ApiModel):
    total: int
    offset: int | None = None
    limit: int | None = None


class ValidationErrorDetail(_ApiModel):
    """One entry of a 422 body (the spec's `ValidationError`, renamed to avoid pydantic's)."""

    loc: tuple[str | int, ...]
    msg: str
    type: str


class HTTPValidationError(_ApiModel):
    detail: Annotated[tuple[ValidationErrorDetail, ...], _null_means(())] = ()


# --- sources ------------------------------------------------------------------------------


class TrueFoundryManagedSource(_ApiModel):
    type: Literal["truefoundry"]
    uri: str | None = None


class ExternalBlobStorageSource(_ApiModel):
    type: Literal["external"]
    uri: str


class LocalModelSource(_ApiModel):
    type: Literal["local"]
    file_or_folder: str


class UnknownSource(BaseModel):
    """A source type this version of modelsync does not know; every field is kept."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str


# --- frameworks ---------------------------------------------------------------------------


class TransformersFramework(_ApiModel):
    type: Literal["transformers"]
    library_name: Annotated[LibraryName | str, _open_enum(), _null_means("transformers")] = (
        LibraryName.TRANSFORMERS
    )
    pipeline_tag: str | None = None
    base_model: str | None = None


class TensorFlowFramework(_ApiModel):
    type: Literal["tensorflow"]


class SklearnModelSchema(_ApiModel):
    infer_method_name: Annotated[InferMethodName | str, _open_enum()]
    inputs: tuple[dict[str, JsonValue], ...]
    outputs: tuple[dict[str, JsonValue], ...]


class SklearnFramework(_ApiModel):
    type: Literal["sklearn"]
    model_filepath: str | None = None
    serialization_format: Annotated[SklearnSerializationFormat | str | None, _open_enum()] = None
    model_schema: SklearnModelSchema | None = None


class PyTorchFramework(_ApiModel):
    type: Literal["pytorch"]


class KerasFramework(_ApiModel):
    type: Literal["keras"]


class XGBoostModelSchema(_ApiModel):
    infer_method_name: Annotated[InferMethodName | str, _open_enum()]
    inputs: tuple[dict[str, JsonValue], ...]
    outputs: tuple[dict[str, JsonValue], ...]


class XGBoostFramework(_ApiModel):
    type: Literal["xgboost"]
    serialization_format: Annotated[XGBoostSerializationFormat | str | None, _open_enum()] = None
    model_filepath: str | None = None
    model_schema: XGBoostModelSchema | None = None


class LightGBMFramework(_ApiModel):
    type: Literal["lightgbm"]


class FastAIFramework(_ApiModel):
    type: Literal["fastai"]


class H2OFramework(_ApiModel):
    type: Literal["h2o"]


class ONNXFramework(_ApiModel):
    type: Literal["onnx"]


class SpaCyFramework(_ApiModel):
    type: Literal["spacy"]


class StatsModelsFramework(_ApiModel):
    type: Literal["statsmodels"]


class GluonFramework(_ApiModel):
    type: Literal["gluon"]


class PaddleFramework(_ApiModel):
    type: Literal["paddle"]


class UnknownFramework(BaseModel):
    """A framework type this version of modelsync does not know; every field is kept."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str


# --- discriminated unions with a fallback for unknown tags ----------------------------------

_UNKNOWN = "__unknown__"

_SOURCE_TYPES: dict[str, type[_ApiModel]] = {
    "truefoundry": TrueFoundryManagedSource,
    "external": ExternalBlobStorageSource,
    "local": LocalModelSource,
}

_FRAMEWORK_TYPES: dict[str, type[_ApiModel]] = {
    "transformers": TransformersFramework,
    "tensorflow": TensorFlowFramework,
    "sklearn": SklearnFramework,
    "pytorch": PyTorchFramework,
    "keras": KerasFramework,
    "xgboost": XGBoostFramework,
    "lightgbm": LightGBMFramework,
    "fastai": FastAIFramework,
    "h2o": H2OFramework,
    "onnx": ONNXFramework,
    "spacy": SpaCyFramework,
    "statsmodels": StatsModelsFramework,
    "gluon": GluonFramework,
    "paddle": PaddleFramework,
}


def _tagger(known: dict[str, type[_ApiModel]]) -> Discriminator:
    def tag(value: Any) -> str | None:
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        if not isinstance(kind, str):
            return None  # no usable `type`: pydantic reports the missing discriminator
        return kind if kind in known else _UNKNOWN

    return Discriminator(tag)


Source: TypeAlias = Annotated[
    Annotated[TrueFoundryManagedSource, Tag("truefoundry")]
    | Annotated[ExternalBlobStorageSource, Tag("external")]
    | Annotated[LocalModelSource, Tag("local")]
    | Annotated[UnknownSource, Tag(_UNKNOWN)],
    _tagger(_SOURCE_TYPES),
]

Framework: TypeAlias = Annotated[
    Annotated[TransformersFramework, Tag("transformers")]
    | Annotated[TensorFlowFramework, Tag("tensorflow")]
    | Annotated[SklearnFramework, Tag("sklearn")]
    | Annotated[PyTorchFramework, Tag("pytorch")]
    | Annotated[KerasFramework, Tag("keras")]
    | Annotated[XGBoostFramework, Tag("xgboost")]
    | Annotated[LightGBMFramework, Tag("lightgbm")]
    | Annotated[FastAIFramework, Tag("fastai")]
    | Annotated[H2OFramework, Tag("h2o")]
    | Annotated[ONNXFramework, Tag("onnx")]
    | Annotated[SpaCyFramework, Tag("spacy")]
    | Annotated[StatsModelsFramework, Tag("statsmodels")]
    | Annotated[GluonFramework, Tag("gluon")]
    | Annotated[PaddleFramework, Tag("paddle")]
    | Annotated[UnknownFramework, Tag(_UNKNOWN)],
    _tagger(_FRAMEWORK_TYPES),
]


# --- the main resources -------------------------------------------------------------------


class ModelManifest(_ApiModel):
    name: str
    metadata: dict[str, JsonValue]
    ml_repo: str
    source: Source
    version: int | None = None
    type: Annotated[str, _null_means("model-version")] = "model-version"
    description: str | None = None
    version_alias: str | None = None
    framework: Framework | None = None
    environment: ModelVersionEnvironment | None = None
    step: Annotated[int, _null_means(0)] = 0
    run_id: str | None = None


class ModelVersion(_ApiModel):
    id: str
    fqn: str
    created_by_subject: Subject
    manifest: ModelManifest
    ml_repo_id: str
    model_id: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    tags: Annotated[tuple[str, ...], _null_means(())] = ()
    version_alias: str | None = None
    usage_code_snippet: str | None = None
    metrics: Annotated[tuple[Metric, ...], _null_means(())] = ()
    deployable: Annotated[bool, _null_means(False)] = False


class Model(_ApiModel):
    id: str
    ml_repo_id: str
    name: str
    fqn: str
    created_by_subject: Subject
    type: Annotated[str, _null_means("model")] = "model"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    latest_version: ModelVersion | None = None
    run_steps: Annotated[tuple[int, ...], _null_means(())] = ()


class ListModelsResponse(_ApiModel):
    data: tuple[Model, ...]
    pagination: Pagination


class ListModelVersionsResponse(_ApiModel):
    data: tuple[ModelVersion, ...]
    pagination: Pagination
