"""The CRDs' openAPIV3Schema as plain JSON Schema, plus the API server's defaulting.

The conversion keeps what a real API server enforces: unknown fields become errors
(`additionalProperties: false`) where the server would prune them, `set` lists must be
unique, int64 bounds apply, and Go's `$` (end of text) becomes Python's `\\Z`. CEL rules
(`x-kubernetes-validations`) are left out, since JSON Schema cannot run them:
`validation_rules` lists them, test_cel_rules checks them on a real API server and
test_cel_agreement checks that the operator's runtime validation gives the same verdicts.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import schemathesis
import yaml
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)

Schema = dict[str, Any]


def load_crd(filename: str) -> dict[str, Any]:
    data = yaml.safe_load((CRD_DIR / filename).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def openapi_schema(crd: dict[str, Any]) -> Schema:
    (version,) = crd["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]
    assert isinstance(schema, dict)
    return schema


def validation_rules(schema: Schema, path: str = "") -> dict[str, list[dict[str, Any]]]:
    """Every `x-kubernetes-validations` list below `schema` by field path: "spec.interval",
    map values "spec.modelRefTemplate.labels.*", array items "status.failures[]"."""
    found: dict[str, list[dict[str, Any]]] = {}
    if "x-kubernetes-validations" in schema:
        found[path] = list(schema["x-kubernetes-validations"])
    for name, sub in schema.get("properties", {}).items():
        found |= validation_rules(sub, f"{path}.{name}" if path else name)
    if isinstance(schema.get("items"), dict):
        found |= validation_rules(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        found |= validation_rules(schema["additionalProperties"], f"{path}.*")
    return found


def _python_pattern(pattern: str) -> str:
    return pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern


def to_json_schema(node: Schema, *, python_regex: bool = True) -> Schema:
    """`python_regex=False` keeps Go/ECMA `$` for generators that are not Python `re`."""
    out: Schema = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in ("nullable", "default", "description"):
            continue
        if key == "properties":
            out[key] = {
                name: to_json_schema(sub, python_regex=python_regex) for name, sub in value.items()
            }
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = to_json_schema(value, python_regex=python_regex)
        elif key == "pattern":
            out[key] = _python_pattern(value) if python_regex else value
        else:
            out[key] = value
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if node.get("type") == "object" and "properties" in node and not preserve:
        out.setdefault("additionalProperties", False)
    if node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if node.get("format") == "int64":
        out.setdefault("minimum", INT64_MIN)
        out.setdefault("maximum", INT64_MAX)
    return out


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _RFC3339.fullmatch(value) is None:
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


_FORMATS = jsonschema.FormatChecker()
_FORMATS.checks("date-time")(_is_date_time)


def validator(schema: Schema) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(to_json_schema(schema), format_checker=_FORMATS)


def subschema(schema: Schema, *path: str) -> Schema:
    for name in path:
        schema = schema["properties"][name]
    return schema


def normalize(value: Any, schema: Schema) -> Any:
    """Go `omitempty` on declared fields, no null extra fields next to declared ones, float
    for `number`: the form to compare in."""
    if schema.get("type") == "number" and isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict) and schema.get("type") == "object":
        props = schema.get("properties", {})
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key not in props:
                if item is not None or not props:  # models drop null extra fields
                    out[key] = item
                continue
            normal = normalize(item, props[key])
            if normal is not None and normal != [] and normal != {}:
                out[key] = normal
        return out
    if isinstance(value, list) and "items" in schema:
        return [normalize(item, schema["items"]) for item in value]
    return value


def instances(schema: Schema) -> st.SearchStrategy[Any]:
    """Values valid under a CRD schema, from schemathesis' JSON Schema generator (fed through
    a throw-away OpenAPI operation; hypothesis-jsonschema 0.23 cannot run on this Hypothesis)."""
    document = {
        "openapi": "3.1.0",
        "info": {"title": "CRD instances", "version": "1"},
        "paths": {
            "/instance": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": to_json_schema(schema, python_regex=False)
                            }
                        },
                    },
                    "responses": {"200": {"description": "unused"}},
                }
            }
        },
    }
    operation = schemathesis.openapi.from_dict(document)["/instance"]["POST"]
    cases = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    return cases.map(lambda case: case.body)
