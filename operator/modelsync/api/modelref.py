"""ModelRef spec and status: catalog facts in spec, verdicts in status (docs/reference.md)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field

from modelsync.api.conditions import Condition
from modelsync.api.wire import (
    Int64,
    NonNegativeInt64,
    RFC3339Text,
    TimestampText,
    WireModel,
    is_empty,
)


class ModelInfo(WireModel):
    id: str
    name: str
    fqn: str
    ml_repo_id: str | None = None
    ml_repo: str | None = None


class CreatedBy(WireModel):
    subject_id: str | None = None
    subject_type: str | None = None
    subject_slug: str | None = None
    subject_display_name: str | None = None


class FrameworkInfo(WireModel):
    """`type` plus framework-specific fields, stored under the keys they are given
    (callers pass camelCase keys, e.g. modelFilepath, serializationFormat); null ones are
    left out of to_k8s."""

    model_config = ConfigDict(extra="allow")

    type: str


class SourceInfo(WireModel):
    type: str
    uri: str | None = None
    file_or_folder: str | None = None


class EnvironmentInfo(WireModel):
    python_version: str | None = None
    pip_packages: list[str] = Field(default_factory=list, exclude_if=is_empty)


def _finite_or_none(value: object) -> object:
    # NaN and infinities have no JSON form the API server accepts.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricPoint(WireModel):
    key: str
    value: Annotated[float | None, BeforeValidator(_finite_or_none)] = None
    step: Int64 | None = None
    timestamp: Int64 | None = None


class VersionInfo(WireModel):
    id: str
    fqn: str
    version: Int64 | None = None
    version_alias: str | None = None
    deployable: bool | None = None
    created_at: TimestampText | None = None
    updated_at: TimestampText | None = None
    created_by: CreatedBy | None = None
    tags: list[str] = Field(default_factory=list, exclude_if=is_empty)
    description: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict, exclude_if=is_empty)
    framework: FrameworkInfo | None = None
    source: SourceInfo | None = None
    environment: EnvironmentInfo | None = None
    metrics: list[MetricPoint] = Field(default_factory=list, exclude_if=is_empty)
    step: Int64 | None = None
    run_id: str | None = None


class ModelRefSpec(WireModel):
    """`version` is the chosen version; without a deployable one, the latest (the ModelRef is
    then Ready=False NoDeployableVersion). The operator always writes it; None only in an object
    written by someone else."""

    model: ModelInfo
    version: VersionInfo | None = None
    # True only when the version comes from a pin; never False, so that ModelRefs written
    # before pins existed keep their spec digest.
    pinned: bool | None = None


class ModelRefStatus(WireModel):
    observed_generation: NonNegativeInt64 | None = None
    conditions: list[Condition] = Field(default_factory=list, exclude_if=is_empty)
    previous_version: Int64 | None = None
    version_changed_at: RFC3339Text | None = None
