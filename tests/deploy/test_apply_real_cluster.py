"""The install manifests on a real API server: `kubectl apply --server-side -k` of deploy/base
and of the namespaced overlay go in cleanly (a real validator, admission chain and RBAC
escalation check), and the operator's ServiceAccount, authenticated with a token from the
TokenRequest API, may do exactly what the operator process needs (test_rbac derives that
from the code) and nothing more, as `kubectl auth can-i` reports it.

A control plane of this module's own: the overlay rewrites the ClusterRole, which would take
permissions from the session's operator on the shared one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.manifests import ROOT
from deploy.rbac_usage import Permission
from deploy.test_rbac import CLUSTER_SCOPED, needed
from fixtures_kube import kubectl
from fixtures_real_cluster import XDIST_GROUP, RealCluster, started_real_cluster

pytestmark = [pytest.mark.real_cluster, pytest.mark.xdist_group(XDIST_GROUP)]

BASE = ROOT / "deploy" / "base"
OVERLAY = ROOT / "deploy" / "overlays" / "namespaced"
OPERATOR_NAMESPACE = "modelsync-system"
SERVICE_ACCOUNT = "modelsync"
WATCHED = ("ml-serving", "ml-staging")  # the overlay's example namespaces
# What every authenticated identity may do (system:basic-user and friends), not ours.
SELF_REVIEWS = frozenset(
    {
        ("authentication.k8s.io", "selfsubjectreviews"),
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
    }
)
# kubectl auth can-i --list: RESOURCES  [NON-RESOURCE URLS]  [RESOURCE NAMES]  [VERBS]
LIST_ROW = re.compile(r"^(\S*)\s+\[(.*?)\]\s+\[(.*?)\]\s+\[(.*?)\]\s*$")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    with started_real_cluster(tmp_path_factory.mktemp("install")) as real:
        yield real


@pytest.fixture(scope="module")
def operator_kubeconfig(cluster: RealCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cluster.ok("apply", "--server-side", "-k", str(BASE))
    path = tmp_path_factory.mktemp("operator-sa") / "kubeconfig"
    return cluster.service_account_kubeconfig(OPERATOR_NAMESPACE, SERVICE_ACCOUNT, path)


def apply(cluster: RealCluster, path: Path) -> str:
    done = cluster.kubectl("apply", "--server-side", "-k", str(path))
    assert done.returncode == 0, f"kubectl apply --server-side -k {path}:\n{done.stderr}"
    assert not done.stderr.strip(), done.stderr  # no warnings either
    return done.stdout


def allowed(kubeconfig: Path, namespace: str) -> set[Permission]:
    """What `kubectl auth can-i --list` says the ServiceAccount may do in `namespace`, less
    what every authenticated identity may do."""
    out = kubectl(kubeconfig, "auth", "can-i", "--list", "-n", namespace)
    assert out.returncode == 0, out.stderr
    found: set[Permission] = set()
    for line in out.stdout.splitlines()[1:]:
        row = LIST_ROW.match(line)
        assert row, f"unexpected can-i --list row: {line!r}"
        resource_group, urls, _names, verbs = row.groups()
        if urls:  # a non-resource URL (/healthz, /api, ...): everyone's
            continue
        # RESOURCE.GROUP[/SUBRESOURCE], e.g. modelrefs.modelsync.dev/status
        qualified, _, subresource = resource_group.partition("/")
        resource, _, group = qualified.partition(".")
        if subresource:
            resource = f"{resource}/{subresource}"
        if (group, resource) in SELF_REVIEWS:
            continue
        found |= {Permission(group, resource, verb) for verb in verbs.split()}
    return found


def can_i(kubeconfig: Path, *args: str) -> bool:
    done = kubectl(kubeconfig, "auth", "can-i", *args)
    assert done.stdout.strip() in ("yes", "no"), done.stderr
    return done.stdout.strip() == "yes"


def is_lease(permission: Permission) -> bool:
    return permission.resource == "leases"


def test_base_applies_cleanly_and_the_operator_may_do_exactly_what_it_needs(
    cluster: RealCluster, operator_kubeconfig: Path
) -> None:
    applied = apply(cluster, BASE)
    for kind in ("customresourcedefinition", "clusterrole", "deployment", "networkpolicy"):
        assert f"{kind}." in applied, applied
    # kubectl's own apply (client side) of the same manifests agrees with the server.
    dry = cluster.kubectl("apply", "--dry-run=server", "-k", str(BASE))
    assert dry.returncode == 0, dry.stderr

    want = set(needed(clusterwide=True))
    granted = allowed(operator_kubeconfig, OPERATOR_NAMESPACE)
    assert granted == want, report(want, granted)
    elsewhere = allowed(operator_kubeconfig, "default")
    assert elsewhere == {p for p in want if not is_lease(p)}, report(want, elsewhere)

    kc = operator_kubeconfig
    assert can_i(kc, "get", "secrets", "-n", "default")
    assert not can_i(kc, "list", "secrets", "-n", "default")
    assert not can_i(kc, "watch", "secrets", "--all-namespaces")
    assert not can_i(kc, "patch", "modelcatalogsyncs.modelsync.dev", "-n", "default")
    assert not can_i(kc, "delete", "modelcatalogsyncs.modelsync.dev", "-n", "default")
    assert not can_i(kc, "create", "pods", "-n", "default")
    assert not can_i(kc, "get", "configmaps", "-n", OPERATOR_NAMESPACE)
    assert not can_i(kc, "update", "leases/someone-else", "-n", OPERATOR_NAMESPACE)
    assert can_i(kc, "update", "leases/modelsync-leader", "-n", OPERATOR_NAMESPACE)


def test_namespaced_overlay_applies_cleanly_and_grants_only_its_namespaces(
    cluster: RealCluster, operator_kubeconfig: Path
) -> None:
    for namespace in WATCHED:  # the overlay's README: the namespaces must exist
        cluster.kubectl("create", "namespace", namespace)
    apply(cluster, OVERLAY)

    want = set(needed(clusterwide=False))
    cluster_wide = {p for p in want if p.resource in CLUSTER_SCOPED}
    for namespace in WATCHED:
        granted = allowed(operator_kubeconfig, namespace)
        expected = {p for p in want if not is_lease(p)}
        assert granted == expected, f"{namespace}:\n" + report(expected, granted)
    outside = allowed(operator_kubeconfig, "default")
    assert outside == cluster_wide, report(cluster_wide, outside)
    assert not can_i(operator_kubeconfig, "list", "modelrefs.modelsync.dev", "--all-namespaces")


def report(want: set[Permission], granted: set[Permission]) -> str:
    return "\n".join(
        [
            *(f"not allowed: {p}" for p in sorted(want - granted, key=str)),
            *(f"allowed but unused: {p}" for p in sorted(granted - want, key=str)),
        ]
    )
