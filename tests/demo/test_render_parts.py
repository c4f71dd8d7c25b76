"""`modelsync render` without a catalog: reading the input, validation, token lookup, output."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsync.plan import CreateRef, SyncPlan
from modelsync.render import (
    EXIT_INVALID,
    EXIT_USAGE,
    RenderError,
    RenderInput,
    RenderTarget,
    SourceDocument,
    ValidSync,
    claimed_twice,
    load_documents,
    rendered_modelrefs,
    resolve_target,
    to_json,
    to_yaml,
    validate_syncs,
)
from modelsync.runtime.hosts import AllowedHosts

HTTPS_ONLY = AllowedHosts.parse(["https://*"])
TOKEN = "tok-render-unit-91c2e7"


def sync(
    url: str = "https://catalog.example.com", name: str = "prod", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelCatalogSync",
        "metadata": {"name": name, "namespace": "ml"},
        "spec": {"catalog": {"url": url, "tokenSecretRef": {"name": "tfy", "key": "token"}}} | spec,
    }


def secret(name: str = "tfy", namespace: str | None = "ml", **data: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, **data}


def given_docs(*docs: dict[str, Any]) -> RenderInput:
    return load_documents([("in.yaml", yaml.safe_dump_all(list(docs)))])


def valid(doc: dict[str, Any], namespace: str | None = None) -> ValidSync:
    syncs, problems = validate_syncs(given_docs(doc), namespace=namespace)
    assert problems == []
    (found,) = syncs
    return found


def problems_of(*docs: dict[str, Any], namespace: str | None = None) -> list[str]:
    return validate_syncs(given_docs(*docs), namespace=namespace)[1]


def target(
    doc: dict[str, Any],
    secrets: tuple[dict[str, Any], ...] = (),
    env: dict[str, str] | None = None,
    **kwargs: Any,
) -> RenderTarget:
    return resolve_target(
        valid(doc, kwargs.pop("namespace", None)),
        secrets,
        environ=env or {},
        allowed_hosts=kwargs.pop("hosts", HTTPS_ONLY),
        **kwargs,
    )


def test_syncs_and_secrets_are_found_among_other_documents() -> None:
    text = yaml.safe_dump_all(
        [{"apiVersion": "v1", "kind": "ConfigMap"}, sync(), secret(stringData={"token": "x"})]
    )
    found = load_documents([("a.yaml", text), ("b.yaml", "---\n")])
    assert [d.body["metadata"]["name"] for d in found.syncs] == ["prod"]
    assert found.syncs[0].where == 'a.yaml: ModelCatalogSync "prod"'
    assert found.syncs[0].position == "document 2"
    assert len(found.secrets) == 1
    assert found.problems == ()


def test_a_kubectl_list_is_unpacked() -> None:
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [sync(), sync(name="b")]})
    found = load_documents([("list.yaml", text)])
    assert [d.position for d in found.syncs] == ["document 1, item 1", "document 1, item 2"]


def test_several_syncs_in_one_file_and_in_several_files() -> None:
    first = yaml.safe_dump_all([sync(name="a"), sync(name="b")])
    found = load_documents([("one.yaml", first), ("two.yaml", yaml.safe_dump(sync(name="c")))])
    syncs, problems = validate_syncs(found)
    assert problems == []
    assert [(s.document.source, s.name) for s in syncs] == [
        ("one.yaml", "a"),
        ("one.yaml", "b"),
        ("two.yaml", "c"),
    ]


def test_no_sync_is_a_problem() -> None:
    assert problems_of(secret()) == ["no ModelCatalogSync (modelsync.dev/v1alpha1) in the input"]


def test_a_sync_given_twice_is_a_problem() -> None:
    found = problems_of(sync(), sync())
    assert found == [
        'in.yaml: ModelCatalogSync "prod": ModelCatalogSync ml/prod is given twice (also in '
        "in.yaml, document 1); a cluster keeps only the last one applied"
    ]
    # The same name in two namespaces is two syncs, unless -n puts both in one.
    other = sync()
    other["metadata"]["namespace"] = "other"
    assert problems_of(sync(), other) == []
    assert len(problems_of(sync(), other, namespace="x")) == 1


def test_the_wrong_version_is_a_problem() -> None:
    assert problems_of({**sync(), "apiVersion": "modelsync.dev/v1"}) == [
        'in.yaml: ModelCatalogSync "prod": no matches for kind "ModelCatalogSync" in version '
        '"modelsync.dev/v1" (the CRD serves modelsync.dev/v1alpha1)'
    ]


def test_invalid_yaml_names_the_file() -> None:
    found = load_documents([("in.yaml", "a: [")])
    (problem,) = found.problems
    assert problem.startswith("in.yaml: not valid YAML: ")
    assert "line 1" in problem
    assert validate_syncs(found)[1] == [problem]


def test_a_key_given_twice_is_refused_as_kubectl_does() -> None:
    text = yaml.safe_dump(sync()) + "metadata:\n  name: again\n"
    (problem,) = load_documents([("in.yaml", text)]).problems
    assert 'key "metadata" already set in map' in problem


def test_yaml_is_read_as_json_keys_and_no_timestamps() -> None:
    text = yaml.safe_dump(sync()) + "extra:\n  2024-01-01: 2024-01-01\n  1: yes\n"
    (doc,) = load_documents([("in.yaml", text)]).syncs
    assert doc.body["extra"] == {"2024-01-01": "2024-01-01", "1": True}


def test_not_an_object() -> None:
    found = load_documents([("in.yaml", "- a\n---\nplain\n")])
    assert found.problems == (
        "in.yaml: document 1: not a Kubernetes object (a YAML mapping)",
        "in.yaml: document 2: not a Kubernetes object (a YAML mapping)",
    )


def test_every_problem_of_every_sync_is_listed_with_file_and_name() -> None:
    bad = sync(name="a", select={"namepattern": "^x"}, interval="1s")
    worse = sync(name="b", versionPolicy="Newest", select={"namePattern": "(["})
    found = problems_of(bad, worse)
    assert found == [
        'in.yaml: ModelCatalogSync "a": unknown field "spec.select.namepattern" '
        '(did you mean "spec.select.namePattern"?)',
        'in.yaml: ModelCatalogSync "a": spec.interval: Invalid value: "string": interval must '
        "be a duration of at least 10s, e.g. 30s, 5m or 1h",
        'in.yaml: ModelCatalogSync "b": spec.versionPolicy: Unsupported value: "Newest": '
        'supported values: "LatestDeployable", "Latest"',
        'in.yaml: ModelCatalogSync "b": some validation rules were not checked because the '
        "object was invalid; correct the existing errors to complete validation",
        'in.yaml: ModelCatalogSync "b": spec.select.namePattern: invalid regular expression: '
        "missing ]: [; RE2 syntax is required (no backreferences or lookaround)",
    ]


def test_what_only_the_operator_refuses_is_said_so() -> None:
    (line,) = problems_of(sync(select={"namePattern": "(?<=a)b"}))
    assert line.startswith('in.yaml: ModelCatalogSync "prod": spec.select.namePattern: invalid')
    assert line.endswith(
        "(the API server accepts it, but the operator would set Stalled InvalidSpec)"
    )


def test_a_generated_name_cannot_be_rendered() -> None:
    doc = sync()
    doc["metadata"] = {"generateName": "prod-", "namespace": "ml"}
    (line,) = problems_of(doc)
    assert line.startswith("in.yaml: document 1 (ModelCatalogSync): metadata.name: Required")


def test_token_comes_from_the_environment_first() -> None:
    secrets = (secret(stringData={"token": "from-secret"}),)
    assert target(sync(), secrets, {"MODELSYNC_TOKEN": TOKEN}).token == TOKEN
    assert target(sync(), secrets, {"OTHER": TOKEN}, token_env="OTHER").token == TOKEN
    assert target(sync(), secrets).token == "from-secret"


def test_token_from_base64_data_and_namespaceless_secret() -> None:
    encoded = base64.b64encode(TOKEN.encode()).decode()
    assert target(sync(), (secret(namespace=None, data={"token": encoded}),)).token == TOKEN


def test_a_secret_of_another_namespace_does_not_count() -> None:
    secrets = (secret(namespace="elsewhere", stringData={"token": "x"}),)
    with pytest.raises(RenderError, match=r"no catalog token: set \$MODELSYNC_TOKEN") as caught:
        target(sync(), secrets)
    assert caught.value.exit_code == EXIT_USAGE


def test_bad_secret_data_is_reported_without_its_value() -> None:
    with pytest.raises(RenderError, match="not valid base64") as caught:
        target(sync(), (secret(data={"token": "%%%" + TOKEN}),))
    assert TOKEN not in str(caught.value)
    assert caught.value.exit_code == EXIT_INVALID
    with pytest.raises(RenderError, match='has no key "token"'):
        target(sync(), (secret(stringData={"other": "x"}),))


def test_namespace_default_and_override() -> None:
    doc = sync()
    del doc["metadata"]["namespace"]
    env = {"MODELSYNC_TOKEN": TOKEN}
    assert target(doc, env=env).namespace == "default"
    assert target(sync(), env=env, namespace="other").namespace == "other"


def test_plain_http_needs_the_flag() -> None:
    doc = sync("http://127.0.0.1:8181")
    env = {"MODELSYNC_TOKEN": TOKEN}
    with pytest.raises(RenderError, match="--allow-insecure-http") as caught:
        target(doc, env=env)
    assert caught.value.exit_code == EXIT_USAGE
    hosts = AllowedHosts.parse(["https://*"], allow_insecure_http=True)
    assert target(doc, env=env, hosts=hosts).spec.catalog.url == "http://127.0.0.1:8181"


def test_a_ca_secret_must_be_given() -> None:
    doc = sync()
    doc["spec"]["catalog"]["caSecretRef"] = {"name": "corp-ca", "key": "ca.crt"}
    env = {"MODELSYNC_TOKEN": TOKEN}
    with pytest.raises(RenderError, match='caSecretRef names Secret "corp-ca"'):
        target(doc, env=env)
    pem = "-----BEGIN CERTIFICATE-----\n..."
    found = target(doc, (secret("corp-ca", stringData={"ca.crt": pem}),), env)
    assert found.ca_pem == pem


def test_the_token_is_not_in_the_target_repr() -> None:
    assert TOKEN not in repr(target(sync(), env={"MODELSYNC_TOKEN": TOKEN}))


def test_a_modelref_two_syncs_would_write_is_a_problem() -> None:
    env = {"MODELSYNC_TOKEN": TOKEN}
    a, b = target(sync(name="a"), env=env), target(sync(name="b"), env=env)
    ref = {"metadata": {"name": "fraud.x", "namespace": "ml"}}
    other = {"metadata": {"name": "fraud.y", "namespace": "ml"}}
    assert claimed_twice([(a, [ref]), (b, [other])]) == []
    (line,) = claimed_twice([(a, [ref, other]), (b, [ref])])
    assert line.startswith(
        "ModelRef ml/fraud.x would be written by both ModelCatalogSync ml/a and ml/b"
    )


def test_a_source_document_without_a_name_is_named_by_position() -> None:
    doc = SourceDocument("<stdin>", "document 3", {"kind": "ModelCatalogSync", "metadata": {}})
    assert doc.where == "<stdin>: document 3 (ModelCatalogSync)"


def _create(name: str) -> CreateRef:
    body = {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelRef",
        "metadata": {
            "name": name,
            "namespace": "ml",
            "labels": {"app.kubernetes.io/managed-by": "modelsync"},
            "ownerReferences": [{"uid": "u", "controller": True}],
        },
        "spec": {"model": {"id": "1", "name": name, "fqn": f"model:a/b/{name}"}},
    }
    status = {"status": {"observedGeneration": 1, "conditions": [{"type": "Ready"}]}}
    return CreateRef(name, f"model:a/b/{name}", body, status)


def test_rendered_refs_drop_owner_references_and_carry_status() -> None:
    plan = SyncPlan(creates=(_create("b.x"), _create("a.x")))
    docs = rendered_modelrefs(plan)
    assert [d["metadata"]["name"] for d in docs] == ["a.x", "b.x"]
    assert all("ownerReferences" not in d["metadata"] for d in docs)
    assert docs[0]["status"] == {"observedGeneration": 1, "conditions": [{"type": "Ready"}]}
    assert "ownerReferences" in plan.creates[0].body["metadata"]  # the plan is not changed
    assert all("status" not in d for d in rendered_modelrefs(plan, with_status=False))


_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
_JSON = st.recursive(
    _SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@settings(max_examples=30)
@given(st.lists(st.dictionaries(st.text(max_size=8), _JSON, max_size=4), max_size=3))
def test_yaml_output_round_trips(docs: list[dict[str, Any]]) -> None:
    text = to_yaml(docs, ["first line", "second"])
    assert text.startswith("# first line\n# second\n")
    assert list(yaml.safe_load_all(text)) == docs


def test_unicode_stays_readable_and_line_separators_survive() -> None:
    docs = [{"description": "modèle", "note": "a\u2028b"}]
    assert list(yaml.safe_load_all(to_yaml(docs))) == docs
    assert "modèle" in to_yaml([{"description": "modèle"}])


def test_json_output_is_a_sorted_kubectl_list() -> None:
    docs: list[dict[str, Any]] = [
        {"metadata": {"name": "b"}, "kind": "ModelRef"},
        {"kind": "ModelRef", "spec": "é"},
    ]
    text = to_json(docs)
    assert json.loads(text) == {
        "apiVersion": "v1",
        "items": docs,
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }
    assert text.index('"kind": "ModelRef"') < text.index('"metadata": {')
    assert "é" in text
    assert text.endswith("}\n")
    assert to_json(docs) == text
