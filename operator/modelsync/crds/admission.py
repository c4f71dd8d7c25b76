"""A custom resource as kube-apiserver takes it on create, without a cluster: what it refuses,
in its words, and what it would store.

The steps are the API server's for `kubectl apply` (which asks for strict field validation):
1. the kind and apiVersion must be ones the CRD serves;
2. strict decoding: every field the schema does not know (pruning) and every unknown
   ObjectMeta field is an error, `unknown field "spec.select.namepattern"`;
3. the status is dropped when the CRD has a status subresource (PrepareForCreate);
4. validation: ObjectMeta (name, namespace, labels, annotations, finalizers), then the
   structural schema (crds/schema.py: defaults, types, formats, enums, bounds, list types),
   then the CEL rules (crds/cel.py), which the server skips, saying so, when an earlier error
   is of a blocking type (hasBlockingErr in apiextensions-apiserver's strategy.go).

Where the server stops at the first failing step, this goes on, so that one run names every
problem; problems of later steps are those the server would report once the earlier ones
are fixed.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from modelsync.crds.apimachinery import (
    OBJECT_META_FIELDS,
    Cause,
    validate_annotations,
    validate_finalizers,
    validate_labels,
    validate_object_name,
)
from modelsync.crds.cel import CompiledRules, compile_rules
from modelsync.crds.schema import CompiledSchema, compile_schema

__all__ = ["Admission", "CrdValidator", "Problem"]

_ROOT_FIELDS: Final = ("apiVersion", "kind", "metadata")
# hasBlockingErr: after errors of these types the server does not run the CEL rules.
_BLOCKING: Final = frozenset(
    {
        "FieldValueNotSupported",
        "FieldValueRequired",
        "FieldValueTooLong",
        "FieldValueTooMany",
        "FieldValueTypeInvalid",
    }
)
RULES_NOT_CHECKED: Final = (
    "some validation rules were not checked because the object was invalid; correct the "
    "existing errors to complete validation"
)


@dataclass(frozen=True)
class Problem:
    """One refusal: `text` in the API server's words (a cause as `field: message`, as kubectl
    prints it), `field` the path it names ("" when none), `hint` an optional suggestion."""

    field: str
    text: str
    hint: str = ""

    @classmethod
    def of_cause(cls, cause: Cause) -> Problem:
        if cause.field in ("", "<nil>"):
            return cls("", cause.message)
        return cls(cause.field, f"{cause.field}: {cause.message}")

    def __str__(self) -> str:
        return f"{self.text} ({self.hint})" if self.hint else self.text


@dataclass(frozen=True)
class Admission:
    """`stored`: the object as the server would store it (pruned, defaulted, no status);
    None when the kind or version is not the CRD's."""

    stored: dict[str, Any] | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class _Version:
    schema: Mapping[str, Any]
    compiled: CompiledSchema
    rules: CompiledRules
    has_status: bool


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class CrdValidator:
    """The checks of one CustomResourceDefinition (apiextensions.k8s.io/v1), compiled once.

    Raises UnknownRule (crds/cel.py) for a CEL rule it cannot run."""

    def __init__(self, crd: Mapping[str, Any]) -> None:
        spec = _mapping(crd.get("spec"))
        names = _mapping(spec.get("names"))
        self.group = str(spec.get("group", ""))
        self.kind = str(names.get("kind", ""))
        self.namespaced = spec.get("scope", "Namespaced") == "Namespaced"
        self._versions: dict[str, _Version] = {}
        for version in spec.get("versions") or ():
            if not version.get("served"):
                continue
            schema = _mapping(_mapping(version.get("schema")).get("openAPIV3Schema"))
            self._versions[f"{self.group}/{version['name']}"] = _Version(
                schema,
                compile_schema(schema),
                compile_rules(schema),
                "status" in _mapping(version.get("subresources")),
            )

    @property
    def api_versions(self) -> tuple[str, ...]:
        return tuple(self._versions)

    def admit(self, obj: Mapping[str, Any]) -> Admission:
        """What the API server says to a create of `obj`, and what it would store."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        version = self._versions.get(api_version) if isinstance(api_version, str) else None
        if kind != self.kind or version is None:
            served = ", ".join(self.api_versions)
            text = f'no matches for kind "{kind}" in version "{api_version}"'
            return Admission(None, (Problem("apiVersion", text, f"the CRD serves {served}"),))
        problems: list[Problem] = []
        meta_value = obj.get("metadata")
        meta = dict(meta_value) if isinstance(meta_value, Mapping) else {}
        if meta_value is not None and not isinstance(meta_value, Mapping):
            problems.append(Problem("metadata", "metadata: must be an object"))
        body = {k: v for k, v in obj.items() if k not in _ROOT_FIELDS}
        unknown = [f"metadata.{key}" for key in meta if key not in OBJECT_META_FIELDS]
        unknown += version.compiled.pruned_paths(body)
        problems += [self._unknown_field(path, version.schema) for path in unknown]
        if version.has_status:
            body.pop("status", None)
        causes = self._meta_causes(meta)
        shaped, schema_causes = version.compiled.apply(body)
        causes += schema_causes
        stored: dict[str, Any] = {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {k: v for k, v in meta.items() if k in OBJECT_META_FIELDS},
            **shaped,
        }
        if any(cause.reason in _BLOCKING for cause in causes):
            causes.append(Cause("FieldValueInvalid", RULES_NOT_CHECKED, "<nil>"))
        else:
            causes += version.rules.validate(stored)
        problems += [Problem.of_cause(cause) for cause in causes]
        return Admission(stored, tuple(problems))

    def _meta_causes(self, meta: Mapping[str, Any]) -> list[Cause]:
        causes: list[Cause] = []
        for key in ("name", "generateName", "namespace"):
            if key in meta and not isinstance(meta[key], str):
                causes.append(
                    Cause(
                        "FieldValueTypeInvalid",
                        "Invalid value: must be a string",
                        f"metadata.{key}",
                    )
                )
        name = meta.get("name")
        if not name and not meta.get("generateName"):
            causes.append(
                Cause(
                    "FieldValueRequired",
                    "Required value: name or generateName is required",
                    "metadata.name",
                )
            )
        elif isinstance(name, str) and name:
            causes += validate_object_name(name, "subdomain")
        namespace = meta.get("namespace")
        if self.namespaced and isinstance(namespace, str) and namespace:
            causes += validate_object_name(namespace, "label", "metadata.namespace")
        causes += validate_labels(_mapping(meta.get("labels")))
        causes += validate_annotations(_mapping(meta.get("annotations")))
        found = meta.get("finalizers")
        if isinstance(found, list):
            causes += validate_finalizers(str(f) for f in found)
        return causes

    @staticmethod
    def _unknown_field(path: str, schema: Mapping[str, Any]) -> Problem:
        text = f'unknown field "{path}"'
        parent, _, key = path.rpartition(".")
        if "[" in key:
            return Problem(path, text)
        known = _properties_at(schema, parent)
        if parent == "metadata":
            known = sorted(OBJECT_META_FIELDS)
        match = [k for k in known if k.lower() == key.lower()] or difflib.get_close_matches(
            key, known, n=1, cutoff=0.75
        )
        if not match:
            return Problem(path, text)
        suggested = f"{parent}.{match[0]}" if parent else match[0]
        return Problem(path, text, f'did you mean "{suggested}"?')


def _properties_at(schema: Mapping[str, Any], path: str) -> Sequence[str]:
    """The property names the schema gives the object at a dotted `path` ("" for the root)."""
    node: Mapping[str, Any] = schema
    for part in path.split(".") if path else ():
        if "[" in part:
            return ()
        props = _mapping(node.get("properties"))
        node = _mapping(props.get(part) or node.get("additionalProperties"))
    return sorted(_mapping(node.get("properties")))
