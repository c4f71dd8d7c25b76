"""`modelsync render`'s checks of a ModelCatalogSync, as the API server makes them on a create
(modelsync.crds.admission and .cel): unknown fields, the schema, the CRD's CEL rules, in the
server's words. The CEL verdicts follow tests/api/cel_cases.py, the table a real API server
is held to in tests/api/test_cel_rules.py; test_render_real_server.py compares whole
messages with a real server."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.cel_cases import BASE_SPEC, CASES, INTERVAL, LABELS, SYNC_RULES, Case, rule_message
from api.crd_schema import instances, load_crd, openapi_schema, subschema
from modelsync.api.modelcatalogsync import parse_spec
from modelsync.crds import crd_documents
from modelsync.crds.admission import RULES_NOT_CHECKED
from modelsync.crds.cel import UnknownRule, compile_rule, compile_rules
from modelsync.render import PATTERN_MEANINGS, load_documents, sync_validator, validate_syncs

SYNC_SPEC_SCHEMA = subschema(openapi_schema(load_crd("modelcatalogsyncs.yaml")), "spec")
DURATION_RULE = {"rule": "duration(self) >= duration('10s')", "message": "at least 10s"}


def sync(spec: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelCatalogSync",
        "metadata": {"name": "prod", "namespace": "ml", **meta},
        "spec": copy.deepcopy(BASE_SPEC) if spec is None else spec,
    }


def texts(obj: dict[str, Any]) -> list[str]:
    return [str(p) for p in sync_validator().admit(obj).problems]


def test_a_valid_sync_is_stored_defaulted_without_status() -> None:
    obj = sync()
    obj["status"] = {"observedGeneration": 3}
    admission = sync_validator().admit(obj)
    assert admission.problems == ()
    assert admission.stored is not None
    assert "status" not in admission.stored
    assert admission.stored["spec"]["catalog"]["apiPath"] == "/api/ml/v1"
    assert admission.stored["spec"]["versionPolicy"] == "LatestDeployable"


def test_an_unknown_field_is_named_in_kubectls_words_with_the_likely_one() -> None:
    obj = sync({**BASE_SPEC, "select": {"namepattern": "^fraud"}})
    assert texts(obj) == [
        'unknown field "spec.select.namepattern" (did you mean "spec.select.namePattern"?)'
    ]
    problem = sync_validator().admit(obj).problems[0]
    assert problem.field == "spec.select.namepattern"


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (("spec", "intervall"), 'unknown field "spec.intervall" (did you mean "spec.interval"?)'),
        (("spec", "zzz"), 'unknown field "spec.zzz"'),
        ((None, "extra"), 'unknown field "extra"'),
        (
            ("metadata", "lables"),
            'unknown field "metadata.lables" (did you mean "metadata.labels"?)',
        ),
        (("status", "phase"), 'unknown field "status.phase"'),
    ],
)
def test_unknown_fields_anywhere(where: tuple[str | None, str], expected: str) -> None:
    obj = sync()
    parent, key = where
    (obj if parent is None else obj.setdefault(parent, {}))[key] = "x"
    assert texts(obj) == [expected]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"versionPolicy": "Newest"},
            'spec.versionPolicy: Unsupported value: "Newest": supported values: '
            '"LatestDeployable", "Latest"',
        ),
        (
            {"maxDeletions": "ten"},
            'spec.maxDeletions: Invalid value: "string": spec.maxDeletions in body must be of '
            'type integer: "string"',
        ),
        (
            {"select": {"frameworks": ["sklearn", "sklearn"]}},
            'spec.select.frameworks[1]: Duplicate value: "sklearn"',
        ),
        (
            {"catalog": {"url": "ftp://x", "tokenSecretRef": {"name": "t", "key": "k"}}},
            'spec.catalog.url: Invalid value: "ftp://x": spec.catalog.url in body should match '
            "'^https?://",
        ),
        ({"catalog": {"url": "https://x"}}, "spec.catalog.tokenSecretRef: Required value"),
    ],
)
def test_schema_problems_in_the_api_servers_words(spec: dict[str, Any], expected: str) -> None:
    found = texts(sync({**BASE_SPEC, **spec}))
    assert found[0].startswith(expected), found


def test_metadata_is_checked_as_the_server_does() -> None:
    found = texts(sync(name="Prod", labels={"team": "a b"}))
    assert found[0].startswith('metadata.name: Invalid value: "Prod": a lowercase RFC 1123')
    assert found[1].startswith('metadata.labels: Invalid value: "a b": a valid label must')
    nameless = sync()
    del nameless["metadata"]["name"]
    assert texts(nameless) == [
        "metadata.name: Required value: name or generateName is required",
        RULES_NOT_CHECKED,  # a Required error blocks the CEL rules, as on the server
    ]


def test_a_wrong_version_is_not_the_crds() -> None:
    obj = {**sync(), "apiVersion": "modelsync.dev/v1"}
    assert texts(obj) == [
        'no matches for kind "ModelCatalogSync" in version "modelsync.dev/v1" '
        "(the CRD serves modelsync.dev/v1alpha1)"
    ]


def _pattern_paths(schema: dict[str, Any], path: str) -> set[str]:
    found = {path} if "pattern" in schema else set()
    for key, sub in schema.get("properties", {}).items():
        found |= _pattern_paths(sub, f"{path}.{key}")
    for keyword in ("items", "additionalProperties"):
        if isinstance(schema.get(keyword), dict):
            found |= _pattern_paths(schema[keyword], f"{path}.*")
    return found


def test_every_pattern_of_the_spec_is_explained_in_words() -> None:
    assert _pattern_paths(SYNC_SPEC_SCHEMA, "spec") == set(PATTERN_MEANINGS)


def test_a_pattern_problem_says_what_is_expected_not_only_the_regex() -> None:
    doc = sync({**BASE_SPEC, "interval": "5 minutes"})
    given = load_documents([("in.yaml", json.dumps(doc))])
    first = validate_syncs(given)[1][0]
    assert first.startswith(
        'in.yaml: ModelCatalogSync "prod": spec.interval: Invalid value: "5 minutes": '
        "spec.interval in body should match '^"
    )
    assert first.endswith(
        "(expected a duration such as 30s, 5m or 1h30m (units h, m, s, ms, us, ns))"
    )


# -- CEL ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_cel_case_gets_the_api_servers_verdict(case: Case) -> None:
    found = texts(sync(case.full_spec()))
    if case.accepted:
        assert found == []
        return
    assert found, "accepted"
    assert any(line.startswith(case.field) and case.expected_message() in line for line in found), (
        found
    )


def test_every_rule_of_the_crds_is_run_by_the_render() -> None:
    """A rule added to a CRD that the render cannot run fails here (compile_rules raises
    UnknownRule); one it can run fails unless a refusing case in cel_cases makes the render
    say the rule's message."""
    for crd in crd_documents():
        for version in crd["spec"]["versions"]:
            compile_rules(version["schema"]["openAPIV3Schema"])
    spoken = {line for case in CASES if not case.accepted for line in texts(sync(case.full_spec()))}
    assert SYNC_RULES
    for path in SYNC_RULES:
        assert any(line.endswith(f": {rule_message(path)}") for line in spoken), path


def test_a_false_rule_and_a_failing_one_in_the_servers_words() -> None:
    assert texts(sync({**BASE_SPEC, "interval": "5s"})) == [
        f'spec.interval: Invalid value: "string": {rule_message(INTERVAL)}'
    ]
    # Beyond Go's int64 nanoseconds: CEL's duration() fails, and the server says so.
    assert texts(sync({**BASE_SPEC, "interval": "2562048h"})) == [
        "spec.interval: Invalid value: \"string\": type conversion error from 'string' to "
        f"'google.protobuf.Duration' evaluating rule: {rule_message(INTERVAL)}"
    ]


def test_a_bad_duration_gets_the_pattern_and_the_rule() -> None:
    found = texts(sync({**BASE_SPEC, "interval": "5x"}))
    assert len(found) == 2
    assert found[0].startswith('spec.interval: Invalid value: "5x": spec.interval in body should')
    assert found[1].endswith(f"evaluating rule: {rule_message(INTERVAL)}")


def test_after_a_blocking_error_the_rules_are_not_run() -> None:
    spec = {**BASE_SPEC, "interval": "1s", "modelRefTemplate": {"labels": {"team": "v" * 64}}}
    assert texts(sync(spec)) == [
        "spec.modelRefTemplate.labels.team: Too long: may not be more than 63 bytes",
        RULES_NOT_CHECKED,
    ]


def test_map_entries_are_named_by_key() -> None:
    found = texts(sync({**BASE_SPEC, "modelRefTemplate": {"labels": {"team": "a b"}}}))
    assert found == [
        f'spec.modelRefTemplate.labels[team]: Invalid value: "string": '
        f"{rule_message(LABELS + '.*')}"
    ]


@pytest.mark.parametrize(
    "rule",
    [
        {"rule": "self.size() > 0"},
        {"rule": "self.startsWith('a')"},
        {"rule": "self == oldSelf"},
        {"rule": "self.matches('a')", "messageExpression": "'x'"},
        {"rule": "self.matches('a')", "reason": "FieldValueForbidden"},
        {"rule": "self.matches('a\\\\d')"},  # escapes in a non-raw string
        {"rule": "self.matches(r'(')"},  # not RE2
        {"rule": "duration(self) > duration('ten')"},
        {"rule": "self.all(k, k.matches(r'a')) && true"},
    ],
)
def test_rules_outside_the_known_grammar_are_refused(rule: dict[str, str]) -> None:
    with pytest.raises(UnknownRule):
        compile_rule(rule)


def test_cel_and_is_commutative_over_errors() -> None:
    """`false && error` is false, in either order; `true && error` is the error."""
    rule = compile_rule(
        {"rule": "duration(self) >= duration('10s') && self.matches(r'^x$')", "message": "m"}
    )
    assert rule.check("1m") is False  # true && false
    assert rule.check("5x") is False  # error && false
    with pytest.raises(Exception, match="type conversion error"):
        compile_rule({"rule": "duration(self) >= duration('10s') && size(self) < 9"}).check("5x")


def test_a_rule_without_message_is_named_by_its_text() -> None:
    rules = compile_rules(
        {
            "type": "object",
            "properties": {
                "n": {"type": "string", "x-kubernetes-validations": [{"rule": "size(self) < 3"}]}
            },
        }
    )
    assert [c.message for c in rules.validate({"n": "long"})] == [
        'Invalid value: "string": failed rule: size(self) < 3'
    ]


# -- against the operator's own checks, on generated specs ---------------------------------

AGREEMENT = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@AGREEMENT
@given(instances(SYNC_SPEC_SCHEMA))
def test_whatever_the_schema_accepts_the_render_accepts_but_for_the_rules(
    spec: dict[str, Any],
) -> None:
    """The only problems of a schema-valid spec are CEL rules', and exactly when the
    operator's runtime (which agrees with a real server, test_cel_agreement) refuses it."""
    found = texts(sync(spec))
    assert all(
        ': Invalid value: "string": ' in f
        or ': Invalid value: "object": ' in f
        # pins is a map keyed by model (x-kubernetes-list-type), which JSON Schema cannot say
        or ("spec.pins[" in f and ": Duplicate value: " in f)
        for f in found
    ), found
    # What neither the schema nor a CEL rule checks: RE2 and semver syntax, metric min <= max.
    unchecked = ("namePattern", "aliasPattern", "aliasSemver", "versionSelector.metrics")
    runtime = [e for e in parse_spec(spec)[1] if not any(u in e for u in unchecked)]
    assert bool(found) == bool(runtime), (found, runtime)


keys = st.text(st.sampled_from("abAB09-_./ "), max_size=12)


@AGREEMENT
@given(st.dictionaries(keys, st.text(st.sampled_from("ab09-_. !"), max_size=8), max_size=3))
def test_label_rules_agree_with_the_runtime(labels: dict[str, str]) -> None:
    spec = {**BASE_SPEC, "modelRefTemplate": {"labels": labels}}
    assert bool(texts(sync(spec))) == bool(parse_spec(spec)[1])
