"""Watch event sequences: a scripted series of writes, watched from the resourceVersion
before them (with and without selectors), and a watch from "now" (initial ADDED events).
BOOKMARKs are not compared."""

from __future__ import annotations

from typing import Any

import pytest

from fidelity import objects
from fidelity.runner import JSON, MERGE, Ctx, JsonObject, Pair, compare
from fixtures_real_cluster import XDIST_GROUP

pytestmark = [pytest.mark.real_cluster, pytest.mark.xdist_group(XDIST_GROUP)]


def _summary(t: Ctx, events: list[JsonObject]) -> list[Any]:
    """Each event as (type, name, resourceVersion token, generation, labels, finalizers,
    deleting, spec, status)."""
    out = []
    for event in events:
        obj = event["object"]
        meta = obj.get("metadata") or {}
        out.append(
            t.norm.value(
                {
                    "type": event["type"],
                    "name": meta.get("name"),
                    "resourceVersion": meta.get("resourceVersion"),
                    "generation": meta.get("generation"),
                    "labels": meta.get("labels"),
                    "finalizers": meta.get("finalizers"),
                    "deleting": "deletionTimestamp" in meta,
                    "spec": obj.get("spec"),
                    "status": obj.get("status"),
                }
            )
        )
    return out


def _writes(t: Ctx) -> int:
    """A fixed series of writes to widgets; returns how many events it makes unfiltered."""
    w1, w2 = t.widgets("w1"), t.widgets("w2")
    requests: list[tuple[str, str, Any]] = [
        ("POST", t.widgets(), objects.widget("w1")),
        (
            "POST",
            t.widgets(),
            {**objects.widget("w2"), "metadata": {"name": "w2", "labels": {"pick": "y"}}},
        ),
        ("PATCH", w1, {"spec": {"size": 5}}),
        ("PATCH", w1, {"metadata": {"labels": {"pick": "y"}}}),
        ("PATCH", w2, {"metadata": {"labels": {"pick": None}}}),
        ("PATCH", f"{w1}/status", {"status": {"conditions": [objects.status_condition()]}}),
        ("PATCH", w1, {"spec": {"size": 5}}),  # a no-op: no event
        ("PATCH", w1, {"metadata": {"finalizers": ["example.dev/hold"]}}),
        ("DELETE", w1, None),
        ("DELETE", w2, None),
        ("PATCH", w1, {"metadata": {"finalizers": None}}),
    ]
    for method, path, body in requests:
        content_type = MERGE if method == "PATCH" else JSON
        reply = t.server.request(method, path, body, content_type=content_type)
        assert reply.status in (200, 201), (method, path, reply)
    return 10


def _list_rv(t: Ctx) -> str:
    return str(t.server.request("GET", t.widgets()).obj()["metadata"]["resourceVersion"])


def _watch_script(t: Ctx) -> None:
    start = _list_rv(t)
    count = _writes(t)
    for label, query, expected in (
        ("all", {}, count),
        ("label selector", {"labelSelector": "pick=y"}, 4),
        ("field selector", {"fieldSelector": "metadata.name=w2"}, 3),
    ):
        events = t.server.watch(
            t.widgets(),
            {"resourceVersion": start, **query},
            until=lambda seen, n=expected: len(seen) >= n,
        )
        t.record(f"watch {label}", _summary(t, events))


def test_watch_from_resource_version(pair: Pair) -> None:
    compare(pair, _watch_script)


def _initial_script(t: Ctx) -> None:
    for name in ("c", "a", "b"):
        t.server.request("POST", t.widgets(), objects.widget(name))
    events = t.server.watch(t.widgets(), {}, until=lambda seen: len(seen) >= 3)
    t.record("initial events", _summary(t, events))
    events = t.server.watch(
        t.widgets(), {"resourceVersion": "0"}, until=lambda seen: len(seen) >= 3
    )
    t.record("initial events from 0", [e["type"] for e in events])
    # kube-apiserver v1.33 has the WatchList feature gate off by default.
    t.http(
        "send initial events",
        "GET",
        t.widgets(),
        query={
            "watch": "true",
            "sendInitialEvents": "true",
            "resourceVersionMatch": "NotOlderThan",
            "allowWatchBookmarks": "true",
        },
    )


def test_watch_initial_events(pair: Pair) -> None:
    compare(pair, _initial_script)
