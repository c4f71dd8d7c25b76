"""Standalone JSON Schemas cut from the vendor's OpenAPI spec (tests/data), for
hypothesis-jsonschema and jsonschema: `$ref`s inlined, OpenAPI-only keywords dropped and
OpenAPI 3.0 `nullable: true` (which the vendor's 3.1 document still uses) turned into a
JSON Schema type that allows null."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(__file__).resolve().parent.parent / "data" / "list-models.openapi.yaml"
_OPENAPI_ONLY = {"discriminator", "example", "nullable"}
_REF_PREFIX = "#/components/schemas/"


@cache
def load_spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.safe_load(handle)
    return spec


def _inline(node: Any, schemas: dict[str, Any], trail: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, schemas, trail) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith(_REF_PREFIX), ref
        name = ref.removeprefix(_REF_PREFIX)
        assert name not in trail, f"recursive schema {name}"
        return _inline(schemas[name], schemas, (*trail, name))
    out = {
        key: _inline(value, schemas, trail)
        for key, value in node.items()
        if key not in _OPENAPI_ONLY and not key.startswith("x-")
    }
    if node.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def standalone_schema(name: str) -> dict[str, Any]:
    """The named component schema with every reference resolved."""
    schemas = load_spec()["components"]["schemas"]
    schema: dict[str, Any] = _inline(schemas[name], schemas, (name,))
    return schema
