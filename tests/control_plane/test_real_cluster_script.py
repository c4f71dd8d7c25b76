"""scripts/real-cluster: what `up` gives (built-in API services, the pinned version, CRDs that
`kubectl explain` knows, ServiceAccount tokens), and that `down` stops exactly what `up`
started and removes its state."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from fixtures_kube import wait_for
from fixtures_real_cluster import ROOT, XDIST_GROUP, RealCluster

CRDS = ROOT / "crds"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("real_cluster", ROOT / "scripts/real_cluster.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["real_cluster"] = module
    spec.loader.exec_module(module)
    return module


script = load_script()


def test_the_pinned_version_is_stamped_into_the_binary() -> None:
    versions = script.module_versions()
    assert versions["kubernetes"].startswith("v1.")
    assert versions["etcd"].startswith("v3.")
    flags = script.version_ldflags()
    assert f"k8s.io/component-base/version.gitVersion={versions['kubernetes']}" in flags
    assert "k8s.io/client-go/pkg/version.gitMinor=" in flags


def test_a_reused_pid_is_not_taken_for_ours() -> None:
    me = script.Process("me", os.getpid(), script.start_ticks(os.getpid()), [], "")
    assert script.is_ours(me)
    assert not script.is_ours(script.Process("me", os.getpid(), me.start_ticks + 1, [], ""))


def test_up_serves_the_built_in_apis_and_our_crds(real_cluster: RealCluster) -> None:
    services = real_cluster.ok("get", "apiservices", "-o", "name").split()
    for name in ("v1.", "v1.apps", "v1.apiextensions.k8s.io", "v1.rbac.authorization.k8s.io"):
        assert f"apiservice.apiregistration.k8s.io/{name}" in services
    version = json.loads(real_cluster.ok("version", "-o", "json"))["serverVersion"]
    assert version["gitVersion"] == script.module_versions()["kubernetes"]

    real_cluster.ok("apply", "-f", str(CRDS))
    real_cluster.ok("wait", "--for=condition=Established", "--timeout=30s", "crd", "--all")

    def explained() -> str | None:
        # The CRD's OpenAPI schema is published a moment after it is Established.
        done = real_cluster.kubectl("explain", "modelrefs.spec")
        return done.stdout if done.returncode == 0 else None

    out = wait_for(explained, timeout=30, interval=0.5, what="kubectl explain modelrefs.spec")
    assert "KIND:       ModelRef" in out
    assert "model\t<Object> -required-" in out


def test_service_accounts_get_tokens_from_the_token_request_api(
    real_cluster: RealCluster, tmp_path: Path
) -> None:
    kubeconfig = real_cluster.service_account_kubeconfig(
        "default", "default", tmp_path / "sa.kubeconfig"
    )
    done = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", "auth", "whoami", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    user = json.loads(done.stdout)["status"]["userInfo"]
    assert user["username"] == "system:serviceaccount:default:default"


@pytest.mark.real_cluster
@pytest.mark.xdist_group(XDIST_GROUP)
def test_down_stops_exactly_what_up_started(tmp_path: Path) -> None:
    state_dir, kubeconfig = tmp_path / "state", tmp_path / "kubeconfig"
    real_cluster = [sys.executable, str(ROOT / "scripts" / "real_cluster.py")]
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        up = subprocess.run(
            [*real_cluster, "up", f"--kubeconfig-out={kubeconfig}", f"--state-dir={state_dir}"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert up.returncode == 0, up.stderr
        assert "up in" in up.stderr
        assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
        state = json.loads((state_dir / "state.json").read_text())
        pids = {name: p["pid"] for name, p in state["processes"].items()}
        assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager"}
        assert all(Path(f"/proc/{pid}").exists() for pid in pids.values())

        again = subprocess.run(
            [*real_cluster, "up", f"--kubeconfig-out={kubeconfig}", f"--state-dir={state_dir}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert again.returncode == 1
        assert f"a control plane already runs from {state_dir}" in again.stderr
        assert "real-cluster down --state-dir" in again.stderr

        down = subprocess.run(
            [*real_cluster, "down", f"--state-dir={state_dir}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert down.returncode == 0, down.stderr
        assert not state_dir.exists()
        for pid in pids.values():
            assert script.start_ticks(pid) is None, pid
        assert bystander.poll() is None  # a process it did not start is left alone
    finally:
        bystander.send_signal(signal.SIGTERM)
        bystander.wait(10)
        subprocess.run([*real_cluster, "down", f"--state-dir={state_dir}"], timeout=60, check=False)


def test_down_of_nothing_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "real_cluster.py"),
            "down",
            "--state-dir",
            str(tmp_path / "none"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0
    assert f"nothing runs from {tmp_path / 'none'}" in done.stderr


@pytest.mark.real_cluster
@pytest.mark.xdist_group(XDIST_GROUP)
def test_up_starts_on_other_ports_when_one_is_taken_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        real_free_port = script.free_port
        handed_out = iter([port])  # etcd's client port first: already bound by us
        monkeypatch.setattr(script, "free_port", lambda: next(handed_out, None) or real_free_port())
        state_dir = tmp_path / "state"
        try:
            state = script.up(state_dir, tmp_path / "kubeconfig", 60.0, script.TextLog(False))
            assert state.etcd_port != port
            assert "starting on other ports" in capsys.readouterr().err
        finally:
            script.down(state_dir, script.TextLog(True))
