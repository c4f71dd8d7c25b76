"""Deletion: finalizers (deletionTimestamp set, removal deletes), ownerReference garbage
collection in the background, foreground and orphan modes, and namespace deletion. The real
cluster's garbage collector and namespace controller run in kube-controller-manager: these
wait (bounded) for what they do."""

from __future__ import annotations

from typing import Any

import pytest

from fidelity import objects
from fidelity.runner import (
    MERGE,
    NOTE,
    REAL,
    SANDBOX,
    Ctx,
    JsonObject,
    Pair,
    compare,
    step,
    wait_gone,
)
from fixtures_kube import wait_for
from fixtures_real_cluster import XDIST_GROUP

pytestmark = [pytest.mark.real_cluster, pytest.mark.xdist_group(XDIST_GROUP)]

# kube-controller-manager's garbage collector learns of new resource types (the Widget CRD)
# by rediscovering every 30 s: on a control plane that has just started, its first work on
# widgets can wait that long. Once it knows them it takes well under a second.
GC_TIMEOUT = 45.0


def _finalizer_script(t: Ctx) -> None:
    body = objects.widget("f1")
    body["metadata"]["finalizers"] = ["example.dev/a", "example.dev/b"]
    one = t.widgets("f1")
    t.http("create", "POST", t.widgets(), body)
    t.http("delete", "DELETE", one)
    t.http("get deleting", "GET", one)
    t.http("delete again", "DELETE", one)
    t.http(
        "drop one",
        "PATCH",
        one,
        {"metadata": {"finalizers": ["example.dev/b"]}},
        content_type=MERGE,
    )
    t.http("drop last", "PATCH", one, {"metadata": {"finalizers": []}}, content_type=MERGE)
    t.http("gone", "GET", one)
    secret = objects.secret("f2")
    secret["metadata"]["finalizers"] = ["example.dev/a"]
    t.http("secret create", "POST", t.core("secrets"), secret)
    t.http("secret delete", "DELETE", t.core("secrets", "f2"))
    current = t.server.request("GET", t.core("secrets", "f2")).obj()
    current["metadata"]["finalizers"] = []
    t.http("secret put without finalizers", "PUT", t.core("secrets", "f2"), current)
    t.http("secret gone", "GET", t.core("secrets", "f2"))
    t.http("delete missing", "DELETE", t.widgets("nope"))
    t.kubectl("kubectl delete wait", f"delete widget nope -n {t.ns} --ignore-not-found")


def test_finalizers(pair: Pair) -> None:
    compare(pair, _finalizer_script)


def _owner_ref(owner: JsonObject, *, block: bool = False) -> JsonObject:
    ref: JsonObject = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def _family(t: Ctx, name: str, *, block: bool = False) -> tuple[str, list[str]]:
    """A widget owning a secret and a widget; returns their paths."""
    owner = t.server.request("POST", t.widgets(), objects.widget(name)).obj()
    secret = objects.secret(f"{name}-s")
    secret["metadata"]["ownerReferences"] = [_owner_ref(owner, block=block)]
    child = objects.widget(f"{name}-w")
    child["metadata"]["ownerReferences"] = [_owner_ref(owner, block=block)]
    for path, body in ((t.core("secrets"), secret), (t.widgets(), child)):
        reply = t.server.request("POST", path, body)
        assert reply.status == 201, reply
    return t.widgets(name), [t.core("secrets", f"{name}-s"), t.widgets(f"{name}-w")]


def _state(t: Ctx, path: str) -> Any:
    reply = t.server.request("GET", path)
    if reply.status == 404:
        return "gone"
    meta = reply.obj()["metadata"]
    return t.norm.value(
        {
            "finalizers": meta.get("finalizers"),
            "ownerReferences": meta.get("ownerReferences"),
            "deleting": "deletionTimestamp" in meta,
        }
    )


def _gc_script(t: Ctx) -> None:
    owner, children = _family(t, "bg")
    t.http("background delete", "DELETE", owner, {"propagationPolicy": "Background"})
    for child in children:
        wait_gone(t.server, child, GC_TIMEOUT)
    t.record("background: children", [_state(t, c) for c in children])

    owner, children = _family(t, "orphan")
    t.http("orphan delete", "DELETE", owner, {"propagationPolicy": "Orphan"})
    wait_gone(t.server, owner, GC_TIMEOUT)
    t.record("orphan: children", [_state(t, c) for c in children])

    owner, children = _family(t, "fg", block=True)
    held = children[1]
    assert (
        t.server.request(
            "PATCH", held, {"metadata": {"finalizers": ["example.dev/hold"]}}, content_type=MERGE
        ).status
        == 200
    )
    t.http("foreground delete", "DELETE", owner, {"propagationPolicy": "Foreground"})
    wait_gone(t.server, children[0], GC_TIMEOUT)
    wait_for(
        lambda: _state(t, held) != "gone" and _state(t, held)["deleting"],
        timeout=GC_TIMEOUT,
        what=f"{held} deleting on {t.name}",
    )
    t.record("foreground: owner waits", _state(t, owner))
    t.record("foreground: children", [_state(t, c) for c in children])
    t.server.request("PATCH", held, {"metadata": {"finalizers": None}}, content_type=MERGE)
    wait_gone(t.server, owner, GC_TIMEOUT)
    t.record("foreground: owner gone", _state(t, owner))


def test_garbage_collection(pair: Pair) -> None:
    compare(pair, _gc_script)


def _namespace_script(t: Ctx) -> None:
    """A namespace's deletion takes its contents with it. The real namespace controller
    waits 5 s before it starts; a widget held by a finalizer keeps the sandbox's namespace
    terminating as long, and is let go before then: one pass on both."""
    ns = f"{t.ns}-del"
    t.http("create", "POST", "/api/v1/namespaces", objects.namespace(ns))
    path = f"/apis/example.dev/v1/namespaces/{ns}/widgets"
    held = objects.widget("held")
    held["metadata"]["finalizers"] = ["example.dev/hold"]
    for body in (objects.widget("plain"), held):
        assert t.server.request("POST", path, body).status == 201
    secret = t.server.request("POST", f"/api/v1/namespaces/{ns}/secrets", objects.secret("s"))
    assert secret.status == 201
    t.http("delete", "DELETE", f"/api/v1/namespaces/{ns}")
    t.note("contents right after the delete", t.server.request("GET", f"{path}/plain").status)
    t.http("delete again", "DELETE", f"/api/v1/namespaces/{ns}")
    t.http("create inside terminating", "POST", path, objects.widget("late"))
    released = t.server.request(
        "PATCH", f"{path}/held", {"metadata": {"finalizers": None}}, content_type=MERGE
    )
    assert released.status == 200, released
    wait_gone(t.server, f"/api/v1/namespaces/{ns}", GC_TIMEOUT)
    t.http("namespace gone", "GET", f"/api/v1/namespaces/{ns}")
    t.http("contents gone", "GET", f"{path}/held")


def test_namespace_deletion(pair: Pair) -> None:
    transcripts = compare(pair, _namespace_script)
    # Documented: the sandbox's namespace controller empties a deleted namespace at once;
    # kube-controller-manager waits 5 s (namespaceDeletionGracePeriod) first.
    label = f"{NOTE}contents right after the delete"
    assert step(transcripts[SANDBOX], label) == 404
    assert step(transcripts[REAL], label) == 200
