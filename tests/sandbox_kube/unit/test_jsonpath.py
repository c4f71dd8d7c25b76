"""The JSONPath subset of printer columns (https://kubernetes.io/docs/reference/kubectl/jsonpath/)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsync_sandbox.kube.jsonpath import JsonPathError, compile_jsonpath, evaluate_jsonpath

OBJ: dict[str, Any] = {
    "metadata": {"name": "m", "labels": {"modelsync.dev/sync": "s1", "app": "x"}},
    "spec": {"versions": [{"name": "v1", "n": 1}, {"name": "v2", "n": 5}, {"name": "v3"}]},
    "status": {
        "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "Synced", "status": "False"},
        ]
    },
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".metadata.name", ["m"]),
        ("{.metadata.name}", ["m"]),
        ("$.metadata.name", ["m"]),
        ("metadata.name", ["m"]),
        (".spec.versions[0].name", ["v1"]),
        (".spec.versions[-1].name", ["v3"]),
        (".spec.versions[*].name", ["v1", "v2", "v3"]),
        (".spec.versions[0:2].name", ["v1", "v2"]),
        (".spec.versions[*].n", [1, 5]),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".status.conditions[?(@.type=='Synced')].status", ["False"]),
        ('.status.conditions[?(@.type!="Ready")].type', ["Synced"]),
        (".spec.versions[?(@.n > 2)].name", ["v2"]),
        (".spec.versions[?(@.n)].name", ["v1", "v2"]),
        (".metadata.labels.modelsync\\.dev/sync", ["s1"]),
        (".metadata.labels['modelsync.dev/sync']", ["s1"]),
        ('.metadata.labels["app","modelsync.dev/sync"]', ["x", "s1"]),
        ("..type", ["Ready", "Synced"]),
        (".metadata.missing", []),
        (".spec.versions[7].name", []),
        (".metadata.labels.*", ["s1", "x"]),
    ],
)
def test_paths(path: str, expected: list[Any]) -> None:
    assert evaluate_jsonpath(OBJ, path) == expected


@pytest.mark.parametrize("path", [".a[", ".a[x]", ".a[?(@.b ~ 1)]", ".a[1:2:3:4]"])
def test_bad_paths(path: str) -> None:
    with pytest.raises(JsonPathError):
        compile_jsonpath(path)


keys = st.text(alphabet="abc.-/", min_size=1, max_size=4)


@given(st.lists(keys, min_size=1, max_size=4), st.integers() | st.text(max_size=3))
def test_escaped_dotted_path_finds_the_nested_value(path: list[str], value: Any) -> None:
    obj: Any = value
    for key in reversed(path):
        obj = {key: obj}
    escaped = "".join("." + k.replace(".", "\\.") for k in path)
    assert evaluate_jsonpath(obj, escaped) == [value]
    quoted = "".join(f"['{k}']" for k in path)
    assert evaluate_jsonpath(obj, quoted) == [value]
