"""deploy/components/webhook on top of the base: the operator serves the webhook on the port
the container, the Service and the NetworkPolicy name, and the base stays as it was."""

from __future__ import annotations

import argparse
from pathlib import Path

from deploy.manifests import Manifest, container, find, find_one, render, render_base_with
from modelsync.cli.run import add_arguments, endpoint_clash


def _with_webhook(tmp_path: Path) -> list[Manifest]:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    return render_base_with(overlay, "webhook")


def _key(obj: Manifest) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def test_the_component_serves_the_webhook_on_one_port_everywhere(tmp_path: Path) -> None:
    objects = _with_webhook(tmp_path)
    main = container(objects)
    parser = argparse.ArgumentParser(prog="modelsync run", exit_on_error=False)
    add_arguments(parser)
    args = parser.parse_args(main["args"])
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert ports["http-webhook"] == args.webhook_port == 8082
    assert endpoint_clash(args.liveness, args.metrics_port, args.webhook_port) is None

    service = find_one(objects, "Service", "modelsync-webhook")
    workload = find_one(objects, "Deployment", "modelsync")
    pod_labels = workload["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert "clusterIP" not in service["spec"]  # one address for every replica
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http-webhook"

    (policy,) = find(objects, "NetworkPolicy")
    opened = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    assert "http-webhook" in opened


def test_the_component_adds_to_the_base_and_changes_only_the_workload_and_policy(
    tmp_path: Path,
) -> None:
    base = {_key(o): o for o in render("deploy/base")}
    objects = {_key(o): o for o in _with_webhook(tmp_path)}
    added = {key[0] + "/" + key[2] for key in objects.keys() - base.keys()}
    assert added == {
        "ClusterRole/modelsync-webhook",
        "ClusterRoleBinding/modelsync-webhook",
        "Service/modelsync-webhook",
    }
    assert base.keys() <= objects.keys()
    changed = {key[0] for key in base if base[key] != objects[key]}
    assert changed == {"Deployment", "NetworkPolicy"}
