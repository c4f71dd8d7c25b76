"""The lean request path (`KubeApi.send`): on the wire, each request is the one the generated
client's operation sends (a local server records both); its routes match the generated
operations'; bodies encode as the generated client's json.dumps would; write answers decode
to the identity of what was written."""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import re
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes import client as k8s

from modelsync.api.constants import GROUP, PLURAL_MODELREF, VERSION
from modelsync.kube.client import ROUTES, KubeApi
from modelsync.kube.events import post_event
from modelsync.kube.modelrefs import (
    create_modelref,
    delete_modelref,
    get_modelref,
    patch_modelref,
    patch_modelref_status,
)
from modelsync.kube.wire import WrittenObject, decode_object, decode_written, encode

# Path arguments that need encoding: a space, a slash and a non-ASCII letter.
PLACEHOLDERS = {
    "group": "g.example",
    "version": "v1",
    "namespace": "n s",
    "plural": "things",
    "name": "a/b.ü",
}


@pytest.mark.parametrize("operation", sorted(ROUTES))
def test_each_route_is_the_generated_operations_request(operation: str) -> None:
    api_client = k8s.ApiClient(k8s.Configuration(host="https://kube.example:6443"))
    owner = next(
        api
        for api in (k8s.CustomObjectsApi(api_client), k8s.CoreV1Api(api_client))
        if hasattr(api, operation)
    )
    serialize = getattr(owner, f"_{operation}_serialize")
    parameters = inspect.signature(serialize).parameters
    path = [PLACEHOLDERS[p] for p in parameters if p in PLACEHOLDERS]
    arguments: dict[str, Any] = dict.fromkeys(parameters)
    arguments.update((p, PLACEHOLDERS[p]) for p in parameters if p in PLACEHOLDERS)
    arguments["_host_index"] = 0
    method, url, *_ = serialize(**arguments)
    route = ROUTES[operation]
    assert route.method == method
    assert api_client.configuration.host + route.path(tuple(path)) == url
    with pytest.raises(TypeError):
        route.path(tuple(path[:-1]))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@given(json_values)
def test_bodies_encode_to_the_same_json_as_the_generated_client_sends(value: Any) -> None:
    assert json.loads(encode(value)) == json.loads(json.dumps(value))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_sent_as_json_dumps_writes_them(bad: float) -> None:
    """The API server refuses them, as it did before: they do not turn into null."""
    body = {"spec": {"metrics": [{"value": bad}], "note": None}}
    assert encode(body) == json.dumps(body).encode()


def test_what_msgspec_cannot_encode_is_left_to_json_dumps() -> None:
    key = ("a", "tuple key")  # json.dumps refuses it too
    with pytest.raises(TypeError, match="keys must be"):
        encode({key: 1})
    with pytest.raises(TypeError):
        encode({"when": object()})


def test_a_write_answer_decodes_to_the_identity_of_the_object() -> None:
    answer = {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelRef",
        "metadata": {
            "name": "repo.model",
            "namespace": "ns",
            "uid": "u-1",
            "resourceVersion": "42",
            "labels": {"x": "y"},
            "managedFields": [{"manager": "modelsync"}],
        },
        "spec": {"model": {"id": "m"}},
        "status": {"conditions": []},
    }
    written = decode_written(json.dumps(answer).encode())
    assert written is not None
    assert (written.name, written.resource_version) == ("repo.model", "42")
    assert written.reference() == {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelRef",
        "metadata": {
            "name": "repo.model",
            "namespace": "ns",
            "uid": "u-1",
            "resourceVersion": "42",
        },
    }
    assert decode_object(json.dumps(answer).encode()) == answer


@pytest.mark.parametrize("answer", [b"", b"not json", b"[]", b'{"metadata": {"name": 7}}'])
def test_an_answer_without_an_identity_is_none_not_a_failure(answer: bytes) -> None:
    assert decode_written(answer) is None


def test_missing_fields_decode_empty() -> None:
    assert decode_written(b"{}") == WrittenObject()
    with pytest.raises(ValueError, match="not a JSON object"):
        decode_object(b"[1]")


# -- on the wire --------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


ANSWER = {
    "apiVersion": "modelsync.dev/v1alpha1",
    "kind": "ModelRef",
    "metadata": {"name": "r.a", "namespace": "n", "uid": "u", "resourceVersion": "7"},
}


class Recorder(BaseHTTPRequestHandler):
    seen: list[Seen]

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        # Content-Length follows the encoding's whitespace; the JSON is compared instead.
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "content-length"}
        body = json.loads(raw) if raw else None
        self.server.seen.append(Seen(self.command, self.path, headers, body))  # type: ignore[attr-defined]
        # The request's object with an identity: what the generated client decodes it into
        # (a CoreV1Event for an Event) must be valid.
        answer = json.dumps({**ANSWER, **(body if isinstance(body, dict) else {})}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PATCH = do_DELETE = _record

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[Seen]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", server.seen  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


BODY = {
    "apiVersion": "modelsync.dev/v1alpha1",
    "kind": "ModelRef",
    "metadata": {"name": "r.a", "namespace": "n s", "labels": {"a/b": "ü"}},
    "spec": {"model": {"id": "m", "score": 0.1, "big": 2**70, "tags": ["x", None]}},
}
PATCH = {"metadata": {"labels": {"x": None}}, "spec": {"version": {"version": 3}}}
STATUS = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def same_time(value: Any) -> Any:
    """`value` with its RFC 3339 timestamps as datetimes: the generated client turns an
    Event's "...Z" into "...+00:00" (the same instant)."""
    if isinstance(value, dict):
        return {k: same_time(v) for k, v in value.items()}
    if isinstance(value, list):
        return [same_time(v) for v in value]
    if isinstance(value, str) and TIMESTAMP.fullmatch(value):
        return datetime.fromisoformat(value)
    return value


Lean = Callable[[KubeApi], Awaitable[object]]
Generated = Callable[[KubeApi, Any], object]

CASES: dict[str, tuple[Lean, Generated]] = {
    "create": (
        lambda api: create_modelref(api, "n s", BODY),
        lambda api, body: api.custom.create_namespaced_custom_object(
            GROUP, VERSION, "n s", PLURAL_MODELREF, body
        ),
    ),
    "patch": (
        lambda api: patch_modelref(api, "n s", "r.a/b", PATCH),
        lambda api, body: api.custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            "n s",
            PLURAL_MODELREF,
            "r.a/b",
            body,
            _content_type="application/merge-patch+json",
        ),
    ),
    "patch status": (
        lambda api: patch_modelref_status(api, "n s", "r.a", STATUS),
        lambda api, body: api.custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            "n s",
            PLURAL_MODELREF,
            "r.a",
            body,
            _content_type="application/merge-patch+json",
        ),
    ),
    "get": (
        lambda api: get_modelref(api, "n s", "r.a"),
        lambda api, _: api.custom.get_namespaced_custom_object(
            GROUP, VERSION, "n s", PLURAL_MODELREF, "r.a"
        ),
    ),
    "delete": (
        lambda api: delete_modelref(api, "n s", "r.a", uid="u", resource_version="7"),
        lambda api, body: api.custom.delete_namespaced_custom_object(
            GROUP, VERSION, "n s", PLURAL_MODELREF, "r.a", body=body
        ),
    ),
    "event": (
        lambda api: post_event(api, ANSWER, event_type="Normal", reason="R", message="m"),
        lambda api, body: api.core.create_namespaced_event("n", body),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_lean_request_is_the_generated_operations_request(
    case: str, recorder: tuple[str, list[Seen]]
) -> None:
    url, seen = recorder
    configuration = k8s.Configuration(host=url, api_key={"authorization": "Bearer t0ken"})
    api = KubeApi(configuration, max_workers=1)
    lean, generated = CASES[case]
    try:
        asyncio.run(lean(api))
        assert len(seen) == 1
        generated(api, seen[0].body)
        assert len(seen) == 2
    finally:
        api.close()
    ours, theirs = seen
    assert (ours.method, ours.path, ours.headers) == (theirs.method, theirs.path, theirs.headers)
    assert same_time(ours.body) == same_time(theirs.body)
    assert ours.headers["authorization"] == "Bearer t0ken"
    assert ours.headers["user-agent"] == "modelsync"
