# The generated kubernetes client types every field Optional and its bodies as models
# (dicts work at runtime); checking each access would bury the tests.
# mypy: disable-error-code="union-attr,index,no-untyped-call,arg-type,attr-defined,operator"
"""The sandbox driven by the real kubectl (v1.32): what people type must work.

Runs against a real cluster too when MODELSYNC_E2E_KUBECONFIG is set.
"""

from __future__ import annotations

import base64
import json
import queue
import re
import subprocess
import threading
from pathlib import Path

from fixtures_kube import WIDGET_CRD, ClusterHandle, kubectl, wait_for

WIDGET = """\
apiVersion: example.dev/v1
kind: Widget
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{app: demo}}
spec:
  size: {size}
"""


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"kubectl failed: {result.stderr}"
    return result.stdout


def apply_widget(kc: Path, namespace: str, name: str = "w1", size: int = 3) -> str:
    manifest = WIDGET.format(name=name, namespace=namespace, size=size)
    # No --validate=false: the sandbox's OpenAPI v3 index advertises server-side field
    # validation, so kubectl leaves validation to the server.
    return ok(kubectl(kc, "apply", "-f", "-", input=manifest))


def test_apply_crd_and_wait_until_established(cluster: ClusterHandle) -> None:
    kc = cluster.kubeconfig_path
    applied = ok(kubectl(kc, "apply", "-f", "-", input=json.dumps(WIDGET_CRD)))
    assert "customresourcedefinition.apiextensions.k8s.io/widgets.example.dev" in applied
    waited = ok(
        kubectl(
            kc, "wait", "--for", "condition=established", "--timeout=30s", "crd/widgets.example.dev"
        )
    )
    assert "condition met" in waited
    assert "widgets.example.dev" in ok(kubectl(kc, "get", "crds"))


def test_apply_cr_then_get_in_every_format(widget_cluster: ClusterHandle, namespace: str) -> None:
    kc = widget_cluster.kubeconfig_path
    assert "widget.example.dev/w1 created" in apply_widget(kc, namespace)

    obj = json.loads(ok(kubectl(kc, "get", "widget", "w1", "-n", namespace, "-o", "json")))
    assert obj["spec"] == {"size": 3, "color": "blue"}  # schema default applied
    assert obj["metadata"]["generation"] == 1
    assert "w1" in ok(kubectl(kc, "get", "wd", "w1", "-n", namespace, "-o", "yaml"))

    table = ok(kubectl(kc, "get", "widgets", "-n", namespace)).splitlines()
    assert table[0].split() == ["NAME", "SIZE", "READY", "AGE"]
    assert table[1].split()[:2] == ["w1", "3"]
    wide = ok(kubectl(kc, "get", "examples", "-n", namespace, "-o", "wide")).splitlines()
    assert wide[0].split() == ["NAME", "SIZE", "READY", "COLOR", "AGE"]
    assert wide[1].split()[:3] == ["w1", "3", "blue"]
    assert ok(kubectl(kc, "get", "wd", "-n", namespace, "-o", "name")).strip() == (
        "widget.example.dev/w1"
    )

    crds = ok(kubectl(kc, "get", "crds"))
    assert "widgets.example.dev" in crds
    resources = ok(kubectl(kc, "api-resources", "--api-group=example.dev"))
    assert "widgets" in resources
    assert "wd" in resources


def test_apply_again_is_unchanged_or_configured(
    widget_cluster: ClusterHandle, namespace: str
) -> None:
    kc = widget_cluster.kubeconfig_path
    apply_widget(kc, namespace)
    assert "unchanged" in apply_widget(kc, namespace)
    assert "configured" in apply_widget(kc, namespace, size=5)
    obj = json.loads(ok(kubectl(kc, "get", "wd", "w1", "-n", namespace, "-o", "json")))
    assert obj["spec"]["size"] == 5
    assert obj["metadata"]["generation"] == 2


def test_unknown_field_is_refused_by_strict_server_side_validation(
    widget_cluster: ClusterHandle, namespace: str
) -> None:
    kc = widget_cluster.kubeconfig_path
    manifest = WIDGET.format(name="w1", namespace=namespace, size=2) + "  bogus: 1\n"
    result = kubectl(kc, "apply", "-f", "-", input=manifest)
    assert result.returncode != 0
    assert 'strict decoding error: unknown field "spec.bogus"' in result.stderr


def test_label_annotate_and_patch(widget_cluster: ClusterHandle, namespace: str) -> None:
    kc = widget_cluster.kubeconfig_path
    apply_widget(kc, namespace)
    ok(kubectl(kc, "label", "wd", "w1", "-n", namespace, "tier=gold"))
    ok(kubectl(kc, "annotate", "wd", "w1", "-n", namespace, "note=hello"))
    ok(
        kubectl(
            kc,
            "patch",
            "wd",
            "w1",
            "-n",
            namespace,
            "--type",
            "merge",
            "-p",
            '{"spec":{"color":"red"}}',
        )
    )
    ok(
        kubectl(
            kc,
            "patch",
            "wd",
            "w1",
            "-n",
            namespace,
            "--type",
            "json",
            "-p",
            '[{"op":"replace","path":"/spec/size","value":7}]',
        )
    )
    obj = json.loads(ok(kubectl(kc, "get", "wd", "w1", "-n", namespace, "-o", "json")))
    assert obj["metadata"]["labels"] == {"app": "demo", "tier": "gold"}
    assert obj["metadata"]["annotations"]["note"] == "hello"
    assert obj["spec"] == {"size": 7, "color": "red"}
    # Labels and annotations are metadata: only the two spec patches bumped generation.
    assert obj["metadata"]["generation"] == 3
    listed = ok(kubectl(kc, "get", "wd", "-n", namespace, "-l", "tier=gold", "-o", "name"))
    assert listed.strip() == "widget.example.dev/w1"
    assert ok(kubectl(kc, "get", "wd", "-n", namespace, "-l", "tier!=gold", "-o", "name")) == ""


def test_patch_refuses_invalid_values(widget_cluster: ClusterHandle, namespace: str) -> None:
    kc = widget_cluster.kubeconfig_path
    apply_widget(kc, namespace)
    result = kubectl(
        kc, "patch", "wd", "w1", "-n", namespace, "--type", "merge", "-p", '{"spec":{"size":0}}'
    )
    assert result.returncode != 0
    assert "spec.size" in result.stderr
    assert "Invalid" in result.stderr


def test_wait_for_condition_ready_after_status_patch(
    widget_cluster: ClusterHandle, namespace: str
) -> None:
    kc = widget_cluster.kubeconfig_path
    apply_widget(kc, namespace)
    waiter = subprocess.Popen(
        [
            "kubectl",
            f"--kubeconfig={kc}",
            "wait",
            "--for=condition=Ready",
            "--timeout=20s",
            "-n",
            namespace,
            "widget/w1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        status = {
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "Done",
                        "message": "",
                        "lastTransitionTime": "2024-01-01T00:00:00Z",
                    }
                ]
            }
        }
        ok(
            kubectl(
                kc,
                "patch",
                "wd",
                "w1",
                "-n",
                namespace,
                "--subresource=status",
                "--type",
                "merge",
                "-p",
                json.dumps(status),
            )
        )
        out, err = waiter.communicate(timeout=25)
    finally:
        waiter.kill()
    assert waiter.returncode == 0, err
    assert "condition met" in out
    table = ok(kubectl(kc, "get", "wd", "w1", "-n", namespace)).splitlines()
    assert table[1].split()[:3] == ["w1", "3", "True"]


def _lines(stream: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert stream.stdout is not None
        for line in stream.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_get_watch_sees_a_change(widget_cluster: ClusterHandle, namespace: str) -> None:
    kc = widget_cluster.kubeconfig_path
    apply_widget(kc, namespace)
    watcher = subprocess.Popen(
        [
            "kubectl",
            f"--kubeconfig={kc}",
            "get",
            "wd",
            "-n",
            namespace,
            "-w",
            "--request-timeout=20s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = _lines(watcher)
        assert lines.get(timeout=10).split()[:1] == ["NAME"]
        assert lines.get(timeout=10).split()[:2] == ["w1", "3"]
        ok(
            kubectl(
                kc,
                "patch",
                "wd",
                "w1",
                "-n",
                namespace,
                "--type",
                "merge",
                "-p",
                '{"spec":{"size":9}}',
            )
        )
        assert lines.get(timeout=10).split()[:2] == ["w1", "9"]
    finally:
        watcher.kill()
        watcher.wait(5)


def test_describe_shows_spec_status_and_events(
    widget_cluster: ClusterHandle, namespace: str
) -> None:
    kc = widget_cluster.kubeconfig_path
    apply_widget(kc, namespace)
    uid = ok(kubectl(kc, "get", "wd", "w1", "-n", namespace, "-o", "jsonpath={.metadata.uid}"))
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "w1.evt", "namespace": namespace},
        "involvedObject": {
            "apiVersion": "example.dev/v1",
            "kind": "Widget",
            "name": "w1",
            "namespace": namespace,
            "uid": uid,
        },
        "reason": "Synced",
        "message": "all good",
        "type": "Normal",
        "source": {"component": "tests"},
        "count": 1,
        "firstTimestamp": "2024-01-01T00:00:00Z",
        "lastTimestamp": "2024-01-01T00:00:00Z",
    }
    ok(kubectl(kc, "create", "-f", "-", input=json.dumps(event)))
    described = ok(kubectl(kc, "describe", "wd", "w1", "-n", namespace))
    assert "Name:         w1" in described
    assert re.search(r"Size:\s+3", described)
    assert "Synced" in described
    assert "all good" in described


def test_delete_waits_for_finalizers(widget_cluster: ClusterHandle, namespace: str) -> None:
    kc = widget_cluster.kubeconfig_path
    apply_widget(kc, namespace)
    ok(
        kubectl(
            kc,
            "patch",
            "wd",
            "w1",
            "-n",
            namespace,
            "--type",
            "merge",
            "-p",
            '{"metadata":{"finalizers":["example.dev/hold"]}}',
        )
    )
    ok(kubectl(kc, "delete", "wd", "w1", "-n", namespace, "--wait=false"))
    obj = json.loads(ok(kubectl(kc, "get", "wd", "w1", "-n", namespace, "-o", "json")))
    assert obj["metadata"]["deletionTimestamp"]
    ok(
        kubectl(
            kc,
            "patch",
            "wd",
            "w1",
            "-n",
            namespace,
            "--type",
            "json",
            "-p",
            '[{"op":"remove","path":"/metadata/finalizers"}]',
        )
    )
    gone = kubectl(kc, "get", "wd", "w1", "-n", namespace)
    assert gone.returncode != 0
    assert 'widgets.example.dev "w1" not found' in gone.stderr


def test_delete_removes_the_object(widget_cluster: ClusterHandle, namespace: str) -> None:
    kc = widget_cluster.kubeconfig_path
    apply_widget(kc, namespace)
    assert 'widget.example.dev "w1" deleted' in ok(
        kubectl(kc, "delete", "wd", "w1", "-n", namespace)
    )
    assert ok(kubectl(kc, "get", "wd", "-n", namespace, "-o", "name")) == ""


def test_create_namespace_secret_and_configmap(cluster: ClusterHandle, namespace: str) -> None:
    kc = cluster.kubeconfig_path
    # kubectl's typed clients send these as protobuf.
    ok(
        kubectl(
            kc,
            "create",
            "secret",
            "generic",
            "creds",
            "-n",
            namespace,
            "--from-literal=token=s3cr3t",
        )
    )
    data = ok(
        kubectl(kc, "get", "secret", "creds", "-n", namespace, "-o", "jsonpath={.data.token}")
    )
    assert base64.b64decode(data) == b"s3cr3t"
    assert (
        ok(kubectl(kc, "get", "secret", "creds", "-n", namespace, "-o", "jsonpath={.type}"))
        == "Opaque"
    )
    ok(kubectl(kc, "create", "configmap", "settings", "-n", namespace, "--from-literal=a=b"))
    ok(
        kubectl(
            kc,
            "apply",
            "-f",
            "-",
            input=json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "applied", "namespace": namespace},
                    "data": {"x": "1", "y": "2"},
                }
            ),
        )
    )
    ok(
        kubectl(
            kc,
            "apply",
            "-f",
            "-",
            input=json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "applied", "namespace": namespace},
                    "data": {"x": "3"},
                }
            ),
        )
    )
    cm = json.loads(ok(kubectl(kc, "get", "cm", "applied", "-n", namespace, "-o", "json")))
    assert cm["data"] == {"x": "3"}  # kubectl's three-way strategic merge removed y
    listed = ok(kubectl(kc, "get", "configmaps", "-n", namespace, "-o", "name")).split()
    assert {"configmap/settings", "configmap/applied"} <= set(listed)
    ns = json.loads(ok(kubectl(kc, "get", "namespace", namespace, "-o", "json")))
    assert ns["status"]["phase"] == "Active"
    assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == namespace


def test_deleting_a_namespace_deletes_its_contents(cluster: ClusterHandle) -> None:
    kc = cluster.kubeconfig_path
    ok(kubectl(kc, "create", "namespace", "doomed"))
    ok(kubectl(kc, "create", "configmap", "c1", "-n", "doomed", "--from-literal=a=b"))
    ok(kubectl(kc, "delete", "namespace", "doomed", "--timeout=30s"))
    wait_for(
        lambda: kubectl(kc, "get", "namespace", "doomed").returncode != 0,
        timeout=30,
        what="namespace gone",
    )
    assert ok(kubectl(kc, "get", "configmaps", "-n", "doomed", "-o", "name")) == ""
