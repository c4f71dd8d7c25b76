# The generated kubernetes client types every field Optional and its bodies as models
# (dicts work at runtime); checking each access would bury the tests.
# mypy: disable-error-code="union-attr,index,no-untyped-call,arg-type,attr-defined,operator"
"""A minimal Kopf operator runs against the sandbox: watches, handles, patches status,
posts events, and (with peering) keeps its peering object alive.

Runs against a real cluster too when MODELSYNC_E2E_KUBECONFIG is set.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import kopf
from kubernetes import client, config

from fixtures_kube import ClusterHandle, wait_for

GROUP, VERSION, PLURAL = "example.dev", "v1", "widgets"
PEERING_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "kopfpeerings.kopf.dev"},
    "spec": {
        "group": "kopf.dev",
        "scope": "Namespaced",
        "names": {"plural": "kopfpeerings", "singular": "kopfpeering", "kind": "KopfPeering"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


def connection_info(kubeconfig: Path, namespace: str) -> kopf.ConnectionInfo:
    """Credentials from a kubeconfig file, as Kopf's own client-based login reads them."""
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    header = cfg.get_api_key_with_prefix("BearerToken") or cfg.get_api_key_with_prefix(
        "authorization"
    )
    token = header.split(" ", 1)[-1] if header else None
    return kopf.ConnectionInfo(
        server=cfg.host,
        ca_path=cfg.ssl_ca_cert,
        insecure=not cfg.verify_ssl,
        scheme="Bearer" if token else None,
        token=token,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
        default_namespace=namespace,
    )


@contextmanager
def running_operator(registry: kopf.OperatorRegistry, **options: Any) -> Iterator[None]:
    """Kopf in a thread with its own loop; stopped (bounded) on exit."""
    stop = threading.Event()
    ready = threading.Event()
    failure: list[BaseException] = []

    def main() -> None:
        try:
            asyncio.run(
                kopf.operator(registry=registry, stop_flag=stop, ready_flag=ready, **options)
            )
        except BaseException as exc:
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=main, name="kopf", daemon=True)
    thread.start()
    try:
        assert ready.wait(20), "Kopf did not become ready"
        assert not failure, failure
        yield
    finally:
        stop.set()
        thread.join(20)
        assert not thread.is_alive(), "Kopf did not stop"


def test_kopf_handler_status_patch_lands(widget_cluster: ClusterHandle, namespace: str) -> None:
    kc = widget_cluster.kubeconfig_path
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(kc, namespace)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.watching.server_timeout = 30

    @kopf.on.create(GROUP, VERSION, PLURAL, id="created", registry=registry)
    def created(body: kopf.Body, spec: Any, patch: kopf.Patch, **_: Any) -> str:
        patch.status["doubled"] = spec["size"] * 2
        kopf.info(body, reason="Doubled", message=f"size {spec['size']} doubled")
        return "handled"

    @kopf.on.update(GROUP, VERSION, PLURAL, field="spec.size", id="resized", registry=registry)
    def resized(new: Any, patch: kopf.Patch, **_: Any) -> None:
        patch.status["doubled"] = new * 2

    with (
        config.new_client_from_config(config_file=str(kc)) as api_client,
        running_operator(registry, standalone=True, namespaces=[namespace]),
    ):
        custom = client.CustomObjectsApi(api_client)
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Widget",
                "metadata": {"name": "w1"},
                "spec": {"size": 4},
            },
        )

        def status() -> dict[str, Any]:
            obj = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "w1")
            return dict(obj.get("status") or {})

        done = wait_for(
            lambda: (s := status()).get("created") and s,
            timeout=20,
            what="the create handler's status patch",
        )
        assert done["doubled"] == 8
        assert done["created"] == "handled"
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, "w1", {"spec": {"size": 5}}
        )
        wait_for(lambda: status().get("doubled") == 10, timeout=20, what="the update handler")

        core = client.CoreV1Api(api_client)
        events = wait_for(
            lambda: (
                core.list_namespaced_event(
                    namespace, field_selector="involvedObject.kind=Widget,involvedObject.name=w1"
                ).items
            ),
            timeout=20,
            what="Kopf's events",
        )
        assert [(e.reason, e.message, e.type) for e in events] == [
            ("Doubled", "size 4 doubled", "Normal")
        ]


def test_kopf_peering_keeps_its_peering_object_alive(
    widget_cluster: ClusterHandle, namespace: str
) -> None:
    kc = widget_cluster.kubeconfig_path
    with config.new_client_from_config(config_file=str(kc)) as api_client:
        crds = client.ApiextensionsV1Api(api_client)
        if not any(
            c.metadata.name == "kopfpeerings.kopf.dev"
            for c in crds.list_custom_resource_definition().items
        ):
            crds.create_custom_resource_definition(PEERING_CRD)
        wait_for(
            lambda: any(
                c.type == "Established" and c.status == "True"
                for c in crds.read_custom_resource_definition(
                    "kopfpeerings.kopf.dev"
                ).status.conditions
                or []
            ),
            what="peering CRD established",
        )
        custom = client.CustomObjectsApi(api_client)
        custom.create_namespaced_custom_object(
            "kopf.dev",
            "v1",
            namespace,
            "kopfpeerings",
            {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "example"}},
        )
        registry = kopf.OperatorRegistry()

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return connection_info(kc, namespace)

        @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
        def created(**_: Any) -> str:
            return "handled"

        with running_operator(registry, peering_name="example", namespaces=[namespace]):

            def peers() -> dict[str, Any]:
                obj = custom.get_namespaced_custom_object(
                    "kopf.dev", "v1", namespace, "kopfpeerings", "example"
                )
                return dict(obj.get("status") or {})

            status = wait_for(peers, timeout=20, what="Kopf's peering keep-alive")
            (identity,) = status
            assert status[identity]["priority"] == 0
