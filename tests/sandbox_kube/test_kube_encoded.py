"""Reads of custom resources reuse the JSON of unchanged stored objects (handlers.encoded):
what GET and LIST answer is byte for byte what encoding the response whole gives, and a
write, a status write, a delete or a no-op write never leaves an old encoding behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fixtures_kube import install_widget_crd, sandbox_http
from modelsync_sandbox.kube import KubeSandbox

W = "/apis/example.dev/v1/namespaces/default/widgets"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
def widgets(kube_sandbox: KubeSandbox) -> Iterator[httpx.Client]:
    install_widget_crd(kube_sandbox.kubeconfig_path)
    with sandbox_http(kube_sandbox, kube_sandbox.token) as client:
        yield client


def widget(name: str, size: int, note: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "example.dev/v1",
        "kind": "Widget",
        "metadata": {"name": name, "labels": {"set": "a"}},
        "spec": {"size": size},
    }
    if note:
        body["metadata"]["annotations"] = {"note": note}
    return body


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def exact(response: httpx.Response) -> Any:
    """The body, after checking it is the compact encoding of what it decodes to."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.content == dumps(body)
    return body


def names_and_sizes(body: Any) -> list[tuple[str, int]]:
    return [(i["metadata"]["name"], i["spec"]["size"]) for i in body["items"]]


def test_list_and_get_follow_every_change(widgets: httpx.Client) -> None:
    for i in range(5):
        assert widgets.post(W, json=widget(f"w{i}", i + 1, "é ünïcode")).status_code == 201
    first = exact(widgets.get(W))
    assert names_and_sizes(first) == [(f"w{i}", i + 1) for i in range(5)]
    assert exact(widgets.get(W)) == first  # served again from the kept encodings

    assert widgets.patch(f"{W}/w1", json={"spec": {"size": 50}}, headers=MERGE).is_success
    status = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert widgets.patch(f"{W}/w2/status", json=status, headers=MERGE).is_success
    assert widgets.delete(f"{W}/w3").is_success
    # a no-op write keeps the stored object (and its resourceVersion)
    before = exact(widgets.get(f"{W}/w4"))
    assert widgets.patch(f"{W}/w4", json={"spec": {"size": 5}}, headers=MERGE).is_success
    assert exact(widgets.get(f"{W}/w4")) == before

    after = exact(widgets.get(W))
    assert names_and_sizes(after) == [("w0", 1), ("w1", 50), ("w2", 3), ("w4", 5)]
    items = {i["metadata"]["name"]: i for i in after["items"]}
    assert items["w2"]["status"] == status["status"]
    for name, item in items.items():
        assert exact(widgets.get(f"{W}/{name}")) == item
    assert (
        items["w1"]["metadata"]["resourceVersion"]
        != first["items"][1]["metadata"]["resourceVersion"]
    )


def test_pages_and_selectors_are_cut_from_the_same_encodings(widgets: httpx.Client) -> None:
    for i in range(7):
        body = widget(f"p{i}", i + 1)
        body["metadata"]["labels"]["parity"] = "even" if i % 2 == 0 else "odd"
        assert widgets.post(W, json=body).status_code == 201
    whole = exact(widgets.get(W))
    seen: list[Any] = []
    token = ""
    while True:
        params = {"limit": "3", **({"continue": token} if token else {})}
        page = exact(widgets.get(W, params=params))
        seen += page["items"]
        token = page["metadata"].get("continue", "")
        if not token:
            break
    assert seen == whole["items"]
    even = exact(widgets.get(W, params={"labelSelector": "parity=even"}))
    assert [i["metadata"]["name"] for i in even["items"]] == ["p0", "p2", "p4", "p6"]
    empty = exact(widgets.get(W, params={"labelSelector": "parity=none"}))
    assert empty["items"] == []
    assert empty["metadata"]["continue"] == ""  # an unstructured list writes it when empty


def test_dry_run_writes_leave_the_stored_encoding(widgets: httpx.Client) -> None:
    assert widgets.post(W, json=widget("d", 1)).status_code == 201
    stored = exact(widgets.get(f"{W}/d"))
    dry = widgets.patch(
        f"{W}/d", params={"dryRun": "All"}, json={"spec": {"size": 9}}, headers=MERGE
    )
    assert dry.is_success
    assert dry.json()["spec"]["size"] == 9
    assert exact(widgets.get(f"{W}/d")) == stored
    assert exact(widgets.get(W))["items"] == [stored]
    created = widgets.post(W, params={"dryRun": "All"}, json=widget("e", 2))
    assert created.status_code == 201
    assert names_and_sizes(exact(widgets.get(W))) == [("d", 1)]
