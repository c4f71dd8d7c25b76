"""The install manifests applied with the real kubectl to the sandbox Kubernetes API, in the
order deploy/README.md gives.

The sandbox serves namespaces, secrets, events, leases and CRDs, not ServiceAccounts, RBAC,
Services, Deployments or PodDisruptionBudgets: kubectl reports those as "no matches for
kind". The tests accept exactly that, and only for kinds the sandbox's discovery lacks, so
they tighten by themselves once the sandbox serves more.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from deploy.manifests import CRD_DIR, DEPLOY, find, render
from fixtures_kube import kubectl
from modelsync_sandbox.kube import KubeSandbox

_NO_MATCH = re.compile(r'no matches for kind "(\w+)" in version "([\w./]+)"')


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def served_kinds(kubeconfig: Path) -> set[tuple[str, str]]:
    """(apiVersion, kind) of everything the server's discovery lists."""
    rows = ok(kubectl(kubeconfig, "api-resources", "--no-headers")).splitlines()
    # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND
    return {(row.split()[-3], row.split()[-1]) for row in rows if row.strip()}


def apply_kustomization(kubeconfig: Path, path: Path) -> set[tuple[str, str]]:
    """`kubectl apply -k`; returns the (apiVersion, kind)s kubectl found no API for, after
    checking every other object went in."""
    done = kubectl(kubeconfig, "apply", "-k", str(path))
    unserved = {(version, kind) for kind, version in _NO_MATCH.findall(done.stderr)}
    other_errors = [
        line
        for line in done.stderr.splitlines()
        if line.strip()
        and not _NO_MATCH.search(line)
        and line.strip() != "ensure CRDs are installed first"
    ]
    assert not other_errors, done.stderr
    assert (done.returncode == 0) == (not unserved), done.stderr
    assert not unserved & served_kinds(kubeconfig), f"served but refused: {done.stderr}"
    return unserved


def install_crds(kubeconfig: Path) -> None:
    ok(kubectl(kubeconfig, "apply", "-k", str(DEPLOY / "crds")))
    ok(
        kubectl(
            kubeconfig,
            "wait",
            "--for=condition=Established",
            "--timeout=30s",
            "crd",
            "-l",
            "app.kubernetes.io/part-of=modelsync",
        )
    )


def test_crds_folder_applies_with_kubectl_apply_f(kube_sandbox: KubeSandbox) -> None:
    out = ok(kubectl(kube_sandbox.kubeconfig_path, "apply", "-f", str(CRD_DIR)))
    assert "modelcatalogsyncs.modelsync.dev created" in out
    assert "modelrefs.modelsync.dev created" in out


def test_base_applies_after_its_crds(kube_sandbox: KubeSandbox) -> None:
    kc = kube_sandbox.kubeconfig_path
    install_crds(kc)
    unserved = apply_kustomization(kc, DEPLOY / "base")
    rendered = {(o["apiVersion"], o["kind"]) for o in render("deploy/base")}
    assert unserved <= rendered
    ok(kubectl(kc, "get", "namespace", "modelsync-system"))
    # Applying again changes nothing and fails no differently.
    assert apply_kustomization(kc, DEPLOY / "base") == unserved


def test_base_applies_in_one_go(kube_sandbox: KubeSandbox) -> None:
    """No custom resources in the base: CRDs need not be established first."""
    kc = kube_sandbox.kubeconfig_path
    apply_kustomization(kc, DEPLOY / "base")
    ok(kubectl(kc, "get", "crd", "modelcatalogsyncs.modelsync.dev"))


def test_namespaced_overlay_applies_to_existing_namespaces(kube_sandbox: KubeSandbox) -> None:
    kc = kube_sandbox.kubeconfig_path
    overlay = DEPLOY / "overlays" / "namespaced"
    watched = {
        r["metadata"]["namespace"]
        for r in find(render(overlay), "Role")
        if r["metadata"]["name"] == "modelsync-operator"
    }
    assert watched
    for namespace in watched:
        ok(kubectl(kc, "create", "namespace", namespace))
    install_crds(kc)
    apply_kustomization(kc, overlay)
