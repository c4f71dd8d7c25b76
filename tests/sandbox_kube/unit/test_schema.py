"""Structural schema semantics: pruning, defaulting, validation messages.

Sources: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/
("Field pruning", "Defaulting", "Defaulting and Nullable", "Validation"), KEP-2332 (pruning),
KEP-575 (defaulting), apiextensions-apiserver pkg/apiserver/schema/{pruning,defaulting,
listtype}, kube-openapi pkg/validation/{validate,errors}.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsync_sandbox.kube.schema import (
    apply_defaults,
    apply_structural_schema,
    is_structural,
    prune,
    structural_schema_causes,
    validate_value,
)
from modelsync_sandbox.kube.validation import Cause

SYNC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["catalog"],
            "properties": {
                "catalog": {"type": "string", "minLength": 1, "maxLength": 40},
                "pageSize": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                "policy": {
                    "type": "string",
                    "enum": ["LatestDeployable", "Latest"],
                    "default": "Latest",
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        },
        "status": {
            "type": "object",
            "properties": {"observedGeneration": {"type": "integer"}},
        },
    },
}


def spec_causes(spec: dict[str, Any], schema: dict[str, Any]) -> list[Cause]:
    return apply_structural_schema(
        {"spec": spec}, {"type": "object", "properties": {"spec": schema}}
    )[1]


def messages(causes: list[Cause]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in causes]


class TestPruning:
    def test_unknown_fields_are_dropped_at_every_level(self) -> None:
        obj = {"spec": {"catalog": "c", "typo": 1, "labels": {"a": "b"}}, "extra": {"x": 1}}
        out, causes = apply_structural_schema(obj, SYNC_SCHEMA)
        assert out == {
            "spec": {"catalog": "c", "labels": {"a": "b"}, "pageSize": 100, "policy": "Latest"}
        }
        assert causes == []

    def test_root_api_version_kind_metadata_are_kept(self) -> None:
        obj = {"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n", "odd": 1}}
        out, _ = apply_structural_schema(obj, {"type": "object"})
        assert out == obj

    def test_object_without_properties_keeps_nothing(self) -> None:
        assert prune(
            {"a": {"b": 1}}, {"type": "object", "properties": {"a": {"type": "object"}}}
        ) == (
            {"a": {}},
            ["a.b"],
        )

    def test_preserve_unknown_fields_keeps_unknown_but_prunes_specified(self) -> None:
        schema = {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}},
        }
        out, removed = prune({"free": {"x": 1}, "known": {"a": "1", "b": 2}}, schema)
        assert out == {"free": {"x": 1}, "known": {"a": "1"}}
        assert removed == ["known.b"]

    def test_items_are_pruned(self) -> None:
        schema = {
            "type": "object",
            "properties": {
                "list": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                }
            },
        }
        out, removed = prune({"list": [{"name": "a", "x": 1}, {"y": 2}]}, schema)
        assert out == {"list": [{"name": "a"}, {}]}
        assert removed == ["list[0].x", "list[1].y"]

    def test_embedded_resource_keeps_type_meta_and_prunes_object_meta(self) -> None:
        schema = {
            "type": "object",
            "properties": {
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object", "properties": {}}},
                }
            },
        }
        obj = {
            "template": {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "x", "bogus": True},
                "spec": {"z": 1},
                "other": 1,
            }
        }
        out, removed = prune(obj, schema)
        assert out == {
            "template": {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "x"},
                "spec": {},
            }
        }
        assert removed == ["template.metadata.bogus", "template.other", "template.spec.z"]

    def test_int_or_string_values_are_kept(self) -> None:
        schema = {"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": True}}}
        assert apply_structural_schema({"port": 80}, schema) == ({"port": 80}, [])
        assert apply_structural_schema({"port": "http"}, schema) == ({"port": "http"}, [])

    def test_input_is_not_mutated(self) -> None:
        obj = {"spec": {"catalog": "c", "typo": 1}}
        before = copy.deepcopy(obj)
        apply_structural_schema(obj, SYNC_SCHEMA)
        assert obj == before


class TestDefaulting:
    def test_missing_fields_take_their_defaults(self) -> None:
        out, _ = apply_structural_schema({"spec": {"catalog": "c"}}, SYNC_SCHEMA)
        assert out["spec"] == {"catalog": "c", "pageSize": 100, "policy": "Latest"}

    def test_no_defaults_below_a_missing_parent(self) -> None:
        out, causes = apply_structural_schema({}, SYNC_SCHEMA)
        assert out == {}
        assert causes == []

    def test_null_in_non_nullable_field_takes_the_default(self) -> None:
        # "Defaulting and Nullable": nulls for fields without nullable: true are pruned before
        # defaulting; if a default is present it is applied.
        out, _ = apply_structural_schema({"spec": {"catalog": "c", "pageSize": None}}, SYNC_SCHEMA)
        assert out["spec"]["pageSize"] == 100

    def test_null_in_non_nullable_field_without_default_is_pruned(self) -> None:
        out, causes = apply_structural_schema({"spec": {"catalog": "c", "tags": None}}, SYNC_SCHEMA)
        assert "tags" not in out["spec"]
        assert causes == []

    def test_nullable_null_is_kept_and_not_defaulted(self) -> None:
        schema = {
            "type": "object",
            "properties": {"x": {"type": "string", "nullable": True, "default": "d"}},
        }
        assert apply_structural_schema({"x": None}, schema) == ({"x": None}, [])
        assert apply_structural_schema({}, schema) == ({"x": "d"}, [])

    def test_defaults_nest_and_are_pruned(self) -> None:
        schema = {
            "type": "object",
            "properties": {
                "a": {
                    "type": "object",
                    "default": {"unknown": 1},
                    "properties": {"b": {"type": "integer", "default": 5}},
                }
            },
        }
        assert apply_defaults({}, schema) == {"a": {"b": 5}}

    def test_item_and_additional_property_defaults(self) -> None:
        schema = {
            "type": "object",
            "properties": {
                "list": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"on": {"type": "boolean", "default": False}},
                    },
                },
                "map": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "default": "v"},
                },
            },
        }
        out = apply_defaults({"list": [{}, {"on": True}], "map": {"k": None}}, schema)
        assert out == {"list": [{"on": False}, {"on": True}], "map": {"k": "v"}}


class TestValidationMessages:
    def test_maximum(self) -> None:
        causes = spec_causes(
            {"pageSize": 2000}, SYNC_SCHEMA["properties"]["spec"] | {"required": []}
        )
        assert causes == [
            Cause(
                "FieldValueInvalid",
                "Invalid value: 2000: spec.pageSize in body should be less than or equal to 1000",
                "spec.pageSize",
            )
        ]

    def test_minimum_and_exclusive_bounds(self) -> None:
        schema = {
            "type": "object",
            "properties": {
                "a": {"type": "number", "minimum": 1, "exclusiveMinimum": True},
                "b": {"type": "number", "maximum": 1.5, "exclusiveMaximum": True},
            },
        }
        assert messages(spec_causes({"a": 1, "b": 1.5}, schema)) == [
            ("spec.a", "Invalid value: 1: spec.a in body should be greater than 1"),
            ("spec.b", "Invalid value: 1.5: spec.b in body should be less than 1.5"),
        ]

    def test_multiple_of(self) -> None:
        schema = {"type": "object", "properties": {"a": {"type": "integer", "multipleOf": 5}}}
        assert messages(spec_causes({"a": 7}, schema)) == [
            ("spec.a", "Invalid value: 7: spec.a in body should be a multiple of 5")
        ]

    def test_enum(self) -> None:
        causes = spec_causes({"catalog": "c", "policy": "Foo"}, SYNC_SCHEMA["properties"]["spec"])
        assert causes == [
            Cause(
                "FieldValueNotSupported",
                'Unsupported value: "Foo": supported values: "LatestDeployable", "Latest"',
                "spec.policy",
            )
        ]

    def test_enum_of_numbers_quotes_json(self) -> None:
        schema = {"type": "object", "properties": {"n": {"type": "integer", "enum": [1, 2]}}}
        assert messages(spec_causes({"n": 3}, schema)) == [
            ("spec.n", 'Unsupported value: 3: supported values: "1", "2"')
        ]
        assert spec_causes({"n": 2.0}, schema) == []

    def test_required(self) -> None:
        causes = spec_causes({}, SYNC_SCHEMA["properties"]["spec"])
        assert causes == [Cause("FieldValueRequired", "Required value", "spec.catalog")]

    def test_string_lengths_and_pattern(self) -> None:
        schema = {
            "type": "object",
            "properties": {
                "short": {"type": "string", "maxLength": 3},
                "long": {"type": "string", "minLength": 3},
                "url": {"type": "string", "pattern": "^https://"},
            },
        }
        assert messages(
            spec_causes({"short": "abcd", "long": "ab", "url": "http://x"}, schema)
        ) == [
            ("spec.long", 'Invalid value: "ab": spec.long in body should be at least 3 chars long'),
            ("spec.short", "Too long: may not be more than 3 bytes"),
            ("spec.url", "Invalid value: \"http://x\": spec.url in body should match '^https://'"),
        ]

    @pytest.mark.parametrize(
        ("declared", "value", "found"),
        [
            ("integer", "5", "string"),
            ("integer", 2.5, "number"),
            ("string", 5, "integer"),
            ("boolean", "true", "string"),
            ("object", [1], "array"),
            ("array", {"a": 1}, "object"),
            ("number", True, "boolean"),
        ],
    )
    def test_type_mismatch(self, declared: str, value: Any, found: str) -> None:
        schema = {"type": "object", "properties": {"f": {"type": declared}}}
        [cause] = spec_causes({"f": value}, schema)
        assert cause == Cause(
            "FieldValueTypeInvalid",
            f'Invalid value: "{found}": spec.f in body must be of type {declared}: "{found}"',
            "spec.f",
        )

    @pytest.mark.parametrize(
        ("declared", "value"),
        [("integer", 5), ("integer", 2.0), ("number", 5), ("number", 0.5), ("boolean", False)],
    )
    def test_type_match(self, declared: str, value: Any) -> None:
        # kube-openapi accepts a float with an integral value for an integer field.
        schema = {"type": "object", "properties": {"f": {"type": declared}}}
        assert spec_causes({"f": value}, schema) == []

    def test_null_array_item_is_a_type_error(self) -> None:
        schema = SYNC_SCHEMA["properties"]["spec"] | {"required": []}
        [cause] = spec_causes({"tags": ["a", None]}, schema)
        assert cause == Cause(
            "FieldValueTypeInvalid",
            'Invalid value: "null": spec.tags[1] in body must be of type string: "null"',
            "spec.tags[1]",
        )

    def test_items_and_array_sizes(self) -> None:
        schema = {
            "type": "object",
            "properties": {
                "few": {"type": "array", "minItems": 2, "items": {"type": "integer"}},
                "many": {"type": "array", "maxItems": 1, "items": {"type": "integer"}},
            },
        }
        assert messages(spec_causes({"few": ["x"], "many": [1, 2]}, schema)) == [
            (
                "spec.few[0]",
                'Invalid value: "string": spec.few[0] in body must be of type integer: "string"',
            ),
            ("spec.few", "Invalid value: 1: spec.few in body should have at least 2 items"),
            ("spec.many", "Too many: 2: must have at most 1 items"),
        ]

    def test_object_sizes(self) -> None:
        schema = {
            "type": "object",
            "properties": {
                "few": {
                    "type": "object",
                    "minProperties": 2,
                    "additionalProperties": {"type": "string"},
                },
                "many": {
                    "type": "object",
                    "maxProperties": 1,
                    "additionalProperties": {"type": "string"},
                },
            },
        }
        assert messages(spec_causes({"few": {"a": "b"}, "many": {"a": "b", "c": "d"}}, schema)) == [
            ("spec.few", "Invalid value: 2: spec.few in body should have at least 2 properties"),
            ("spec.many", "Too many: 1: must have at most 1 items"),
        ]

    def test_additional_properties_schema_is_validated(self) -> None:
        causes = spec_causes(
            {"catalog": "c", "labels": {"a": 1}}, SYNC_SCHEMA["properties"]["spec"]
        )
        assert [c.field for c in causes] == ["spec.labels.a"]

    @pytest.mark.parametrize(
        ("fmt", "good", "bad"),
        [
            ("date-time", "2024-05-01T10:00:00Z", "yesterday"),
            ("date-time", "2024-05-01T10:00:00.123+02:00", "2024-13-01T10:00:00Z"),
            ("date", "2024-02-29", "2023-02-29"),
            ("byte", "aGVsbG8=", "not base64!"),
            ("uuid", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "xyz"),
            ("ipv4", "10.0.0.1", "10.0.0"),
            ("ipv6", "::1", "10.0.0.1"),
            ("cidr", "10.0.0.0/8", "10.0.0.0"),
            ("hostname", "example.com", "-bad-.com"),
        ],
    )
    def test_formats(self, fmt: str, good: str, bad: str) -> None:
        schema = {"type": "object", "properties": {"f": {"type": "string", "format": fmt}}}
        assert spec_causes({"f": good}, schema) == []
        assert messages(spec_causes({"f": bad}, schema)) == [
            ("spec.f", f'Invalid value: "{bad}": spec.f in body must be of type {fmt}: "{bad}"')
        ]

    def test_numeric_and_unknown_formats_are_not_checked(self) -> None:
        # StripUnsupportedFormatsPostProcess drops int32/int64 and unknown formats.
        schema = {
            "type": "object",
            "properties": {
                "i": {"type": "integer", "format": "int32"},
                "s": {"type": "string", "format": "made-up"},
            },
        }
        assert spec_causes({"i": 2**40, "s": "anything"}, schema) == []

    def test_list_type_set_and_map_duplicates(self) -> None:
        schema = {
            "type": "object",
            "properties": {
                "set": {
                    "type": "array",
                    "items": {"type": "string"},
                    "x-kubernetes-list-type": "set",
                },
                "map": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "v": {"type": "integer"}},
                    },
                },
            },
        }
        spec = {"set": ["a", "b", "a"], "map": [{"name": "x", "v": 1}, {"name": "x", "v": 2}]}
        assert messages(spec_causes(spec, schema)) == [
            ("spec.map[1]", 'Duplicate value: map[string]interface {}{"name":"x"}'),
            ("spec.set[2]", 'Duplicate value: "a"'),
        ]

    def test_one_of_any_of_not(self) -> None:
        schema = {
            "type": "object",
            "properties": {
                "one": {"type": "string", "oneOf": [{"pattern": "^a"}, {"pattern": "b$"}]},
                "any": {"type": "string", "anyOf": [{"minLength": 5}, {"pattern": "^z"}]},
                "no": {"type": "string", "not": {"pattern": "^x"}},
            },
        }
        assert spec_causes({"one": "a", "any": "zz", "no": "y"}, schema) == []
        causes = spec_causes({"one": "ab", "any": "q", "no": "x"}, schema)
        assert (
            "<nil>",
            'Invalid value: "": "spec.one" must validate one and only one schema (oneOf). '
            "Found 2 valid alternatives",
        ) in messages(causes)
        assert (
            "<nil>",
            'Invalid value: "": "spec.any" must validate at least one schema (anyOf)',
        ) in messages(causes)
        assert (
            "<nil>",
            'Invalid value: "": "spec.no" must not validate the schema (not)',
        ) in messages(causes)

    def test_embedded_resource_requires_api_version_and_kind(self) -> None:
        schema = {
            "type": "object",
            "properties": {
                "t": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "x-kubernetes-preserve-unknown-fields": True,
                }
            },
        }
        assert messages(spec_causes({"t": {"kind": ""}}, schema)) == [
            ("spec.t.apiVersion", "Required value: must not be empty"),
            ("spec.t.kind", 'Invalid value: "": must not be empty'),
        ]

    def test_validate_value_without_pruning(self) -> None:
        assert validate_value(
            {"x": 1}, {"type": "object", "properties": {"x": {"type": "string"}}}
        ) == [
            Cause(
                "FieldValueTypeInvalid",
                'Invalid value: "integer": x in body must be of type string: "integer"',
                "x",
            )
        ]

    def test_path_root_prefixes_fields(self) -> None:
        _, causes = apply_structural_schema(
            {"pageSize": 0, "catalog": "c"}, SYNC_SCHEMA["properties"]["spec"], path_root="spec"
        )
        assert [c.field for c in causes] == ["spec.pageSize"]


class TestStructuralCheck:
    def test_a_structural_schema_passes(self) -> None:
        assert is_structural(SYNC_SCHEMA) == []

    def test_violations(self) -> None:
        schema = {
            "type": "object",
            "properties": {
                "untyped": {},
                "list": {"type": "array"},
                "both": {
                    "type": "object",
                    "properties": {},
                    "additionalProperties": {"type": "string"},
                },
                "free": {"x-kubernetes-preserve-unknown-fields": True},
                "choice": {"type": "string", "anyOf": [{"type": "string"}]},
            },
        }
        fields = {c.field for c in structural_schema_causes(schema, "schema")}
        assert fields == {
            "schema.properties[untyped].type",
            "schema.properties[list].items",
            "schema.properties[both].additionalProperties",
            "schema.properties[choice].anyOf[0].type",
        }


# -- properties -------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["spec", "catalog", "pageSize", "x", "labels", "tags"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(
    st.sampled_from(["spec", "status", "extra", "metadata"]), json_values, max_size=4
)


def keys_subset(after: Any, before: Any) -> bool:
    if isinstance(after, dict):
        return isinstance(before, dict) and all(
            k in before and keys_subset(v, before[k]) for k, v in after.items()
        )
    if isinstance(after, list):
        return (
            isinstance(before, list)
            and len(after) == len(before)
            and all(keys_subset(a, b) for a, b in zip(after, before, strict=True))
        )
    return bool(after == before)


@settings(max_examples=50, deadline=None)
@given(json_objects)
def test_pruning_never_adds_keys(obj: dict[str, Any]) -> None:
    out, removed = prune(obj, SYNC_SCHEMA)
    assert keys_subset(out, obj)
    assert prune(out, SYNC_SCHEMA) == (out, [])
    assert not removed or out != obj


@settings(max_examples=50, deadline=None)
@given(json_objects)
def test_defaulting_is_idempotent(obj: dict[str, Any]) -> None:
    once, _ = apply_structural_schema(obj, SYNC_SCHEMA)
    twice, _ = apply_structural_schema(once, SYNC_SCHEMA)
    assert twice == once


# hypothesis-jsonschema cannot draw objects with the installed Hypothesis (its
# from_object_schema uses a private API that changed), so valid instances are drawn here.
valid_specs = st.fixed_dictionaries(
    {"catalog": st.text(min_size=1, max_size=40)},
    optional={
        "pageSize": st.integers(1, 1000),
        "policy": st.sampled_from(["LatestDeployable", "Latest"]),
        "labels": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
        "tags": st.lists(st.text(max_size=5), max_size=3),
    },
)


@settings(max_examples=60, deadline=None)
@given(valid_specs, st.dictionaries(st.sampled_from(["junk", "more"]), json_values, max_size=2))
def test_instances_of_the_schema_validate(spec: dict[str, Any], junk: dict[str, Any]) -> None:
    out, causes = apply_structural_schema({"spec": spec | junk}, SYNC_SCHEMA)
    assert causes == []
    assert out["spec"] == {"pageSize": 100, "policy": "Latest"} | spec
