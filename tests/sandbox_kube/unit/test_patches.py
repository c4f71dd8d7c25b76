"""Patches: RFC 7386 merge patch, RFC 6902 JSON patch, the strategic-merge-patch subset.

The example tables are RFC 7386 Appendix A and RFC 6902 Appendix A. Status codes follow
k8s.io/apiserver/pkg/endpoints/handlers/patch.go (422 with the generic message when a JSON
patch does not apply; 400 for strategic-merge-patch directive errors).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsync_sandbox.kube.patches import (
    GENERIC_422_MESSAGE,
    PatchError,
    create_merge_patch,
    json_merge_patch,
    json_patch,
    parse_pointer,
    strategic_merge_patch,
)


class TestMergePatch:
    @pytest.mark.parametrize(
        ("original", "patch", "result"),
        [
            ({"a": "b"}, {"a": "c"}, {"a": "c"}),
            ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
            ({"a": "b"}, {"a": None}, {}),
            ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
            ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
            ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
            ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
            ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
            (["a", "b"], ["c", "d"], ["c", "d"]),
            ({"a": "b"}, ["c"], ["c"]),
            ({"a": "foo"}, None, None),
            ({"a": "foo"}, "bar", "bar"),
            ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
            ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
            ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
        ],
    )
    def test_rfc7386_appendix_a(self, original: Any, patch: Any, result: Any) -> None:
        assert json_merge_patch(original, patch) == result

    def test_arguments_are_not_mutated(self) -> None:
        target = {"a": {"b": [1]}, "c": 1}
        patch = {"a": {"d": {"e": None}}, "c": None}
        before = (copy.deepcopy(target), copy.deepcopy(patch))
        out = json_merge_patch(target, patch)
        out["a"]["b"].append(2)
        assert (target, patch) == before


class TestJsonPatch:
    @pytest.mark.parametrize(
        ("doc", "ops", "result"),
        [
            (
                {"foo": "bar"},
                [{"op": "add", "path": "/baz", "value": "qux"}],
                {"foo": "bar", "baz": "qux"},
            ),
            (
                {"foo": ["bar", "baz"]},
                [{"op": "add", "path": "/foo/1", "value": "qux"}],
                {"foo": ["bar", "qux", "baz"]},
            ),
            ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
            (
                {"foo": ["bar", "qux", "baz"]},
                [{"op": "remove", "path": "/foo/1"}],
                {"foo": ["bar", "baz"]},
            ),
            (
                {"baz": "qux", "foo": "bar"},
                [{"op": "replace", "path": "/baz", "value": "boo"}],
                {"baz": "boo", "foo": "bar"},
            ),
            (
                {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
                [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
                {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
            ),
            (
                {"foo": ["all", "grass", "cows", "eat"]},
                [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
                {"foo": ["all", "cows", "eat", "grass"]},
            ),
            (
                {"baz": "qux", "foo": ["a", 2, "c"]},
                [
                    {"op": "test", "path": "/baz", "value": "qux"},
                    {"op": "test", "path": "/foo/1", "value": 2},
                ],
                {"baz": "qux", "foo": ["a", 2, "c"]},
            ),
            (
                {"foo": "bar"},
                [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
                {"foo": "bar", "child": {"grandchild": {}}},
            ),
            (
                {"foo": "bar"},
                [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
                {"foo": "bar", "baz": "qux"},
            ),
            ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
            (
                {"foo": ["bar"]},
                [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
                {"foo": ["bar", ["abc", "def"]]},
            ),
            (
                {"a": {"b": 1}},
                [{"op": "copy", "from": "/a", "path": "/c"}],
                {"a": {"b": 1}, "c": {"b": 1}},
            ),
            ({"a": [1, 2, 3]}, [{"op": "remove", "path": "/a/-1"}], {"a": [1, 2]}),
            ({"a": 1}, [{"op": "replace", "path": "", "value": [1]}], [1]),
        ],
    )
    def test_rfc6902_appendix_a_and_more(
        self, doc: Any, ops: list[dict[str, Any]], result: Any
    ) -> None:
        assert json_patch(doc, ops) == result

    @pytest.mark.parametrize(
        ("doc", "ops", "detail"),
        [
            (
                {"baz": "qux"},
                [{"op": "test", "path": "/baz", "value": "bar"}],
                "testing value /baz failed",
            ),
            (
                {"/": 9, "~1": 10},
                [{"op": "test", "path": "/~01", "value": "10"}],
                "testing value /~01 failed",
            ),
            (
                {"foo": "bar"},
                [{"op": "add", "path": "/baz/bat", "value": "qux"}],
                "add operation does not apply: doc is missing path: '/baz/bat'",
            ),
            (
                {"a": 1},
                [{"op": "remove", "path": "/b"}],
                "remove operation does not apply: doc is missing key: '/b'",
            ),
            (
                {"a": 1},
                [{"op": "replace", "path": "/b", "value": 1}],
                "replace operation does not apply: doc is missing key: '/b'",
            ),
            (
                {"a": [1]},
                [{"op": "add", "path": "/a/5", "value": 1}],
                "array index 5 out of bounds in '/a/5'",
            ),
            (
                {"a": [1]},
                [{"op": "add", "path": "/a/01", "value": 1}],
                "invalid array index '01' in '/a/01'",
            ),
            ({"a": 1}, [{"op": "frobnicate", "path": "/a"}], "Unexpected kind: frobnicate"),
            ({"a": 1}, [{"op": "add", "path": "/b"}], 'add operation is missing "value"'),
            (
                {"a": {"b": 1}},
                [{"op": "move", "from": "/a", "path": "/a/c"}],
                "move operation cannot move '/a' into its own child '/a/c'",
            ),
            (
                {"a": 1},
                [{"op": "add", "path": "a", "value": 1}],
                "JSON pointer must be empty or start with a \"/\": 'a'",
            ),
        ],
    )
    def test_failures_are_422_with_the_generic_message(
        self, doc: Any, ops: list[dict[str, Any]], detail: str
    ) -> None:
        with pytest.raises(PatchError) as caught:
            json_patch(doc, ops)
        assert caught.value.status_code == 422
        assert str(caught.value) == GENERIC_422_MESSAGE
        assert caught.value.detail == detail

    def test_all_or_nothing_and_no_mutation(self) -> None:
        doc = {"a": [1]}
        with pytest.raises(PatchError):
            json_patch(
                doc,
                [
                    {"op": "add", "path": "/a/-", "value": 2},
                    {"op": "test", "path": "/a/0", "value": 9},
                ],
            )
        assert doc == {"a": [1]}

    def test_missing_path_passes_a_test_for_null(self) -> None:
        # evanphx/json-patch (used by the API server) lets `test` of a missing path for null pass.
        assert json_patch({}, [{"op": "test", "path": "/x", "value": None}]) == {}

    def test_pointer_unescaping_order(self) -> None:
        assert parse_pointer("/a~1b/c~0d/~01") == ["a/b", "c~d", "~1"]
        assert parse_pointer("") == []


class TestStrategicMergePatch:
    def test_maps_merge_and_null_deletes(self) -> None:
        target = {"metadata": {"labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}}
        patch = {"metadata": {"labels": {"b": None, "c": "3"}}, "data": {"k2": "v2"}}
        assert strategic_merge_patch(target, patch) == {
            "metadata": {"labels": {"a": "1", "c": "3"}},
            "data": {"k": "v", "k2": "v2"},
        }

    def test_lists_with_merge_keys_merge_by_key(self) -> None:
        target = {
            "containers": [
                {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
                {"name": "b", "image": "b:1"},
            ]
        }
        patch = {
            "containers": [
                {"name": "a", "image": "a:2", "env": [{"name": "Y", "value": "2"}]},
                {"name": "c", "image": "c:1"},
            ]
        }
        assert strategic_merge_patch(target, patch) == {
            "containers": [
                {
                    "name": "a",
                    "image": "a:2",
                    "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
                },
                {"name": "b", "image": "b:1"},
                {"name": "c", "image": "c:1"},
            ]
        }

    def test_patch_delete_on_a_list_item_and_on_a_map(self) -> None:
        target = {
            "status": {"conditions": [{"type": "Ready"}, {"type": "Synced"}]},
            "spec": {"x": 1},
        }
        patch = {
            "status": {"conditions": [{"type": "Ready", "$patch": "delete"}]},
            "spec": {"$patch": "delete"},
        }
        assert strategic_merge_patch(target, patch) == {
            "status": {"conditions": [{"type": "Synced"}]}
        }

    def test_patch_replace(self) -> None:
        target = {
            "data": {"a": "1", "b": "2"},
            "ports": [{"containerPort": 1}, {"containerPort": 2}],
        }
        patch = {
            "data": {"$patch": "replace", "c": "3"},
            "ports": [{"$patch": "replace"}, {"containerPort": 9}],
        }
        assert strategic_merge_patch(target, patch) == {
            "data": {"c": "3"},
            "ports": [{"containerPort": 9}],
        }

    def test_other_lists_are_replaced(self) -> None:
        target = {"spec": {"versions": [{"name": "v1"}], "finalizers": ["kubernetes"]}}
        patch = {"spec": {"versions": [{"name": "v2"}]}}
        assert strategic_merge_patch(target, patch)["spec"]["versions"] == [{"name": "v2"}]

    def test_finalizers_merge_as_a_set_and_delete_from_primitive_list(self) -> None:
        target = {"metadata": {"finalizers": ["a", "b"]}}
        assert strategic_merge_patch(target, {"metadata": {"finalizers": ["b", "c"]}}) == {
            "metadata": {"finalizers": ["a", "b", "c"]}
        }
        assert strategic_merge_patch(
            target, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}
        ) == {"metadata": {"finalizers": ["b"]}}

    def test_retain_keys(self) -> None:
        target = {"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}
        patch = {"strategy": {"$retainKeys": ["type"], "type": "RollingUpdate"}}
        assert strategic_merge_patch(target, patch) == {"strategy": {"type": "RollingUpdate"}}

    def test_set_element_order(self) -> None:
        target = {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}
        patch = {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}]}
        assert [c["name"] for c in strategic_merge_patch(target, patch)["containers"]] == [
            "c",
            "a",
            "b",
        ]

    def test_directive_errors_are_400(self) -> None:
        with pytest.raises(PatchError) as caught:
            strategic_merge_patch({}, {"data": {"$patch": "explode"}})
        assert caught.value.status_code == 400
        assert str(caught.value) == "Unknown patch type: explode, Unable to apply patch"
        with pytest.raises(PatchError) as caught:
            strategic_merge_patch({}, {"containers": [{"image": "x"}]})
        assert caught.value.status_code == 400


# -- properties -------------------------------------------------------------------------------

scalars = st.booleans() | st.integers(-100, 100) | st.text(max_size=4)
keys = st.text(alphabet="abc~/", min_size=1, max_size=3)
null_free = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=10,
)
documents = st.dictionaries(keys, null_free, max_size=4)
any_json = st.recursive(
    st.none() | scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=10,
)


def pointer(*tokens: str) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


@settings(max_examples=50, deadline=None)
@given(documents, documents)
def test_merge_patch_of_the_diff_reproduces_the_target(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    assert json_merge_patch(a, create_merge_patch(a, b)) == b


@settings(max_examples=50, deadline=None)
@given(any_json, any_json)
def test_merge_patch_is_idempotent(target: Any, patch: Any) -> None:
    once = json_merge_patch(target, patch)
    assert json_merge_patch(once, patch) == once


@settings(max_examples=50, deadline=None)
@given(documents, keys, null_free)
def test_add_then_remove_is_identity(doc: dict[str, Any], key: str, value: Any) -> None:
    if key in doc:
        return
    ops = [
        {"op": "add", "path": pointer(key), "value": value},
        {"op": "remove", "path": pointer(key)},
    ]
    assert json_patch(doc, ops) == doc


@settings(max_examples=50, deadline=None)
@given(documents)
def test_testing_every_member_passes(doc: dict[str, Any]) -> None:
    ops = [{"op": "test", "path": pointer(k), "value": v} for k, v in doc.items()]
    assert json_patch(doc, ops) == doc


@settings(max_examples=50, deadline=None)
@given(documents, keys)
def test_move_there_and_back_is_identity(doc: dict[str, Any], target: str) -> None:
    if not doc or target in doc:
        return
    source = sorted(doc)[0]
    ops = [
        {"op": "move", "from": pointer(source), "path": pointer(target)},
        {"op": "move", "from": pointer(target), "path": pointer(source)},
    ]
    assert json_patch(doc, ops) == doc


@settings(max_examples=50, deadline=None)
@given(documents, documents)
def test_strategic_merge_without_lists_equals_merge_patch(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    def no_lists(value: Any) -> bool:
        if isinstance(value, dict):
            return all(no_lists(v) for v in value.values())
        return not isinstance(value, list)

    if no_lists(b) and not any(k.startswith("$") for k in b):
        assert strategic_merge_patch(a, b) == json_merge_patch(a, b)
