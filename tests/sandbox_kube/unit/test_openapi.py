"""The OpenAPI v3 schemas the sandbox publishes for CRD kinds (pure parts of discovery.py);
tests/fidelity/test_openapi.py holds whole documents equal to kube-apiserver's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from modelsync_sandbox.kube.discovery import (
    definition_name,
    kind_schema,
    list_schema,
    published_schema,
)
from modelsync_sandbox.kube.resources import crd_resource_types


def test_definition_names_reverse_the_group() -> None:
    assert definition_name("modelsync.dev", "v1alpha1", "ModelRef") == (
        "dev.modelsync.v1alpha1.ModelRef"
    )
    assert definition_name("a.b.example.com", "v1", "X") == "com.example.b.a.v1.X"


def test_published_schema_keeps_what_a_structural_schema_keeps() -> None:
    given_schema = {
        "type": "object",
        "description": "d",
        "example": {"x": 1},  # not kept by a structural schema
        "x-kubernetes-preserve-unknown-fields": False,
        "properties": {
            "port": {"x-kubernetes-int-or-string": True, "description": "p"},
            "tags": {"type": "array", "items": {"type": "string", "externalDocs": {}}},
            "note": {"type": "string", "nullable": True, "default": "n"},
        },
    }
    assert published_schema(given_schema) == {
        "type": "object",
        "description": "d",
        "properties": {
            "port": {
                "x-kubernetes-int-or-string": True,
                "description": "p",
                "anyOf": [{"type": "integer"}, {"type": "string"}],
            },
            "tags": {"type": "array", "items": {"type": "string"}},
            "note": {"type": "string", "nullable": True, "default": "n"},
        },
    }


def _crd(schema: dict[str, Any], selectable: bool = False) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
    }
    if selectable:
        version["selectableFields"] = [{"jsonPath": ".spec.color"}]
    return {
        "metadata": {"name": "things.example.dev"},
        "spec": {
            "group": "example.dev",
            "scope": "Namespaced",
            "names": {"kind": "Thing", "plural": "things"},
            "versions": [version],
        },
    }


def test_kind_and_list_schemas_carry_type_meta_object_meta_and_their_gvk() -> None:
    (rt,) = crd_resource_types(
        _crd({"type": "object", "properties": {"metadata": {"type": "object"}}}, True)
    )
    kind = kind_schema(rt)
    assert set(kind["properties"]) == {"apiVersion", "kind", "metadata"}
    assert all(p["description"] for p in kind["properties"].values())
    assert kind["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    ]
    assert kind["x-kubernetes-group-version-kind"] == [
        {"group": "example.dev", "version": "v1", "kind": "Thing"}
    ]
    assert kind["x-kubernetes-selectable-fields"] == [{"fieldPath": "spec.color"}]
    listed = list_schema(rt)
    assert listed["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/dev.example.v1.Thing"
    }
    assert listed["x-kubernetes-group-version-kind"][0]["kind"] == "ThingList"


_names = st.from_regex(r"[a-z][a-zA-Z0-9]{0,6}", fullmatch=True)
_leaf = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "integer", "boolean"])},
    optional={
        "description": st.text(max_size=8),
        "maxLength": st.integers(0, 9),
        "example": st.text(max_size=3),
        "x-kubernetes-int-or-string": st.booleans(),
    },
)
_schemas = st.recursive(
    _leaf,
    lambda children: st.one_of(
        st.builds(lambda p: {"type": "object", "properties": p}, st.dictionaries(_names, children)),
        st.builds(lambda i: {"type": "array", "items": i}, children),
        st.builds(lambda v: {"type": "object", "additionalProperties": v}, children),
    ),
    max_leaves=10,
)


def _described(schema: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if not isinstance(schema, dict):
        return
    yield path, schema.get("description")
    for name, child in (schema.get("properties") or {}).items():
        yield from _described(child, f"{path}.{name}")
    yield from _described(schema.get("items"), f"{path}[]")
    yield from _described(schema.get("additionalProperties"), f"{path}.<key>")


@settings(max_examples=80, deadline=None)
@given(_schemas)
def test_published_schemas_keep_every_field_and_description(schema: dict[str, Any]) -> None:
    published = published_schema(schema)
    assert list(_described(published)) == list(_described(schema))
    assert published_schema(published) == published
    assert "example" not in str(published.keys())
