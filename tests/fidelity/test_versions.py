"""metadata.generation and resourceVersion rules, the status subresource, and conflicts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fidelity import objects
from fidelity.runner import MERGE, Ctx, JsonObject, Pair, compare, settle_crd, step
from fixtures_real_cluster import XDIST_GROUP

pytestmark = [pytest.mark.real_cluster, pytest.mark.xdist_group(XDIST_GROUP)]


def _versions(reply_body: JsonObject) -> JsonObject:
    meta = reply_body.get("metadata") or {}
    return {"generation": meta.get("generation"), "resourceVersion": meta.get("resourceVersion")}


def _custom_resource_script(
    path: Callable[[Ctx, str], str], body: JsonObject
) -> Callable[[Ctx], None]:
    """Spec changes bump generation, metadata and status changes do not; no-op writes keep
    the resourceVersion; /status ignores spec and the main resource ignores status."""

    def script(t: Ctx) -> None:
        one = path(t, "r1")
        collection = one.rsplit("/", 1)[0]
        created = t.http("create", "POST", collection, body).obj()
        t.http("create again", "POST", collection, body)
        t.http("spec change", "PATCH", one, {"spec": {"x-ignored": 1}}, content_type=MERGE)
        t.http(
            "label change", "PATCH", one, {"metadata": {"labels": {"l": "1"}}}, content_type=MERGE
        )
        t.http(
            "annotation no-op",
            "PATCH",
            one,
            {"metadata": {"labels": {"l": "1"}}},
            content_type=MERGE,
        )
        condition = objects.status_condition()
        t.http(
            "status via main",
            "PATCH",
            one,
            {"status": {"conditions": [condition]}},
            content_type=MERGE,
        )
        t.http(
            "status",
            "PATCH",
            f"{one}/status",
            {"status": {"conditions": [condition]}},
            content_type=MERGE,
        )
        t.http(
            "status no-op",
            "PATCH",
            f"{one}/status",
            {"status": {"conditions": [condition]}},
            content_type=MERGE,
        )
        t.http(
            "spec via status",
            "PATCH",
            f"{one}/status",
            {"metadata": {"labels": {"via": "status"}}, "spec": {"replaced": True}},
            content_type=MERGE,
        )
        current = t.server.request("GET", one).obj()
        t.http("put unchanged", "PUT", one, current)
        stale = {**current, "metadata": {**current["metadata"], "resourceVersion": "2"}}
        t.http("put stale", "PUT", one, stale)
        t.http("put status stale", "PUT", f"{one}/status", stale)
        current["status"] = {"conditions": [objects.status_condition("False", "Failed")]}
        t.http("put status", "PUT", f"{one}/status", current)
        t.http(
            "patch stale precondition",
            "PATCH",
            one,
            {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}},
            content_type=MERGE,
        )
        t.http(
            "delete stale precondition",
            "DELETE",
            one,
            {"preconditions": {"resourceVersion": created["metadata"]["resourceVersion"]}},
        )
        t.http("delete wrong uid", "DELETE", one, {"preconditions": {"uid": "nope"}})
        t.http("get", "GET", one)

    return script


def _widget_path(t: Ctx, name: str) -> str:
    return t.widgets(name)


def _modelref_path(t: Ctx, name: str) -> str:
    return t.modelsync("modelrefs", name)


def _sync_path(t: Ctx, name: str) -> str:
    return t.modelsync("modelcatalogsyncs", name)


def test_widget_generation_and_status(pair: Pair) -> None:
    body = objects.widget("r1", tags=["a"])
    transcripts = compare(pair, _custom_resource_script(_widget_path, body))
    # The rules themselves, spelled out (the comparison alone would pass two equal bugs).
    gens = {
        label: _versions(value["body"])["generation"]
        for label, value in transcripts["real"]
        if value["status"] == 200
    }
    assert gens["spec change"] == 1  # x-ignored is pruned: the spec did not change
    assert gens["status"] == gens["label change"] == 1


@pytest.mark.usefixtures("project_pair")
@pytest.mark.parametrize(
    ("path", "body"),
    [
        (_modelref_path, objects.model_ref("r1")),
        (_sync_path, objects.model_catalog_sync("r1")),
    ],
    ids=["modelref", "modelcatalogsync"],
)
def test_project_kinds_generation_and_status(
    pair: Pair, path: Callable[[Ctx, str], str], body: JsonObject
) -> None:
    compare(pair, _custom_resource_script(path, body))


def _generation_script(t: Ctx) -> None:
    one = t.widgets("g1")
    t.http("create", "POST", t.widgets(), objects.widget("g1"))
    t.http("size", "PATCH", one, {"spec": {"size": 4}}, content_type=MERGE)
    t.http("same size", "PATCH", one, {"spec": {"size": 4}}, content_type=MERGE)
    t.http("default re-sent", "PATCH", one, {"spec": {"color": "blue"}}, content_type=MERGE)
    t.http(
        "finalizer",
        "PATCH",
        one,
        {"metadata": {"finalizers": ["example.dev/x"]}},
        content_type=MERGE,
    )
    t.http("delete", "DELETE", one)
    t.http("spec while deleting", "PATCH", one, {"spec": {"size": 5}}, content_type=MERGE)
    t.http(
        "new finalizer while deleting",
        "PATCH",
        one,
        {"metadata": {"finalizers": ["example.dev/x", "example.dev/y"]}},
        content_type=MERGE,
    )
    t.http("delete again", "DELETE", one)
    t.http("release", "PATCH", one, {"metadata": {"finalizers": []}}, content_type=MERGE)
    t.http("gone", "GET", one)


def test_generation_through_deletion(pair: Pair) -> None:
    transcripts = compare(pair, _generation_script)
    real = transcripts["real"]
    assert step(real, "size")["body"]["metadata"]["generation"] == 2
    assert (
        step(real, "same size")["body"]["metadata"]["resourceVersion"]
        == (step(real, "size")["body"]["metadata"]["resourceVersion"])
    )


def _builtin_script(t: Ctx) -> None:
    """Built-in kinds have no generation (namespaces, secrets, leases, events) but the same
    resourceVersion rules; CRDs have one."""
    for label, path, body, change in (
        ("secret", t.core("secrets"), objects.secret("b1"), {"data": {"k": "dg=="}}),
        (
            "lease",
            f"/apis/coordination.k8s.io/v1/namespaces/{t.ns}/leases",
            objects.lease("b1"),
            {"spec": {"holderIdentity": "pod-b"}},
        ),
        ("event", t.core("events"), objects.core_event("b1", t.ns), {"count": 3}),
    ):
        one = f"{path}/b1"
        t.http(f"{label} create", "POST", path, body)
        t.http(f"{label} create existing", "POST", path, body)
        t.http(f"{label} change", "PATCH", one, change, content_type=MERGE)
        t.http(f"{label} no-op", "PATCH", one, change, content_type=MERGE)
        current = t.server.request("GET", one).obj()
        t.http(f"{label} put unchanged", "PUT", one, current)
        current["metadata"]["resourceVersion"] = "3"
        t.http(f"{label} put stale", "PUT", one, current)
    ns_path = f"/api/v1/namespaces/{t.ns}"
    t.http(
        "namespace status via main",
        "PATCH",
        ns_path,
        {"status": {"phase": "Terminating"}},
        content_type=MERGE,
    )
    t.http(
        "namespace spec via main",
        "PATCH",
        ns_path,
        {"spec": {"finalizers": ["example.dev/x"]}},
        content_type=MERGE,
    )
    t.http(
        "namespace label",
        "PATCH",
        ns_path,
        {"metadata": {"labels": {"a": "b"}}},
        content_type=MERGE,
    )
    t.http("namespace create existing", "POST", "/api/v1/namespaces", objects.namespace(t.ns))


def test_builtin_kinds_resource_versions(pair: Pair) -> None:
    compare(pair, _builtin_script)


def _crd_script(t: Ctx) -> None:
    plural = "".join(ch for ch in t.ns if ch.isalnum()) + "gens"
    body = objects.crd(plural)
    path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    one = f"{path}/{body['metadata']['name']}"
    t.after_write = lambda: settle_crd(t.server, body["metadata"]["name"])
    t.http("create", "POST", path, body)
    t.http("create existing", "POST", path, body)
    t.http(
        "label",
        "PATCH",
        one,
        {"metadata": {"labels": {"a": "b"}}},
        content_type=MERGE,
    )
    t.http(
        "spec",
        "PATCH",
        one,
        {"spec": {"names": {"shortNames": ["gx"]}}},
        content_type=MERGE,
    )
    t.http(
        "status via main",
        "PATCH",
        one,
        {"status": {"storedVersions": ["v1", "v2"]}},
        content_type=MERGE,
    )
    current = t.server.request("GET", one).obj()
    current["metadata"]["resourceVersion"] = "5"
    t.http("put stale", "PUT", one, current)
    t.http(
        "delete",
        "DELETE",
        one,
    )


def test_crd_generation(pair: Pair) -> None:
    compare(pair, _crd_script, namespace=True)
