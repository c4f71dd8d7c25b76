"""Differential fidelity: one scripted sequence of API calls, run against the sandbox and
against a real kube-apiserver, each result normalized, the two transcripts compared.

A script is a function of a `Ctx`: it calls the server through the context (raw HTTP,
the official Python client, the real kubectl), and every call it makes through the context
is recorded as one labelled step. `compare(pair, script)` runs the script on both servers
(each in a fresh namespace of the same name) and fails with a per-step diff.

Normalization keeps the rules and drops the values that legitimately differ:
- uids and resourceVersions become tokens in order of first appearance (`uid#1`, `rv#3`),
  so "same as before" and "changed" still compare, the numbers do not;
- timestamps become `<time>`, managedFields entries lose their time and are sorted (their
  order depends on which of two writes in the same second came first);
- a list's own resourceVersion becomes `<list-rv>` (the real one is etcd's revision, which
  other writers in the cluster move);
- generateName suffixes become `<suffix>`, ages in kubectl tables `<age>`.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import queue
import re
import shlex
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
import yaml

from fixtures_kube import api_client, kubectl, unique_name, wait_for

JsonObject = dict[str, Any]
SANDBOX, REAL = "sandbox", "real"
NOTE = "note: "

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "crds"
WIDGETS = "/apis/example.dev/v1"
MODELSYNC = "/apis/modelsync.dev/v1alpha1"
JSON = "application/json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

_TIME_KEYS = frozenset(
    {
        "creationTimestamp",
        "deletionTimestamp",
        "lastTransitionTime",
        "time",
        "eventTime",
        "firstTimestamp",
        "lastTimestamp",
        "renewTime",
        "acquireTime",
        "lastSuccessfulSyncTime",
        "lastSyncTime",
    }
)
_AGE = re.compile(r"(?<![\w-])(?:\d+[smhdy])+(?![\w-])|<invalid>")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
_WARNING = re.compile(r'^\d{3} \S+ "(.*)"$')


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, decoded body (JSON, else text), the Warning headers' texts."""

    status: int
    body: Any
    warnings: tuple[str, ...] = ()

    def obj(self) -> JsonObject:
        assert isinstance(self.body, dict), self.body
        return self.body


@dataclass(frozen=True)
class Ran:
    """A kubectl run."""

    rc: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The JSON kubectl printed: one document, or a list of the several it printed (a
        write of several objects with `-o json` prints one document per object)."""
        decoder = json.JSONDecoder()
        documents, at = [], 0
        text = self.stdout
        while text[at:].strip():
            at += len(text[at:]) - len(text[at:].lstrip())
            document, at = decoder.raw_decode(text, at)
            documents.append(document)
        return documents[0] if len(documents) == 1 else documents


class Server:
    """One API server, reached three ways: raw HTTP, the official client, kubectl."""

    def __init__(self, name: str, kubeconfig: Path) -> None:
        self.name = name
        self.kubeconfig = kubeconfig
        self.api = api_client(kubeconfig)
        config = self.api.configuration
        self._host = str(config.host).rstrip("/")
        self._auth: dict[str, str] = {}
        for setting in config.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                self._auth[str(setting["key"])] = str(setting["value"])
        self._pool = self.api.rest_client.pool_manager

    def close(self) -> None:
        self.api.close()

    # -- raw HTTP -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str = JSON,
        accept: str = JSON,
        timeout: float = 15.0,
    ) -> Reply:
        headers = {**self._auth, "Accept": accept}
        data: bytes | None = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        response = self._pool.request(
            method,
            self._url(path, query),
            body=data,
            headers=headers,
            retries=False,
            timeout=urllib3.Timeout(connect=5.0, read=timeout),
        )
        return Reply(response.status, _decode(response.data), _warnings(response.headers))

    def _url(self, path: str, query: Mapping[str, str] | None) -> str:
        url = self._host + path
        if query:
            url += "?" + urllib.parse.urlencode(dict(query))
        return url

    def watch(
        self,
        path: str,
        query: Mapping[str, str],
        *,
        until: Callable[[list[JsonObject]], bool],
        idle: float = 0.4,
        timeout: float = 10.0,
    ) -> list[JsonObject]:
        """The events of a watch (BOOKMARKs dropped), read until `until(events)` holds and
        nothing more came for `idle` seconds; fails after `timeout`."""
        response = self._pool.request(
            "GET",
            self._url(path, {**query, "watch": "true", "timeoutSeconds": str(int(timeout) + 2)}),
            headers={**self._auth, "Accept": JSON},
            preload_content=False,
            retries=False,
            timeout=urllib3.Timeout(connect=5.0, read=timeout + 5),
        )
        assert response.status == 200, response.read()
        lines: queue.Queue[bytes | None] = queue.Queue()

        def read() -> None:
            buffer = b""
            # Ends when the server closes the stream, or when `shutdown` below cuts it.
            with contextlib.suppress(Exception):
                while chunk := response.read1(65536):
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        lines.put(line)
            lines.put(None)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        events: list[JsonObject] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                assert left > 0, f"watch on {self.name}: timed out with {events}"
                try:
                    line = lines.get(timeout=min(idle, left))
                except queue.Empty:
                    if until(events):
                        return events
                    continue
                if line is None:
                    assert until(events), f"watch on {self.name} ended early: {events}"
                    return events
                if line.strip():
                    event = json.loads(line)
                    if event.get("type") != "BOOKMARK":
                        events.append(event)
        finally:
            response.shutdown()
            reader.join(5)
            response.release_conn()

    # -- kubectl --------------------------------------------------------------------------

    def kubectl(self, *args: str, input: str | None = None) -> Ran:
        done = kubectl(self.kubeconfig, *args, input=input)
        return Ran(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, input: str | None = None) -> str:
        done = self.kubectl(*args, input=input)
        assert done.rc == 0, f"{self.name}: kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    # -- set-up ---------------------------------------------------------------------------

    def create_namespace(self, name: str) -> None:
        reply = self.request(
            "POST", "/api/v1/namespaces", {"metadata": {"name": name}, "apiVersion": "v1"}
        )
        assert reply.status == 201, reply

    def delete_namespace(self, name: str) -> None:
        self.request("DELETE", f"/api/v1/namespaces/{name}")

    def apply_project_crds(self) -> None:
        self.ok("apply", "-f", str(CRD_DIR))
        self.ok("wait", "--for=condition=Established", "--timeout=30s", "-f", str(CRD_DIR))


def _decode(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode(errors="replace")


def _warnings(headers: Any) -> tuple[str, ...]:
    found = []
    for value in headers.getlist("Warning") if hasattr(headers, "getlist") else []:
        match = _WARNING.match(value)
        found.append(match.group(1).replace('\\"', '"') if match else value)
    return tuple(found)


# -- normalization ---------------------------------------------------------------------------


class Normalizer:
    """Per-server, per-script: tokens for uids and resourceVersions in order of appearance."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}
        # Kinds a controller writes at its own pace: their status and resourceVersion are
        # left out (a script that needs them waits for the controller instead).
        self.volatile: frozenset[str] = frozenset()

    def token(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self._tokens:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self._tokens[key] = f"{kind}#{self._counts[kind]}"
        return self._tokens[key]

    def value(self, value: Any, *, keep_managed_fields: bool = False) -> Any:
        return self._walk(value, keep_managed_fields, "")

    def _walk(self, value: Any, keep_mf: bool, parent: str) -> Any:
        if isinstance(value, list):
            return [self._walk(v, keep_mf, parent) for v in value]
        if not isinstance(value, dict):
            return value
        if value.get("kind") in self.volatile:
            value = {k: v for k, v in value.items() if k != "status"}
            if isinstance(value.get("metadata"), dict):
                meta = {k: v for k, v in value["metadata"].items() if k != "resourceVersion"}
                if isinstance(meta.get("managedFields"), list):
                    meta["managedFields"] = [
                        e for e in meta["managedFields"] if e.get("subresource") != "status"
                    ]
                value["metadata"] = meta
        if value.get("kind") == "Status":
            if isinstance(value.get("details"), dict):
                value = _sorted_causes(value)
            if isinstance(value.get("message"), str):
                value = {**value, "message": self._known_values(value["message"])}
        out: JsonObject = {}
        for key, item in value.items():
            if key == "managedFields" and isinstance(item, list):
                if keep_mf:
                    out[key] = self._managed_fields(item)
                continue
            if key in ("uid",) and isinstance(item, str) and item:
                out[key] = self.token("uid", item)
            elif key == "resourceVersion" and isinstance(item, str) and item:
                out[key] = "<list-rv>" if parent == "list" else self.token("rv", item)
            elif key in _TIME_KEYS and isinstance(item, str) and item:
                out[key] = "<time>"
            elif key == "name" and isinstance(item, str) and "generateName" in value:
                prefix = str(value["generateName"])
                out[key] = prefix + "<suffix>" if item.startswith(prefix) else item
            elif key == LAST_APPLIED and isinstance(item, str):
                # kubectl keeps a copy of what it sent, uids and timestamps included.
                out[key] = self._walk(json.loads(item), keep_mf, "")
            elif key == "continue" and isinstance(item, str) and item:
                out[key] = "<continue>"
            elif key == "rows" and isinstance(item, list) and "columnDefinitions" in value:
                out[key] = self._walk(_aged_rows(value["columnDefinitions"], item), keep_mf, "")
            else:
                child = "list" if key == "metadata" and _is_list(value) else ""
                out[key] = self._walk(item, keep_mf, child)
        return out

    def _known_values(self, text: str) -> str:
        """Uids and resourceVersions a message quotes in parentheses, as their tokens."""

        def token(match: re.Match[str]) -> str:
            value = match.group(1)
            for kind in ("uid", "rv"):
                if (kind, value) in self._tokens:
                    return f"({self._tokens[(kind, value)]})"
            return match.group(0)

        return re.sub(r"\(([^()\s]+)\)", token, text)

    def _managed_fields(self, entries: list[Any]) -> list[Any]:
        cleaned = [
            {k: _manager_name(k, v) for k, v in entry.items() if k != "time"}
            for entry in entries
            if isinstance(entry, dict)
        ]
        return sorted(
            cleaned,
            key=lambda e: (e.get("operation", ""), e.get("manager", ""), e.get("subresource", "")),
        )

    def text(self, text: str) -> str:
        """kubectl output: ages and timestamps made comparable, and the lines of an invalid
        object's causes sorted (the real API server lists them in map order)."""
        text = _TIMESTAMP.sub("<time>", _AGE.sub("<age>", text))
        lines = text.split("\n")
        out: list[str] = []
        while lines:
            if lines[0].startswith("* "):
                block = []
                while lines and lines[0].startswith("* "):
                    block.append(lines.pop(0))
                out += sorted(block)
            else:
                out.append(lines.pop(0))
        return "\n".join(out)


def _manager_name(key: str, value: Any) -> Any:
    """The test control plane runs kube-apiserver in a binary named control-plane, so the
    API server's own writes (a CRD's status) are recorded for that name."""
    if key == "manager" and value == "control-plane":
        return "kube-apiserver"
    return value


def _sorted_causes(status: JsonObject) -> JsonObject:
    """A Status whose causes are sorted, and whose message lists them in that order: the real
    API server finds schema violations in Go map order, which varies from call to call."""
    causes = status["details"].get("causes")
    if not isinstance(causes, list) or len(causes) < 2:
        return status

    def shown(cause: JsonObject) -> str:
        field = cause.get("field")
        return f"{field}: {cause.get('message')}" if field else str(cause.get("message"))

    in_order = ", ".join(shown(c) for c in causes)
    ordered = sorted(causes, key=lambda c: (str(c.get("field")), str(c.get("message"))))
    message = str(status.get("message", ""))
    if message.endswith(f"[{in_order}]"):
        head = message[: -len(in_order) - 2]
        message = f"{head}[{', '.join(shown(c) for c in ordered)}]"
    return {
        **status,
        "message": message,
        "details": {**status["details"], "causes": ordered},
    }


def _aged_rows(columns: list[Any], rows: list[Any]) -> list[Any]:
    """Table rows with their age cells (a "date" column, or a built-in "Age") as `<age>`."""
    aged = [
        i
        for i, c in enumerate(columns)
        if isinstance(c, dict) and (c.get("type") == "date" or c.get("name") == "Age")
    ]
    out = []
    for row in rows:
        cells = list(row.get("cells") or []) if isinstance(row, dict) else []
        for i in aged:
            if i < len(cells) and isinstance(cells[i], str):
                cells[i] = "<age>"
        out.append({**row, "cells": cells} if isinstance(row, dict) else row)
    return out


def _is_list(value: Mapping[str, Any]) -> bool:
    return "items" in value or "rows" in value or str(value.get("kind", "")).endswith("List")


# -- scripts ---------------------------------------------------------------------------------


@dataclass
class Ctx:
    """What a script drives: one server, a namespace of its own, the transcript so far."""

    server: Server
    ns: str
    norm: Normalizer
    steps: list[tuple[str, Any]] = field(default_factory=list)
    # Called after each write made through `http` (e.g. to let a controller catch up).
    after_write: Callable[[], None] | None = None

    @property
    def name(self) -> str:
        return self.server.name

    def record(self, label: str, value: Any) -> None:
        self.steps.append((label, value))

    def note(self, label: str, value: Any) -> None:
        """Record something kept out of the comparison, for a test to assert on (a
        documented difference)."""
        self.steps.append((f"{NOTE}{label}", value))

    # raw HTTP, recorded
    def http(
        self,
        label: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        messages: bool = True,
        keep_managed_fields: bool = False,
        drop: Sequence[str] = (),
        **options: Any,
    ) -> Reply:
        """`drop`: top-level fields left out of the record (what a controller writes at its
        own pace, e.g. a CRD's status)."""
        reply = self.server.request(method, path, body, **options)
        if method != "GET" and self.after_write is not None:
            self.after_write()
        self.record(label, self.shown(reply, messages, keep_managed_fields, drop))
        return reply

    def shown(
        self,
        reply: Reply,
        messages: bool = True,
        keep_managed_fields: bool = False,
        drop: Sequence[str] = (),
    ) -> Any:
        body = self.norm.value(reply.body, keep_managed_fields=keep_managed_fields)
        if drop and isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in drop}
        if not messages and isinstance(body, dict) and body.get("kind") == "Status":
            body = {k: v for k, v in body.items() if k != "message"}
            details = body.get("details")
            if isinstance(details, dict) and "causes" in details:
                body["details"] = {
                    **details,
                    "causes": [
                        {k: v for k, v in c.items() if k != "message"} for c in details["causes"]
                    ],
                }
        return {"status": reply.status, "body": body, "warnings": list(reply.warnings)}

    # the official client, recorded (`call` returns a model or a dict)
    def client(self, label: str, call: Callable[[], Any], *, messages: bool = True) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            result = call()
        except ApiException as exc:
            body = _decode(exc.body.encode() if isinstance(exc.body, str) else exc.body or b"")
            self.record(label, self.shown(Reply(int(exc.status), body), messages))
            return None
        except ValueError as exc:  # the client's models refused what the server sent
            self.record(label, {"status": "client error", "error": type(exc).__name__})
            return None
        data = self.server.api.sanitize_for_serialization(result)
        self.record(label, {"status": "ok", "body": self.norm.value(data)})
        return data

    # kubectl, recorded
    def kubectl(
        self,
        label: str,
        command: str,
        *extra: str,
        input: str | None = None,
        parse_json: bool = False,
        keep_managed_fields: bool = False,
    ) -> Ran:
        """Run `kubectl <command (split like a shell would)> <extra...>` and record it."""
        ran = self.server.kubectl(*shlex.split(command), *extra, input=input)
        if parse_json and ran.stdout.strip():
            # Also when kubectl failed on some of several objects: it prints the others.
            out: Any = self.norm.value(ran.json(), keep_managed_fields=keep_managed_fields)
        else:
            out = self.norm.text(ran.stdout)
        self.record(label, {"rc": ran.rc, "stdout": out, "stderr": self.norm.text(ran.stderr)})
        return ran

    # paths
    def widgets(self, name: str = "", sub: str = "") -> str:
        return _path(f"{WIDGETS}/namespaces/{self.ns}/widgets", name, sub)

    def core(self, plural: str, name: str = "", sub: str = "") -> str:
        return _path(f"/api/v1/namespaces/{self.ns}/{plural}", name, sub)

    def modelsync(self, plural: str, name: str = "", sub: str = "") -> str:
        return _path(f"{MODELSYNC}/namespaces/{self.ns}/{plural}", name, sub)


def _path(base: str, name: str, sub: str) -> str:
    return "/".join(p for p in (base, name, sub) if p)


Script = Callable[[Ctx], None]


@dataclass(frozen=True)
class Pair:
    sandbox: Server
    real: Server

    def __iter__(self) -> Iterator[Server]:
        return iter((self.sandbox, self.real))


def run_both(pair: Pair, script: Script, *, namespace: bool = True) -> dict[str, list[Any]]:
    """The script's transcript on each server (same namespace name on both), the two runs
    side by side in threads: each touches only its own server."""
    ns = unique_name("fid")

    def run(server: Server) -> list[Any]:
        if namespace:
            server.create_namespace(ns)
        ctx = Ctx(server, ns, Normalizer())
        try:
            script(ctx)
        finally:
            if namespace:
                server.delete_namespace(ns)
        return ctx.steps

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {server.name: pool.submit(run, server) for server in pair}
        return {name: future.result() for name, future in futures.items()}


def diff(transcripts: Mapping[str, Sequence[tuple[str, Any]]]) -> str:
    """The steps that differ, as unified diffs of their JSON, labelled (notes left out)."""
    sandbox, real = (
        [s for s in transcripts[name] if not s[0].startswith(NOTE)] for name in (SANDBOX, REAL)
    )
    out: list[str] = []
    if [s[0] for s in sandbox] != [r[0] for r in real]:
        out.append(f"step labels differ: {[s[0] for s in sandbox]} vs {[r[0] for r in real]}")
    for (label, s_value), (_, r_value) in zip(sandbox, real, strict=False):
        if s_value != r_value:
            s_text = json.dumps(s_value, indent=1, sort_keys=True).splitlines()
            r_text = json.dumps(r_value, indent=1, sort_keys=True).splitlines()
            lines = difflib.unified_diff(s_text, r_text, SANDBOX, REAL, lineterm="", n=2)
            out.append(f"--- step {label!r}:\n" + "\n".join(lines))
    return "\n".join(out)


def compare(pair: Pair, script: Script, *, namespace: bool = True) -> dict[str, list[Any]]:
    """Run `script` on both servers; fail unless the normalized transcripts are equal."""
    transcripts = run_both(pair, script, namespace=namespace)
    differences = diff(transcripts)
    assert not differences, "sandbox and kube-apiserver differ:\n" + differences
    return transcripts


def cel_rule_messages(crd_dir: Path = CRD_DIR) -> set[str]:
    """The messages of every x-kubernetes-validations rule in the CRD files."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for rule in node.get("x-kubernetes-validations") or []:
                if isinstance(rule, dict) and isinstance(rule.get("message"), str):
                    found.add(rule["message"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted(crd_dir.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            walk(document)
    return found


_CEL_MARKERS = ("some validation rules were not checked", "evaluating rule", "failed rule:")


def without_cel(
    transcript: Sequence[tuple[str, Any]], rule_messages: set[str]
) -> tuple[list[tuple[str, Any]], list[Any]]:
    """The transcript with the causes CEL rules produced (on the real server: the sandbox
    does not run them) taken out of every Invalid Status, and those causes."""
    out: list[tuple[str, Any]] = []
    removed: list[Any] = []
    for label, value in transcript:
        body = value.get("body") if isinstance(value, dict) else None
        causes = (
            ((body or {}).get("details") or {}).get("causes") if isinstance(body, dict) else None
        )
        if not causes or body.get("reason") != "Invalid":
            out.append((label, value))
            continue

        def from_cel(cause: JsonObject) -> bool:
            message = str(cause.get("message", ""))
            return any(m in message for m in _CEL_MARKERS) or any(
                message.endswith(m) for m in rule_messages
            )

        kept = [c for c in causes if not from_cel(c)]
        removed += [c for c in causes if from_cel(c)]
        head = str(body["message"]).split(" is invalid: ", 1)[0]
        parts = list(dict.fromkeys(f"{c['field']}: {c['message']}" for c in kept))
        summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
        body = {
            **body,
            "message": f"{head} is invalid: {summary}",
            "details": {**body["details"], "causes": kept},
        }
        out.append((label, {**value, "body": body}))
    return out, removed


def step(transcript: Sequence[tuple[str, Any]], label: str) -> Any:
    found = [value for name, value in transcript if name == label]
    assert len(found) == 1, f"{len(found)} steps labelled {label!r}"
    return found[0]


# -- shared set-up --------------------------------------------------------------------------


def yaml_text(*objects: JsonObject) -> str:
    return yaml.safe_dump_all(list(objects), sort_keys=False)


def wait_gone(server: Server, path: str, timeout: float = 30.0) -> None:
    wait_for(
        lambda: server.request("GET", path).status == 404,
        timeout=timeout,
        interval=0.05,
        what=f"{path} gone on {server.name}",
    )


CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def settle_crd(server: Server, name: str, timeout: float = 15.0) -> None:
    """Wait until a CRD's controllers have caught up with its spec (names accepted as given,
    Established), or it is gone: what they write, and when, is theirs, not the request's."""

    def settled() -> bool:
        reply = server.request("GET", f"{CRDS}/{name}")
        if reply.status == 404:
            return True
        crd = reply.obj()
        status = crd.get("status") or {}
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        if "deletionTimestamp" in crd["metadata"]:
            return conditions.get("Terminating") == "True"
        return (
            status.get("acceptedNames") == crd["spec"]["names"]
            and conditions.get("NamesAccepted") == "True"
            and conditions.get("Established") == "True"
        )

    wait_for(settled, timeout=timeout, interval=0.05, what=f"CRD {name} settled on {server.name}")
