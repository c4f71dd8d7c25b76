"""Defaulting, pruning of unknown fields (with fieldValidation Warn, Strict and Ignore) and
validation errors: status code, reason, causes (field paths and messages), warnings."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fidelity import objects
from fidelity.runner import (
    CRDS,
    MERGE,
    NOTE,
    REAL,
    SANDBOX,
    Ctx,
    JsonObject,
    Pair,
    cel_rule_messages,
    compare,
    diff,
    run_both,
    settle_crd,
    step,
    without_cel,
    yaml_text,
)
from fixtures_real_cluster import XDIST_GROUP

pytestmark = [pytest.mark.real_cluster, pytest.mark.xdist_group(XDIST_GROUP)]


def _with(body: JsonObject, **changes: Any) -> JsonObject:
    """`body` with top-level or dotted-path fields replaced (None removes)."""
    out: JsonObject = copy.deepcopy(body)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = out
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return out


def _pruning_script(t: Ctx) -> None:
    unknown = objects.widget("p1", bogus=1, extra={"kept": {"deep": [1, {"x": None}]}})
    unknown["topLevel"] = {"a": 1}
    unknown["metadata"]["unknownMeta"] = "x"
    unknown["status"] = {"ignored": True}
    t.http("warn", "POST", t.widgets(), unknown)
    t.http(
        "strict",
        "POST",
        t.widgets(),
        {**unknown, "metadata": {"name": "p2"}},
        query={"fieldValidation": "Strict"},
    )
    t.http(
        "ignore",
        "POST",
        t.widgets(),
        {**unknown, "metadata": {"name": "p3"}},
        query={"fieldValidation": "Ignore"},
    )
    t.http(  # the message quotes the whole patched object, managedFields and all
        "strict patch",
        "PATCH",
        t.widgets("p1"),
        {"spec": {"alsoBogus": 2}},
        content_type=MERGE,
        query={"fieldValidation": "Strict"},
        messages=False,
    )
    t.http(
        "warn patch",
        "PATCH",
        t.widgets("p1"),
        {"spec": {"alsoBogus": 2, "size": 7}},
        content_type=MERGE,
    )
    t.http(
        "defaults on update",
        "PATCH",
        t.widgets("p1"),
        {"spec": {"color": None}},
        content_type=MERGE,
    )
    t.http("nullable", "PATCH", t.widgets("p1"), {"spec": {"note": None}}, content_type=MERGE)
    put = t.server.request("GET", t.widgets("p1")).obj()
    put["spec"]["note"] = None
    put["spec"]["owner"] = None
    t.http("nulls on put", "PUT", t.widgets("p1"), put)
    secret = objects.secret("p1")
    secret["bogus"] = 1
    secret["metadata"]["alsoBogus"] = 2
    t.http("secret warn", "POST", t.core("secrets"), secret)
    t.http(
        "secret strict",
        "POST",
        t.core("secrets"),
        {**secret, "metadata": {"name": "p2"}},
        query={"fieldValidation": "Strict"},
    )
    t.kubectl(
        "kubectl warns",
        "apply",
        "-n",
        t.ns,
        "-f",
        "-",
        "-o",
        "json",
        input=yaml_text(_with(unknown, metadata={"name": "p4"})),
        parse_json=True,
    )
    t.kubectl(
        "kubectl strict",
        "create",
        "-n",
        t.ns,
        "--validate=strict",
        "-f",
        "-",
        input=yaml_text(_with(unknown, metadata={"name": "p5"})),
    )


def test_pruning_and_field_validation(pair: Pair) -> None:
    compare(pair, _pruning_script)


def _defaults_script(t: Ctx) -> None:
    t.http("widget", "POST", t.widgets(), objects.widget("d1"))
    t.http("widget null default", "POST", t.widgets(), objects.widget("d2", color=None))
    sync = objects.model_catalog_sync("d1")
    t.http("modelcatalogsync", "POST", t.modelsync("modelcatalogsyncs"), sync)
    t.http(
        "modelcatalogsync status defaults",
        "PATCH",
        t.modelsync("modelcatalogsyncs", "d1", "status"),
        {"status": {"catalog": {}, "modelRefs": {"selected": 2}}},
        content_type=MERGE,
    )
    t.http("modelref", "POST", t.modelsync("modelrefs"), objects.model_ref("d1"))
    t.http("namespace", "POST", "/api/v1/namespaces", objects.namespace(f"{t.ns}-d"))
    t.http("secret", "POST", t.core("secrets"), {"metadata": {"name": "d1"}})
    t.http(
        "lease",
        "POST",
        f"/apis/coordination.k8s.io/v1/namespaces/{t.ns}/leases",
        {"metadata": {"name": "d1"}},
    )
    t.http(
        "event",
        "POST",
        t.core("events"),
        {"metadata": {"name": "d1"}, "involvedObject": {"name": "x", "namespace": t.ns}},
    )
    t.http("namespace delete", "DELETE", f"/api/v1/namespaces/{t.ns}-d")


@pytest.mark.usefixtures("project_pair")
def test_defaults(pair: Pair) -> None:
    compare(pair, _defaults_script)


_BAD_WIDGETS: list[tuple[str, JsonObject]] = [
    ("size too small", objects.widget("v", size=0)),
    ("size too large", objects.widget("v", size=101)),
    ("size wrong type", objects.widget("v", size="3")),
    ("size float", objects.widget("v", size=2.5)),
    ("size missing", _with(objects.widget("v"), spec__size=None)),
    ("color enum", objects.widget("v", color="pink")),
    ("owner pattern", objects.widget("v", owner="Ann")),
    ("owner too long", objects.widget("v", owner="a" * 11)),
    ("tags item empty", objects.widget("v", tags=["ok", ""])),
    ("tags not a list", objects.widget("v", tags="a")),
    ("several", objects.widget("v", size=0, color="pink", owner="A1", tags=[""])),
    ("spec not an object", _with(objects.widget("v"), spec=[1])),
    ("bad name", _with(objects.widget("v"), metadata={"name": "Bad_Name"})),
    ("no name", _with(objects.widget("v"), metadata={})),
    ("bad label", _with(objects.widget("v"), metadata={"name": "v", "labels": {"a b": "c"}})),
    ("bad label value", _with(objects.widget("v"), metadata={"name": "v", "labels": {"a": "-"}})),
    (
        "bad annotation",
        _with(objects.widget("v"), metadata={"name": "v", "annotations": {"/": ""}}),
    ),
    ("bad finalizer", _with(objects.widget("v"), metadata={"name": "v", "finalizers": ["a/b/c"]})),
    (
        "bad owner reference",
        _with(objects.widget("v"), metadata={"name": "v", "ownerReferences": [{"kind": "X"}]}),
    ),
    ("wrong kind", _with(objects.widget("v"), kind="Gadget")),
    ("wrong namespace", _with(objects.widget("v"), metadata={"name": "v", "namespace": "other"})),
    (
        "resourceVersion set",
        _with(objects.widget("v"), metadata={"name": "v", "resourceVersion": "5"}),
    ),
]


def _widget_validation_script(t: Ctx) -> None:
    for label, body in _BAD_WIDGETS:
        t.http(label, "POST", t.widgets(), body)
    t.http("valid", "POST", t.widgets(), objects.widget("v"))
    t.http(
        "patch invalid",
        "PATCH",
        t.widgets("v"),
        {"spec": {"size": -1, "color": "x"}},
        content_type=MERGE,
    )
    t.http(
        "patch label invalid",
        "PATCH",
        t.widgets("v"),
        {"metadata": {"labels": {"k": "v" * 64}}},
        content_type=MERGE,
    )
    t.http(
        "patch status invalid type",
        "PATCH",
        t.widgets("v", "status"),
        {"status": 5},
        content_type=MERGE,
    )
    reply = t.http(
        "patch not json", "PATCH", t.widgets("v"), "{not json", content_type=MERGE, messages=False
    )
    prefix, _, wording = reply.obj()["message"].partition(": ")
    t.record("patch not json: message prefix", prefix)
    t.note("patch not json: syntax error", wording)
    t.http("patch wrong type", "PATCH", t.widgets("v"), [{"op": "add"}], content_type=MERGE)
    t.http("put name mismatch", "PUT", t.widgets("v"), objects.widget("w"))
    t.kubectl(
        "kubectl invalid",
        "create",
        "-n",
        t.ns,
        "-f",
        "-",
        input=yaml_text(objects.widget("k", size=0, color="pink")),
    )


def test_widget_validation(pair: Pair) -> None:
    transcripts = compare(pair, _widget_validation_script)
    # Documented: JSON syntax errors are worded by Python's json module, not Go's.
    label = f"{NOTE}patch not json: syntax error"
    assert step(transcripts[REAL], label) == (
        "invalid character 'n' looking for beginning of object key string"
    )
    assert step(transcripts[SANDBOX], label).startswith("Expecting property name")


def _project_validation_script(t: Ctx) -> None:
    syncs = t.modelsync("modelcatalogsyncs")
    base = objects.model_catalog_sync("v")
    for label, body in (
        ("url pattern", _with(base, spec__catalog__url="ftp://x")),
        ("missing token ref", _with(base, spec__catalog__tokenSecretRef=None)),
        ("page size", _with(base, spec__catalog__pageSize=0)),
        ("policy enum", _with(base, spec__versionPolicy="Oldest")),
        ("interval pattern", _with(base, spec__interval="5 minutes")),
        ("frameworks set duplicate", _with(base, spec__select={"frameworks": ["onnx", "onnx"]})),
        ("no spec", _with(base, spec=None)),
    ):
        t.http(label, "POST", syncs, body)
    refs = t.modelsync("modelrefs")
    ref = objects.model_ref("v")
    t.http("modelref missing fqn", "POST", refs, _with(ref, spec__model={"id": "1", "name": "n"}))
    t.http("modelref valid", "POST", refs, ref)
    t.http(
        "modelref bad condition",
        "PATCH",
        t.modelsync("modelrefs", "v", "status"),
        {"status": {"conditions": [{"type": "Ready", "status": "Maybe"}]}},
        content_type=MERGE,
    )
    condition = objects.status_condition()
    t.http(
        "modelref duplicate condition",
        "PATCH",
        t.modelsync("modelrefs", "v", "status"),
        {"status": {"conditions": [condition, condition]}},
        content_type=MERGE,
    )


@pytest.mark.usefixtures("project_pair")
def test_project_validation(pair: Pair) -> None:
    transcripts = run_both(pair, _project_validation_script)
    # Documented: the sandbox does not run CEL rules (x-kubernetes-validations). Taken out
    # of the real server's answers, the rest must agree; and the rules did speak up there.
    rules = cel_rule_messages()
    real, from_cel = without_cel(transcripts[REAL], rules)
    sandbox, none = without_cel(transcripts[SANDBOX], rules)
    assert not none
    if rules:
        assert from_cel, "crds/ has CEL rules, but none of them spoke on the real server"
    differences = diff({SANDBOX: sandbox, REAL: real})
    assert not differences, "sandbox and kube-apiserver differ:\n" + differences


def _cel_script(t: Ctx) -> None:
    plural = "".join(ch for ch in t.ns if ch.isalnum()) + "cels"
    crd = objects.crd(plural)
    spec_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec_schema["x-kubernetes-validations"] = [
        {"rule": "self.min <= self.max", "message": "min must not exceed max"}
    ]
    name = crd["metadata"]["name"]
    assert t.server.request("POST", CRDS, crd).status == 201
    settle_crd(t.server, name)
    path = f"/apis/fidelity.example.dev/v1/namespaces/{t.ns}/{plural}"
    body = {
        "apiVersion": "fidelity.example.dev/v1",
        "kind": crd["spec"]["names"]["kind"],
        "metadata": {"name": "c1"},
        "spec": {"min": 5, "max": 1},
    }
    t.note("create breaking the rule", t.shown(t.server.request("POST", path, body)))
    t.server.request("DELETE", f"{CRDS}/{name}")


def test_cel_rules_are_not_enforced_by_the_sandbox(pair: Pair) -> None:
    """Documented difference: x-kubernetes-validations are the real server's alone."""
    transcripts = run_both(pair, _cel_script)
    label = f"{NOTE}create breaking the rule"
    assert step(transcripts[SANDBOX], label)["status"] == 201
    real = step(transcripts[REAL], label)
    assert real["status"] == 422
    assert real["body"]["details"]["causes"] == [
        {
            "field": "spec",
            "message": 'Invalid value: "object": min must not exceed max',
            "reason": "FieldValueInvalid",
        }
    ]


def _builtin_validation_script(t: Ctx) -> None:
    secrets = t.core("secrets")
    t.http("secret bad key", "POST", secrets, {"metadata": {"name": "s"}, "data": {"a b": "eA=="}})
    t.http("secret bad base64", "POST", secrets, {"metadata": {"name": "s"}, "data": {"a": "!"}})
    t.http("secret valid", "POST", secrets, objects.secret("s"))
    t.http(
        "secret type change",
        "PATCH",
        f"{secrets}/s",
        {"type": "kubernetes.io/tls"},
        content_type=MERGE,
    )
    leases = f"/apis/coordination.k8s.io/v1/namespaces/{t.ns}/leases"
    t.http("lease bad duration", "POST", leases, objects.lease("l", seconds=0))
    t.http(
        "lease bad transitions",
        "POST",
        leases,
        _with(objects.lease("l"), spec__leaseTransitions=-1),
    )
    t.http(
        "lease bad time",
        "POST",
        leases,
        _with(objects.lease("l"), spec__renewTime="2026-01-02T03:04:05Z"),
    )
    t.http(
        "lease good time",
        "POST",
        leases,
        _with(objects.lease("l"), spec__renewTime="2026-01-02T03:04:05.123456Z"),
    )
    events = t.core("events")
    event = objects.core_event("e", t.ns)
    t.http(
        "event namespace mismatch",
        "POST",
        events,
        _with(event, involvedObject={"name": "x", "namespace": "other"}),
    )
    t.http("event bad time", "POST", events, _with(event, firstTimestamp="yesterday"))
    t.http("event micro time", "POST", events, _with(event, eventTime="2026-01-02T03:04:05+00:00"))
    t.http(
        "event new style incomplete",
        "POST",
        events,
        _with(event, eventTime="2026-01-02T03:04:05.000000Z"),
    )
    t.http(
        "events.k8s.io without eventTime",
        "POST",
        f"/apis/events.k8s.io/v1/namespaces/{t.ns}/events",
        _with(objects.events_v1_event("e", t.ns), eventTime=None),
    )
    namespaces = "/api/v1/namespaces"
    t.http("namespace bad name", "POST", namespaces, objects.namespace("a.b"))
    t.http("namespace upper", "POST", namespaces, objects.namespace("Abc"))
    t.http("namespace long", "POST", namespaces, objects.namespace("a" * 64))
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    plural = "".join(ch for ch in t.ns if ch.isalnum()) + "bads"
    good = objects.crd(plural)
    t.http("crd wrong name", "POST", crds, _with(good, metadata={"name": "x.fidelity.example.dev"}))
    t.http("crd no versions", "POST", crds, _with(good, spec__versions=[]))
    t.http("crd bad scope", "POST", crds, _with(good, spec__scope="Global"))
    t.http(
        "crd group without dot",
        "POST",
        crds,
        _with(good, metadata={"name": f"{plural}.nodot"}, spec__group="nodot"),
    )


def test_builtin_validation(pair: Pair) -> None:
    compare(pair, _builtin_validation_script)
