"""The sandbox's shortcuts give what the long way gives.

Writes go through compiled schemas (one walk for pruning, null dropping and defaulting;
settled values taken as they are), merge patches that share what they leave alone, field
sets rendered once, watch events reusing a write response's JSON. Each is checked here
against the plain implementation it stands in for.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsync_sandbox.kube import managed, watch
from modelsync_sandbox.kube.meta import new_uid, now_rfc3339
from modelsync_sandbox.kube.patches import json_merge_patch
from modelsync_sandbox.kube.schema import apply_defaults, compile_schema, prune
from modelsync_sandbox.kube.validation import validate_annotations, validate_labels

# Few keys, so that schemas and objects meet: "metadata" and "name" for embedded resources.
KEYS = st.sampled_from(["a", "b", "metadata", "name", "kind"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(-2, 2, allow_nan=False)
    | st.sampled_from(["", "x", "2024-01-01T00:00:00Z"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
OBJECTS = st.dictionaries(KEYS, VALUES, max_size=5)

_KEYWORDS = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["object", "array", "string", "integer", "number"]),
        "nullable": st.booleans(),
        "x-kubernetes-preserve-unknown-fields": st.booleans(),
        "x-kubernetes-embedded-resource": st.booleans(),
        "default": VALUES,
        "maxLength": st.integers(0, 2),
        "enum": st.lists(SCALARS, max_size=2),
    },
)


def _schema(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    parts = st.fixed_dictionaries(
        {},
        optional={
            "properties": st.dictionaries(KEYS, children, max_size=3),
            "additionalProperties": children | st.booleans(),
            "items": children,
        },
    )
    return st.builds(lambda k, p: {**k, **p}, _KEYWORDS, parts)


# Well-formed structural-ish schemas: every schema position holds an object.
SCHEMAS = st.recursive(_KEYWORDS, _schema, max_leaves=8)


def ordered_json(value: Any) -> str:
    """JSON with the keys in their order: the order responses show."""
    return json.dumps(value)


def applied(result: tuple[dict[str, Any], list[Any]]) -> tuple[str, list[Any]]:
    return ordered_json(result[0]), result[1]


# -- compiled schemas -------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(SCHEMAS, OBJECTS)
def test_one_walk_shapes_as_the_passes_do(schema: dict[str, Any], obj: dict[str, Any]) -> None:
    before = copy.deepcopy(obj)
    shaped, causes = compile_schema(schema).apply(obj, validate=False)
    by_passes = apply_defaults(prune(obj, schema)[0], schema)
    assert ordered_json(shaped) == ordered_json(by_passes)
    assert causes == []
    assert obj == before


EMBEDDED = {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {}}
WITH_DEFAULT = {"type": "string", "default": "d"}


@pytest.mark.parametrize(
    ("schema", "obj"),
    [
        # An embedded resource's metadata: unknown ObjectMeta fields go, known ones stay.
        (
            {"type": "object", "properties": {"a": EMBEDDED}},
            {"a": {"metadata": {"name": "n", "junk": 1}, "kind": "K", "other": 2}},
        ),
        # Under preserve-unknown-fields only the declared fields are pruned.
        (
            {
                "type": "object",
                "properties": {
                    "a": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                        "properties": {"b": {"type": "object", "properties": {}}},
                    }
                },
            },
            {"a": {"b": {"gone": 1}, "kept": {"x": [1, {"y": None}]}}},
        ),
        # additionalProperties: a schema (with a default for nulls), or true (no schema).
        (
            {"type": "object", "properties": {"a": {"additionalProperties": WITH_DEFAULT}}},
            {"a": {"x": None, "y": "v"}},
        ),
        (
            {"type": "object", "properties": {"a": {"additionalProperties": True}}},
            {"a": {"x": {"y": 1}, "z": [{"w": 2}]}},
        ),
        # Nulls in lists take the items' default; nulls inside defaults stay.
        (
            {"type": "object", "properties": {"a": {"type": "array", "items": WITH_DEFAULT}}},
            {"a": [None, "x"]},
        ),
        (
            {
                "type": "object",
                "properties": {
                    "a": {
                        "type": "object",
                        "default": {"b": None, "junk": 1},
                        "properties": {"b": {"type": "string"}},
                    },
                    "n": {"type": "string", "nullable": True},
                },
            },
            {"n": None},
        ),
    ],
)
def test_one_walk_shapes_as_the_passes_do_by_example(
    schema: dict[str, Any], obj: dict[str, Any]
) -> None:
    shaped, _ = compile_schema(schema).apply(obj, validate=False)
    assert ordered_json(shaped) == ordered_json(apply_defaults(prune(obj, schema)[0], schema))


@settings(max_examples=60, deadline=None)
@given(SCHEMAS, OBJECTS)
def test_remembered_values_shape_as_fresh_ones(schema: dict[str, Any], obj: dict[str, Any]) -> None:
    fresh = compile_schema(schema)
    remembering = compile_schema(schema, remember=True)
    assert remembering.pruned_paths(obj) == fresh.pruned_paths(obj)
    first = remembering.apply(obj)
    assert applied(first) == applied(fresh.apply(obj))
    again = dict(first[0])  # the same top-level values, as a status write passes them on
    assert remembering.pruned_paths(again) == fresh.pruned_paths(again)
    assert applied(remembering.apply(again)) == applied(fresh.apply(again))


SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "integer", "default": 1},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


def test_values_the_passes_leave_alone_are_returned_as_they_are() -> None:
    compiled = compile_schema(SPEC_SCHEMA, remember=True)
    spec = {"size": 2, "tags": ["a"]}
    out, causes = compiled.apply({"spec": spec, "status": {"ready": True, "junk": 1}})
    assert causes == []
    assert out["spec"] is spec
    assert out["status"] == {"ready": True}
    defaulted, _ = compiled.apply({"spec": {"tags": []}})
    assert defaulted["spec"] == {"tags": [], "size": 1}


def test_without_remember_nothing_is_shared() -> None:
    spec = {"size": 2}
    out, _ = compile_schema(SPEC_SCHEMA).apply({"spec": spec})
    assert out["spec"] == spec
    assert out["spec"] is not spec


def test_malformed_schemas_fail_where_the_passes_do() -> None:
    # A property schema that is not an object: the defaulting pass trips over it.
    schema = {"type": "object", "properties": {"spec": {"properties": {"x": 5}}}}
    compiled = compile_schema(schema)
    for validate in (True, False):
        try:
            compiled.apply({"spec": {"y": 1}}, validate=validate)
        except AttributeError:
            continue
        raise AssertionError("expected the passes' AttributeError")


# -- merge patches ----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(VALUES, VALUES)
def test_sharing_merge_patch_gives_the_copying_one(target: Any, patch: Any) -> None:
    before = (copy.deepcopy(target), copy.deepcopy(patch))
    shared = json_merge_patch(target, patch, share=True)
    assert ordered_json(shared) == ordered_json(json_merge_patch(target, patch))
    assert (target, patch) == before


def test_sharing_merge_patch_keeps_what_it_leaves_alone() -> None:
    target = {"spec": {"a": [1]}, "status": {"x": 1}}
    out = json_merge_patch(target, {"status": {"y": 2}}, share=True)
    assert out == {"spec": {"a": [1]}, "status": {"x": 1, "y": 2}}
    assert out["spec"] is target["spec"]
    assert out["status"] is not target["status"]


# -- field management -------------------------------------------------------------------------

PATHS = st.sets(
    st.lists(
        st.sampled_from(["f:a", "f:b", "k:{}", "v:1", "f:metadata"]), min_size=1, max_size=3
    ).map(tuple),
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(PATHS)
def test_rendered_field_sets_read_back_as_the_sets(paths: set[tuple[str, ...]]) -> None:
    entry = managed.Entry("m", managed.UPDATE, "v1", "", None, set(paths))
    rendered = managed.render_entries([entry])
    if not paths:
        assert rendered == []
        return
    assert rendered[0]["fieldsV1"] == managed.encode(paths)
    for _ in range(2):
        parsed = managed.parse_entries(rendered)
        assert parsed is not None
        assert parsed[0].fields == paths
        parsed[0].fields.clear()  # a copy: the next reader gets the whole set


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=4), st.text(max_size=4) | st.integers(), max_size=3))
def test_compact_keys_are_json_dumps(value: dict[str, Any]) -> None:
    expected = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    assert managed._compact(value) == expected


IGNORED = st.sets(st.lists(st.sampled_from(["f:a", "f:status"]), max_size=2).map(tuple))


@settings(max_examples=60, deadline=None)
@given(PATHS | st.just({("f:metadata", "f:managedFields", "f:x"), ("f:kind",)}), IGNORED)
def test_strip_drops_what_nobody_owns(paths: set[tuple[str, ...]], ignored: set[Any]) -> None:
    prefixes = tuple(ignored)
    expected = {
        p
        for p in paths
        if p not in managed._STRIPPED
        and p[:2] != ("f:metadata", "f:managedFields")
        and not any(p[: len(prefix)] == prefix for prefix in prefixes)
    }
    assert managed._strip(set(paths), prefixes) == expected


NODE = managed.crd_schema(
    {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
)


@settings(max_examples=60, deadline=None)
@given(OBJECTS, OBJECTS)
def test_skipped_paths_are_the_stripped_ones(lhs: dict[str, Any], rhs: dict[str, Any]) -> None:
    ignored = (("f:status",),)
    full = managed.compare(lhs, rhs, NODE)
    skipped = managed.compare(lhs, rhs, NODE, ignored)
    for name in ("added", "modified", "removed"):
        want = managed._strip(getattr(full, name), ignored)
        assert managed._strip(getattr(skipped, name), ignored) == want


@settings(max_examples=60, deadline=None)
@given(OBJECTS)
def test_a_value_compared_with_itself_has_no_changes(obj: dict[str, Any]) -> None:
    # The shortcut for shared values, against a copy that takes the long way.
    assert managed.compare(obj, obj, NODE) == managed.compare(obj, copy.deepcopy(obj), NODE)


LIST_MAP_NODE = managed.crd_schema(
    {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "status": {
                "type": "object",
                "properties": {
                    "conditions": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    }
                },
            },
        },
    }
)
NAN_VALUES = st.recursive(
    SCALARS | st.just(float("nan")),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
CONDITIONS = st.lists(st.dictionaries(KEYS, NAN_VALUES, max_size=3), max_size=3)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(KEYS, NAN_VALUES, max_size=4), CONDITIONS, OBJECTS)
def test_a_shared_value_compares_as_a_copy_of_it_would(
    spec: dict[str, Any], conditions: list[Any], other: dict[str, Any]
) -> None:
    # A value (NaN or not) that two versions of an object share, as a status write shares
    # the spec: the shortcut for shared values against copies that take the long way.
    lhs = {"spec": spec, "status": {"conditions": conditions}, **other}
    rhs = {**other, "spec": spec, "status": {"conditions": conditions}}
    for node in (NODE, LIST_MAP_NODE):
        shared = managed.compare(lhs, rhs, node)
        assert shared == managed.compare(lhs, copy.deepcopy(rhs), node)


# -- watch events -----------------------------------------------------------------------------


def test_watch_lines_reuse_a_write_response() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "x\n\u0001"}}
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    watch.remember_encoded(obj, body)
    plain = json.dumps({"type": "ADDED", "object": obj}, separators=(",", ":")).encode() + b"\n"
    assert watch._line("ADDED", obj) == plain
    assert body in plain


def test_watch_lines_of_non_ascii_objects_are_escaped() -> None:
    obj = {"data": {"a": "é\u2028"}}
    watch.remember_encoded(obj, json.dumps(obj, ensure_ascii=False).encode())
    line = watch._line("MODIFIED", obj)
    assert line.isascii()
    assert json.loads(line) == {"type": "MODIFIED", "object": obj}


# -- small things -----------------------------------------------------------------------------


def test_uids_are_version_4() -> None:
    for _ in range(200):
        text = new_uid()
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


def test_now_is_rfc3339_to_the_second() -> None:
    text = now_rfc3339()
    assert len(text) == 20
    assert text.endswith("Z")
    assert text[10] == "T"


def test_cached_label_checks_give_fresh_lists() -> None:
    labels = {"app": "x", "bad key!": "y"}
    first = validate_labels(labels)
    assert [c.field for c in first] == ["metadata.labels"]
    first.clear()
    assert validate_labels(dict(labels)) == validate_labels(labels) != []
    assert validate_labels({"a": 1}) != []  # not all strings: checked the long way
    annotations = {"Key": "v" * 10}
    assert validate_annotations(annotations) == []
    assert validate_annotations({"k": "v" * (256 * 1024)}) != []
