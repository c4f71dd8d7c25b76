"""Writes of every kind the operator uses, and of the Widget test CRD, with the real kubectl
(create, client-side apply twice, patch of each type, replace, delete) and with the official
Python client (create, get, patch, replace, delete): same outputs, same stored objects."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from fidelity import objects
from fidelity.objects import KINDS, Kind, every_kind, path_of
from fidelity.runner import (
    JSON_PATCH,
    MERGE,
    STRATEGIC,
    Ctx,
    Pair,
    compare,
    settle_crd,
    yaml_text,
)
from fixtures_real_cluster import XDIST_GROUP

pytestmark = [pytest.mark.real_cluster, pytest.mark.xdist_group(XDIST_GROUP)]


def _kubectl_script(t: Ctx) -> None:
    """Every kind in one file, so that each kubectl verb runs once for all of them. The
    CRD's status (and so its resourceVersion) is its controllers' business: left out."""
    t.norm.volatile = frozenset({"CustomResourceDefinition"})
    every = yaml_text(*every_kind(t.ns))
    ns = f"-n {t.ns} -f -"
    t.kubectl("create", f"create {ns} -o json", input=every, parse_json=True)
    for n in (1, 2):
        edited = yaml_text(*every_kind(t.ns, n))
        t.kubectl(f"apply {n}", f"apply {ns} -o json", input=edited, parse_json=True)
    for patch_type, patch in (
        ("merge", '{"metadata": {"labels": {"patched": "merge"}}}'),
        ("json", '[{"op": "add", "path": "/metadata/labels/json", "value": "yes"}]'),
        ("strategic", '{"metadata": {"labels": {"patched": "strategic"}}}'),
    ):
        t.kubectl(
            f"patch {patch_type}",
            f"patch {ns} --type {patch_type} -o json -p",
            patch,
            input=every,
            parse_json=True,
        )
    current = t.server.kubectl("get", "-n", t.ns, "-f", "-", "-o", "json", input=every).json()
    for kind, obj in zip(KINDS, current["items"], strict=True):
        kind.change(obj, 3)
    t.kubectl("replace", f"replace {ns} -o json", input=json.dumps(current), parse_json=True)
    for obj in current["items"]:
        obj["metadata"]["resourceVersion"] = "1"
    t.kubectl("replace stale", f"replace {ns}", input=json.dumps(current))
    t.kubectl("get", f"get {ns} -o json", input=every, parse_json=True)
    t.kubectl("delete", f"delete {ns} --wait=false", input=every)


def test_kubectl_writes(project_pair: Pair) -> None:
    compare(project_pair, _kubectl_script)


def _patch_script(kind: Kind) -> Callable[[Ctx], None]:
    def script(t: Ctx) -> None:
        body = kind.make(t.ns)
        path = path_of(kind, t.ns, body)
        collection = path.rsplit("/", 1)[0]
        if kind.id == "crd":
            name = body["metadata"]["name"]
            t.after_write = lambda: settle_crd(t.server, name)
        t.http("create", "POST", collection, body)
        t.http("merge", "PATCH", path, kind.merge, content_type=MERGE)
        t.http("json", "PATCH", path, kind.json_patch, content_type=JSON_PATCH)
        strategic = kind.strategic if kind.strategic is not None else kind.merge
        t.http("strategic", "PATCH", path, strategic, content_type=STRATEGIC)
        t.http(
            "json test fails",
            "PATCH",
            path,
            [{"op": "test", "path": "/metadata/name", "value": "other"}],
            content_type=JSON_PATCH,
        )
        t.http("merge no-op", "PATCH", path, {}, content_type=MERGE)
        current = t.server.request("GET", path).obj()
        kind.change(current, 5)
        t.http("replace", "PUT", path, current)
        current["metadata"].pop("resourceVersion")
        kind.change(current, 6)
        t.http("replace without resourceVersion", "PUT", path, current)
        t.http("create existing", "POST", collection, body)
        if kind.strategic is not None and "finalizers" in json.dumps(kind.strategic):
            t.http("delete finalized", "DELETE", path)
            t.http(
                "unfinalize", "PATCH", path, {"metadata": {"finalizers": None}}, content_type=MERGE
            )
        else:
            t.http("delete", "DELETE", path)
        if kind.id not in ("namespace", "crd"):  # their controllers finish those later
            t.http("get deleted", "GET", path)

    return script


@pytest.mark.parametrize("kind", KINDS, ids=[k.id for k in KINDS])
def test_http_writes(pair: Pair, request: pytest.FixtureRequest, kind: Kind) -> None:
    if kind.project_crds:
        request.getfixturevalue("project_pair")
    compare(pair, _patch_script(kind))


# -- the official Python client --------------------------------------------------------------


def _client_script(t: Ctx) -> None:
    from kubernetes import client

    core = client.CoreV1Api(t.server.api)
    custom = client.CustomObjectsApi(t.server.api)
    leases = client.CoordinationV1Api(t.server.api)
    events = client.EventsV1Api(t.server.api)
    ns = t.ns
    widget = ("example.dev", "v1", ns, "widgets")

    t.client("secret create", lambda: core.create_namespaced_secret(ns, objects.secret("s1")))
    t.client(
        "secret patch",
        lambda: core.patch_namespaced_secret(
            "s1", ns, {"metadata": {"labels": {"a": "1"}}, "data": {"x": "eA=="}}
        ),
    )
    secret = core.read_namespaced_secret("s1", ns)
    secret.data["y"] = "eQ=="
    t.client("secret replace", lambda: core.replace_namespaced_secret("s1", ns, secret))
    t.client("secret list", lambda: core.list_namespaced_secret(ns, label_selector="a=1"))
    t.client("secret delete", lambda: core.delete_namespaced_secret("s1", ns))
    t.client("secret get gone", lambda: core.read_namespaced_secret("s1", ns))

    t.client("lease create", lambda: leases.create_namespaced_lease(ns, objects.lease("l1")))
    t.client(
        "lease patch",
        lambda: leases.patch_namespaced_lease(
            "l1", ns, {"spec": {"holderIdentity": "pod-b", "leaseTransitions": 1}}
        ),
    )
    lease = leases.read_namespaced_lease("l1", ns)
    lease.spec.lease_duration_seconds = 30
    t.client("lease replace", lambda: leases.replace_namespaced_lease("l1", ns, lease))

    t.client("event create", lambda: core.create_namespaced_event(ns, objects.core_event("e1", ns)))
    t.client("event patch", lambda: core.patch_namespaced_event("e1", ns, {"count": 2}))
    t.client(
        "events.k8s.io create",
        lambda: events.create_namespaced_event(ns, objects.events_v1_event("e2", ns)),
    )
    t.client("events.k8s.io read core", lambda: core.read_namespaced_event("e2", ns))
    t.client("events.k8s.io read e1", lambda: events.read_namespaced_event("e1", ns))

    t.client(
        "widget create",
        lambda: custom.create_namespaced_custom_object(*widget, objects.widget("w1", tags=["a"])),
    )
    t.client(
        "widget merge",
        lambda: custom.patch_namespaced_custom_object(
            *widget, "w1", {"spec": {"color": "red"}}, _content_type=MERGE
        ),
    )
    t.client(
        "widget json patch",
        lambda: custom.patch_namespaced_custom_object(
            *widget,
            "w1",
            [{"op": "add", "path": "/spec/tags/0", "value": "z"}],
            _content_type="application/json-patch+json",
        ),
    )
    t.client(
        "widget status",
        lambda: custom.patch_namespaced_custom_object_status(
            *widget,
            "w1",
            {"status": {"conditions": [objects.status_condition()]}},
            _content_type=MERGE,
        ),
    )
    current = custom.get_namespaced_custom_object(*widget, "w1")
    assert isinstance(current, dict)
    current["spec"]["size"] = 8
    t.client(
        "widget replace", lambda: custom.replace_namespaced_custom_object(*widget, "w1", current)
    )
    t.client(
        "widget replace stale",
        lambda: custom.replace_namespaced_custom_object(*widget, "w1", current),
    )
    t.client("widget list", lambda: custom.list_namespaced_custom_object(*widget))
    t.client("widget delete", lambda: custom.delete_namespaced_custom_object(*widget, "w1"))
    _client_project_kinds(t, custom)
    _client_cluster_kinds(t, core, client.ApiextensionsV1Api(t.server.api))


def _client_project_kinds(t: Ctx, custom: Any) -> None:
    """ModelCatalogSync and ModelRef through CustomObjectsApi, as the operator writes them."""
    for plural, body in (
        ("modelcatalogsyncs", objects.model_catalog_sync("p1")),
        ("modelrefs", objects.model_ref("p1")),
    ):
        where = ("modelsync.dev", "v1alpha1", t.ns, plural)
        t.client(
            f"{plural} create",
            lambda w=where, b=body: custom.create_namespaced_custom_object(*w, b),
        )
        t.client(
            f"{plural} merge",
            lambda w=where: custom.patch_namespaced_custom_object(
                *w, "p1", {"metadata": {"labels": {"m": "1"}}}, _content_type=MERGE
            ),
        )
        t.client(
            f"{plural} status",
            lambda w=where: custom.patch_namespaced_custom_object_status(
                *w,
                "p1",
                {"status": {"observedGeneration": 1, "conditions": [objects.status_condition()]}},
                _content_type=MERGE,
            ),
        )
        current = custom.get_namespaced_custom_object(*where, "p1")
        current["metadata"]["annotations"] = {"r": "1"}
        t.client(
            f"{plural} replace",
            lambda w=where, c=current: custom.replace_namespaced_custom_object(*w, "p1", c),
        )
        t.client(
            f"{plural} delete", lambda w=where: custom.delete_namespaced_custom_object(*w, "p1")
        )


def _client_cluster_kinds(t: Ctx, core: Any, extensions: Any) -> None:
    """Namespace and CustomResourceDefinition through their typed APIs."""
    name = f"{t.ns}-c"
    t.client("namespace create", lambda: core.create_namespace(objects.namespace(name)))
    t.client(
        "namespace patch",
        lambda: core.patch_namespace(name, {"metadata": {"labels": {"team": "a"}}}),
    )
    namespace = core.read_namespace(name)
    namespace.metadata.annotations = {"a": "b"}
    t.client("namespace replace", lambda: core.replace_namespace(name, namespace))
    t.client("namespace delete", lambda: core.delete_namespace(name))
    crd = objects.crd(objects.crd_plural(t.ns) + "py")
    crd_name = crd["metadata"]["name"]
    t.client("crd create", lambda: extensions.create_custom_resource_definition(crd))
    settle_crd(t.server, crd_name)
    t.client(
        "crd patch",
        lambda: extensions.patch_custom_resource_definition(
            crd_name, {"spec": {"names": {"shortNames": ["pyx"]}}}
        ),
    )
    settle_crd(t.server, crd_name)
    current = extensions.read_custom_resource_definition(crd_name)
    current.metadata.labels = {"r": "1"}
    t.client(
        "crd replace", lambda: extensions.replace_custom_resource_definition(crd_name, current)
    )
    settle_crd(t.server, crd_name)
    t.client("crd delete", lambda: extensions.delete_custom_resource_definition(crd_name))


def test_client_writes(project_pair: Pair) -> None:
    compare(project_pair, _client_script)
