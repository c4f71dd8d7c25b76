# The generated kubernetes client types every field Optional and its bodies as models
# (dicts work at runtime); checking each access would bury the tests.
# mypy: disable-error-code="union-attr,index,no-untyped-call,arg-type,attr-defined,operator"
"""Injected API faults seen by real clients over a socket: raw httpx and the official client."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from fixtures_kube import api_client, kubectl, sandbox_http
from modelsync_sandbox.kube import KubeSandbox

CM = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
def api(kube_sandbox: KubeSandbox) -> Iterator[httpx.Client]:
    with sandbox_http(kube_sandbox, kube_sandbox.token) as c:
        yield c


@pytest.fixture
def core(kube_sandbox: KubeSandbox) -> Iterator[client.CoreV1Api]:
    with api_client(kube_sandbox.kubeconfig_path) as c:
        yield client.CoreV1Api(c)


def configmap(name: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "data": {"k": "v"}}


def test_429_with_retry_after_for_the_next_n_matching_requests(
    kube_sandbox: KubeSandbox, api: httpx.Client
) -> None:
    fault = kube_sandbox.faults.fail(
        429, retry_after=3, verbs=["create"], resources=["configmaps"], count=2
    )
    for _ in range(2):
        refused = api.post(CM, json=configmap("a"))
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "3"
        assert refused.json() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Too many requests, please try again later.",
            "reason": "TooManyRequests",
            "details": {"retryAfterSeconds": 3},
            "code": 429,
        }
    assert api.get(CM).status_code == 200  # another verb: untouched
    assert api.post(CM, json=configmap("a")).status_code == 201  # the count is used up
    assert kube_sandbox.faults.hits(fault) == 2
    assert kube_sandbox.faults.armed() == []
    statuses = kube_sandbox.stats.statuses
    assert statuses[("create", "configmaps", 429)] == 2
    assert statuses[("create", "configmaps", 201)] == 1
    faulted = [r for r in kube_sandbox.stats.log if r.fault]
    assert [(r.verb, r.status, r.fault) for r in faulted] == [("create", 429, "status")] * 2


def test_official_client_retries_429_after_retry_after_then_gives_up(
    kube_sandbox: KubeSandbox, core: client.CoreV1Api
) -> None:
    # urllib3 under the official client retries a GET answered 429 with Retry-After, up to
    # three times, sleeping as asked: two 429s are invisible to the caller.
    kube_sandbox.faults.fail(429, retry_after=0, verbs=["list"], resources=["configmaps"], count=2)
    assert core.list_namespaced_config_map("default").items == []
    assert [r.status for r in kube_sandbox.stats.log if r.verb == "list"] == [429, 429, 200]
    kube_sandbox.stats.reset()
    kube_sandbox.faults.fail(429, retry_after=0, verbs=["list"], resources=["configmaps"])
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default")
    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "0"
    assert json.loads(caught.value.body)["reason"] == "TooManyRequests"
    assert [r.status for r in kube_sandbox.stats.log if r.verb == "list"] == [429] * 4


@pytest.mark.parametrize(
    ("status", "reason"), [(500, "InternalError"), (503, "ServiceUnavailable")]
)
def test_5xx_until_cleared(
    kube_sandbox: KubeSandbox, core: client.CoreV1Api, status: int, reason: str
) -> None:
    kube_sandbox.faults.fail(status, verbs=["list"], resources=["configmaps"])
    for _ in range(3):
        with pytest.raises(ApiException) as caught:
            core.list_namespaced_config_map("default")
        assert caught.value.status == status
        body = json.loads(caught.value.body)
        assert (body["kind"], body["code"], body["reason"]) == ("Status", status, reason)
    core.create_namespaced_config_map("default", configmap("b"))  # a create is not a list
    kube_sandbox.faults.clear()
    assert [c.metadata.name for c in core.list_namespaced_config_map("default").items] == ["b"]


def test_namespace_and_name_select_the_faulted_object(
    kube_sandbox: KubeSandbox, api: httpx.Client
) -> None:
    api.post("/api/v1/namespaces", json={"metadata": {"name": "other"}})
    kube_sandbox.faults.fail(503, resources=["configmaps"], namespace="default", name="hot")
    assert api.post(CM, json=configmap("hot")).status_code == 503  # name read from the body
    assert api.post(CM, json=configmap("cold")).status_code == 201
    assert api.get(f"{CM}/cold").status_code == 200
    assert api.get(f"{CM}/hot").status_code == 503
    assert api.get(CM, params={"fieldSelector": "metadata.name=hot"}).status_code == 503
    other = "/api/v1/namespaces/other/configmaps"
    assert api.post(other, json=configmap("hot")).status_code == 201
    assert api.get("/api/v1/configmaps").status_code == 200  # all namespaces: no namespace


def test_410_on_a_new_watch_is_an_error_event_in_the_stream(
    kube_sandbox: KubeSandbox, api: httpx.Client, core: client.CoreV1Api
) -> None:
    kube_sandbox.faults.expire_watches(resources=["configmaps"], count=2)
    with api.stream("GET", CM, params={"watch": "1", "resourceVersion": "1"}) as response:
        assert response.status_code == 200
        events = [json.loads(line) for line in response.iter_lines()]
    assert [e["type"] for e in events] == ["ERROR"]
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith("too old resource version: 1 (")
    # The official client raises the 410 to its caller, as it does for a real expiry.
    with pytest.raises(ApiException) as caught:
        for _ in watch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version="1", timeout_seconds=5
        ):
            pass
    assert caught.value.status == 410
    assert api.get(CM, params={"watch": "1", "timeoutSeconds": "1"}).status_code == 200


def _watch_in_thread(api: httpx.Client, lines: list[str]) -> threading.Thread:
    def run() -> None:
        try:
            with api.stream("GET", CM, params={"watch": "1", "timeoutSeconds": "30"}) as r:
                for line in r.iter_lines():
                    lines.append(line)
            lines.append("END")
        except httpx.TransportError as exc:
            lines.append(f"TRANSPORT {type(exc).__name__}")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _wait(condition: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_410_reaches_a_watch_that_is_already_open(
    kube_sandbox: KubeSandbox, api: httpx.Client
) -> None:
    api.post(CM, json=configmap("seen"))
    lines: list[str] = []
    thread = _watch_in_thread(api, lines)
    _wait(lambda: lines)  # the initial ADDED: the watch is open
    fault = kube_sandbox.faults.expire_watches(resources=["configmaps"], count=1)
    thread.join(5)
    assert not thread.is_alive()
    assert [json.loads(line)["type"] for line in lines[:-1]] == ["ADDED", "ERROR"]
    assert json.loads(lines[1])["object"]["code"] == 410
    assert lines[-1] == "END"
    assert kube_sandbox.faults.hits(fault) == 1
    assert kube_sandbox.faults.armed() == []  # the open watch used the count up
    records = [r for r in kube_sandbox.stats.log if r.verb == "watch"]
    assert [(r.status, r.fault) for r in records] == [(200, "gone")]


def test_dropped_connection_sends_no_response(kube_sandbox: KubeSandbox, api: httpx.Client) -> None:
    kube_sandbox.faults.drop(verbs=["get"], resources=["configmaps"], count=1)
    api.post(CM, json=configmap("a"))
    with pytest.raises(httpx.RemoteProtocolError):
        api.get(f"{CM}/a")
    assert api.get(f"{CM}/a").status_code == 200  # a fresh connection works
    assert kube_sandbox.stats.statuses[("get", "configmaps", 0)] == 1
    assert [r.fault for r in kube_sandbox.stats.log if r.verb == "get"] == ["drop", ""]


def test_a_drop_cuts_an_open_watch(kube_sandbox: KubeSandbox, api: httpx.Client) -> None:
    api.post(CM, json=configmap("seen"))
    lines: list[str] = []
    thread = _watch_in_thread(api, lines)
    _wait(lambda: lines)
    kube_sandbox.faults.drop(verbs=["watch"], resources=["configmaps"])
    thread.join(5)
    assert not thread.is_alive()
    assert lines[-1].startswith("TRANSPORT")  # cut mid-stream, no clean end
    with pytest.raises(httpx.TransportError):  # new watches are dropped too, until cleared
        api.get(CM, params={"watch": "1", "timeoutSeconds": "1"})
    kube_sandbox.faults.clear()
    assert api.get(CM, params={"watch": "1", "timeoutSeconds": "1"}).status_code == 200


def test_delay_slows_only_the_matching_requests(
    kube_sandbox: KubeSandbox, api: httpx.Client
) -> None:
    api.post(CM, json=configmap("a"))
    kube_sandbox.faults.delay(0.6, verbs=["get"], resources=["configmaps"], count=1)
    start = time.monotonic()
    assert api.get(CM).status_code == 200  # a list: not delayed
    assert time.monotonic() - start < 0.5
    start = time.monotonic()
    answered = api.get(f"{CM}/a")
    assert time.monotonic() - start >= 0.6
    assert answered.json()["metadata"]["name"] == "a"  # then served as usual
    start = time.monotonic()
    api.get(f"{CM}/a")
    assert time.monotonic() - start < 0.5
    assert [r.fault for r in kube_sandbox.stats.log if r.verb == "get"] == ["delay", ""]


def test_admin_endpoint_arms_lists_and_clears_faults(api: httpx.Client) -> None:
    armed = api.post(
        "/_sandbox/faults",
        json={"fault": "status", "status": 429, "verbs": ["list"], "resources": ["configmaps"]},
    )
    assert armed.status_code == 201
    body = armed.json()
    assert (body["status"], body["retryAfter"], body["hits"], body["remaining"]) == (
        429,
        1,
        0,
        None,
    )
    second = api.post("/_sandbox/faults", json={"fault": "delay", "seconds": 0.1, "count": 1})
    assert api.get(CM).status_code == 429
    listed = api.get("/_sandbox/faults").json()["faults"]
    assert [(f["id"], f["hits"]) for f in listed] == [(body["id"], 1), (second.json()["id"], 0)]
    assert api.delete(f"/_sandbox/faults/{body['id']}").status_code == 200
    assert api.delete(f"/_sandbox/faults/{body['id']}").status_code == 404
    assert api.get(CM).status_code == 200  # and it used the delay up
    assert api.delete("/_sandbox/faults").json() == {"faults": []}
    counts = api.get("/_sandbox/requests").json()["requests"]
    assert {"verb": "list", "resource": "configmaps", "status": 429, "count": 1} in counts
    assert all(c["resource"] for c in counts)  # admin calls are not API traffic
    assert api.delete("/_sandbox/requests").status_code == 200
    assert api.get("/_sandbox/requests").json() == {"requests": []}


def test_admin_endpoint_needs_the_token_and_a_valid_fault(
    kube_sandbox: KubeSandbox, api: httpx.Client
) -> None:
    with sandbox_http(kube_sandbox, None) as anonymous:
        assert anonymous.get("/_sandbox/faults").status_code == 401
        assert anonymous.post("/_sandbox/faults", json={"fault": "drop"}).status_code == 401
    with sandbox_http(kube_sandbox, "wrong") as wrong:
        assert wrong.delete("/_sandbox/faults").status_code == 401
    refused = api.post("/_sandbox/faults", json={"fault": "status", "status": 418})
    assert refused.status_code == 400
    assert refused.json()["reason"] == "BadRequest"
    assert "status" in refused.json()["message"]
    assert api.post("/_sandbox/faults", content=b"{").status_code == 400
    assert api.put("/_sandbox/faults", json={}).status_code == 405
    assert kube_sandbox.faults.armed() == []


def test_cli_sandbox_takes_faults_from_outside_with_kubectl_raw(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc.yaml"
    command = [sys.executable, "-m", "modelsync", "sandbox", "kube", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--kubeconfig-out", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        assert "/_sandbox/faults" in lines[2], lines
        spec = tmp_path / "fault.json"
        spec.write_text(json.dumps({"fault": "status", "status": 503, "resources": "configmaps"}))
        armed = kubectl(kubeconfig, "create", "--raw", "/_sandbox/faults", "-f", str(spec))
        assert armed.returncode == 0, armed.stderr
        assert json.loads(armed.stdout)["status"] == 503
        refused = kubectl(kubeconfig, "get", "configmaps")
        assert refused.returncode != 0
        assert "the server is currently unable to handle the request" in refused.stderr
        listed = kubectl(kubeconfig, "get", "--raw", "/_sandbox/faults")
        assert [f["hits"] > 0 for f in json.loads(listed.stdout)["faults"]] == [True]
        cleared = kubectl(kubeconfig, "delete", "--raw", "/_sandbox/faults")
        assert cleared.returncode == 0, cleared.stderr
        assert kubectl(kubeconfig, "get", "configmaps").returncode == 0
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
