"""load_configuration's failures: one line naming the kubeconfig (or the in-cluster account)
and the fix, never the client library's bare "No configuration found" or a stack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelsync.kube.client import load_configuration
from modelsync.kube.errors import KubeConfigError

GOOD = (
    "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
    "clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:6443\n"
    "users:\n- name: u\n  user:\n    token: t\n"
    "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n"
)


@pytest.fixture
def no_kube_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def failure(kubeconfig: str | None = None, context: str | None = None) -> str:
    with pytest.raises(KubeConfigError) as raised:
        load_configuration(kubeconfig, context)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_a_missing_file_is_named_with_where_it_came_from(
    no_kube_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = no_kube_env / "nonexistent"
    assert failure(str(missing)) == (
        f"kubeconfig {missing} (from --kubeconfig): no such file; point --kubeconfig at an "
        "existing kubeconfig file"
    )
    monkeypatch.setenv("KUBECONFIG", f"{missing}{os.pathsep}{missing}-too")
    assert failure() == (
        f"kubeconfig {missing} or {missing}-too (from KUBECONFIG): no such file; point "
        "KUBECONFIG at an existing kubeconfig file"
    )


@pytest.mark.usefixtures("no_kube_env")
def test_no_configuration_anywhere_says_where_one_could_be() -> None:
    assert failure() == (
        "no Kubernetes configuration: set KUBECONFIG or --kubeconfig, run in a cluster, or "
        "create ~/.kube/config"
    )


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("", "file is empty"),
        ("clusters: [\n", "while parsing"),
        ("- just\n- a list\n", "not a kubeconfig file"),
        ("apiVersion: v1\nkind: Config\n", "current-context"),
    ],
)
def test_a_broken_file_is_named(no_kube_env: Path, content: str, says: str) -> None:
    path = no_kube_env / "kubeconfig"
    path.write_text(content)
    message = failure(str(path))
    assert message.startswith(f"cannot load the Kubernetes configuration from {path}: ")
    assert says in message
    assert "--kubeconfig" in message


def test_a_directory_and_an_unknown_context_are_named(no_kube_env: Path) -> None:
    assert failure(str(no_kube_env)).startswith(
        f"cannot load the Kubernetes configuration from {no_kube_env}: "
    )
    path = no_kube_env / "kubeconfig"
    path.write_text(GOOD)
    message = failure(str(path), "elsewhere")
    assert message.startswith(f"cannot load the Kubernetes configuration from {path}: ")
    assert "elsewhere" in message
    assert message.endswith("choose another with --kubeconfig or --context")


def test_a_good_file_loads_from_the_flag_the_variable_and_home(
    no_kube_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = no_kube_env / "kubeconfig"
    path.write_text(GOOD)
    assert load_configuration(str(path)).host == "https://127.0.0.1:6443"
    monkeypatch.setenv("KUBECONFIG", f"{no_kube_env / 'absent'}{os.pathsep}{path}")
    assert load_configuration().host == "https://127.0.0.1:6443"
    monkeypatch.delenv("KUBECONFIG")
    (no_kube_env / ".kube").mkdir()
    (no_kube_env / ".kube" / "config").write_text(GOOD)
    assert load_configuration().host == "https://127.0.0.1:6443"
