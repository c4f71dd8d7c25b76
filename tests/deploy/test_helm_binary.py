"""helm as scripts/helm-binary builds it from tools/helm: the pinned version and the Kubernetes
version of its client-go are stamped in (as helm's own release build does), and the cache key
of scripts/gobuild.py follows everything that changes the binary."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gobuild
import helm_binary

from fixtures_helm import Helm


def test_the_pinned_helm_and_kubernetes_versions_are_stamped_in(helm: Helm, tmp_path: Path) -> None:
    versions = helm_binary.module_versions()
    assert versions["helm"].startswith("v3.")
    assert helm.ok("version", "--template={{.Version}}") == versions["helm"]

    # Unstamped, helm reports Kubernetes v1.20 to templates and fails kubeVersion ">=1.28".
    chart = tmp_path / "probe"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (chart / "templates" / "kube.yaml").write_text(
        "kind: Probe\nversion: {{ .Capabilities.KubeVersion.Version }}\n"
    )
    minor = versions["client-go"].split(".")[1]  # client-go v0.33.x is Kubernetes 1.33
    assert f"version: v1.{minor}.0" in helm.ok("template", str(chart))


def test_the_cache_key_follows_the_module_the_flags_and_the_build_environment(
    tmp_path: Path,
) -> None:
    module = tmp_path / "module"
    module.mkdir()
    (module / "go.mod").write_text("module example.test/probe\n\ngo 1.24.0\n")
    binary = dataclasses.replace(helm_binary.helm(), module_dir=module)
    go = gobuild.find_go()
    key = gobuild.build_key(binary, go)
    assert key.startswith(f"{binary.version}-")
    assert gobuild.build_key(binary, go) == key
    other_flags = dataclasses.replace(binary, ldflags=binary.ldflags + " -X a.b=c")
    other_env = dataclasses.replace(binary, build_env={"CGO_ENABLED": "1"})
    keys = [key, gobuild.build_key(other_flags, go), gobuild.build_key(other_env, go)]
    (module / "tools.go").write_text("package probe\n")
    keys.append(gobuild.build_key(binary, go))
    assert len(set(keys)) == len(keys), keys
