"""`modelsync render` without a catalog: reading the input, validation, token lookup, output."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsync.plan import CreateRef, SyncPlan
from modelsync.render import (
    RenderError,
    RenderInput,
    load_documents,
    rendered_modelrefs,
    resolve_target,
    to_yaml,
)
from modelsync.runtime.hosts import AllowedHosts

HTTPS_ONLY = AllowedHosts.parse(["https://*"])
TOKEN = "tok-render-unit-91c2e7"


def sync(url: str = "https://catalog.example.com", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelCatalogSync",
        "metadata": {"name": "prod", "namespace": "ml"},
        "spec": {"catalog": {"url": url, "tokenSecretRef": {"name": "tfy", "key": "token"}}} | spec,
    }


def secret(name: str = "tfy", namespace: str | None = "ml", **data: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, **data}


def target(given_input: RenderInput, env: dict[str, str] | None = None, **kwargs: Any) -> Any:
    return resolve_target(
        given_input, environ=env or {}, allowed_hosts=kwargs.pop("hosts", HTTPS_ONLY), **kwargs
    )


def test_the_one_sync_is_found_among_other_documents() -> None:
    text = yaml.safe_dump_all(
        [{"apiVersion": "v1", "kind": "ConfigMap"}, sync(), secret(stringData={"token": "x"})]
    )
    found = load_documents([("a.yaml", text), ("b.yaml", "---\n")])
    assert found.sync["metadata"]["name"] == "prod"
    assert len(found.secrets) == 1


def test_a_kubectl_list_is_unpacked() -> None:
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [sync()]})
    assert load_documents([("list.yaml", text)]).sync["kind"] == "ModelCatalogSync"


@pytest.mark.parametrize(
    ("docs", "message"),
    [
        ([], "found no"),
        ([sync(), sync()], "found 2"),
        ([{**sync(), "apiVersion": "modelsync.dev/v1"}], "is not modelsync.dev/v1alpha1"),
    ],
)
def test_anything_but_one_sync_is_refused(docs: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(RenderError, match=message) as caught:
        load_documents([("in.yaml", yaml.safe_dump_all(docs))])
    assert caught.value.exit_code == 2


def test_invalid_yaml_names_the_file() -> None:
    with pytest.raises(RenderError, match=r"^in\.yaml: not valid YAML"):
        load_documents([("in.yaml", "a: [")])


def test_token_comes_from_the_environment_first() -> None:
    given_input = RenderInput(sync(), (secret(stringData={"token": "from-secret"}),))
    assert target(given_input, {"MODELSYNC_TOKEN": TOKEN}).token == TOKEN
    assert target(given_input, {"OTHER": TOKEN}, token_env="OTHER").token == TOKEN
    assert target(given_input).token == "from-secret"


def test_token_from_base64_data_and_namespaceless_secret() -> None:
    encoded = base64.b64encode(TOKEN.encode()).decode()
    given_input = RenderInput(sync(), (secret(namespace=None, data={"token": encoded}),))
    assert target(given_input).token == TOKEN


def test_a_secret_of_another_namespace_does_not_count() -> None:
    given_input = RenderInput(sync(), (secret(namespace="elsewhere", stringData={"token": "x"}),))
    with pytest.raises(RenderError, match=r"no catalog token: set \$MODELSYNC_TOKEN"):
        target(given_input)


def test_bad_secret_data_is_reported_without_its_value() -> None:
    given_input = RenderInput(sync(), (secret(data={"token": "%%%" + TOKEN}),))
    with pytest.raises(RenderError, match="not valid base64") as caught:
        target(given_input)
    assert TOKEN not in str(caught.value)
    with pytest.raises(RenderError, match='has no key "token"'):
        target(RenderInput(sync(), (secret(stringData={"other": "x"}),)))


def test_namespace_default_and_override() -> None:
    doc = sync()
    del doc["metadata"]["namespace"]
    env = {"MODELSYNC_TOKEN": TOKEN}
    assert target(RenderInput(doc), env).namespace == "default"
    assert target(RenderInput(sync()), env, namespace="other").namespace == "other"


def test_spec_errors_are_listed() -> None:
    bad = sync(select={"namePattern": "(["}, interval="1s")
    with pytest.raises(RenderError) as caught:
        target(RenderInput(bad), {"MODELSYNC_TOKEN": TOKEN})
    message = str(caught.value)
    assert message.startswith("ModelCatalogSync ml/prod: invalid spec:")
    assert "spec.select.namePattern" in message
    assert "spec.interval" in message


def test_plain_http_needs_the_flag() -> None:
    doc = RenderInput(sync("http://127.0.0.1:8181"))
    env = {"MODELSYNC_TOKEN": TOKEN}
    with pytest.raises(RenderError, match="--allow-insecure-http"):
        target(doc, env)
    hosts = AllowedHosts.parse(["https://*"], allow_insecure_http=True)
    assert target(doc, env, hosts=hosts).spec.catalog.url == "http://127.0.0.1:8181"


def test_a_ca_secret_must_be_given() -> None:
    doc = sync()
    doc["spec"]["catalog"]["caSecretRef"] = {"name": "corp-ca", "key": "ca.crt"}
    env = {"MODELSYNC_TOKEN": TOKEN}
    with pytest.raises(RenderError, match='caSecretRef names Secret "corp-ca"'):
        target(RenderInput(doc), env)
    pem = "-----BEGIN CERTIFICATE-----\n..."
    found = target(RenderInput(doc, (secret("corp-ca", stringData={"ca.crt": pem}),)), env)
    assert found.ca_pem == pem


def test_the_token_is_not_in_the_target_repr() -> None:
    assert TOKEN not in repr(target(RenderInput(sync()), {"MODELSYNC_TOKEN": TOKEN}))


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
