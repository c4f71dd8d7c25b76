"""Custom resource bodies against a CRD's structural openAPIV3Schema: prune, default, validate.

The implementation is the operator's `modelsync.crds.schema`, which `modelsync render` also
validates with, so that the sandbox and the render say the same as kube-apiserver from one
source; re-exported here for the sandbox's modules and tests.
"""

from __future__ import annotations

from modelsync.crds.schema import (
    CompiledSchema,
    apply_defaults,
    apply_structural_schema,
    compile_schema,
    is_structural,
    prune,
    structural_schema_causes,
    validate_value,
)

__all__ = [
    "CompiledSchema",
    "apply_defaults",
    "apply_structural_schema",
    "compile_schema",
    "is_structural",
    "prune",
    "structural_schema_causes",
    "validate_value",
]
