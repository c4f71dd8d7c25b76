"""What the ModelCatalogSync CRD's CEL rules (and the limits that bound their cost) accept and
refuse, as one table that both the real API server (test_cel_rules) and the operator's runtime
validation (test_cel_agreement) must follow, so the two agree with each other through it."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.crd_schema import load_crd, openapi_schema, validation_rules
from modelsync.api import constants as c

SYNC_RULES = validation_rules(openapi_schema(load_crd("modelcatalogsyncs.yaml")))
MODELREF_RULES = validation_rules(openapi_schema(load_crd("modelrefs.yaml")))

BASE_SPEC: dict[str, Any] = {
    "catalog": {
        "url": "https://catalog.example",
        "tokenSecretRef": {"name": "tfy-api", "key": "token"},
    },
}

INTERVAL = "spec.interval"
LABELS = "spec.modelRefTemplate.labels"
LABEL_VALUES = "spec.modelRefTemplate.labels.*"
ANNOTATIONS = "spec.modelRefTemplate.annotations"

# What the API server's built-in (non-CEL) checks say.
TOO_LONG_63 = "Too long: may not be more than 63 bytes"
TOO_MANY_64 = "must have at most 64 items"

PREFIX_253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253 characters


def rule_message(path: str) -> str:
    """The message of the one CEL rule at `path` of the ModelCatalogSync schema."""
    (rule,) = SYNC_RULES[path]
    message = rule["message"]
    assert isinstance(message, str)
    return message.strip()


@dataclass(frozen=True)
class Case:
    id: str
    spec: Mapping[str, Any]  # merged over BASE_SPEC
    checks: str  # the schema path whose rule (or limit) the case exercises
    accepted: bool
    server_says: str | None = None  # a refusal by a built-in check, not by the CEL rule

    @property
    def field(self) -> str:
        """The field a refusal names (map entries add their key to it)."""
        return self.checks.removesuffix(".*")

    def full_spec(self) -> dict[str, Any]:
        spec = copy.deepcopy(BASE_SPEC)
        for key, value in self.spec.items():
            spec[key] = copy.deepcopy(value)
        return spec

    def manifest(self, name: str, namespace: str) -> dict[str, Any]:
        return {
            "apiVersion": c.API_VERSION,
            "kind": c.KIND_SYNC,
            "metadata": {"name": name, "namespace": namespace},
            "spec": self.full_spec(),
        }

    def expected_message(self) -> str:
        """What a refusal says: the CEL rule's message unless a built-in check refuses."""
        return self.server_says if self.server_says is not None else rule_message(self.checks)


def interval(value: str, ok: bool) -> Case:
    verdict = "ok" if ok else "refused"
    return Case(f"interval-{value}-{verdict}", {"interval": value}, INTERVAL, ok)


def template(**maps: Mapping[str, str]) -> dict[str, Any]:
    return {"modelRefTemplate": {key: dict(value) for key, value in maps.items()}}


def label_key(case_id: str, key: str, ok: bool) -> Case:
    return Case(case_id, template(labels={key: "x"}), LABELS, ok)


def label_value(case_id: str, value: str, ok: bool) -> Case:
    return Case(case_id, template(labels={"team": value}), LABEL_VALUES, ok)


def annotation_key(case_id: str, key: str, ok: bool) -> Case:
    spec = template(annotations={key: "any value at all: spaces, <>, \u00fcn\u00efcode"})
    return Case(case_id, spec, ANNOTATIONS, ok)


CASES: list[Case] = [
    # spec.interval: a Go duration of at least 10s, compared in nanoseconds.
    Case("interval-unset-ok", {}, INTERVAL, True),
    *(
        interval(value, True)
        for value in [
            "10s",
            "1m",
            "1h30m",
            "10000ms",
            "0.5m",
            "9s1000ms",
            "10.000000001s",
            "10000000000ns",
            "1h0m0s",
            "2562047h",  # just inside Go's int64 nanoseconds
        ]
    ),
    *(
        interval(value, False)
        for value in [
            "9s",
            "0s",
            "9999ms",
            "9.999999999s",
            "9999999999ns",
            "0.1m",
            "1us",
            "2562048h",  # beyond int64 nanoseconds: Go (and so CEL) cannot parse it
        ]
    ),
    # Label keys: [prefix/]name, name <= 63 characters, prefix a DNS subdomain <= 253.
    label_key("label-key-plain-ok", "team", True),
    label_key("label-key-prefixed-ok", "example.com/team", True),
    label_key("label-key-one-char-ok", "a", True),
    label_key("label-key-mixed-ok", "A_b-c.D9", True),
    label_key("label-key-63-ok", "k" * 63, True),
    label_key("label-key-prefix-253-ok", f"{PREFIX_253}/x", True),
    label_key("label-key-space-refused", "team lead", False),
    label_key("label-key-leading-dash-refused", "-team", False),
    label_key("label-key-trailing-dot-refused", "team.", False),
    label_key("label-key-upper-prefix-refused", "Example.com/team", False),
    label_key("label-key-two-slashes-refused", "a/b/c", False),
    label_key("label-key-empty-prefix-refused", "/team", False),
    label_key("label-key-empty-name-refused", "example.com/", False),
    label_key("label-key-empty-refused", "", False),
    label_key("label-key-64-refused", "k" * 64, False),
    label_key("label-key-prefix-254-refused", f"e{PREFIX_253}/x", False),
    label_key("label-key-unicode-refused", "équipe", False),
    # Label values: empty, or <= 63 alphanumerics, '-', '_', '.' with alphanumeric ends.
    label_value("label-value-empty-ok", "", True),
    label_value("label-value-plain-ok", "risk", True),
    label_value("label-value-mixed-ok", "Risk_2.b-c", True),
    label_value("label-value-63-ok", "v" * 63, True),
    label_value("label-value-space-refused", "risk team", False),
    label_value("label-value-bang-refused", "risk!", False),
    label_value("label-value-leading-dash-refused", "-risk", False),
    label_value("label-value-trailing-dot-refused", "risk.", False),
    label_value("label-value-slash-refused", "a/b", False),
    Case(
        "label-value-64-refused",
        template(labels={"team": "v" * 64}),
        LABEL_VALUES,
        False,
        TOO_LONG_63,
    ),
    # Annotation keys: the same qualified names; values are free.
    annotation_key("annotation-key-plain-ok", "note", True),
    annotation_key("annotation-key-prefixed-ok", "example.com/owner", True),
    annotation_key("annotation-key-space-refused", "owner name", False),
    annotation_key("annotation-key-two-slashes-refused", "a/b/c", False),
    annotation_key("annotation-key-64-refused", "n" * 64, False),
    # At most 64 entries each, which keeps the rules' estimated cost within the server's limit.
    Case("labels-64-ok", template(labels={f"l{i}": "v" for i in range(64)}), LABELS, True),
    Case(
        "labels-65-refused",
        template(labels={f"l{i}": "v" for i in range(65)}),
        LABELS,
        False,
        TOO_MANY_64,
    ),
    Case(
        "annotations-64-ok",
        template(annotations={f"a{i}": "v" for i in range(64)}),
        ANNOTATIONS,
        True,
    ),
    Case(
        "annotations-65-refused",
        template(annotations={f"a{i}": "v" for i in range(65)}),
        ANNOTATIONS,
        False,
        TOO_MANY_64,
    ),
]
