"""pytest plugin: a Kubernetes API for tests, kubectl, and a small test CRD.

- `kube_sandbox`: a fresh in-memory API server (`KubeSandbox`) on its own thread.
- `cluster`: the cluster end-to-end tests drive. A fresh sandbox, unless
  MODELSYNC_E2E_KUBECONFIG names a kubeconfig of a real cluster (kind, k3d):
  then that cluster, and `cluster.sandbox` is None (stats-based checks skip).
- `kubectl(kubeconfig, *args)`: the real kubectl, with its own discovery cache.
- `WIDGET_CRD`: group example.dev, kind Widget, with a status subresource, printer
  columns, short name `wd` and category `examples`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:  # imported lazily: loading this plugin must stay cheap
    import httpx
    from kubernetes.client import ApiClient

    from modelsync_sandbox.kube import KubeSandbox

E2E_KUBECONFIG_ENV = "MODELSYNC_E2E_KUBECONFIG"
T = TypeVar("T")

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.dev"},
    "spec": {
        "group": "example.dev",
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "listKind": "WidgetList",
            "shortNames": ["wd"],
            "categories": ["examples"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "selectableFields": [{"jsonPath": ".spec.color"}],
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {
                        "name": "Ready",
                        "type": "string",
                        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                    },
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color", "priority": 1},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "integer", "minimum": 1, "maximum": 100},
                                    "color": {
                                        "type": "string",
                                        "enum": ["blue", "red", "green"],
                                        "default": "blue",
                                    },
                                    "owner": {
                                        "type": "string",
                                        "pattern": "^[a-z]+$",
                                        "maxLength": 10,
                                    },
                                    "tags": {
                                        "type": "array",
                                        "items": {"type": "string", "minLength": 1},
                                    },
                                    "note": {"type": "string", "nullable": True},
                                    "extra": {
                                        "type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True,
                                    },
                                },
                            },
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        ],
    },
}


@dataclass(frozen=True)
class ClusterHandle:
    kubeconfig_path: Path
    is_sandbox: bool
    sandbox: KubeSandbox | None


def _cache_dir(kubeconfig: Path) -> Path:
    # One discovery cache per kubeconfig content: sandboxes reuse ports, and a stale
    # cache would hide CRDs a test just created.
    digest = hashlib.sha256(kubeconfig.read_bytes()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "modelsync-kubectl-cache" / digest


def kubectl(
    kubeconfig: Path, *args: str, input: str | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run the real kubectl against `kubeconfig`; never raises on a non-zero exit."""
    cmd = ["kubectl", f"--kubeconfig={kubeconfig}", f"--cache-dir={_cache_dir(kubeconfig)}"]
    return subprocess.run(
        [*cmd, *args], input=input, capture_output=True, text=True, timeout=timeout, check=False
    )


def wait_for(
    probe: Callable[[], T | None], *, timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll `probe` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or probe}")
        time.sleep(interval)


async def eventually(probe: Callable[[], bool], what: str, within: float = 5.0) -> float:
    """Wait, without blocking the event loop, until `probe()`; returns the seconds it took.
    Fails the test after `within` seconds."""
    start = time.monotonic()
    while not probe():
        if time.monotonic() - start > within:
            pytest.fail(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def sandbox_http(sandbox: KubeSandbox, token: str | None) -> httpx.Client:
    """A raw HTTP client of the sandbox API server (its CA trusted), with `token` if given."""
    import httpx

    assert sandbox.ca_pem is not None
    tls = ssl.create_default_context(cadata=sandbox.ca_pem.decode())
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.Client(base_url=sandbox.url, verify=tls, headers=headers, timeout=10)


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def start_sandbox(tmp_path: Path, **options: Any) -> KubeSandbox:
    from modelsync_sandbox.kube import KubeSandbox

    sandbox = KubeSandbox(kubeconfig_path=tmp_path / "kubeconfig", **options)
    sandbox.start_in_thread()
    return sandbox


@pytest.fixture
def kube_sandbox(tmp_path: Path) -> Iterator[KubeSandbox]:
    sandbox = start_sandbox(tmp_path)
    try:
        yield sandbox
    finally:
        sandbox.stop_in_thread()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ClusterHandle]:
    real = os.environ.get(E2E_KUBECONFIG_ENV)
    if real:
        yield ClusterHandle(Path(real), is_sandbox=False, sandbox=None)
        return
    sandbox = start_sandbox(tmp_path)
    try:
        yield ClusterHandle(sandbox.kubeconfig_path, is_sandbox=True, sandbox=sandbox)
    finally:
        sandbox.stop_in_thread()


def api_client(kubeconfig: Path) -> ApiClient:
    """An official-client ApiClient for `kubeconfig` (close it, or use it with `with`)."""
    from kubernetes import config

    return config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call,no-any-return]


def install_widget_crd(kubeconfig: Path, timeout: float = 30.0) -> None:
    """Create (or update) WIDGET_CRD and wait until it is Established, as one must."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    crd_api = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    name = WIDGET_CRD["metadata"]["name"]
    with api_client(kubeconfig) as api:
        custom = client.CustomObjectsApi(api)
        try:
            custom.create_cluster_custom_object(*crd_api, WIDGET_CRD)
        except ApiException as exc:
            if exc.status != 409:
                raise
            current: dict[str, Any] = custom.get_cluster_custom_object(*crd_api, name)  # type: ignore[assignment]
            meta = {
                **WIDGET_CRD["metadata"],
                "resourceVersion": current["metadata"]["resourceVersion"],
            }
            custom.replace_cluster_custom_object(*crd_api, name, {**WIDGET_CRD, "metadata": meta})

        def established() -> bool:
            crd: dict[str, Any] = custom.get_cluster_custom_object(*crd_api, name)  # type: ignore[assignment]
            return any(
                c.get("type") == "Established" and c.get("status") == "True"
                for c in (crd.get("status") or {}).get("conditions") or []
            )

        wait_for(established, timeout=timeout, what=f"{name} Established")


@pytest.fixture
def widget_cluster(cluster: ClusterHandle) -> ClusterHandle:
    """`cluster` with WIDGET_CRD installed."""
    install_widget_crd(cluster.kubeconfig_path)
    return cluster


@pytest.fixture
def namespace(cluster: ClusterHandle) -> Iterator[str]:
    """A fresh namespace, deleted (without waiting) after the test."""
    from kubernetes import client

    name = unique_name("t")
    with api_client(cluster.kubeconfig_path) as api:
        core = client.CoreV1Api(api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        yield name
        core.delete_namespace(name)
