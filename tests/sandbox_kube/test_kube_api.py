# The generated kubernetes client types every field Optional and its bodies as models
# (dicts work at runtime); checking each access would bury the tests.
# mypy: disable-error-code="union-attr,index,no-untyped-call,arg-type,attr-defined,operator"
"""The sandbox's HTTP surface checked directly: discovery, representations, errors, auth,
and the request counters tests rely on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fixtures_kube import WIDGET_CRD, install_widget_crd, sandbox_http
from modelsync_sandbox.kube import KubeSandbox

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@pytest.fixture
def api(kube_sandbox: KubeSandbox) -> Iterator[httpx.Client]:
    with sandbox_http(kube_sandbox, kube_sandbox.token) as c:
        yield c


@pytest.fixture
def widgets(kube_sandbox: KubeSandbox, api: httpx.Client) -> httpx.Client:
    install_widget_crd(kube_sandbox.kubeconfig_path)
    return api


def widget(name: str, size: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "example.dev/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": size},
    }


W = "/apis/example.dev/v1/namespaces/default/widgets"


# -- discovery ---------------------------------------------------------------------------------


def test_legacy_discovery_lists_subresources(widgets: httpx.Client) -> None:
    assert widgets.get("/api").json()["versions"] == ["v1"]
    groups = {g["name"]: g for g in widgets.get("/apis").json()["groups"]}
    assert {"apiextensions.k8s.io", "coordination.k8s.io", "events.k8s.io", "example.dev"} <= set(
        groups
    )
    assert groups["example.dev"]["preferredVersion"]["groupVersion"] == "example.dev/v1"
    resources = {r["name"]: r for r in widgets.get("/apis/example.dev/v1").json()["resources"]}
    assert resources["widgets"]["kind"] == "Widget"
    assert resources["widgets"]["namespaced"] is True
    assert resources["widgets"]["shortNames"] == ["wd"]
    assert resources["widgets"]["categories"] == ["examples"]
    assert resources["widgets/status"]["verbs"] == ["get", "patch", "update"]
    core = {r["name"] for r in widgets.get("/api/v1").json()["resources"]}
    assert {"namespaces", "namespaces/status", "secrets", "configmaps", "events"} <= core
    assert widgets.get("/apis/example.dev").json()["kind"] == "APIGroup"
    assert widgets.get("/apis/nope.dev/v1").status_code == 404


def test_aggregated_discovery(widgets: httpx.Client) -> None:
    response = widgets.get("/apis", headers={"Accept": AGGREGATED + ",application/json"})
    assert response.headers["Content-Type"] == AGGREGATED
    body = response.json()
    assert body["kind"] == "APIGroupDiscoveryList"
    group = next(i for i in body["items"] if i["metadata"].get("name") == "example.dev")
    (version,) = group["versions"]
    (res,) = version["resources"]
    assert res["resource"] == "widgets"
    assert res["scope"] == "Namespaced"
    assert res["responseKind"] == {"group": "example.dev", "version": "v1", "kind": "Widget"}
    assert res["subresources"][0]["subresource"] == "status"
    core = widgets.get("/api", headers={"Accept": AGGREGATED}).json()
    assert [v["version"] for v in core["items"][0]["versions"]] == ["v1"]


def test_version_and_health(kube_sandbox: KubeSandbox) -> None:
    with sandbox_http(kube_sandbox, token=None) as anonymous:
        assert anonymous.get("/version").json()["gitVersion"] == "v1.32.0"
        assert anonymous.get("/healthz").text == "ok"


def test_openapi_v3_advertises_field_validation(widgets: httpx.Client) -> None:
    paths = widgets.get("/openapi/v3").json()["paths"]
    url = paths["apis/example.dev/v1"]["serverRelativeURL"]
    doc = widgets.get(url).json()
    (path,) = [p for p in doc["paths"] if p.endswith("/widgets/{name}")]
    params = [p["name"] for p in doc["paths"][path]["patch"]["parameters"]]
    assert params == ["fieldValidation"]
    v2 = widgets.get("/openapi/v2", headers={"Accept": "application/json"}).json()
    assert v2["definitions"] == {}


# -- representations ---------------------------------------------------------------------------


def test_table_output_uses_printer_columns(widgets: httpx.Client) -> None:
    widgets.post(W, json=widget("a", 3)).raise_for_status()
    response = widgets.get(W, headers={"Accept": TABLE + ",application/json"})
    assert response.headers["Content-Type"].startswith("application/json;as=Table")
    table = response.json()
    assert table["kind"] == "Table"
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names == ["Name", "Size", "Ready", "Color", "Age"]
    assert table["rows"][0]["cells"][:4] == ["a", 3, None, "blue"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert table["metadata"]["resourceVersion"]
    one = widgets.get(f"{W}/a", headers={"Accept": TABLE}).json()
    assert one["rows"][0]["cells"][0] == "a"
    builtin = widgets.get("/api/v1/namespaces", headers={"Accept": TABLE}).json()
    assert [c["name"] for c in builtin["columnDefinitions"]][:3] == ["Name", "Status", "Age"]


def test_partial_object_metadata(widgets: httpx.Client) -> None:
    widgets.post(W, json=widget("a")).raise_for_status()
    accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    listed = widgets.get(W, headers={"Accept": accept}).json()
    assert listed["kind"] == "PartialObjectMetadataList"
    assert listed["items"][0]["metadata"]["name"] == "a"
    assert "spec" not in listed["items"][0]


def test_builtin_lists_carry_kind_on_the_list_only(api: httpx.Client) -> None:
    listed = api.get("/api/v1/namespaces").json()
    assert listed["kind"] == "NamespaceList"
    assert "kind" not in listed["items"][0]


def test_events_are_served_by_both_apis(api: httpx.Client) -> None:
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e1", "namespace": "default"},
        "eventTime": "2024-01-01T00:00:00.000000Z",
        "reportingController": "example.dev/tests",
        "reportingInstance": "tests-1",
        "action": "Sync",
        "reason": "Synced",
        "note": "it worked",
        "type": "Normal",
        "regarding": {"kind": "ConfigMap", "name": "c", "namespace": "default"},
    }
    made = api.post("/apis/events.k8s.io/v1/namespaces/default/events", json=event)
    assert made.status_code == 201, made.text
    core = api.get("/api/v1/namespaces/default/events/e1").json()
    assert core["message"] == "it worked"
    assert core["involvedObject"]["name"] == "c"
    assert core["reportingComponent"] == "example.dev/tests"
    found = api.get(
        "/api/v1/namespaces/default/events", params={"fieldSelector": "involvedObject.name=c"}
    ).json()
    assert [e["metadata"]["name"] for e in found["items"]] == ["e1"]
    missing_time = {k: v for k, v in event.items() if k != "eventTime"}
    missing_time["metadata"] = {"name": "e2", "namespace": "default"}
    refused = api.post("/apis/events.k8s.io/v1/namespaces/default/events", json=missing_time)
    assert refused.status_code == 422


def test_leases(api: httpx.Client) -> None:
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "leader"},
        "spec": {"holderIdentity": "a"},
    }
    path = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
    made = api.post(path, json=lease).json()
    made["spec"]["holderIdentity"] = "b"
    assert api.put(f"{path}/leader", json=made).json()["spec"]["holderIdentity"] == "b"
    made["spec"]["holderIdentity"] = "c"  # stale resourceVersion now
    assert api.put(f"{path}/leader", json=made).status_code == 409


# -- errors ------------------------------------------------------------------------------------


def test_unknown_paths_and_methods(api: httpx.Client) -> None:
    missing = api.get("/apis/example.dev/v1/namespaces/default/gadgets")
    assert missing.status_code == 404
    assert missing.json()["message"] == "the server could not find the requested resource"
    assert api.post("/api/v1/namespaces/default/configmaps/c", json={}).status_code == 405
    assert api.put("/api/v1/namespaces/default/configmaps", json={}).status_code == 405
    # deletecollection is not a verb of namespaces
    assert api.delete("/api/v1/namespaces").status_code == 405


def test_patch_types(widgets: httpx.Client) -> None:
    widgets.post(W, json=widget("a")).raise_for_status()
    smp = widgets.patch(
        f"{W}/a", content=b"{}", headers={"Content-Type": "application/strategic-merge-patch+json"}
    )
    assert smp.status_code == 415
    assert smp.json()["reason"] == "UnsupportedMediaType"
    assert smp.json()["message"].endswith(
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )
    # Server-side apply is served; it needs a field manager.
    apply = widgets.patch(
        f"{W}/a", content=b"{}", headers={"Content-Type": "application/apply-patch+yaml"}
    )
    assert apply.status_code == 422
    assert apply.json()["details"]["causes"][0]["field"] == "fieldManager"
    bad = widgets.patch(
        f"{W}/a", content=b"{not json", headers={"Content-Type": "application/merge-patch+json"}
    )
    assert bad.status_code == 400


def test_bad_bodies(api: httpx.Client) -> None:
    path = "/api/v1/namespaces/default/configmaps"
    assert (
        api.post(path, content=b"{", headers={"Content-Type": "application/json"}).status_code
        == 400
    )
    wrong_kind = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}
    assert api.post(path, json=wrong_kind).status_code == 400
    assert api.get(path, params={"labelSelector": "a in (b"}).status_code == 400


def test_bearer_token_is_required(kube_sandbox: KubeSandbox) -> None:
    for token in (None, "wrong"):
        with sandbox_http(kube_sandbox, token=token) as anonymous:
            response = anonymous.get("/api/v1/namespaces")
            assert response.status_code == 401
            assert response.json() == {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": "Unauthorized",
                "reason": "Unauthorized",
                "code": 401,
            }


# -- counters ----------------------------------------------------------------------------------


def test_stats_count_writes_by_verb_and_resource(
    kube_sandbox: KubeSandbox, widgets: httpx.Client
) -> None:
    kube_sandbox.reset_stats()
    widgets.post(W, json=widget("a")).raise_for_status()
    widgets.get(W).raise_for_status()
    widgets.patch(
        f"{W}/a/status",
        json={"status": {"x": 1}},
        headers={"Content-Type": "application/merge-patch+json"},
    ).raise_for_status()
    widgets.delete(f"{W}/a").raise_for_status()
    assert kube_sandbox.stats.writes == {
        ("create", "widgets"): 1,
        ("patch", "widgets/status"): 1,
        ("delete", "widgets"): 1,
    }
    assert kube_sandbox.stats.total_writes("widgets") == 3
    assert kube_sandbox.stats.requests[("list", "widgets")] == 1
    log = kube_sandbox.stats.log
    assert [(r.method, r.verb, r.status) for r in log] == [
        ("POST", "create", 201),
        ("GET", "list", 200),
        ("PATCH", "patch", 200),
        ("DELETE", "delete", 200),
    ]
    kube_sandbox.reset_stats()
    assert kube_sandbox.stats.total_writes() == 0
    assert WIDGET_CRD["spec"]["names"]["plural"] == "widgets"


# -- versions share what they did not change -------------------------------------------------


def test_each_version_stays_as_its_write_answered(widgets: httpx.Client) -> None:
    """Writes share unchanged parts between an object's versions (a status write keeps the
    stored spec); a replayed watch shows every version exactly as its write answered it."""
    start = widgets.get(W).json()["metadata"]["resourceVersion"]
    merge = {"Content-Type": "application/merge-patch+json"}
    created = widget("v")
    created["metadata"]["labels"] = {"app": "x"}
    created["spec"] |= {"tags": ["a"], "extra": {"deep": {"n": 1}}}
    answers = [widgets.post(W, json=created)]
    status = {"status": {"conditions": [{"type": "Ready", "status": "True"}], "é": "ü"}}
    answers.append(widgets.patch(f"{W}/v/status", json=status, headers=merge))
    answers.append(
        widgets.patch(f"{W}/v", json={"spec": {"extra": {"deep": {"n": 2}}}}, headers=merge)
    )
    answers.append(widgets.patch(f"{W}/v/status", json={"status": {"x": 1}}, headers=merge))
    answers.append(
        widgets.patch(f"{W}/v", json={"metadata": {"labels": {"b": "y"}}}, headers=merge)
    )
    assert [r.status_code for r in answers] == [201, 200, 200, 200, 200]
    versions = [r.json() for r in answers]
    assert versions[1]["spec"] == versions[0]["spec"] != versions[2]["spec"]
    assert versions[3]["spec"]["extra"] == {"deep": {"n": 2}}
    assert versions[4]["metadata"]["labels"] == {"app": "x", "b": "y"}
    events = []
    with widgets.stream("GET", W, params={"watch": "true", "resourceVersion": start}) as stream:
        for line in stream.iter_lines():
            events.append(json.loads(line))
            if len(events) == len(versions):
                break
    assert [e["type"] for e in events] == ["ADDED"] + ["MODIFIED"] * 4
    assert [e["object"] for e in events] == versions
    assert widgets.get(f"{W}/v").json() == versions[-1]
