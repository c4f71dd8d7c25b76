"""Every kustomization renders with the real kubectl and every object validates against the
Kubernetes API schemas; the workload matches the operator's CLI and the hardening rules."""

from __future__ import annotations

import argparse
import importlib.metadata
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from deploy.manifests import (
    CLUSTER_SCOPED_KINDS,
    CRD_DIR,
    INSTALLABLE,
    ROOT,
    Manifest,
    container,
    find,
    find_one,
    kustomization_dirs,
    render,
    render_base_with,
)
from modelsync.cli.run import add_arguments, endpoint_clash

# An older supported release and the newest known.
KUBERNETES_VERSIONS = ("1.28.0", kubernetes_validate.latest_version())
# Kinds from CRDs that are not ours to ship: checked for shape only.
EXTERNAL_KINDS = {("monitoring.coreos.com", "ServiceMonitor")}
KUSTOMIZATIONS = [str(p.relative_to(ROOT)) for p in kustomization_dirs()]
COMPONENTS = [str(p.relative_to(ROOT)) for p in kustomization_dirs("Component")]


def _crds() -> list[Manifest]:
    found = render("deploy/crds")
    assert {c["kind"] for c in found} == {"CustomResourceDefinition"}
    return found


def _group_kind(obj: Manifest) -> tuple[str, str]:
    api_version = str(obj["apiVersion"])
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    return group, str(obj["kind"])


def _validate_custom(obj: Manifest, crds: list[Manifest]) -> None:
    """A CRD-defined object against its CRD: version served, scope, openAPIV3Schema."""
    group, kind = _group_kind(obj)
    crd = next(
        (c for c in crds if (c["spec"]["group"], c["spec"]["names"]["kind"]) == (group, kind)),
        None,
    )
    if crd is None:
        assert (group, kind) in EXTERNAL_KINDS, f"no CRD for {obj['apiVersion']} {kind}"
        assert obj["metadata"]["name"]
        assert isinstance(obj.get("spec"), dict)
        return
    version = obj["apiVersion"].split("/", 1)[1]
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    assert served["served"]
    if crd["spec"]["scope"] == "Cluster":  # a missing namespace: test_installable_objects_...
        assert "namespace" not in obj["metadata"], obj["metadata"]
    schema = served["schema"]["openAPIV3Schema"]
    jsonschema.validate({k: v for k, v in obj.items() if k != "metadata"}, schema)


@pytest.mark.parametrize("path", KUSTOMIZATIONS)
def test_kustomization_renders_valid_objects(path: str) -> None:
    objects = render(path)
    assert objects, f"{path} renders nothing"
    crds = _crds()
    for obj in objects:
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                _validate_custom(obj, crds)
            except kubernetes_validate.ValidationError as exc:
                name = f"{obj['kind']}/{obj['metadata'].get('name')}"
                pytest.fail(f"{path}: {name} invalid for Kubernetes {version}: {exc.message}")


# Each other component has a test of its own (deploy/components/webhook:
# test_webhook_component.py); every component renders (test_kustomization_renders_...).
@pytest.mark.parametrize("component", [c for c in COMPONENTS if c.endswith("/servicemonitor")])
def test_component_renders_on_top_of_the_base(component: str, tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    objects = render_base_with(overlay, Path(component).name)
    base = render("deploy/base")
    added = [o for o in objects if _group_kind(o) in EXTERNAL_KINDS]
    assert len(objects) == len(base) + len(added)
    assert added
    monitor = find_one(objects, "ServiceMonitor")
    service = find_one(objects, "Service", "modelsync-metrics")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports


@pytest.mark.parametrize("path", INSTALLABLE)
def test_installable_objects_are_scoped_and_labelled(path: str) -> None:
    for obj in render(path):
        meta = obj["metadata"]
        if obj["kind"] in CLUSTER_SCOPED_KINDS:
            assert "namespace" not in meta, f"{obj['kind']}/{meta['name']}"
        else:
            assert meta.get("namespace"), f"{obj['kind']}/{meta['name']} has no namespace"
        assert meta.get("labels", {}).get("app.kubernetes.io/part-of") == "modelsync"


def test_crds_folder_holds_only_crds() -> None:
    """`kubectl apply -f crds/` (docs, e2e tests) reads every *.yaml file there."""
    for path in sorted(CRD_DIR.glob("*.y*ml")):
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        assert [d["kind"] for d in docs] == ["CustomResourceDefinition"], path.name


# -- the operator workload -------------------------------------------------------


def _parse_run_args(args: list[str], env_names: set[str]) -> argparse.Namespace:
    expanded = []
    for arg in args:
        for ref in re.findall(r"\$\((\w+)\)", arg):
            assert ref in env_names, f"{arg} refers to an undefined variable"
        expanded.append(re.sub(r"\$\((\w+)\)", "1", arg))
    parser = argparse.ArgumentParser(prog="modelsync run", exit_on_error=False)
    add_arguments(parser)
    try:
        return parser.parse_args(expanded)
    except SystemExit:  # argparse exits on some errors even with exit_on_error=False
        pytest.fail(f"`modelsync run` rejects {expanded}")


@pytest.mark.parametrize("path", ["deploy/base", "deploy/overlays/namespaced"])
def test_workload_args_are_accepted_by_modelsync_run(path: str) -> None:
    objects = render(path)
    workload = find_one(objects, "Deployment", "modelsync")
    main = container(objects)
    env = {e["name"]: e for e in main["env"]}
    args = _parse_run_args(main["args"], set(env))
    # Leader election: identity from the pod name, the Lease in the pod's own namespace.
    assert args.leader_elect
    assert "--leader-elect" in main["args"]
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert args.leader_election_namespace is None  # so $POD_NAMESPACE decides
    lease_rules = [
        (role, rule)
        for role in find(objects, "Role")
        for rule in role["rules"]
        if "leases" in rule["resources"]
    ]
    assert {role["metadata"]["namespace"] for role, _ in lease_rules} == {
        workload["metadata"]["namespace"]
    }
    named = [rule for _, rule in lease_rules if "resourceNames" in rule]
    assert named
    assert all(rule["resourceNames"] == [args.leader_election_id] for rule in named)
    if args.namespaces:
        watched = {
            r["metadata"]["namespace"]
            for r in find(objects, "Role")
            if r["metadata"]["name"] == "modelsync-operator"
        }
        bindings = {
            b["metadata"]["namespace"]
            for b in find(objects, "RoleBinding")
            if b["metadata"]["name"] == "modelsync-operator"
        }
        assert watched == bindings == set(args.namespaces)


def test_probes_hit_the_liveness_endpoint_and_metrics_are_served() -> None:
    objects = render("deploy/base")
    main = container(objects)
    args = _parse_run_args(main["args"], {e["name"] for e in main["env"]})
    liveness = urlsplit(args.liveness)
    assert endpoint_clash(args.liveness, args.metrics_port) is None
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        http = main[probe]["httpGet"]
        assert ports[http["port"]] == liveness.port
        assert http["path"] == liveness.path
    assert liveness.hostname == "0.0.0.0"  # noqa: S104 - the kubelet probes the pod IP
    service = find_one(objects, "Service", "modelsync-metrics")
    (port,) = service["spec"]["ports"]
    assert port["name"] == "http-metrics"
    assert port["targetPort"] == "http-metrics"
    assert ports["http-metrics"] == args.metrics_port
    assert args.metrics_host == "0.0.0.0"  # noqa: S104 - scraped from outside the pod
    workload = find_one(objects, "Deployment", "modelsync")
    selector = workload["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"] == selector
    pdb = find_one(objects, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == selector


def test_workload_is_hardened() -> None:
    objects = render("deploy/base")
    workload = find_one(objects, "Deployment", "modelsync")
    pod = workload["spec"]["template"]["spec"]
    main = container(objects)
    assert workload["spec"]["replicas"] == 2
    # A new pod is up (as a standby) before an old one stops and hands over the Lease.
    assert workload["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    assert pod["serviceAccountName"] == "modelsync"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    ctx = main["securityContext"]
    assert ctx["runAsNonRoot"] is True
    assert ctx["runAsUser"] == 65532
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    for key in ("cpu", "memory"):
        assert main["resources"]["requests"][key]
        assert main["resources"]["limits"][key]
    (mount,) = main["volumeMounts"]
    assert mount["mountPath"] == "/tmp"
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert "emptyDir" in volume
    namespace = find_one(objects, "Namespace", "modelsync-system")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_image_tag_is_the_package_version() -> None:
    main = container(render("deploy/base"))
    assert main["image"] == f"modelsync:{importlib.metadata.version('modelsync')}"


# -- the network policy -------------------------------------------------------------

DNS_PORTS = {(53, "UDP"), (53, "TCP")}
API_SERVER_PORTS = {(443, "TCP"), (6443, "TCP")}
HTTPS_PORTS = {(443, "TCP")}


def _policy_ports(rules: list[Manifest], named: dict[str, int]) -> set[tuple[int, str]]:
    """(port number, protocol) of every rule; a rule without ports would open all of them."""
    found: set[tuple[int, str]] = set()
    for rule in rules:
        assert rule.get("ports"), f"a rule without ports allows every port: {rule}"
        for entry in rule["ports"]:
            assert "endPort" not in entry, entry
            port = entry["port"]
            number = named[port] if isinstance(port, str) else port
            found.add((number, entry.get("protocol", "TCP")))
    return found


@pytest.mark.parametrize("path", ["deploy/base", "deploy/overlays/namespaced"])
def test_network_policy_opens_only_metrics_health_dns_api_server_and_https(path: str) -> None:
    objects = render(path)
    (policy,) = find(objects, "NetworkPolicy")
    workload = find_one(objects, "Deployment", "modelsync")
    main = container(objects)
    spec = policy["spec"]
    assert policy["metadata"]["namespace"] == workload["metadata"]["namespace"]
    pod_labels = workload["spec"]["template"]["metadata"]["labels"]
    assert spec["podSelector"].keys() == {"matchLabels"}
    assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()
    # Both types listed: whatever no rule allows is denied, in both directions.
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]

    container_ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    args = _parse_run_args(main["args"], {e["name"] for e in main["env"]})
    assert container_ports == {
        "http-metrics": args.metrics_port,
        "health": urlsplit(args.liveness).port,
    }
    assert _policy_ports(spec["ingress"], container_ports) == {(8080, "TCP"), (8081, "TCP")}
    assert {n for n, _ in _policy_ports(spec["ingress"], container_ports)} == set(
        container_ports.values()
    )
    egress = _policy_ports(spec["egress"], {})
    assert egress == DNS_PORTS | API_SERVER_PORTS | HTTPS_PORTS


def test_policy_port_reader_refuses_rules_that_open_every_port() -> None:
    with pytest.raises(AssertionError, match="allows every port"):
        _policy_ports([{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}], {})
    with pytest.raises(AssertionError, match="endPort"):
        _policy_ports([{"ports": [{"port": 1, "endPort": 65535}]}], {})
    assert _policy_ports([{"ports": [{"port": "health"}]}], {"health": 8081}) == {(8081, "TCP")}
