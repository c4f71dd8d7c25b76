"""Object metadata validation and field errors, worded like k8s.io/apimachinery.

The implementation is the operator's `modelsync.crds.apimachinery`, which `modelsync render`
also uses, so that the sandbox and the render word causes as kube-apiserver does from one
source; re-exported here for the sandbox's modules and tests.
"""

from __future__ import annotations

from modelsync.crds.apimachinery import (
    ANNOTATIONS_TOTAL_MAX,
    Cause,
    NameRule,
    format_go_float,
    format_go_syntax,
    format_go_value,
    invalid,
    required,
    validate_annotations,
    validate_dns1123_label,
    validate_dns1123_subdomain,
    validate_finalizers,
    validate_label_value,
    validate_labels,
    validate_object_name,
    validate_path_segment_name,
    validate_qualified_name,
)

__all__ = [
    "ANNOTATIONS_TOTAL_MAX",
    "Cause",
    "NameRule",
    "format_go_float",
    "format_go_syntax",
    "format_go_value",
    "invalid",
    "required",
    "validate_annotations",
    "validate_dns1123_label",
    "validate_dns1123_subdomain",
    "validate_finalizers",
    "validate_label_value",
    "validate_labels",
    "validate_object_name",
    "validate_path_segment_name",
    "validate_qualified_name",
]
