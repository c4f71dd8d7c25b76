"""Label and field selectors (the CRD's selectableFields included), and Table output: the
server's Table objects and what `kubectl get` prints from them (printer columns, -o wide)."""

from __future__ import annotations

import pytest

from fidelity import objects
from fidelity.runner import MERGE, TABLE, Ctx, Pair, compare
from fixtures_real_cluster import XDIST_GROUP

pytestmark = [pytest.mark.real_cluster, pytest.mark.xdist_group(XDIST_GROUP)]


def _seed(t: Ctx) -> None:
    """Widgets and secrets with labels, one widget with a Ready condition."""
    for name, size, color, labels in (
        ("a", 1, "red", {"tier": "web", "env": "prod"}),
        ("b", 2, "blue", {"tier": "db", "env": "prod"}),
        ("c", 3, "green", {"tier": "web"}),
        ("d", 4, None, {}),
    ):
        body = objects.widget(name, size=size, **({"color": color} if color else {}))
        body["metadata"]["labels"] = labels
        assert t.server.request("POST", t.widgets(), body).status == 201
        secret = objects.secret(name)
        secret["metadata"]["labels"] = labels
        if name == "d":
            secret["type"] = "example.dev/custom"
        assert t.server.request("POST", t.core("secrets"), secret).status == 201
    ready = {"status": {"conditions": [objects.status_condition()]}}
    reply = t.server.request("PATCH", t.widgets("a", "status"), ready, content_type=MERGE)
    assert reply.status == 200, reply


def _names(t: Ctx, label: str, path: str, **query: str) -> None:
    """Record only the names a list returns (or its error), in order."""
    reply = t.server.request("GET", path, query=query)
    if reply.status == 200:
        names = [item["metadata"]["name"] for item in reply.obj()["items"]]
        t.record(label, {"status": 200, "names": names})
    else:
        t.record(label, t.shown(reply))


def _selectors_script(t: Ctx) -> None:
    _seed(t)
    for label, selector in (
        ("equals", "tier=web"),
        ("double equals", "tier==web"),
        ("not equals", "tier!=web"),
        ("in", "tier in (web,db)"),
        ("notin", "tier notin (web)"),
        ("exists", "env"),
        ("not exists", "!env"),
        ("and", "tier=web,env=prod"),
        ("bad", "tier=="),
        ("bad value", "tier=a b"),
    ):
        _names(t, f"widgets {label}", t.widgets(), labelSelector=selector)
        _names(t, f"secrets {label}", t.core("secrets"), labelSelector=selector)
    for label, selector in (
        ("name", "metadata.name=b"),
        ("name not", "metadata.name!=b"),
        ("namespace", f"metadata.namespace={t.ns}"),
        ("selectable field", "spec.color=red"),
        ("selectable field defaulted", "spec.color=blue"),
        ("selectable field not", "spec.color!=red"),
        ("unknown field", "spec.size=1"),
        ("both", "metadata.name=a,spec.color=red"),
    ):
        _names(t, f"widgets field {label}", t.widgets(), fieldSelector=selector)
    _names(
        t,
        "widgets both selectors",
        t.widgets(),
        labelSelector="tier=web",
        fieldSelector="spec.color=green",
    )
    _names(t, "secrets type", t.core("secrets"), fieldSelector="type=Opaque")
    _names(t, "secrets unknown field", t.core("secrets"), fieldSelector="data.token=x")
    _names(
        t,
        "widgets all namespaces",
        "/apis/example.dev/v1/widgets",
        fieldSelector=f"metadata.namespace={t.ns},spec.color=blue",
    )
    _names(t, "namespaces by name", "/api/v1/namespaces", fieldSelector=f"metadata.name={t.ns}")
    _names(
        t,
        "namespaces phase",
        "/api/v1/namespaces",
        fieldSelector=f"status.phase=Active,metadata.name={t.ns}",
    )
    _names(t, "limit", t.widgets(), limit="2")
    reply = t.server.request("GET", t.widgets(), query={"limit": "2"})
    token = reply.obj()["metadata"]["continue"]
    t.record("first page", t.shown(reply))
    _names(t, "next page", t.widgets(), limit="2", **{"continue": token})
    t.kubectl("kubectl -l", f"get widgets -n {t.ns} -l tier=web -o name")
    t.kubectl("kubectl field selector", f"get widgets -n {t.ns} --field-selector spec.color=blue")


def test_selectors(pair: Pair) -> None:
    compare(pair, _selectors_script)


def _tables_script(t: Ctx) -> None:
    _seed(t)
    t.kubectl("get widgets", f"get widgets -n {t.ns}")
    t.kubectl("get widgets wide", f"get widgets -n {t.ns} -o wide")
    t.kubectl("get by short name and category", f"get wd,examples -n {t.ns} -o name")
    t.kubectl("get one with label columns", f"get widget a -n {t.ns} -L tier,env --show-labels")
    t.kubectl("get secrets wide", f"get secrets -n {t.ns} -o wide")
    t.kubectl("get namespace", f"get namespace {t.ns}")
    t.kubectl("no resources", f"get leases -n {t.ns}")
    t.kubectl("not found", f"get widget nope -n {t.ns}")
    for label, query in (
        ("table", {}),
        ("table none", {"includeObject": "None"}),
        ("table object", {"includeObject": "Object"}),
    ):
        t.http(f"widgets {label}", "GET", t.widgets(), accept=TABLE, query=query)
    t.http("secrets table", "GET", t.core("secrets"), accept=TABLE, query={"includeObject": "None"})
    t.http("one widget table", "GET", t.widgets("a"), accept=TABLE)


def test_tables(pair: Pair) -> None:
    compare(pair, _tables_script)


def _project_tables_script(t: Ctx) -> None:
    sync = objects.model_catalog_sync("s1")
    ref = objects.model_ref("r1")
    ref["metadata"]["name"] = "r1"
    for plural, body in (("modelcatalogsyncs", sync), ("modelrefs", ref)):
        assert t.server.request("POST", t.modelsync(plural), body).status == 201
    status = {"status": {"conditions": [objects.status_condition()], "modelRefs": {"selected": 4}}}
    t.server.request(
        "PATCH", t.modelsync("modelcatalogsyncs", "s1", "status"), status, content_type=MERGE
    )
    t.kubectl("get mcs wide", f"get mcs -n {t.ns} -o wide")
    t.kubectl("get modelrefs", f"get modelrefs -n {t.ns} -o wide")
    t.kubectl("get category", f"get modelsync -n {t.ns}")
    t.kubectl("get crds", "get crds modelrefs.modelsync.dev modelcatalogsyncs.modelsync.dev")


@pytest.mark.usefixtures("project_pair")
def test_project_tables(pair: Pair) -> None:
    compare(pair, _project_tables_script)


def _events_and_leases_script(t: Ctx) -> None:
    for body, path in (
        (objects.core_event("e1", t.ns), t.core("events")),
        (objects.lease("l1"), f"/apis/coordination.k8s.io/v1/namespaces/{t.ns}/leases"),
    ):
        assert t.server.request("POST", path, body).status == 201
    t.kubectl("get events", f"get events -n {t.ns}")
    t.kubectl("get events wide", f"get events -n {t.ns} -o wide")
    t.kubectl("get leases", f"get leases -n {t.ns}")
    _names(t, "events involved", t.core("events"), fieldSelector="involvedObject.name=sync-a")
    _names(t, "events reason", t.core("events"), fieldSelector="reason=Synced,type=Normal")
    _names(
        t,
        "events.k8s.io regarding",
        f"/apis/events.k8s.io/v1/namespaces/{t.ns}/events",
        fieldSelector="regarding.name=sync-a",
    )
    _names(
        t,
        "events.k8s.io core name",
        f"/apis/events.k8s.io/v1/namespaces/{t.ns}/events",
        fieldSelector="involvedObject.name=sync-a",
    )
    _names(
        t,
        "leases bad field",
        f"/apis/coordination.k8s.io/v1/namespaces/{t.ns}/leases",
        fieldSelector="spec.holderIdentity=pod-a",
    )


def test_events_and_leases(pair: Pair) -> None:
    compare(pair, _events_and_leases_script)
