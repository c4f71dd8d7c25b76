# The generated kubernetes client types every field Optional and its bodies as models
# (dicts work at runtime); checking each access would bury the tests.
# mypy: disable-error-code="union-attr,index,no-untyped-call,arg-type,attr-defined,operator"
"""Each validation rule is refused (or pruned/defaulted) as the real API does.

The rule's source is cited on each test. Runs against a real cluster too when
MODELSYNC_E2E_KUBECONFIG is set, so the expectations are checked against the real thing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from fixtures_kube import ClusterHandle, api_client

GROUP, VERSION, PLURAL = "example.dev", "v1", "widgets"


@pytest.fixture
def api(cluster: ClusterHandle) -> Iterator[client.ApiClient]:
    with api_client(cluster.kubeconfig_path) as api:
        yield api


@pytest.fixture
def custom(widget_cluster: ClusterHandle) -> Iterator[client.CustomObjectsApi]:
    with api_client(widget_cluster.kubeconfig_path) as api:
        yield client.CustomObjectsApi(api)


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


def refusal(call: Callable[[], Any]) -> dict[str, Any]:
    """The Status body of the error `call` must raise."""
    with pytest.raises(ApiException) as err:
        call()
    body: dict[str, Any] = json.loads(err.value.body)
    assert body["kind"] == "Status"
    assert body["code"] == err.value.status
    return body


def causes(status: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["reason"], c["field"]) for c in status["details"]["causes"]]


def widget(name: str = "w", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": 1, **spec},
    }


def create(custom: client.CustomObjectsApi, ns: str, body: dict[str, Any], **kw: Any) -> Any:
    return custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body, **kw)


# -- object names -------------------------------------------------------------------------


def test_custom_resource_name_must_be_a_dns_subdomain(
    custom: client.CustomObjectsApi, namespace: str
) -> None:
    # apiextensions-apiserver customresource validator: ValidateObjectMetaAccessor with
    # NameIsDNSSubdomain (RFC 1123 subdomain: lower case, digits, '-', '.').
    status = refusal(lambda: create(custom, namespace, widget("Bad_Name")))
    assert status["reason"] == "Invalid"
    assert status["details"] == {
        "name": "Bad_Name",
        "group": GROUP,
        "kind": "Widget",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": 'Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must '
                "consist of lower case alphanumeric characters, '-' or '.', and must start "
                "and end with an alphanumeric character (e.g. 'example.com', regex used for "
                "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "field": "metadata.name",
            }
        ],
    }
    assert status["message"].startswith('Widget.example.dev "Bad_Name" is invalid: metadata.name:')
    assert create(custom, namespace, widget("dotted.name-ok"))["metadata"]["name"]


def test_namespace_name_must_be_a_dns_label(core: client.CoreV1Api) -> None:
    # pkg/apis/core/validation ValidateNamespace: NameIsDNSLabel (no dots, <= 63 chars).
    status = refusal(lambda: core.create_namespace({"metadata": {"name": "has.dot"}}))
    assert causes(status) == [("FieldValueInvalid", "metadata.name")]
    assert "must not contain dots" in status["message"]


def test_name_or_generate_name_is_required(core: client.CoreV1Api, namespace: str) -> None:
    # apimachinery ValidateObjectMeta: "name or generateName is required".
    status = refusal(lambda: core.create_namespaced_config_map(namespace, {"metadata": {}}))
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: name or generateName is required",
            "field": "metadata.name",
        }
    ]


def test_generate_name_appends_five_characters(core: client.CoreV1Api, namespace: str) -> None:
    # apiserver pkg/storage/names SimpleNameGenerator: prefix + 5 random characters.
    made = core.create_namespaced_config_map(namespace, {"metadata": {"generateName": "cfg-"}})
    assert made.metadata.name.startswith("cfg-")
    assert len(made.metadata.name) == len("cfg-") + 5


# -- labels and annotations -----------------------------------------------------------------


def test_label_keys_and_values(core: client.CoreV1Api, namespace: str) -> None:
    # apimachinery metav1 validation ValidateLabels: keys are qualified names, values are
    # at most 63 characters of [A-Za-z0-9_.-] starting and ending alphanumeric.
    status = refusal(
        lambda: core.create_namespaced_config_map(
            namespace,
            {"metadata": {"name": "c", "labels": {"bad key": "v", "ok": "x" * 64}}},
        )
    )
    assert causes(status) == [
        ("FieldValueInvalid", "metadata.labels"),
        ("FieldValueInvalid", "metadata.labels"),
    ]
    assert "must be no more than 63 characters" in status["message"]
    made = core.create_namespaced_config_map(
        namespace,
        {"metadata": {"name": "c", "labels": {"example.dev/tier": "gold", "empty": ""}}},
    )
    assert made.metadata.labels == {"example.dev/tier": "gold", "empty": ""}


def test_annotations_total_size_limit(core: client.CoreV1Api, namespace: str) -> None:
    # apimachinery ValidateAnnotations: TotalAnnotationSizeLimitB = 256 KiB.
    big = {"a": "x" * (256 * 1024)}
    status = refusal(
        lambda: core.create_namespaced_config_map(
            namespace, {"metadata": {"name": "c", "annotations": big}}
        )
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: may not be more than 262144 bytes",
            "field": "metadata.annotations",
        }
    ]


def test_owner_references_need_uid(core: client.CoreV1Api, namespace: str) -> None:
    # apimachinery ValidateOwnerReferences: apiVersion, kind, name and uid must be set.
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": ""}
    status = refusal(
        lambda: core.create_namespaced_config_map(
            namespace, {"metadata": {"name": "c", "ownerReferences": [ref]}}
        )
    )
    # ValidateOwnerReferences names no index in its paths.
    assert ("FieldValueInvalid", "metadata.ownerReferences.uid") in causes(status)


# -- custom resource bodies against the structural schema ---------------------------------------
# apiextensions-apiserver pkg/apiserver/schema (pruning, defaulting) and kube-openapi
# pkg/validation (type, required, enum, pattern, minimum/maximum, lengths, items, nullable).


def test_schema_defaults_are_applied(custom: client.CustomObjectsApi, namespace: str) -> None:
    assert create(custom, namespace, widget())["spec"] == {"size": 1, "color": "blue"}


def test_unknown_fields_are_pruned_with_a_warning(
    custom: client.CustomObjectsApi, namespace: str
) -> None:
    body = widget(bogus=1, extra={"anything": {"goes": True}})
    body["topLevel"] = "x"
    made, _, headers = custom.create_namespaced_custom_object_with_http_info(
        GROUP, VERSION, namespace, PLURAL, body
    )
    assert made["spec"] == {"size": 1, "color": "blue", "extra": {"anything": {"goes": True}}}
    assert "topLevel" not in made
    warnings = headers.get("Warning", "")
    assert 'unknown field \\"spec.bogus\\"' in warnings
    assert 'unknown field \\"topLevel\\"' in warnings


def test_unknown_fields_fail_strict_field_validation(
    custom: client.CustomObjectsApi, namespace: str
) -> None:
    status = refusal(lambda: create(custom, namespace, widget(bogus=1), field_validation="Strict"))
    assert status["code"] == 400
    assert status["reason"] == "BadRequest"
    assert 'strict decoding error: unknown field "spec.bogus"' in status["message"]


@pytest.mark.parametrize(
    ("spec", "reason", "field", "words"),
    [
        ({"size": "big"}, "FieldValueTypeInvalid", "spec.size", "must be of type integer"),
        ({"size": None}, "FieldValueRequired", "spec.size", "Required value"),
        ({"size": 0}, "FieldValueInvalid", "spec.size", "should be greater than or equal to 1"),
        ({"size": 101}, "FieldValueInvalid", "spec.size", "should be less than or equal to 100"),
        ({"color": "purple"}, "FieldValueNotSupported", "spec.color", 'supported values: "blue"'),
        ({"owner": "Bob1"}, "FieldValueInvalid", "spec.owner", "should match '^[a-z]+$'"),
        ({"owner": "a" * 11}, "FieldValueTooLong", "spec.owner", "may not be more than 10 bytes"),
        ({"tags": [""]}, "FieldValueInvalid", "spec.tags[0]", "at least 1 chars long"),
        ({"tags": [1]}, "FieldValueTypeInvalid", "spec.tags[0]", "must be of type string"),
    ],
)
def test_schema_violations_are_invalid(
    custom: client.CustomObjectsApi,
    namespace: str,
    spec: dict[str, Any],
    reason: str,
    field: str,
    words: str,
) -> None:
    body = widget()
    body["spec"].update(spec)
    if spec.get("size", 1) is None:
        del body["spec"]["size"]
    status = refusal(lambda: create(custom, namespace, body))
    assert status["code"] == 422
    assert (reason, field) in causes(status)
    assert words in status["message"]


def test_nullable_fields_keep_null(custom: client.CustomObjectsApi, namespace: str) -> None:
    made = create(custom, namespace, widget(note=None, color=None))
    # nullable: the null stays; not nullable with a default: the default replaces it.
    assert made["spec"] == {"size": 1, "note": None, "color": "blue"}


# -- identity and existence ---------------------------------------------------------------------


def test_already_exists_and_not_found(custom: client.CustomObjectsApi, namespace: str) -> None:
    create(custom, namespace, widget("w"))
    status = refusal(lambda: create(custom, namespace, widget("w")))
    assert status["reason"] == "AlreadyExists"
    assert status["message"] == 'widgets.example.dev "w" already exists'
    assert status["details"] == {"name": "w", "group": GROUP, "kind": PLURAL}
    status = refusal(
        lambda: custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "nope")
    )
    assert status["reason"] == "NotFound"
    assert status["message"] == 'widgets.example.dev "nope" not found'


def test_create_refuses_a_resource_version(core: client.CoreV1Api, namespace: str) -> None:
    # apiserver etcd3 store.Create: storage.ErrResourceVersionSetOnCreate, passed on as a
    # 500 with no reason.
    body = {"metadata": {"name": "c", "resourceVersion": "12"}}
    status = refusal(lambda: core.create_namespaced_config_map(namespace, body))
    assert status["code"] == 500
    assert "reason" not in status
    assert status["message"] == "resourceVersion should not be set on objects to be created"


def test_namespace_must_exist(custom: client.CustomObjectsApi) -> None:
    status = refusal(lambda: create(custom, "no-such-namespace", widget()))
    assert status["code"] == 404
    assert status["message"] == 'namespaces "no-such-namespace" not found'


def test_body_namespace_must_match_the_url(custom: client.CustomObjectsApi, namespace: str) -> None:
    body = widget()
    body["metadata"]["namespace"] = "elsewhere"
    status = refusal(lambda: create(custom, namespace, body))
    assert status["code"] == 400
    assert "does not match the namespace sent on the request" in status["message"]


# -- built-in kinds -------------------------------------------------------------------------------


def test_secret_data_must_be_base64(core: client.CoreV1Api, namespace: str) -> None:
    # Secret.data is map[string][]byte: JSON decoding fails on non-base64 (400, not 422).
    status = refusal(
        lambda: core.create_namespaced_secret(
            namespace, {"metadata": {"name": "s"}, "data": {"k": "not base64!"}}
        )
    )
    assert status["code"] == 400


def test_secret_and_configmap_keys(core: client.CoreV1Api, namespace: str) -> None:
    # pkg/apis/core/validation ValidateSecret / ValidateConfigMap: IsConfigMapKey.
    status = refusal(
        lambda: core.create_namespaced_config_map(
            namespace, {"metadata": {"name": "c"}, "data": {"bad key": "v"}}
        )
    )
    assert causes(status) == [("FieldValueInvalid", "data[bad key]")]
    status = refusal(
        lambda: core.create_namespaced_secret(
            namespace, {"metadata": {"name": "s"}, "stringData": {"bad/key": "v"}}
        )
    )
    assert causes(status) == [("FieldValueInvalid", "data[bad/key]")]


def test_crd_name_must_be_plural_dot_group(api: client.ApiClient) -> None:
    # apiextensions validation ValidateCustomResourceDefinition.
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "wrong.example.dev"},
        "spec": {
            "group": "example.dev",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "kind": "Gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    custom = client.CustomObjectsApi(api)
    status = refusal(
        lambda: custom.create_cluster_custom_object(
            "apiextensions.k8s.io", "v1", "customresourcedefinitions", crd
        )
    )
    assert ("FieldValueInvalid", "metadata.name") in causes(status)
    assert 'must be spec.names.plural+"."+spec.group' in status["message"]
