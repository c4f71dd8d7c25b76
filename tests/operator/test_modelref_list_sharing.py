"""The lean ModelRef LIST page decoder (kube/modelref_states.py `states_of_page`) shares the
equal labels, owner references and statuses of a LIST's ModelRefs, and reads them as before:
what the full object gives, and a page whose values have other types is read whole."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from modelsync.api.constants import ANNOTATION_SPEC_DIGEST
from modelsync.kube.modelref_states import SharedValues, states_of_page
from modelsync.plan import ExistingRef, parse_existing


def _ref(index: int, *, second: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelRef",
        "metadata": {
            "name": f"r.m{index}",
            "namespace": "ns",
            "uid": f"uid-{index}",
            "resourceVersion": str(100 + index),
            "generation": 1,
            "labels": {"modelsync.dev/sync": "s", "modelsync.dev/ml-repo": "r"},
            "annotations": {ANNOTATION_SPEC_DIGEST: f"d{index}", "other": "x"},
            "ownerReferences": [
                {
                    "apiVersion": "modelsync.dev/v1alpha1",
                    "kind": "ModelCatalogSync",
                    "name": "s",
                    "uid": "sync-uid",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "model": {"id": f"m{index}", "fqn": f"model:t/r/m{index}", "name": f"m{index}"},
            "version": {"id": f"v{index}", "version": 3, "fqn": f"model:t/r/m{index}:3"},
        },
        "status": {
            "observedGeneration": 1,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "DeployableVersionResolved",
                    "message": "",
                    "lastTransitionTime": f"2026-01-01T00:00:{second:02d}Z",
                    "observedGeneration": 1,
                }
            ],
        },
    }


def _page(objects: list[dict[str, Any]], token: str | None = None) -> bytes:
    page: dict[str, Any] = {"kind": "ModelRefList", "metadata": {}, "items": objects}
    if token is not None:
        page["metadata"]["continue"] = token
    return json.dumps(page).encode()


def _never(*_: object) -> bool:
    return False


def _without_spec(state: ExistingRef) -> tuple[Any, ...]:
    return (
        state.name,
        state.uid,
        state.resource_version,
        state.generation,
        state.labels,
        state.annotations,
        state.owner_references,
        state.controller_uid,
        state.status,
    )


def test_equal_values_of_a_list_are_one_object_and_read_as_the_object_gives_them() -> None:
    objects = [_ref(0), _ref(1), _ref(2, second=5), _ref(3)]
    shared = SharedValues()
    first, token = states_of_page(_page(objects[:2], "more"), _never, shared)
    second, end = states_of_page(_page(objects[2:]), _never, shared)
    assert (token, end) == ("more", None)
    states = [*first, *second]
    for state, obj in zip(states, objects, strict=True):
        assert _without_spec(state) == _without_spec(parse_existing(copy.deepcopy(obj)))
        assert not state.spec_complete
    a, b, c, d = states
    assert a.labels is b.labels is c.labels is d.labels
    assert a.owner_references is d.owner_references
    assert a.status is b.status is d.status
    assert c.status is not a.status
    assert c.status != a.status
    assert a.annotations is not b.annotations


def test_whole_specs_are_read_where_needed_with_shared_values() -> None:
    objects = [_ref(0), _ref(1)]
    states, _ = states_of_page(_page(objects), lambda name, *_: name == "r.m1")
    assert states[0].spec == {
        "model": {"id": "m0", "fqn": "model:t/r/m0"},
        "version": {"id": "v0", "version": 3},
    }
    assert states[1].spec == objects[1]["spec"]
    assert states[1].spec_complete
    assert states[0].status is states[1].status


def test_missing_and_null_values_read_as_empty() -> None:
    bare = _ref(0)
    del bare["metadata"]["labels"]
    bare["metadata"]["ownerReferences"] = None
    bare["status"] = None
    states, _ = states_of_page(_page([bare]), _never)
    assert (states[0].labels, states[0].owner_references, states[0].status) == ({}, (), {})
    assert states[0].controller_uid is None


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("metadata", "labels"), {"modelsync.dev/sync": 1}),
        (("metadata", "labels"), ["not", "a", "map"]),
        (("metadata", "ownerReferences"), {"not": "a list"}),
        (("metadata", "ownerReferences"), ["not an object"]),
        (("status",), ["not", "an", "object"]),
    ],
)
def test_a_page_with_a_value_of_another_type_is_read_whole(
    path: tuple[str, ...], value: Any
) -> None:
    odd = _ref(1)
    target = odd
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    objects = [_ref(0), odd]
    states, _ = states_of_page(_page(objects), _never, SharedValues())
    assert states == [parse_existing(copy.deepcopy(obj)) for obj in objects]
    assert all(state.spec_complete for state in states)
