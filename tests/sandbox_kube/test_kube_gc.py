# The generated kubernetes client types every field Optional and its bodies as models
# (dicts work at runtime); checking each access would bury the tests.
# mypy: disable-error-code="union-attr,index,no-untyped-call,arg-type,attr-defined,operator"
"""Garbage collection (ownerReferences), finalizers, and namespace/CRD deletion.

Semantics: https://kubernetes.io/docs/concepts/architecture/garbage-collection/ and
https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/ .
Runs against a real cluster too when MODELSYNC_E2E_KUBECONFIG is set (waits are generous:
the real garbage collector is asynchronous).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from fixtures_kube import WIDGET_CRD, ClusterHandle, wait_for

GROUP, VERSION, PLURAL = "example.dev", "v1", "widgets"


@pytest.fixture
def core(cluster: ClusterHandle) -> Iterator[client.CoreV1Api]:
    with config.new_client_from_config(config_file=str(cluster.kubeconfig_path)) as api_client:
        yield client.CoreV1Api(api_client)


def owner_ref(owner: Any, *, block: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": owner.metadata.name,
        "uid": owner.metadata.uid,
        "blockOwnerDeletion": block,
    }


def make_cm(core: client.CoreV1Api, ns: str, name: str, **meta: Any) -> Any:
    return core.create_namespaced_config_map(
        ns, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}}
    )


def exists(core: client.CoreV1Api, ns: str, name: str) -> Any:
    try:
        return core.read_namespaced_config_map(name, ns)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def test_background_deletion_removes_dependents(core: client.CoreV1Api, namespace: str) -> None:
    owner = make_cm(core, namespace, "owner")
    for i in range(3):
        make_cm(core, namespace, f"dep{i}", ownerReferences=[owner_ref(owner)])
    make_cm(core, namespace, "bystander")
    core.delete_namespaced_config_map("owner", namespace)  # Background is the default
    assert exists(core, namespace, "owner") is None  # the owner goes at once
    wait_for(
        lambda: all(exists(core, namespace, f"dep{i}") is None for i in range(3)),
        timeout=30,
        what="dependents collected",
    )
    assert exists(core, namespace, "bystander") is not None


def test_foreground_deletion_waits_for_blocking_dependents(
    core: client.CoreV1Api, namespace: str
) -> None:
    owner = make_cm(core, namespace, "owner")
    make_cm(
        core,
        namespace,
        "blocker",
        ownerReferences=[owner_ref(owner, block=True)],
        finalizers=["example.dev/hold"],
    )
    core.delete_namespaced_config_map(
        "owner", namespace, body=client.V1DeleteOptions(propagation_policy="Foreground")
    )
    waiting = exists(core, namespace, "owner")
    assert waiting.metadata.deletion_timestamp is not None
    assert "foregroundDeletion" in waiting.metadata.finalizers
    blocker = wait_for(
        lambda: (b := exists(core, namespace, "blocker")) and b.metadata.deletion_timestamp and b,
        timeout=30,
        what="the dependent being deleted",
    )
    assert exists(core, namespace, "owner") is not None  # still blocked
    core.patch_namespaced_config_map("blocker", namespace, {"metadata": {"finalizers": None}})
    assert blocker.metadata.finalizers == ["example.dev/hold"]
    wait_for(
        lambda: exists(core, namespace, "owner") is None,
        timeout=30,
        what="the owner gone once unblocked",
    )
    assert exists(core, namespace, "blocker") is None


def test_orphan_deletion_keeps_dependents(core: client.CoreV1Api, namespace: str) -> None:
    owner = make_cm(core, namespace, "owner")
    make_cm(core, namespace, "dep", ownerReferences=[owner_ref(owner)])
    core.delete_namespaced_config_map(
        "owner", namespace, body=client.V1DeleteOptions(propagation_policy="Orphan")
    )
    wait_for(lambda: exists(core, namespace, "owner") is None, timeout=30, what="owner gone")
    dep = exists(core, namespace, "dep")
    assert dep is not None
    assert not dep.metadata.owner_references


def test_dependent_with_another_owner_survives(core: client.CoreV1Api, namespace: str) -> None:
    first = make_cm(core, namespace, "first")
    second = make_cm(core, namespace, "second")
    make_cm(core, namespace, "dep", ownerReferences=[owner_ref(first), owner_ref(second)])
    core.delete_namespaced_config_map("first", namespace)
    wait_for(
        lambda: (
            [r.name for r in exists(core, namespace, "dep").metadata.owner_references or []]
            == ["second"]
        ),
        timeout=30,
        what="the dangling owner reference removed",
    )


def test_object_whose_owner_does_not_exist_is_collected(
    core: client.CoreV1Api, namespace: str
) -> None:
    ghost = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "ghost",
        "uid": "00000000-0000-0000-0000-000000000001",
    }
    make_cm(core, namespace, "orphaned", ownerReferences=[ghost])
    wait_for(
        lambda: exists(core, namespace, "orphaned") is None,
        timeout=60,
        what="object with a dangling owner collected",
    )


def test_finalizers_hold_deletion(core: client.CoreV1Api, namespace: str) -> None:
    make_cm(core, namespace, "held", finalizers=["example.dev/a", "example.dev/b"])
    core.delete_namespaced_config_map("held", namespace)
    held = exists(core, namespace, "held")
    assert held.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as err:  # no new finalizers once deleting
        core.patch_namespaced_config_map(
            "held",
            namespace,
            {"metadata": {"finalizers": ["example.dev/a", "example.dev/b", "example.dev/c"]}},
        )
    assert err.value.status == 422
    assert "no new finalizers can be added if the object is being deleted" in err.value.body
    # finalizers is a merge-strategy list for strategic merge patches: replace it whole
    # with a JSON merge patch instead.
    merge = "application/merge-patch+json"
    core.patch_namespaced_config_map(
        "held", namespace, {"metadata": {"finalizers": ["example.dev/b"]}}, _content_type=merge
    )
    assert exists(core, namespace, "held").metadata.finalizers == ["example.dev/b"]
    core.patch_namespaced_config_map(
        "held", namespace, {"metadata": {"finalizers": []}}, _content_type=merge
    )
    assert exists(core, namespace, "held") is None


def test_custom_resources_cascade_from_a_custom_owner(
    widget_cluster: ClusterHandle, namespace: str
) -> None:
    with config.new_client_from_config(
        config_file=str(widget_cluster.kubeconfig_path)
    ) as api_client:
        custom = client.CustomObjectsApi(api_client)

        def create(name: str, **meta: Any) -> Any:
            return custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "Widget",
                    "metadata": {"name": name, **meta},
                    "spec": {"size": 1},
                },
            )

        owner = create("owner")
        ref = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Widget",
            "name": "owner",
            "uid": owner["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        for i in range(3):
            create(f"child{i}", ownerReferences=[ref])
        custom.delete_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            "owner",
            body=client.V1DeleteOptions(propagation_policy="Foreground"),
        )

        def names() -> list[str]:
            items = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
            return [i["metadata"]["name"] for i in items["items"]]

        wait_for(lambda: names() == [], timeout=30, what="owner and children gone")


def test_deleting_a_crd_deletes_its_objects_and_stops_serving(
    widget_cluster: ClusterHandle, namespace: str
) -> None:
    if not widget_cluster.is_sandbox:
        pytest.skip("would delete a CRD other tests on the shared real cluster use")
    with config.new_client_from_config(
        config_file=str(widget_cluster.kubeconfig_path)
    ) as api_client:
        custom = client.CustomObjectsApi(api_client)
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Widget",
                "metadata": {"name": "w"},
                "spec": {"size": 1},
            },
        )
        ext = client.ApiextensionsV1Api(api_client)
        ext.delete_custom_resource_definition(WIDGET_CRD["metadata"]["name"])

        def gone() -> bool:
            try:
                ext.read_custom_resource_definition(WIDGET_CRD["metadata"]["name"])
            except ApiException as exc:
                return bool(exc.status == 404)
            return False

        wait_for(gone, timeout=30, what="CRD gone")
        with pytest.raises(ApiException) as err:
            custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
        assert err.value.status == 404
        groups = client.ApisApi(api_client).get_api_versions()
        assert GROUP not in [g.name for g in groups.groups]
