# The generated kubernetes client types every field Optional and its bodies as models
# (dicts work at runtime); checking each access would bury the tests.
# mypy: disable-error-code="union-attr,index,no-untyped-call,arg-type,attr-defined,operator"
"""`--state-file`: the sandbox's objects and resourceVersion counter survive a restart,
including a `kill -TERM` of `modelsync sandbox kube`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from kubernetes import client

from fixtures_kube import api_client, install_widget_crd, kubectl, start_sandbox

WIDGET = {
    "apiVersion": "example.dev/v1",
    "kind": "Widget",
    "metadata": {"name": "kept"},
    "spec": {"size": 2},
}


def test_objects_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = start_sandbox(tmp_path / "one", state_file=state)
    try:
        install_widget_crd(first.kubeconfig_path)
        with api_client(first.kubeconfig_path) as api:
            custom = client.CustomObjectsApi(api)
            made = custom.create_namespaced_custom_object(
                "example.dev", "v1", "default", "widgets", WIDGET
            )
            client.CoreV1Api(api).create_namespace({"metadata": {"name": "kept-ns"}})
    finally:
        first.stop_in_thread()

    second = start_sandbox(tmp_path / "two", state_file=state)
    try:
        with api_client(second.kubeconfig_path) as api:
            custom = client.CustomObjectsApi(api)
            # The CRD is served at once: no need to wait for Established again.
            again = custom.get_namespaced_custom_object(
                "example.dev", "v1", "default", "widgets", "kept"
            )
            assert again == made
            assert client.CoreV1Api(api).read_namespace("kept-ns").status.phase == "Active"
            changed = custom.patch_namespaced_custom_object(
                "example.dev", "v1", "default", "widgets", "kept", {"spec": {"size": 3}}
            )
            rv_after = int(changed["metadata"]["resourceVersion"])
            assert rv_after > int(made["metadata"]["resourceVersion"])
        # The CA is kept beside the state file: a restarted sandbox keeps clients' trust.
        assert second.ca_pem == first.ca_pem
    finally:
        second.stop_in_thread()
    saved = json.loads(state.read_text())
    assert saved["resourceVersion"] == rv_after


def _start_cli(tmp_path: Path, state: Path, kubeconfig: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelsync",
            "sandbox",
            "kube",
            "--port",
            "0",
            "--kubeconfig-out",
            str(kubeconfig),
            "--state-file",
            str(state),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert "serving at https://127.0.0.1:" in first, process.stderr.read() if process.stderr else ""
    second = process.stdout.readline()
    assert second.strip() == f"export KUBECONFIG={kubeconfig.resolve()}"
    return process


def _stop_cli(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "stopped" in out


def test_cli_keeps_state_across_sigterm(tmp_path: Path) -> None:
    state, kubeconfig = tmp_path / "state.json", tmp_path / "kc.yaml"
    process = _start_cli(tmp_path, state, kubeconfig)
    try:
        made = kubectl(kubeconfig, "create", "configmap", "kept", "--from-literal=a=b")
        assert made.returncode == 0, made.stderr
    finally:
        _stop_cli(process)
    process = _start_cli(tmp_path, state, kubeconfig)
    try:
        got = kubectl(kubeconfig, "get", "configmap", "kept", "-o", "jsonpath={.data.a}")
        assert got.returncode == 0, got.stderr
        assert got.stdout == "b"
    finally:
        _stop_cli(process)
