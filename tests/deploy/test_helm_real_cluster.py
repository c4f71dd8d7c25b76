"""The Helm chart on a real API server: `helm install` of deploy/helm/modelsync, the operator run
locally as the chart's ServiceAccount (a token from the TokenRequest API) with the chart's
Deployment's flags syncs a ModelCatalogSync from a sandbox catalog; `helm upgrade` to watched
namespaces and the webhook changes the objects and the operator still syncs under the narrowed
RBAC; `helm uninstall` removes the release's objects but keeps the CRDs (crds.keep, the
default), and with them every ModelCatalogSync and ModelRef.

helm is built from tools/helm (tests/fixtures_helm.py). A control plane of this module's own:
the chart's ClusterRole and CRDs would collide with deploy/base, which the session's operator
runs under, and a second operator there would act on the session's syncs. The Deployment's
pods never run (no scheduler or kubelet), so the operator runs here as they would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_harness import (
    E2E,
    OperatorProcess,
    answers,
    free_port,
    metrics_flags,
    open_scenario,
)

from fixtures_helm import CHART, Helm
from fixtures_kube import wait_for
from fixtures_real_cluster import XDIST_GROUP, RealCluster, started_real_cluster

pytestmark = [pytest.mark.real_cluster, pytest.mark.xdist_group(XDIST_GROUP)]

RELEASE = "modelsync"
NAMESPACE = "modelsync-system"
SERVICE_ACCOUNT = "modelsync"  # the chart's fullname, for the release "modelsync"
SYNC = "fraud"
MODELREF = "fraud.fraud-detector"
# The sandbox catalogs are loopback servers: only an explicit entry lets them in.
INSTALL_VALUES: dict[str, Any] = {"allowedHosts": ["http://127.0.0.1:*"]}
# Flags of the chart's Deployment that name in-pod addresses; the local operator gets its own.
POD_ADDRESS_FLAGS = ("--liveness", "--metrics-port", "--metrics-host", "--webhook-port")
READY_TIMEOUT = 60.0

CLUSTER_SCOPED = frozenset(
    {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Namespace"}
)

Key = tuple[str, str, str]  # kind, namespace ("" when cluster-scoped), name


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    with started_real_cluster(tmp_path_factory.mktemp("helm")) as real:
        yield real


def test_install_sync_upgrade_and_uninstall_keeping_the_crds(
    helm: Helm, cluster: RealCluster, tmp_path: Path
) -> None:
    kubeconfig = cluster.kubeconfig

    def release(command: str, values: dict[str, Any], *extra: str) -> str:
        path = tmp_path / f"{command}-values.json"
        path.write_text(json.dumps(values))  # JSON is YAML
        args = (command, RELEASE, str(CHART), "-n", NAMESPACE, "-f", str(path), *extra)
        return helm.ok(*args, "--timeout=60s", kubeconfig=kubeconfig)

    release("install", INSTALL_VALUES, "--create-namespace")
    installed = manifest(helm, kubeconfig)
    assert existing(cluster, installed) == installed.keys()
    crds = {key for key in installed if key[0] == "CustomResourceDefinition"}
    assert {name for _, _, name in crds} == {
        "modelcatalogsyncs.modelsync.dev",
        "modelrefs.modelsync.dev",
    }
    cluster.ok("wait", "--for=condition=Established", "--timeout=30s", "crd", "--all")

    sa_kubeconfig = cluster.service_account_kubeconfig(
        NAMESPACE, SERVICE_ACCOUNT, tmp_path / "operator.kubeconfig"
    )
    operator = LocalOperator(sa_kubeconfig, tmp_path / "operator.log")
    env = E2E(kubeconfig, None, operator.process, operator.liveness)
    try:
        operator.start(deployment_args(cluster))
        with open_scenario(env, "helm", delete_namespace=False) as scene:
            scene.create_sync(SYNC, filters={"name": "fraud-detector"})
            scene.wait_condition(SYNC, "True", "Synced")
            assert MODELREF in scene.modelrefs(SYNC)

            # Watched namespaces (RBAC then namespaced) and the webhook.
            upgraded = {
                **INSTALL_VALUES,
                "watchNamespaces": [scene.namespace],
                "webhook": {"enabled": True},
            }
            release("upgrade", upgraded)
            after = manifest(helm, kubeconfig)
            added, removed = after.keys() - installed.keys(), installed.keys() - after.keys()
            assert any(kind == "Role" and ns == scene.namespace for kind, ns, _ in added), (
                f"no Role in {scene.namespace} after the upgrade: {sorted(added)}"
            )
            assert any(kind == "Service" and "webhook" in name for kind, _, name in added), added
            assert existing(cluster, added | removed) == added, "the upgrade's objects"
            args = deployment_args(cluster)
            assert f"--namespace={scene.namespace}" in args
            assert "--webhook-port=8082" in args
            cluster_wide = [
                rule
                for key, obj in after.items()
                if key[0] == "ClusterRole"
                for rule in obj["rules"]
                if "modelrefs" in rule.get("resources", ())
            ]
            assert not cluster_wide, (
                f"watched namespaces, yet ModelRefs cluster-wide: {cluster_wide}"
            )

            # The upgraded Deployment's flags, under the narrowed RBAC: still syncs.
            operator.stop()
            operator.start(args)
            handled = scene.trigger(SYNC)
            scene.wait_handled(SYNC, handled)
            scene.wait_condition(SYNC, "True", "Synced")
            operator.stop()

            uninstalled = helm.ok("uninstall", RELEASE, "-n", NAMESPACE, kubeconfig=kubeconfig)
            assert "kept due to the resource policy" in uninstalled, uninstalled
            kept = {key for key in after if key[0] == "CustomResourceDefinition"}
            assert existing(cluster, after) == kept, "helm uninstall: all but the CRDs go"
            # The kept CRDs keep the custom resources too.
            assert scene.get("modelcatalogsync", SYNC) is not None
            assert MODELREF in scene.modelrefs(SYNC)
            assert helm.run("status", RELEASE, "-n", NAMESPACE, kubeconfig=kubeconfig).returncode
    finally:
        operator.stop()


class LocalOperator:
    """`modelsync run` with the flags of the chart's Deployment, its in-pod addresses replaced
    by loopback ones, as the pod would run it (POD_NAMESPACE: the Lease's namespace)."""

    def __init__(self, kubeconfig: Path, log_path: Path) -> None:
        self.liveness = f"http://127.0.0.1:{free_port()}/healthz"
        self.process = OperatorProcess(
            kubeconfig, log_path, (), env={"POD_NAMESPACE": NAMESPACE, "POD_NAME": "local"}
        )

    def start(self, pod_args: list[str]) -> None:
        local = [arg for arg in pod_args if arg.split("=", 1)[0] not in POD_ADDRESS_FLAGS]
        local += [f"--liveness={self.liveness}", *metrics_flags(free_port())]
        if any(arg.startswith("--webhook-port=") for arg in pod_args):
            local += [f"--webhook-port={free_port()}", "--webhook-host=127.0.0.1"]
        self.process.flags = tuple(local)
        self.process.start()
        try:
            wait_for(
                lambda: answers(self.liveness), timeout=READY_TIMEOUT, interval=0.1, what="liveness"
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process.alive():
            self.process.stop()


def deployment_args(cluster: RealCluster) -> list[str]:
    deployment = json.loads(cluster.ok("get", "deployment", RELEASE, "-n", NAMESPACE, "-o", "json"))
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args: list[str] = container["args"]
    return args


def manifest(helm: Helm, kubeconfig: Path) -> dict[Key, dict[str, Any]]:
    """The release's objects, from `helm get manifest`."""
    text = helm.ok("get", "manifest", RELEASE, "-n", NAMESPACE, kubeconfig=kubeconfig)
    objects: dict[Key, dict[str, Any]] = {}
    for doc in yaml.safe_load_all(text):
        if doc:
            meta = doc["metadata"]
            scoped = "" if doc["kind"] in CLUSTER_SCOPED else NAMESPACE
            objects[(doc["kind"], meta.get("namespace", scoped), meta["name"])] = doc
    return objects


def existing(cluster: RealCluster, keys: Iterable[Key]) -> set[Key]:
    """Which of these objects the API server has: one `kubectl get` per namespace."""
    by_namespace: dict[str, list[Key]] = {}
    for key in keys:  # cluster-scoped ones go with the release's: kubectl ignores their -n
        by_namespace.setdefault(key[1] or NAMESPACE, []).append(key)
    found: set[Key] = set()
    for namespace, group in by_namespace.items():
        names = [f"{kind}/{name}" for kind, _, name in group]
        out = cluster.ok("get", "-n", namespace, "--ignore-not-found", "-o", "name", *names)
        # kind[.group]/name, e.g. deployment.apps/modelsync
        seen = {(ref.split("/", 1)[0].split(".")[0], ref.split("/", 1)[1]) for ref in out.split()}
        found |= {key for key in group if (key[0].lower(), key[2]) in seen}
    return found
