"""Every field of the CRDs is described, so `kubectl explain` reads as the reference: the
walk names each field path without a description. A user-set field with a default or
integer bounds states them (kubectl explain shows neither), and every printer column says
what it shows."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml

from deploy.manifests import CRD_DIR

# The one field the API server refuses a description on (structural schema rules: root
# metadata may only restrict name and generateName); it publishes ObjectMeta's instead.
UNDESCRIBABLE = frozenset({"metadata"})


def _crds() -> list[dict[str, Any]]:
    docs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(CRD_DIR.glob("*.yaml"))]
    return [d for d in docs if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]


def _kinds() -> list[tuple[str, dict[str, Any]]]:
    """(Kind/version, version entry) of every CRD version."""
    return [
        (f"{crd['spec']['names']['kind']}/{version['name']}", version)
        for crd in _crds()
        for version in crd["spec"]["versions"]
    ]


def _fields(node: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, schema) of every property below `node`, through array items and map values:
    `a.b`, `a[].b`, `a.<key>.b`."""
    for name, child in (node.get("properties") or {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield path, child
        yield from _fields(child, path)
        for key, suffix in (("items", "[]"), ("additionalProperties", ".<key>")):
            nested = child.get(key)
            if isinstance(nested, Mapping):
                yield from _fields(nested, path + suffix)


def undescribed(schema: Mapping[str, Any]) -> list[str]:
    return [
        path
        for path, child in _fields(schema)
        if path not in UNDESCRIBABLE and not str(child.get("description", "")).strip()
    ]


def test_the_walk_names_every_field_without_a_description() -> None:
    schema = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "description": "described",
                "properties": {
                    "list": {
                        "type": "array",
                        "description": "described",
                        "items": {"type": "object", "properties": {"x": {"type": "string"}}},
                    },
                    "map": {
                        "type": "object",
                        "description": " ",
                        "additionalProperties": {
                            "type": "object",
                            "properties": {"y": {"type": "integer", "description": "y"}},
                        },
                    },
                },
            },
        },
    }
    assert undescribed(schema) == ["apiVersion", "spec.list[].x", "spec.map"]


@pytest.mark.parametrize(("kind", "version"), _kinds(), ids=[k for k, _ in _kinds()])
def test_every_field_has_a_description(kind: str, version: dict[str, Any]) -> None:
    schema = version["schema"]["openAPIV3Schema"]
    assert str(schema.get("description", "")).strip(), f"{kind}: the kind itself"
    missing = undescribed(schema)
    assert not missing, f"{kind}: fields without a description: {', '.join(missing)}"
    root = schema["properties"]
    assert {"apiVersion", "kind"} <= root.keys()
    assert "description" not in root["metadata"], "the API server refuses it here"


@pytest.mark.parametrize(("kind", "version"), _kinds(), ids=[k for k, _ in _kinds()])
def test_user_set_fields_state_their_default_and_bounds(kind: str, version: dict[str, Any]) -> None:
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    unstated: list[str] = []
    for path, child in _fields(spec, "spec"):
        text = str(child.get("description", ""))
        default = child.get("default")
        if isinstance(default, str | bool | int) and (
            "default" not in text.lower() or str(default).lower() not in text.lower()
        ):
            unstated.append(f"{path} (default {default})")
        if child.get("type") == "integer":
            for bound in ("minimum", "maximum"):
                if bound in child and str(child[bound]) not in text:
                    unstated.append(f"{path} ({bound} {child[bound]})")
    assert not unstated, f"{kind}: descriptions that do not state: {', '.join(unstated)}"


@pytest.mark.parametrize(("kind", "version"), _kinds(), ids=[k for k, _ in _kinds()])
def test_every_printer_column_is_described(kind: str, version: dict[str, Any]) -> None:
    columns = version.get("additionalPrinterColumns") or []
    missing = [c["name"] for c in columns if not str(c.get("description", "")).strip()]
    assert not missing, f"{kind}: printer columns without a description: {missing}"
