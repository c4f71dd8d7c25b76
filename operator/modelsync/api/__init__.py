"""The two custom resources as pure data: pydantic models, naming, labels, conditions.

Imports only pydantic, google-re2 (namePattern) and the standard library.
"""

from modelsync.api.conditions import (
    Condition,
    condition,
    get_condition,
    is_true,
    ready,
    reconciling,
    remove_condition,
    set_condition,
    stalled,
)
from modelsync.api.constants import DeletionPolicy, FrameworkType, VersionPolicy
from modelsync.api.duration import format_duration, parse_duration
from modelsync.api.labels import (
    OWNED_ANNOTATION_KEYS,
    OWNED_LABEL_KEYS,
    is_qualified_name,
    is_valid_label_value,
    modelref_annotations,
    modelref_labels,
    sanitize_label_value,
    sync_selector,
)
from modelsync.api.modelcatalogsync import (
    CatalogCounts,
    CatalogSpec,
    ModelCatalogSyncSpec,
    ModelCatalogSyncStatus,
    ModelRefCounts,
    ModelRefTemplate,
    SecretKeySelector,
    SelectSpec,
    SyncFailure,
    SyncFilters,
    parse_spec,
    validate_spec,
)
from modelsync.api.modelref import (
    CreatedBy,
    EnvironmentInfo,
    FrameworkInfo,
    MetricPoint,
    ModelInfo,
    ModelRefSpec,
    ModelRefStatus,
    SourceInfo,
    VersionInfo,
)
from modelsync.api.naming import is_dns1123_subdomain, modelref_name
from modelsync.api.patterns import InvalidPattern, NamePattern, compile_name_pattern
from modelsync.api.timestamps import format_time, format_time_precise, is_rfc3339, parse_time
from modelsync.api.wire import WireModel

__all__ = [
    "OWNED_ANNOTATION_KEYS",
    "OWNED_LABEL_KEYS",
    "CatalogCounts",
    "CatalogSpec",
    "Condition",
    "CreatedBy",
    "DeletionPolicy",
    "EnvironmentInfo",
    "FrameworkInfo",
    "FrameworkType",
    "InvalidPattern",
    "MetricPoint",
    "ModelCatalogSyncSpec",
    "ModelCatalogSyncStatus",
    "ModelInfo",
    "ModelRefCounts",
    "ModelRefSpec",
    "ModelRefStatus",
    "ModelRefTemplate",
    "NamePattern",
    "SecretKeySelector",
    "SelectSpec",
    "SourceInfo",
    "SyncFailure",
    "SyncFilters",
    "VersionInfo",
    "VersionPolicy",
    "WireModel",
    "compile_name_pattern",
    "condition",
    "format_duration",
    "format_time",
    "format_time_precise",
    "get_condition",
    "is_dns1123_subdomain",
    "is_qualified_name",
    "is_rfc3339",
    "is_true",
    "is_valid_label_value",
    "modelref_annotations",
    "modelref_labels",
    "modelref_name",
    "parse_duration",
    "parse_spec",
    "parse_time",
    "ready",
    "reconciling",
    "remove_condition",
    "sanitize_label_value",
    "set_condition",
    "stalled",
    "sync_selector",
    "validate_spec",
]
