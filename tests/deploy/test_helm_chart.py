"""The Helm chart deploy/helm/modelsync: `helm lint --strict` passes; its default render is
deploy/base, and its namespaced, shards, webhook and monitoring renders are the kustomize
overlay and components, object by object (so the two install paths cannot drift); every value
set renders objects valid for Kubernetes, container args `modelsync run` accepts and RBAC that
grants what the code needs; values.schema.json refuses bad values, naming them."""

from __future__ import annotations

import argparse
import copy
import functools
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from deploy.manifests import (
    CLUSTER_SCOPED_KINDS,
    CRD_DIR,
    ROOT,
    Manifest,
    find,
    find_one,
    render,
    render_base_with,
)
from deploy.test_rbac import (
    OPERATOR_NAMESPACE,
    _bound_rules,
    _check_leader_election_role,
    _difference_report,
    _grants,
    _in_namespace,
    _is_lease,
    needed,
)
from fixtures_helm import CHART, Helm
from modelsync.cli.run import add_arguments, endpoint_clash
from modelsync.runtime.leader_loop import DEFAULT_LEASE_NAME

RELEASE = "modelsync"
KUBERNETES_VERSIONS = ("1.28.0", kubernetes_validate.latest_version())
CHART_CRDS = CHART / "crd-sources"
COPY_FIX = "edit crds/ and copy it: cp crds/*.yaml deploy/helm/modelsync/crd-sources/"
# Objects of CRDs that are not ours: checked for shape only.
EXTERNAL_KINDS = {"ServiceMonitor", "PrometheusRule"}
KEEP = "helm.sh/resource-policy"
COMPONENTS = ROOT / "deploy" / "components"
MONITORING = ("serviceMonitor", "prometheusRule", "grafanaDashboard")

# Value sets beyond the defaults; each renders, validates, parses and passes the RBAC check.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "namespaced": {"watchNamespaces": ["ml-serving", "ml-staging"]},
    "shards": {"shards": [{"name": "a"}, {"name": "b", "selector": "team in (risk,fraud)"}]},
    "webhook-ingress": {
        "webhook": {
            "enabled": True,
            "port": 9443,
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "host": "hooks.example.com",
                "tls": [{"hosts": ["hooks.example.com"], "secretName": "hooks-tls"}],
            },
        }
    },
    "namespaced-webhook-shards": {
        "watchNamespaces": ["ml-serving"],
        "webhook": {"enabled": True},
        "shards": [{"name": "x"}],
    },
    "monitoring": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
        "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "Operators"}},
    },
    "custom": {
        "image": {
            "repository": "registry.example.com/ml/modelsync",
            "tag": "0.1.0-rc1",
            "pullPolicy": "Always",
            "pullSecrets": ["registry-creds"],
        },
        "replicas": 3,
        "leaderElection": {"leaseName": "modelsync-blue"},
        "allowedHosts": ["https://*.truefoundry.com", "http://127.0.0.1:8181"],
        "resources": {
            "requests": {"cpu": "50m", "memory": "96Mi"},
            "limits": {"cpu": "2", "memory": "1Gi"},
        },
        "extraArgs": ["--max-concurrent-syncs=8", "--verbose"],
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.internal:3128"}],
        "networkPolicy": {"catalogPorts": [443, 8443]},
        "podAnnotations": {"example.com/owner": "ml-platform"},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "ml", "operator": "Exists", "effect": "NoSchedule"}],
        "crds": {"keep": False},
    },
    "single-replica": {"replicas": 1, "leaderElection": {"enabled": False}},
}


def _key(obj: Manifest) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


@functools.cache
def _template_text(helm: Helm, values: str) -> str:
    """`helm template` of the chart with `values` (YAML) as the one values file."""
    path = Path(helm.home) / f"values-{abs(hash(values))}.yaml"
    path.write_text(values, encoding="utf-8")
    return helm.ok(
        "template", RELEASE, str(CHART), "--namespace", OPERATOR_NAMESPACE, "-f", str(path)
    )


def template(helm: Helm, values: dict[str, Any] | None = None) -> list[Manifest]:
    text = _template_text(helm, yaml.safe_dump(values or {}, sort_keys=True))
    docs = [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None]
    assert all(isinstance(d, dict) for d in docs)
    return copy.deepcopy(docs)


def _as_installed_by_kustomize(objects: list[Manifest]) -> dict[tuple[str, str, str], Manifest]:
    """The chart's objects less the one Helm-only marking: the CRDs' keep annotation (crds.keep
    is on for every value set compared here), which only `helm uninstall` reads."""
    found = {}
    for obj in objects:
        if obj["kind"] == "CustomResourceDefinition":
            annotations = obj["metadata"]["annotations"]
            assert annotations.pop(KEEP) == "keep", obj["metadata"]["name"]
            if not annotations:
                del obj["metadata"]["annotations"]
        found[_key(obj)] = obj
    return found


def _kustomized(objects: list[Manifest]) -> dict[tuple[str, str, str], Manifest]:
    """A kustomize render less its Namespace: Helm cannot create the namespace it installs
    into (the release record is written there first), so the chart has none."""
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    assert [n["metadata"]["name"] for n in namespaces] == [OPERATOR_NAMESPACE]
    return {_key(o): o for o in objects if o["kind"] != "Namespace"}


def _base_with(tmp_path: Path, *components: str) -> list[Manifest]:
    """deploy/base with deploy/components/COMPONENTS through an overlay that labels the
    components' objects as the base labels its own (kustomize's `labels` reach only the
    resources of the kustomization that lists them)."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    return render_base_with(overlay, *components, labels={"app.kubernetes.io/part-of": "modelsync"})


def _assert_same(chart: list[Manifest], kustomized: list[Manifest]) -> None:
    got = _as_installed_by_kustomize(chart)
    want = _kustomized(kustomized)
    assert sorted(got) == sorted(want)
    for key, obj in want.items():
        assert got[key] == obj, f"{key} differs from kustomize's"


# -- one source for the CRDs -----------------------------------------------------------------


def test_the_chart_carries_byte_identical_copies_of_crds() -> None:
    sources = sorted(p.name for p in CRD_DIR.glob("*.yaml"))
    assert sorted(p.name for p in CHART_CRDS.iterdir()) == sources, COPY_FIX
    for name in sources:
        source = (CRD_DIR / name).read_bytes()
        assert (CHART_CRDS / name).read_bytes() == source, f"crd-sources/{name}: {COPY_FIX}"


# -- lint, and the defaults equal the kustomize base ---------------------------------------


def test_helm_lint_strict_passes(helm: Helm) -> None:
    out = helm.ok("lint", "--strict", str(CHART))
    assert "1 chart(s) linted, 0 chart(s) failed" in out, out
    for name in ("namespaced-webhook-shards", "monitoring", "custom"):
        values = yaml.safe_dump(VALUE_SETS[name])
        path = Path(helm.home) / f"lint-{name}.yaml"
        path.write_text(values, encoding="utf-8")
        out = helm.ok("lint", "--strict", str(CHART), "-f", str(path))
        assert "0 chart(s) failed" in out, f"{name}:\n{out}"


def test_default_values_render_the_kustomize_base(helm: Helm) -> None:
    _assert_same(template(helm), render("deploy/base"))


def test_the_default_image_tag_is_the_app_version_and_the_lease_the_operators(helm: Helm) -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    assert values["image"]["tag"] == ""
    (deployment,) = find(template(helm), "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"modelsync:{chart['appVersion']}"
    assert values["leaderElection"]["leaseName"] == DEFAULT_LEASE_NAME
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{chart["appVersion"]}"' in pyproject


def test_watch_namespaces_render_the_namespaced_overlay(helm: Helm) -> None:
    _assert_same(template(helm, VALUE_SETS["namespaced"]), render("deploy/overlays/namespaced"))


def test_shards_render_the_shards_component(helm: Helm, tmp_path: Path) -> None:
    values = {"shards": [{"name": "a"}, {"name": "b"}]}
    _assert_same(template(helm, values), _base_with(tmp_path, "shards"))


def test_the_webhook_renders_the_webhook_component(helm: Helm, tmp_path: Path) -> None:
    _assert_same(template(helm, {"webhook": {"enabled": True}}), _base_with(tmp_path, "webhook"))


def test_monitoring_renders_the_monitoring_components(helm: Helm, tmp_path: Path) -> None:
    values = {name: {"enabled": True} for name in MONITORING}
    _assert_same(template(helm, values), _base_with(tmp_path, "servicemonitor", "monitoring"))


# -- every value set ---------------------------------------------------------------------------


def _validate(objects: list[Manifest], crds: list[Manifest]) -> None:
    kinds = {(c["spec"]["group"], c["spec"]["names"]["kind"]) for c in crds}
    for obj in objects:
        name = f"{obj['kind']}/{obj['metadata'].get('name')}"
        # The CRDs are crds/*.yaml whatever the values (but for the keep annotation), which
        # test_manifests.py validates; validating them again per value set costs seconds.
        if obj["kind"] == "CustomResourceDefinition":
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                group = obj["apiVersion"].split("/", 1)[0]
                assert (group, obj["kind"]) in kinds or obj["kind"] in EXTERNAL_KINDS, name
                assert isinstance(obj.get("spec"), dict), name
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{name} invalid for Kubernetes {version}: {exc.message}")
        if obj["kind"] in CLUSTER_SCOPED_KINDS:
            assert "namespace" not in obj["metadata"], name
        else:
            assert obj["metadata"].get("namespace"), name
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "modelsync", name


def _run_args(deployment: Manifest) -> argparse.Namespace:
    main = deployment["spec"]["template"]["spec"]["containers"][0]
    parser = argparse.ArgumentParser(prog="modelsync run", exit_on_error=False)
    add_arguments(parser)
    try:
        args = parser.parse_args(main["args"])
    except SystemExit:  # argparse exits on some errors even with exit_on_error=False
        pytest.fail(f"`modelsync run` rejects {main['args']}")
    assert endpoint_clash(args.liveness, args.metrics_port, args.webhook_port) is None
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert ports["http-metrics"] == args.metrics_port
    assert ports.get("http-webhook") == (args.webhook_port or None)
    return args


def _check_rbac(objects: list[Manifest], args: list[argparse.Namespace]) -> None:
    """As tests/deploy/test_rbac.py checks the base, the overlay and the webhook component."""
    namespaces = {tuple(a.namespaces) for a in args}
    webhook = {bool(a.webhook_port) for a in args}
    assert len(namespaces) == len(webhook) == 1
    (watched,), (with_webhook,) = namespaces, webhook
    want = set(needed(clusterwide=not watched, webhook=with_webhook))
    cluster_granted = _grants(_bound_rules(objects, "ClusterRole", "ClusterRoleBinding"))
    if watched:
        cluster_want = {
            p for p in want if p.resource in {"customresourcedefinitions", "namespaces"}
        }
    else:
        cluster_want = {p for p in want if not _is_lease(p)}
    assert cluster_granted == cluster_want, _difference_report(cluster_want, cluster_granted)
    _check_leader_election_role(objects, want)
    roles = _bound_rules(objects, "Role", "RoleBinding")
    assert {r["metadata"]["namespace"] for r in roles} - {OPERATOR_NAMESPACE} == set(watched)
    namespaced_want = {p for p in want - cluster_want if not _is_lease(p)}
    for namespace in watched:
        granted = _grants(_in_namespace(roles, namespace))
        assert granted == namespaced_want, _difference_report(namespaced_want, granted)
    (election,) = [r for r in find(objects, "Role") if r["metadata"]["name"].endswith("-election")]
    named = [rule["resourceNames"] for rule in election["rules"] if "resourceNames" in rule]
    assert named == [sorted({a.leader_election_id for a in args})]


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_value_sets_render_valid_objects_flags_and_rbac(helm: Helm, name: str) -> None:
    objects = template(helm, VALUE_SETS[name])
    crds = list(find(objects, "CustomResourceDefinition"))
    _validate(objects, crds)
    deployments = list(find(objects, "Deployment"))
    args = [_run_args(d) for d in deployments]
    if all(a.leader_elect for a in args):
        _check_rbac(objects, args)
    else:
        assert not list(find(objects, "Role"))
        assert [d["spec"]["replicas"] for d in deployments] == [1]


def test_shards_get_their_own_selector_and_lease(helm: Helm) -> None:
    objects = template(helm, VALUE_SETS["shards"])
    by_name = {d["metadata"]["name"]: _run_args(d) for d in find(objects, "Deployment")}
    assert sorted(by_name) == ["modelsync-shard-a", "modelsync-shard-b"]
    for name, args in by_name.items():
        assert args.leader_election_id == name
    assert str(by_name["modelsync-shard-a"].sync_selector) == "modelsync.dev/shard=a"
    assert by_name["modelsync-shard-b"].sync_selector is not None


def test_the_webhook_is_served_through_its_service_and_ingress(helm: Helm) -> None:
    objects = template(helm, VALUE_SETS["webhook-ingress"])
    (deployment,) = find(objects, "Deployment")
    assert _run_args(deployment).webhook_port == 9443
    service = find_one(objects, "Service", "modelsync-webhook")
    assert service["spec"]["ports"][0]["targetPort"] == "http-webhook"
    ingress = find_one(objects, "Ingress", "modelsync-webhook")
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "hooks.example.com"
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/hooks"
    assert path["backend"]["service"] == {
        "name": "modelsync-webhook",
        "port": {"name": "http-webhook"},
    }
    assert ingress["spec"]["ingressClassName"] == "nginx"
    policy = find_one(objects, "NetworkPolicy")
    opened = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    assert "http-webhook" in opened


def test_monitoring_renders_the_files_of_the_chart(helm: Helm) -> None:
    objects = template(helm, VALUE_SETS["monitoring"])
    monitor = find_one(objects, "ServiceMonitor")
    service = find_one(objects, "Service", "modelsync-metrics")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    rules = yaml.safe_load((CHART / "files" / "prometheusrules.yaml").read_text(encoding="utf-8"))
    assert find_one(objects, "PrometheusRule")["spec"] == rules
    dashboard = find_one(objects, "ConfigMap", "modelsync-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    files = {p.name: p.read_text(encoding="utf-8") for p in (CHART / "files").glob("*.json")}
    assert files
    assert {k: v.rstrip("\n") for k, v in dashboard["data"].items()} == {
        k: v.rstrip("\n") for k, v in files.items()
    }


def test_custom_values_reach_the_workload(helm: Helm) -> None:
    values = VALUE_SETS["custom"]
    objects = template(helm, values)
    (deployment,) = find(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (main,) = pod["containers"]
    assert main["image"] == "registry.example.com/ml/modelsync:0.1.0-rc1"
    assert main["imagePullPolicy"] == "Always"
    assert pod["imagePullSecrets"] == [{"name": "registry-creds"}]
    assert main["resources"] == values["resources"]
    assert main["args"][-2:] == values["extraArgs"]
    args = _run_args(deployment)
    assert args.allowed_hosts == values["allowedHosts"]
    assert args.leader_election_id == "modelsync-blue"
    assert args.max_concurrent_syncs == 8
    assert main["env"][-1] == values["extraEnv"][0]
    assert pod["nodeSelector"] == values["nodeSelector"]
    assert pod["tolerations"] == values["tolerations"]
    assert deployment["spec"]["replicas"] == 3
    for crd in find(objects, "CustomResourceDefinition"):
        assert KEEP not in crd["metadata"].get("annotations", {})
    egress = find_one(objects, "NetworkPolicy")["spec"]["egress"]
    assert {p["port"] for p in egress[-1]["ports"]} == {443, 8443}


def test_digest_pins_the_image(helm: Helm) -> None:
    digest = "sha256:" + "ab" * 32
    (deployment,) = find(template(helm, {"image": {"digest": digest}}), "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"modelsync@{digest}"


def test_crds_can_be_left_out(helm: Helm) -> None:
    objects = template(helm, {"crds": {"install": False}})
    assert not list(find(objects, "CustomResourceDefinition"))
    assert list(find(objects, "Deployment"))


# -- values.schema.json refuses bad values, naming them ----------------------------------------


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"replicas": "two"}, "/replicas"),
        ({"replicas": 0}, "/replicas"),
        ({"watchNamespaces": ["ml-*"]}, "/watchNamespaces/0"),
        ({"shards": [{"selector": "team=a"}]}, "/shards/0"),
        ({"webhook": {"enabled": "yes"}}, "/webhook/enabled"),
        ({"webhook": {"port": 70000}}, "/webhook/port"),
        ({"allowedHosts": ["*.truefoundry.com"]}, "/allowedHosts/0"),
        ({"crds": {"keep": True, "delete": True}}, "/crds"),
        ({"replica": 2}, "replica"),
        ({"extraArgs": ["max-concurrent-syncs=8"]}, "/extraArgs/0"),
    ],
)
def test_the_schema_refuses_bad_values(
    helm: Helm, tmp_path: Path, values: dict[str, Any], named: str
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    done = helm.run("template", RELEASE, str(CHART), "-f", str(path))
    assert done.returncode != 0
    assert "values don't meet the specifications of the schema" in done.stderr, done.stderr
    assert named in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"leaderElection": {"enabled": False}}, "replicas > 1 needs leaderElection.enabled"),
        (
            {"replicas": 1, "leaderElection": {"enabled": False}, "shards": [{"name": "a"}]},
            "shards need leaderElection.enabled",
        ),
    ],
)
def test_the_chart_refuses_inconsistent_values(
    helm: Helm, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    done = helm.run("template", RELEASE, str(CHART), "-f", str(path))
    assert done.returncode != 0
    assert message in done.stderr, done.stderr


def _commented_keys(
    node: yaml.Node, schema: dict[str, Any], lines: list[str], at: str
) -> list[str]:
    """Checks the keys of the chart's own structures (closed, with required keys, in the
    schema), not inside Kubernetes objects such as `resources`; returns their paths."""
    assert isinstance(node, yaml.MappingNode), at
    checked = []
    for key, value in node.value:
        path = f"{at}.{key.value}".lstrip(".")
        assert key.value in schema["properties"], f"values.schema.json lacks {path}"
        above = lines[key.start_mark.line - 1].strip()
        sub = schema["properties"][key.value]
        if sub.get("additionalProperties") is False and "required" in sub:
            checked += _commented_keys(value, sub, lines, path)
        else:
            assert above.startswith("#"), f"values.yaml:{key.start_mark.line + 1}: {path}"
            checked.append(path)
    return checked


def test_every_value_has_a_comment_a_schema_and_a_row_in_the_readme() -> None:
    text = (CHART / "values.yaml").read_text(encoding="utf-8")
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    root = yaml.compose(text)
    assert root is not None
    paths = _commented_keys(root, schema, text.splitlines(), "")
    assert len(paths) > 40
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    rows = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    assert rows == set(paths)
