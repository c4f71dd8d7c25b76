"""Lean, frozen msgspec records of catalog models and versions: what the planner reads.

The attribute names and value types are those of the pydantic models of catalog/models.py
(`model.latest_version.manifest.framework.type`, `version.tags` a tuple, `version.deployable`
a bool, `created_at` a datetime or None), with open enums as plain `str` and time zones as
`datetime.timezone`. catalog/pages.py decodes page bytes straight into them; `record_of` and
`version_record_of` convert the pydantic models (the fallback path, and tests).

The record classes double as the fast decoder's schema, so they are strict: they accept only
what the pydantic models accept and read it the same way; whatever they refuse (a `null`
where the spec gives a default, an unknown framework or source `type`, a numeric string, a
subject field under its Python name, ...) sends the page to the pydantic path. Fields the
planner does not read are still declared, so that they are checked as pydantic checks them;
they are small and kept, except `usage_code_snippet`, which is checked and then dropped.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeAlias, TypeVar

from msgspec import UNSET, Meta, Struct, UnsetType, field
from msgspec.structs import force_setattr
from pydantic import BaseModel

from modelsync.catalog import models as m

__all__ = [
    "ExternalSourceRecord",
    "FastAIFrameworkRecord",
    "FrameworkRecord",
    "GluonFrameworkRecord",
    "H2OFrameworkRecord",
    "KerasFrameworkRecord",
    "LightGBMFrameworkRecord",
    "LocalSourceRecord",
    "ManifestRecord",
    "MetricRecord",
    "ModelRecord",
    "ModelSchemaRecord",
    "ONNXFrameworkRecord",
    "PaddleFrameworkRecord",
    "PaginationRecord",
    "PyTorchFrameworkRecord",
    "RecordSharing",
    "SklearnFrameworkRecord",
    "SourceRecord",
    "SpaCyFrameworkRecord",
    "StatsModelsFrameworkRecord",
    "SubjectRecord",
    "TensorFlowFrameworkRecord",
    "TransformersFrameworkRecord",
    "TrueFoundrySourceRecord",
    "UnknownFrameworkRecord",
    "UnknownSourceRecord",
    "VersionEnvironmentRecord",
    "VersionRecord",
    "XGBoostFrameworkRecord",
    "record_of",
    "version_record_of",
]


# A field under a name the fast path must not accept: pydantic reads the subject's fields by
# their Python names too (`subject_id` as well as `subjectId`), so such a key sends the page
# to the pydantic path. Present with any value, it fails (no string is both empty and not).
_Refused: TypeAlias = Annotated[str, Meta(min_length=1, max_length=0)] | UnsetType


def _refused(name: str) -> Any:
    return field(default=UNSET, name=name)


class _Record(Struct, frozen=True, gc=False):
    """Immutable trees of strings, numbers and JSON containers: no cycles, so no GC tracking."""


class SubjectRecord(_Record, frozen=True, gc=False, repr_omit_defaults=True):
    subject_id: str = field(name="subjectId")
    subject_type: str = field(name="subjectType")
    subject_slug: str | None = field(default=None, name="subjectSlug")
    subject_display_name: str | None = field(default=None, name="subjectDisplayName")
    subject_pat_name: str | None = field(default=None, name="subjectPatName")
    subject_controller_name: str | None = field(default=None, name="subjectControllerName")
    subject_external_identity_slug: str | None = field(
        default=None, name="subjectExternalIdentitySlug"
    )
    _by_name_subject_id: _Refused = _refused("subject_id")
    _by_name_subject_type: _Refused = _refused("subject_type")
    _by_name_subject_slug: _Refused = _refused("subject_slug")
    _by_name_subject_display_name: _Refused = _refused("subject_display_name")
    _by_name_subject_pat_name: _Refused = _refused("subject_pat_name")
    _by_name_subject_controller_name: _Refused = _refused("subject_controller_name")
    _by_name_subject_external_identity_slug: _Refused = _refused("subject_external_identity_slug")


class MetricRecord(_Record, frozen=True, gc=False):
    key: str
    value: float | None = None
    timestamp: int | None = None
    step: int = 0


class VersionEnvironmentRecord(_Record, frozen=True, gc=False):
    python_version: str | None = None
    pip_packages: tuple[str, ...] = ()


class PaginationRecord(_Record, frozen=True, gc=False):
    total: int
    offset: int | None = None
    limit: int | None = None


# --- sources ------------------------------------------------------------------------------


class _TaggedSource(_Record, frozen=True, gc=False, tag_field="type"):
    @property
    def type(self) -> str:
        tag = self.__struct_config__.tag
        assert isinstance(tag, str)
        return tag


class TrueFoundrySourceRecord(_TaggedSource, frozen=True, gc=False, tag="truefoundry"):
    uri: str | None = None


class ExternalSourceRecord(_TaggedSource, frozen=True, gc=False, tag="external"):
    uri: str


class LocalSourceRecord(_TaggedSource, frozen=True, gc=False, tag="local"):
    file_or_folder: str


class UnknownSourceRecord(_Record, frozen=True, gc=False):
    """A source type this version of modelsync does not know, with all its other fields
    (only the pydantic path makes these)."""

    type: str
    extra: dict[str, Any] = field(default_factory=dict)


# --- frameworks ---------------------------------------------------------------------------


class _TaggedFramework(_Record, frozen=True, gc=False, tag_field="type"):
    @property
    def type(self) -> str:
        tag = self.__struct_config__.tag
        assert isinstance(tag, str)
        return tag


class ModelSchemaRecord(_Record, frozen=True, gc=False):
    infer_method_name: str
    inputs: tuple[dict[str, Any], ...]
    outputs: tuple[dict[str, Any], ...]


class TransformersFrameworkRecord(_TaggedFramework, frozen=True, gc=False, tag="transformers"):
    library_name: str = "transformers"
    pipeline_tag: str | None = None
    base_model: str | None = None


class TensorFlowFrameworkRecord(_TaggedFramework, frozen=True, gc=False, tag="tensorflow"):
    pass


class SklearnFrameworkRecord(_TaggedFramework, frozen=True, gc=False, tag="sklearn"):
    model_filepath: str | None = None
    serialization_format: str | None = None
    model_schema: ModelSchemaRecord | None = None


class PyTorchFrameworkRecord(_TaggedFramework, frozen=True, gc=False, tag="pytorch"):
    pass


class KerasFrameworkRecord(_TaggedFramework, frozen=True, gc=False, tag="keras"):
    pass


class XGBoostFrameworkRecord(_TaggedFramework, frozen=True, gc=False, tag="xgboost"):
    serialization_format: str | None = None
    model_filepath: str | None = None
    model_schema: ModelSchemaRecord | None = None


class LightGBMFrameworkRecord(_TaggedFramework, frozen=True, gc=False, tag="lightgbm"):
    pass


class FastAIFrameworkRecord(_TaggedFramework, frozen=True, gc=False, tag="fastai"):
    pass


class H2OFrameworkRecord(_TaggedFramework, frozen=True, gc=False, tag="h2o"):
    pass


class ONNXFrameworkRecord(_TaggedFramework, frozen=True, gc=False, tag="onnx"):
    pass


class SpaCyFrameworkRecord(_TaggedFramework, frozen=True, gc=False, tag="spacy"):
    pass


class StatsModelsFrameworkRecord(_TaggedFramework, frozen=True, gc=False, tag="statsmodels"):
    pass


class GluonFrameworkRecord(_TaggedFramework, frozen=True, gc=False, tag="gluon"):
    pass


class PaddleFrameworkRecord(_TaggedFramework, frozen=True, gc=False, tag="paddle"):
    pass


class UnknownFrameworkRecord(_Record, frozen=True, gc=False):
    """A framework type this version of modelsync does not know, with all its other fields
    (only the pydantic path makes these)."""

    type: str
    extra: dict[str, Any] = field(default_factory=dict)


_KnownSource: TypeAlias = TrueFoundrySourceRecord | ExternalSourceRecord | LocalSourceRecord
_KnownFramework: TypeAlias = (
    TransformersFrameworkRecord
    | TensorFlowFrameworkRecord
    | SklearnFrameworkRecord
    | PyTorchFrameworkRecord
    | KerasFrameworkRecord
    | XGBoostFrameworkRecord
    | LightGBMFrameworkRecord
    | FastAIFrameworkRecord
    | H2OFrameworkRecord
    | ONNXFrameworkRecord
    | SpaCyFrameworkRecord
    | StatsModelsFrameworkRecord
    | GluonFrameworkRecord
    | PaddleFrameworkRecord
)

if TYPE_CHECKING:
    SourceRecord: TypeAlias = _KnownSource | UnknownSourceRecord
    FrameworkRecord: TypeAlias = _KnownFramework | UnknownFrameworkRecord
else:
    # The decoder sees the known types only: an unknown `type` fails the fast path, and the
    # pydantic path then builds the Unknown*Record that a record may hold as well.
    SourceRecord = _KnownSource
    FrameworkRecord = _KnownFramework


# --- the main resources -------------------------------------------------------------------


class ManifestRecord(_Record, frozen=True, gc=False):
    name: str
    metadata: dict[str, Any]
    ml_repo: str
    source: SourceRecord
    version: int | None = None
    type: str = "model-version"
    description: str | None = None
    version_alias: str | None = None
    framework: FrameworkRecord | None = None
    environment: VersionEnvironmentRecord | None = None
    step: int = 0
    run_id: str | None = None


class VersionRecord(_Record, frozen=True, gc=False):
    id: str
    fqn: str
    created_by_subject: SubjectRecord
    manifest: ManifestRecord
    ml_repo_id: str
    model_id: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    tags: tuple[str, ...] = ()
    version_alias: str | None = None
    # Checked to be a string or null as pydantic checks it, then dropped (None in every
    # record): the planner never reads it, and it may be long.
    _usage_code_snippet: str | None = field(default=None, name="usage_code_snippet")
    metrics: tuple[MetricRecord, ...] = ()
    deployable: bool = False


class ModelRecord(_Record, frozen=True, gc=False):
    id: str
    ml_repo_id: str
    name: str
    fqn: str
    created_by_subject: SubjectRecord
    type: str = "model"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    latest_version: VersionRecord | None = None
    run_steps: tuple[int, ...] = ()


# --- sharing equal parts -------------------------------------------------------------------

_T = TypeVar("_T")


def _interned(value: str) -> str:
    return sys.intern(value) if type(value) is str else value


class RecordSharing:
    """Keeps one object for each equal immutable part of the records of one listing.

    A catalog repeats much of what a model holds besides its own ids and names: the same few
    subjects (who created the model and the version), environments and ML repo ids, and the
    version's `model_id` is the model's `id`; a decoder makes each anew for every model.
    Sharing them cuts the records' memory by a third (10,000 bench models: 36 MiB to 25 MiB)
    for less CPU than a quarter of the page decoding. `share_model` and `share_version`
    replace such a part of a freshly decoded record (not yet seen by anyone else) by the
    equal one an earlier record holds. Only strings and records of strings, None and tuples
    of strings are shared: for them equal means identical in every way (no 1 == 1.0 == True,
    -0.0 == 0.0 or equal instants in other time zones), so no value, digest or rendering
    changes. Keys are plain tuples of the fields: hashing them costs less than hashing the
    records.
    """

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: dict[object, Any] = {}

    def _one(self, key: object, value: _T) -> _T:
        try:
            found: _T = self._parts.setdefault(key, value)
        except TypeError:  # holds a dict (a model schema, an unknown type's extra fields)
            return value
        return found

    def _subject(self, subject: SubjectRecord) -> SubjectRecord:
        # Its refused fields are unset in every record.
        key = (
            SubjectRecord,
            subject.subject_id,
            subject.subject_type,
            subject.subject_slug,
            subject.subject_display_name,
            subject.subject_pat_name,
            subject.subject_controller_name,
            subject.subject_external_identity_slug,
        )
        return self._one(key, subject)

    def share_model(self, model: ModelRecord) -> None:
        force_setattr(model, "ml_repo_id", _interned(model.ml_repo_id))
        force_setattr(model, "created_by_subject", self._subject(model.created_by_subject))
        if model.latest_version is not None:
            self.share_version(model.latest_version, model)

    def share_version(self, version: VersionRecord, model: ModelRecord | None = None) -> None:
        """`model`: the model whose latest version this is (its ids are reused)."""
        if model is not None and version.model_id == model.id:
            force_setattr(version, "model_id", model.id)
        if model is not None and version.ml_repo_id == model.ml_repo_id:
            force_setattr(version, "ml_repo_id", model.ml_repo_id)
        else:
            force_setattr(version, "ml_repo_id", _interned(version.ml_repo_id))
        force_setattr(version, "created_by_subject", self._subject(version.created_by_subject))
        manifest = version.manifest
        environment = manifest.environment
        if environment is not None:
            shared = self._one(
                (VersionEnvironmentRecord, environment.python_version, environment.pip_packages),
                environment,
            )
            force_setattr(manifest, "environment", shared)


# --- from the pydantic models -------------------------------------------------------------

_ZERO = timedelta(0)


def _text(value: str) -> str:
    """An open enum's value as a plain `str`."""
    return str(value.value) if isinstance(value, Enum) else value


def _optional_text(value: str | None) -> str | None:
    return None if value is None else _text(value)


def _time(value: datetime | None) -> datetime | None:
    """The same instant with a `datetime.timezone`, as msgspec decodes it (pydantic uses a
    tzinfo class of its own)."""
    if value is None or value.tzinfo is None:
        return value
    offset = value.utcoffset()
    assert offset is not None
    return value.replace(tzinfo=UTC if offset == _ZERO else timezone(offset))


def _subject(subject: m.Subject) -> SubjectRecord:
    return SubjectRecord(
        subject_id=subject.subject_id,
        subject_type=_text(subject.subject_type),
        subject_slug=subject.subject_slug,
        subject_display_name=subject.subject_display_name,
        subject_pat_name=subject.subject_pat_name,
        subject_controller_name=subject.subject_controller_name,
        subject_external_identity_slug=subject.subject_external_identity_slug,
    )


def _source(source: m.Source) -> SourceRecord:
    if isinstance(source, m.TrueFoundryManagedSource):
        return TrueFoundrySourceRecord(uri=source.uri)
    if isinstance(source, m.ExternalBlobStorageSource):
        return ExternalSourceRecord(uri=source.uri)
    if isinstance(source, m.LocalModelSource):
        return LocalSourceRecord(file_or_folder=source.file_or_folder)
    return UnknownSourceRecord(type=source.type, extra=dict(source.model_extra or {}))


def _schema(schema: m.SklearnModelSchema | m.XGBoostModelSchema | None) -> ModelSchemaRecord | None:
    if schema is None:
        return None
    return ModelSchemaRecord(
        infer_method_name=_text(schema.infer_method_name),
        inputs=tuple(schema.inputs),
        outputs=tuple(schema.outputs),
    )


_PLAIN_FRAMEWORKS: Final[dict[type[BaseModel], Callable[[], FrameworkRecord]]] = {
    m.TensorFlowFramework: TensorFlowFrameworkRecord,
    m.PyTorchFramework: PyTorchFrameworkRecord,
    m.KerasFramework: KerasFrameworkRecord,
    m.LightGBMFramework: LightGBMFrameworkRecord,
    m.FastAIFramework: FastAIFrameworkRecord,
    m.H2OFramework: H2OFrameworkRecord,
    m.ONNXFramework: ONNXFrameworkRecord,
    m.SpaCyFramework: SpaCyFrameworkRecord,
    m.StatsModelsFramework: StatsModelsFrameworkRecord,
    m.GluonFramework: GluonFrameworkRecord,
    m.PaddleFramework: PaddleFrameworkRecord,
}


def _framework(framework: m.Framework | None) -> FrameworkRecord | None:
    if framework is None:
        return None
    if isinstance(framework, m.TransformersFramework):
        return TransformersFrameworkRecord(
            library_name=_text(framework.library_name),
            pipeline_tag=framework.pipeline_tag,
            base_model=framework.base_model,
        )
    if isinstance(framework, m.SklearnFramework):
        return SklearnFrameworkRecord(
            model_filepath=framework.model_filepath,
            serialization_format=_optional_text(framework.serialization_format),
            model_schema=_schema(framework.model_schema),
        )
    if isinstance(framework, m.XGBoostFramework):
        return XGBoostFrameworkRecord(
            serialization_format=_optional_text(framework.serialization_format),
            model_filepath=framework.model_filepath,
            model_schema=_schema(framework.model_schema),
        )
    if isinstance(framework, m.UnknownFramework):
        return UnknownFrameworkRecord(type=framework.type, extra=dict(framework.model_extra or {}))
    return _PLAIN_FRAMEWORKS[type(framework)]()


def _manifest(manifest: m.ModelManifest) -> ManifestRecord:
    environment = manifest.environment
    return ManifestRecord(
        name=manifest.name,
        metadata=manifest.metadata,
        ml_repo=manifest.ml_repo,
        source=_source(manifest.source),
        version=manifest.version,
        type=manifest.type,
        description=manifest.description,
        version_alias=manifest.version_alias,
        framework=_framework(manifest.framework),
        environment=None
        if environment is None
        else VersionEnvironmentRecord(
            python_version=environment.python_version, pip_packages=environment.pip_packages
        ),
        step=manifest.step,
        run_id=manifest.run_id,
    )


def version_record_of(version: m.ModelVersion) -> VersionRecord:
    """The record of a validated pydantic ModelVersion (what the fast decoder would give)."""
    return VersionRecord(
        id=version.id,
        fqn=version.fqn,
        created_by_subject=_subject(version.created_by_subject),
        manifest=_manifest(version.manifest),
        ml_repo_id=version.ml_repo_id,
        model_id=version.model_id,
        created_at=_time(version.created_at),
        updated_at=_time(version.updated_at),
        tags=version.tags,
        version_alias=version.version_alias,
        metrics=tuple(
            MetricRecord(key=x.key, value=x.value, timestamp=x.timestamp, step=x.step)
            for x in version.metrics
        ),
        deployable=version.deployable,
    )


def record_of(model: m.Model) -> ModelRecord:
    """The record of a validated pydantic Model (what the fast decoder would give)."""
    latest = model.latest_version
    return ModelRecord(
        id=model.id,
        ml_repo_id=model.ml_repo_id,
        name=model.name,
        fqn=model.fqn,
        created_by_subject=_subject(model.created_by_subject),
        type=model.type,
        created_at=_time(model.created_at),
        updated_at=_time(model.updated_at),
        latest_version=None if latest is None else version_record_of(latest),
        run_steps=model.run_steps,
    )
