"""Server-side apply (kubectl apply --server-side, raw apply patches, the Python client) and
metadata.managedFields: who owns what after each kind of write, conflicts, forcing, and
the removal of fields an applier stops declaring."""

from __future__ import annotations

import json

import pytest

from fidelity import objects
from fidelity.objects import KINDS, every_kind
from fidelity.runner import (
    APPLY,
    MERGE,
    Ctx,
    Pair,
    compare,
    yaml_text,
)
from fixtures_real_cluster import XDIST_GROUP

pytestmark = [pytest.mark.real_cluster, pytest.mark.xdist_group(XDIST_GROUP)]


def _owners(t: Ctx, label: str, path: str) -> None:
    """Record an object's managedFields (and the object), as the server has them."""
    t.http(label, "GET", path, keep_managed_fields=True)


def _widget_script(t: Ctx) -> None:
    one = t.widgets("a1")
    ns = f"-n {t.ns} -f -"
    body = objects.widget("a1", tags=["x"], extra={"k": {"z": 1}})
    body["metadata"]["labels"] = {"team": "a"}
    t.kubectl("client-side apply", f"apply {ns}", input=yaml_text(body))
    _owners(t, "after client-side apply", one)
    body["spec"]["size"] = 4
    t.kubectl("server-side apply upgrades", f"apply --server-side {ns}", input=yaml_text(body))
    _owners(t, "after server-side apply", one)
    body["spec"]["size"] = 5
    t.kubectl(
        "another manager conflicts",
        f"apply --server-side --field-manager=other {ns}",
        input=yaml_text(body),
    )
    t.kubectl(
        "forced",
        f"apply --server-side --field-manager=other --force-conflicts {ns}",
        input=yaml_text(body),
    )
    _owners(t, "after forcing", one)
    body["spec"].pop("tags")
    body["metadata"]["labels"] = {}
    t.kubectl("kubectl stops declaring", f"apply --server-side {ns}", input=yaml_text(body))
    _owners(t, "after kubectl let go", one)
    t.kubectl(
        "other stops declaring",
        f"apply --server-side --field-manager=other --force-conflicts {ns}",
        input=yaml_text(body),
    )
    _owners(t, "after both let go", one)
    t.http(
        "merge patch by another client",
        "PATCH",
        one,
        {"spec": {"owner": "bob"}, "metadata": {"labels": {"x": "y"}}},
        content_type=MERGE,
        query={"fieldManager": "patcher"},
        keep_managed_fields=True,
    )
    t.http(
        "status by a controller",
        "PATCH",
        t.widgets("a1", "status"),
        {"status": {"conditions": [objects.status_condition()]}},
        content_type=MERGE,
        query={"fieldManager": "ctrl"},
        keep_managed_fields=True,
    )
    config = {
        "apiVersion": "example.dev/v1",
        "kind": "Widget",
        "metadata": {"name": "a1"},
        "spec": {"size": 5},
    }
    t.http(
        "apply same values co-owns",
        "PATCH",
        one,
        json.dumps(config),
        content_type=APPLY,
        query={"fieldManager": "coowner"},
        keep_managed_fields=True,
    )
    t.http(
        "apply no-op",
        "PATCH",
        one,
        json.dumps(config),
        content_type=APPLY,
        query={"fieldManager": "coowner"},
        keep_managed_fields=True,
    )
    config["spec"]["size"] = 6
    t.http(
        "apply conflict",
        "PATCH",
        one,
        json.dumps(config),
        content_type=APPLY,
        query={"fieldManager": "late"},
    )
    t.http(
        "apply force",
        "PATCH",
        one,
        json.dumps(config),
        content_type=APPLY,
        query={"fieldManager": "late", "force": "true"},
        keep_managed_fields=True,
    )
    t.http("apply without manager", "PATCH", one, json.dumps(config), content_type=APPLY)
    t.http(
        "apply wrong version",
        "PATCH",
        one,
        json.dumps({**config, "apiVersion": "example.dev/v2"}),
        content_type=APPLY,
        query={"fieldManager": "late"},
    )
    t.http(
        "apply wrong name",
        "PATCH",
        one,
        json.dumps({**config, "metadata": {"name": "other"}}),
        content_type=APPLY,
        query={"fieldManager": "late"},
    )
    t.http(
        "apply creates",
        "PATCH",
        t.widgets("a2"),
        "apiVersion: example.dev/v1\nkind: Widget\nmetadata:\n  name: a2\nspec:\n  size: 2\n",
        content_type=APPLY,
        query={"fieldManager": "yaml"},
        keep_managed_fields=True,
    )
    t.http(
        "status apply",
        "PATCH",
        t.widgets("a2", "status"),
        json.dumps(
            {
                "apiVersion": "example.dev/v1",
                "kind": "Widget",
                "metadata": {"name": "a2"},
                "spec": {"size": 9},
                "status": {"phase": "up"},
            }
        ),
        content_type=APPLY,
        query={"fieldManager": "ctrl"},
        keep_managed_fields=True,
    )


def test_widget_server_side_apply(pair: Pair) -> None:
    compare(pair, _widget_script)


def _client_script(t: Ctx) -> None:
    from kubernetes import client

    custom = client.CustomObjectsApi(t.server.api)
    core = client.CoreV1Api(t.server.api)
    widget = ("example.dev", "v1", t.ns, "widgets")
    body = objects.widget("c1", tags=["p"])
    t.client(
        "apply create",
        lambda: custom.patch_namespaced_custom_object(
            *widget, "c1", body, field_manager="py", _content_type=APPLY
        ),
    )
    body["spec"]["size"] = 8
    t.client(
        "apply change",
        lambda: custom.patch_namespaced_custom_object(
            *widget, "c1", body, field_manager="py", _content_type=APPLY
        ),
    )
    t.client(
        "conflict",
        lambda: custom.patch_namespaced_custom_object(
            *widget, "c1", {**body, "spec": {"size": 9}}, field_manager="py2", _content_type=APPLY
        ),
    )
    t.client(
        "force",
        lambda: custom.patch_namespaced_custom_object(
            *widget,
            "c1",
            {**body, "spec": {"size": 9}},
            field_manager="py2",
            force=True,
            _content_type=APPLY,
        ),
    )
    t.http("managed", "GET", t.widgets("c1"), keep_managed_fields=True)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "c1"},
        "stringData": {"token": "t"},
    }
    t.client(
        "secret apply",
        lambda: core.patch_namespaced_secret(
            "c1", t.ns, secret, field_manager="py", _content_type=APPLY
        ),
    )
    t.http("secret managed", "GET", t.core("secrets", "c1"), keep_managed_fields=True)
    t.client(
        "typed update",
        lambda: core.patch_namespaced_secret("c1", t.ns, {"metadata": {"labels": {"a": "b"}}}),
    )
    t.http("secret managed after update", "GET", t.core("secrets", "c1"), keep_managed_fields=True)


def test_client_server_side_apply(pair: Pair) -> None:
    compare(pair, _client_script)


def _every_kind_script(t: Ctx) -> None:
    """kubectl apply --server-side of every kind the operator uses, twice, then as another
    manager (conflicts), then forced; managedFields after each. The CRD's status is its
    controllers' business: left out."""
    t.norm.volatile = frozenset({"CustomResourceDefinition"})
    ns = f"-n {t.ns} -f -"
    t.kubectl("create", f"apply --server-side {ns}", input=yaml_text(*every_kind(t.ns)))
    t.kubectl(
        "get",
        f"get {ns} -o json --show-managed-fields",
        input=yaml_text(*every_kind(t.ns)),
        parse_json=True,
        keep_managed_fields=True,
    )
    edited = yaml_text(*every_kind(t.ns, 1))
    t.kubectl("change", f"apply --server-side {ns} -o json", input=edited, parse_json=True)
    other = yaml_text(*every_kind(t.ns, 2))
    t.kubectl("conflicts", f"apply --server-side --field-manager=other {ns}", input=other)
    t.kubectl(
        "forced", f"apply --server-side --field-manager=other --force-conflicts {ns}", input=other
    )
    t.kubectl(
        "after",
        f"get {ns} -o json --show-managed-fields",
        input=other,
        parse_json=True,
        keep_managed_fields=True,
    )
    t.kubectl("delete", f"delete {ns} --wait=false", input=other)


@pytest.mark.usefixtures("project_pair")
def test_every_kind_server_side_apply(pair: Pair) -> None:
    transcripts = compare(pair, _every_kind_script)
    after = dict(transcripts["real"])["after"]["stdout"]
    assert [item["kind"] for item in after["items"]] == [k.make("x")["kind"] for k in KINDS]


def _managed_fields_script(t: Ctx) -> None:
    """Who owns what after the writes each kind gets from kubectl and from clients."""
    bodies = [
        objects.secret("m1", a="1"),
        objects.lease("m1"),
        objects.core_event("m1", t.ns),
        objects.events_v1_event("m2", t.ns),
        objects.widget("m1", tags=["a"]),
    ]
    every = yaml_text(*bodies)
    t.kubectl("create", f"create -n {t.ns} -f - -o name", input=every)
    t.kubectl("label", f"label -n {t.ns} -f - team=a", input=every)
    t.kubectl("annotate", f"annotate -n {t.ns} -f - note=b", input=every)
    t.kubectl(
        "owners",
        f"get -n {t.ns} -f - -o json --show-managed-fields",
        input=every,
        parse_json=True,
        keep_managed_fields=True,
    )
    t.kubectl("namespace label", f"label namespace {t.ns} team=a")
    _owners(t, "namespace owners", f"/api/v1/namespaces/{t.ns}")
    t.http(
        "namespace status ignored, spec owned",
        "PATCH",
        f"/api/v1/namespaces/{t.ns}",
        {"status": {"phase": "Terminating"}, "spec": {"finalizers": ["x.dev/y"]}},
        content_type=MERGE,
        query={"fieldManager": "nsbot"},
        keep_managed_fields=True,
    )
    one = t.widgets("m1")
    t.http(
        "spec via status",
        "PATCH",
        f"{one}/status",
        {"metadata": {"labels": {"via": "status"}}, "spec": {"size": 7}, "status": {"ok": True}},
        content_type=MERGE,
        query={"fieldManager": "statusbot"},
        keep_managed_fields=True,
    )
    t.http(
        "status via main",
        "PATCH",
        one,
        {"status": {"ok": False}, "spec": {"size": 2}},
        content_type=MERGE,
        query={"fieldManager": "mainbot"},
        keep_managed_fields=True,
    )
    current = t.server.request("GET", one).obj()
    current["spec"]["size"] = 3
    current["metadata"]["managedFields"] = [
        entry for entry in current["metadata"]["managedFields"] if entry["manager"] != "mainbot"
    ]
    t.http(
        "put with managedFields",
        "PUT",
        one,
        current,
        query={"fieldManager": "putter"},
        keep_managed_fields=True,
    )


def test_managed_fields(pair: Pair) -> None:
    compare(pair, _managed_fields_script)
