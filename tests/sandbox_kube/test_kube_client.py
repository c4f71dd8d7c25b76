# The generated kubernetes client types every field Optional and its bodies as models
# (dicts work at runtime); checking each access would bury the tests.
# mypy: disable-error-code="union-attr,index,no-untyped-call,arg-type,attr-defined,operator"
"""The sandbox driven by the official `kubernetes` Python client.

Runs against a real cluster too when MODELSYNC_E2E_KUBECONFIG is set; checks that
need sandbox internals (compaction, bookmark timing) use `kube_sandbox` directly.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from fixtures_kube import (
    WIDGET_CRD,
    ClusterHandle,
    api_client,
    install_widget_crd,
    start_sandbox,
    unique_name,
    wait_for,
)
from modelsync_sandbox.kube import KubeSandbox

GROUP, VERSION, PLURAL = "example.dev", "v1", "widgets"


@pytest.fixture
def api(cluster: ClusterHandle) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig_path))
    try:
        yield api_client
    finally:
        api_client.close()


@pytest.fixture
def custom(widget_cluster: ClusterHandle) -> Iterator[client.CustomObjectsApi]:
    with api_client(widget_cluster.kubeconfig_path) as api:
        yield client.CustomObjectsApi(api)


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


def widget(name: str, size: int = 1, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name, **meta},
        "spec": {"size": size},
    }


def create_widget(custom: client.CustomObjectsApi, ns: str, name: str, **kw: Any) -> Any:
    return custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, widget(name, **kw))


def test_custom_object_crud(custom: client.CustomObjectsApi, namespace: str) -> None:
    created = create_widget(custom, namespace, "a", size=2)
    meta = created["metadata"]
    assert meta["uid"]
    assert meta["resourceVersion"]
    assert meta["creationTimestamp"]
    assert meta["generation"] == 1
    got = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a")
    assert got == created
    got["spec"]["size"] = 4
    replaced = custom.replace_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a", got)
    assert replaced["spec"]["size"] == 4
    assert int(replaced["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    patched = custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "a", {"spec": {"color": "green"}}
    )
    assert patched["spec"] == {"size": 4, "color": "green"}
    listed = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    assert listed["kind"] == "WidgetList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a"]
    assert listed["metadata"]["resourceVersion"]
    deleted = custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a")
    # kube-apiserver 1.33 answers an immediate deletion with a Status, custom resources too.
    assert deleted["status"] == "Success"
    assert deleted["details"]["name"] == "a"
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a")
    assert err.value.status == 404


def test_stale_update_conflicts(custom: client.CustomObjectsApi, namespace: str) -> None:
    stale = create_widget(custom, namespace, "a")
    fresh = dict(stale, spec={"size": 2})
    custom.replace_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a", fresh)
    stale["spec"]["size"] = 3
    with pytest.raises(ApiException) as err:
        custom.replace_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a", stale)
    assert err.value.status == 409
    assert '"reason":"Conflict"' in err.value.body.replace(" ", "")
    assert "the object has been modified" in err.value.body
    # A merge patch that carries a resourceVersion is conditional on it too.
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            "a",
            {
                "metadata": {"resourceVersion": stale["metadata"]["resourceVersion"]},
                "spec": {"size": 5},
            },
        )
    assert err.value.status == 409


def test_custom_resource_update_requires_resource_version(
    custom: client.CustomObjectsApi, namespace: str
) -> None:
    obj = create_widget(custom, namespace, "a")
    del obj["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as err:
        custom.replace_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a", obj)
    assert err.value.status == 422
    assert "must be specified for an update" in err.value.body


def test_status_subresource_and_generation(custom: client.CustomObjectsApi, namespace: str) -> None:
    obj = create_widget(custom, namespace, "a")
    assert "status" not in obj
    # Writes to the main resource ignore status...
    obj["status"] = {"phase": "Ignored"}
    obj = custom.replace_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a", obj)
    assert "status" not in obj
    assert obj["metadata"]["generation"] == 1
    # ...and status writes ignore everything else.
    obj["status"] = {"phase": "Ready"}
    obj["spec"]["size"] = 50
    obj["metadata"]["labels"] = {"x": "y"}
    obj = custom.replace_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "a", obj
    )
    assert obj["status"] == {"phase": "Ready"}
    assert obj["spec"]["size"] == 1
    assert "labels" not in obj["metadata"]
    patched = custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "a", {"status": {"observed": 1}, "spec": {"size": 9}}
    )
    assert patched["status"] == {"phase": "Ready", "observed": 1}
    assert patched["spec"]["size"] == 1
    # Status and metadata changes never bump generation; spec changes do.
    assert patched["metadata"]["generation"] == 1
    labelled = custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "a", {"metadata": {"labels": {"a": "b"}}}
    )
    assert labelled["metadata"]["generation"] == 1
    respec = custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "a", {"spec": {"size": 2}}
    )
    assert respec["metadata"]["generation"] == 2


def test_noop_patch_changes_nothing(custom: client.CustomObjectsApi, namespace: str) -> None:
    obj = create_widget(custom, namespace, "a", size=3)
    same = custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "a", {"spec": {"size": 3}}
    )
    assert same["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]


def test_json_patch_test_op_guards_the_write(
    custom: client.CustomObjectsApi, namespace: str
) -> None:
    obj = create_widget(custom, namespace, "a")
    rv = obj["metadata"]["resourceVersion"]
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "add", "path": "/spec/color", "value": "red"},
    ]
    patched = custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        "a",
        ops,
        _content_type="application/json-patch+json",
    )
    assert patched["spec"]["color"] == "red"
    with pytest.raises(ApiException) as err:  # rv is stale now: the test op fails
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            "a",
            ops,
            _content_type="application/json-patch+json",
        )
    assert err.value.status == 422


def test_strategic_merge_patch_is_refused_for_custom_resources(
    custom: client.CustomObjectsApi, namespace: str
) -> None:
    create_widget(custom, namespace, "a")
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            "a",
            {"spec": {"size": 2}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert err.value.status == 415


def test_core_objects(core: client.CoreV1Api, namespace: str) -> None:
    secret = core.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="s"), string_data={"token": "abc"}),
    )
    assert secret.data == {"token": base64.b64encode(b"abc").decode()}
    assert secret.string_data is None
    assert secret.type == "Opaque"
    cm = core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c"), data={"a": "1"})
    )
    assert cm.data == {"a": "1"}
    # The client sends built-in object patches as strategic merge patches.
    cm = core.patch_namespaced_config_map("c", namespace, {"data": {"b": "2"}})
    assert cm.data == {"a": "1", "b": "2"}
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(
            namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c"))
        )
    assert err.value.status == 409
    assert 'configmaps \\"c\\" already exists' in err.value.body or (
        'configmaps "c" already exists' in err.value.body
    )
    status = core.delete_namespaced_config_map("c", namespace, _preload_content=False)
    assert '"status":"Success"' in status.data.decode().replace(" ", "")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("c", namespace)
    assert err.value.status == 404
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(
            "no-such-ns", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c"))
        )
    assert err.value.status == 404
    assert "namespaces" in err.value.body
    assert "no-such-ns" in err.value.body


def test_label_and_field_selectors(custom: client.CustomObjectsApi, namespace: str) -> None:
    create_widget(custom, namespace, "a", labels={"tier": "gold", "env": "prod"})
    create_widget(custom, namespace, "b", labels={"tier": "silver"})
    create_widget(custom, namespace, "c")

    def names(**kw: Any) -> list[str]:
        items = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, **kw)
        return [i["metadata"]["name"] for i in items["items"]]

    assert names(label_selector="tier=gold") == ["a"]
    assert names(label_selector="tier!=gold") == ["b", "c"]
    assert names(label_selector="tier in (gold,silver)") == ["a", "b"]
    assert names(label_selector="tier notin (gold)") == ["b", "c"]
    assert names(label_selector="env") == ["a"]
    assert names(label_selector="!env") == ["b", "c"]
    assert names(label_selector="tier,env=prod") == ["a"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.name!=b") == ["a", "c"]
    assert names(field_selector=f"metadata.namespace={namespace}") == ["a", "b", "c"]
    with pytest.raises(ApiException) as err:
        names(label_selector="tier in (gold")
    assert err.value.status == 400
    with pytest.raises(ApiException) as err:
        names(field_selector="spec.size=1")
    assert err.value.status == 400
    # Custom resources have a field label conversion function of their own.
    assert json.loads(err.value.body)["message"] == "field label not supported: spec.size"
    # The CRD declares spec.color a selectable field (KEP-4358, GA in 1.32).
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "b", {"spec": {"color": "red"}}
    )
    assert names(field_selector="spec.color=red") == ["b"]
    assert names(field_selector="spec.color!=red") == ["a", "c"]


def test_limit_and_continue(core: client.CoreV1Api, namespace: str) -> None:
    for i in range(5):
        core.create_namespaced_config_map(
            namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"c{i}"))
        )
    first = core.list_namespaced_config_map(namespace, limit=2)
    assert [c.metadata.name for c in first.items] == ["c0", "c1"]
    assert first.metadata._continue
    assert first.metadata.remaining_item_count == 3
    second = core.list_namespaced_config_map(namespace, limit=2, _continue=first.metadata._continue)
    assert [c.metadata.name for c in second.items] == ["c2", "c3"]
    third = core.list_namespaced_config_map(namespace, limit=2, _continue=second.metadata._continue)
    assert [c.metadata.name for c in third.items] == ["c4"]
    assert not third.metadata._continue
    assert first.metadata.resource_version == third.metadata.resource_version


def test_watch_resumes_from_a_resource_version(
    custom: client.CustomObjectsApi, namespace: str
) -> None:
    create_widget(custom, namespace, "a")
    rv = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["metadata"][
        "resourceVersion"
    ]
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "a", {"spec": {"size": 2}}
    )
    create_widget(custom, namespace, "b")
    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a")
    seen = []
    w = watch.Watch()
    for event in w.stream(
        custom.list_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        resource_version=rv,
        timeout_seconds=5,
    ):
        seen.append((event["type"], event["object"]["metadata"]["name"]))
        if len(seen) == 3:
            w.stop()
    assert seen == [("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]


def test_watch_without_resource_version_starts_with_the_current_state(
    custom: client.CustomObjectsApi, namespace: str
) -> None:
    create_widget(custom, namespace, "a")
    create_widget(custom, namespace, "b")
    w = watch.Watch()
    seen = []
    for event in w.stream(
        custom.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, timeout_seconds=5
    ):
        seen.append((event["type"], event["object"]["metadata"]["name"]))
        if len(seen) == 2:
            w.stop()
    assert seen == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_ends_after_timeout_seconds(core: client.CoreV1Api, namespace: str) -> None:
    started = time.monotonic()
    events = list(
        watch.Watch().stream(core.list_namespaced_config_map, namespace, timeout_seconds=1)
    )
    assert events == []
    assert 0.9 < time.monotonic() - started < 10


def test_watch_with_selector_sees_objects_leave_and_enter(
    custom: client.CustomObjectsApi, namespace: str
) -> None:
    create_widget(custom, namespace, "a", labels={"pick": "yes"})
    rv = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["metadata"][
        "resourceVersion"
    ]
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "a", {"metadata": {"labels": {"pick": "no"}}}
    )
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "a", {"metadata": {"labels": {"pick": "yes"}}}
    )
    w = watch.Watch()
    seen = []
    for event in w.stream(
        custom.list_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        resource_version=rv,
        label_selector="pick=yes",
        timeout_seconds=5,
    ):
        seen.append(event["type"])
        if len(seen) == 2:
            w.stop()
    assert seen == ["DELETED", "ADDED"]


def test_watch_from_a_compacted_resource_version_is_gone(tmp_path: Any) -> None:
    sandbox: KubeSandbox = start_sandbox(tmp_path)
    try:
        install_widget_crd(sandbox.kubeconfig_path)
        api_client = config.new_client_from_config(config_file=str(sandbox.kubeconfig_path))
        custom = client.CustomObjectsApi(api_client)
        create_widget(custom, "default", "a")
        old_rv = custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "a")[
            "metadata"
        ]["resourceVersion"]
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "a", {"spec": {"size": 2}}
        )
        sandbox.compact()
        with pytest.raises(ApiException) as err:
            for _ in watch.Watch().stream(
                custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                "default",
                PLURAL,
                resource_version=old_rv,
                timeout_seconds=5,
            ):
                pass
        assert err.value.status == 410
        assert "too old resource version" in str(err.value.reason)
        api_client.close()
    finally:
        sandbox.stop_in_thread()


def test_small_watch_history_expires_old_versions(tmp_path: Any) -> None:
    sandbox: KubeSandbox = start_sandbox(tmp_path, watch_history=3)
    try:
        api_client = config.new_client_from_config(config_file=str(sandbox.kubeconfig_path))
        core = client.CoreV1Api(api_client)
        rv = core.list_namespaced_config_map("default").metadata.resource_version
        for i in range(5):
            core.create_namespaced_config_map(
                "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"c{i}"))
            )
        resp = core.list_namespaced_config_map(
            "default", watch=True, resource_version=rv, _preload_content=False
        )
        first = resp.readline()
        resp.close()
        assert b'"type":"ERROR"' in first
        assert b'"code":410' in first
        assert b'"reason":"Expired"' in first
        api_client.close()
    finally:
        sandbox.stop_in_thread()


def test_watch_sends_bookmarks_when_allowed(tmp_path: Any) -> None:
    sandbox: KubeSandbox = start_sandbox(tmp_path, bookmark_interval=0.2)
    try:
        api_client = config.new_client_from_config(config_file=str(sandbox.kubeconfig_path))
        core = client.CoreV1Api(api_client)
        rv = core.list_namespaced_config_map("default").metadata.resource_version
        w = watch.Watch()
        for event in w.stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=rv,
            allow_watch_bookmarks=True,
            timeout_seconds=5,
            deserialize=False,
        ):
            assert event["type"] == "BOOKMARK"
            assert event["object"]["kind"] == "ConfigMap"
            assert int(event["object"]["metadata"]["resourceVersion"]) >= int(rv)
            w.stop()
        api_client.close()
    finally:
        sandbox.stop_in_thread()


def test_delete_collection_by_label(core: client.CoreV1Api, namespace: str) -> None:
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        core.create_namespaced_config_map(
            namespace,
            client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels={"team": team})),
        )
    core.delete_collection_namespaced_config_map(namespace, label_selector="team=x")
    left = core.list_namespaced_config_map(namespace)
    assert [c.metadata.name for c in left.items] == ["c"]


def test_dry_run_stores_nothing(core: client.CoreV1Api, namespace: str) -> None:
    made = core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c")), dry_run="All"
    )
    assert made.metadata.name == "c"
    assert core.list_namespaced_config_map(namespace).items == []


@pytest.mark.usefixtures("widget_cluster")
def test_crd_status_conditions(api: client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(api)
    crd = ext.read_custom_resource_definition(WIDGET_CRD["metadata"]["name"])
    conditions = {c.type: c.status for c in crd.status.conditions}
    assert conditions["Established"] == "True"
    assert conditions["NamesAccepted"] == "True"
    assert crd.status.accepted_names.kind == "Widget"
    assert crd.status.stored_versions == ["v1"]


def _crd(group: str, scope: str, versions: list[dict[str, Any]]) -> dict[str, Any]:
    schema = {
        "openAPIV3Schema": {
            "type": "object",
            "properties": {
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            },
        }
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [{**v, "schema": schema} for v in versions],
        },
    }


def _install(api: client.ApiClient, crd: dict[str, Any]) -> None:
    custom = client.CustomObjectsApi(api)
    where = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    custom.create_cluster_custom_object(*where, crd)

    def established() -> bool:
        got: dict[str, Any] = custom.get_cluster_custom_object(*where, crd["metadata"]["name"])  # type: ignore[assignment]
        return any(
            c["type"] == "Established" and c["status"] == "True"
            for c in (got.get("status") or {}).get("conditions") or []
        )

    wait_for(established, what="CRD established")


def _uninstall(api: client.ApiClient, crd: dict[str, Any]) -> None:
    client.CustomObjectsApi(api).delete_cluster_custom_object(
        "apiextensions.k8s.io", "v1", "customresourcedefinitions", crd["metadata"]["name"]
    )


def test_crd_with_several_versions(api: client.ApiClient, namespace: str) -> None:
    group = f"{unique_name('v')}.example.dev"
    crd = _crd(
        group,
        "Namespaced",
        [
            {"name": "v1alpha1", "served": True, "storage": False},
            {"name": "v1", "served": True, "storage": True},
            {"name": "v2beta1", "served": False, "storage": False},
        ],
    )
    _install(api, crd)
    try:
        custom = client.CustomObjectsApi(api)
        made = custom.create_namespaced_custom_object(
            group,
            "v1alpha1",
            namespace,
            "gadgets",
            {
                "apiVersion": f"{group}/v1alpha1",
                "kind": "Gadget",
                "metadata": {"name": "g"},
                "spec": {"x": 1},
            },
        )
        assert made["apiVersion"] == f"{group}/v1alpha1"
        via_v1 = custom.get_namespaced_custom_object(group, "v1", namespace, "gadgets", "g")
        assert via_v1["apiVersion"] == f"{group}/v1"
        assert via_v1["spec"] == {"x": 1}
        with pytest.raises(ApiException) as err:  # not served
            custom.get_namespaced_custom_object(group, "v2beta1", namespace, "gadgets", "g")
        assert err.value.status == 404
        groups = {g.name: g for g in client.ApisApi(api).get_api_versions().groups}
        assert groups[group].preferred_version.version == "v1"
        assert [v.version for v in groups[group].versions] == ["v1", "v1alpha1"]
    finally:
        _uninstall(api, crd)


def test_cluster_scoped_crd(api: client.ApiClient) -> None:
    group = f"{unique_name('c')}.example.dev"
    crd = _crd(group, "Cluster", [{"name": "v1", "served": True, "storage": True}])
    _install(api, crd)
    try:
        custom = client.CustomObjectsApi(api)
        made = custom.create_cluster_custom_object(
            group,
            "v1",
            "gadgets",
            {
                "apiVersion": f"{group}/v1",
                "kind": "Gadget",
                "metadata": {"name": "g", "namespace": "ignored"},
                "spec": {},
            },
        )
        assert "namespace" not in made["metadata"]
        listed = custom.list_cluster_custom_object(group, "v1", "gadgets")
        assert [i["metadata"]["name"] for i in listed["items"]] == ["g"]
        with pytest.raises(ApiException) as err:
            custom.list_namespaced_custom_object(group, "v1", "default", "gadgets")
        assert err.value.status == 404
    finally:
        _uninstall(api, crd)
