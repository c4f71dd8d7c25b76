"""Rendering and reading the install manifests under deploy/ (with the real kubectl)."""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CLUSTER_SCOPED_KINDS",
    "CRD_DIR",
    "DEPLOY",
    "INSTALLABLE",
    "ROOT",
    "Manifest",
    "container",
    "find",
    "find_one",
    "kustomization_dirs",
    "render",
]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CRD_DIR = ROOT / "crds"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# What a user applies with `kubectl apply -k`; the rest are building blocks.
INSTALLABLE = ("deploy/crds", "deploy/base", "deploy/overlays/namespaced")
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
    }
)

Manifest = dict[str, Any]


def kustomization_dirs(kind: str = "Kustomization") -> list[Path]:
    """Folders under deploy/ (and crds/) holding a kustomization file of `kind`."""
    found: set[Path] = set()
    for base in (DEPLOY, CRD_DIR):
        for name in KUSTOMIZATION_FILES:
            for path in base.rglob(name):
                doc = yaml.safe_load(path.read_text(encoding="utf-8"))
                if isinstance(doc, dict) and doc.get("kind", "Kustomization") == kind:
                    found.add(path.parent)
    return sorted(found)


@functools.cache
def _render_text(directory: Path) -> str:
    done = subprocess.run(
        ["kubectl", "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{done.stderr}")
    return done.stdout


def render(directory: Path | str) -> list[Manifest]:
    """`kubectl kustomize DIR` as a list of objects (a fresh copy on every call)."""
    path = Path(directory)
    path = path if path.is_absolute() else ROOT / path
    docs = [d for d in yaml.safe_load_all(_render_text(path.resolve())) if d is not None]
    assert all(isinstance(d, dict) for d in docs)
    return docs


def render_base_with(
    overlay: Path, *components: str, labels: dict[str, str] | None = None
) -> list[Manifest]:
    """deploy/base with deploy/components/COMPONENTS, rendered through an overlay written to
    the empty directory `overlay` (kustomize takes only relative paths); `labels` are added to
    every object, the components' own included."""
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(ROOT / "deploy" / "base", overlay)],
        "components": [
            os.path.relpath(ROOT / "deploy" / "components" / c, overlay) for c in components
        ],
    }
    if labels:
        kustomization["labels"] = [{"pairs": labels}]
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), encoding="utf-8")
    return render(overlay)


def find(objects: Iterable[Manifest], kind: str, name: str | None = None) -> Iterator[Manifest]:
    for obj in objects:
        if obj.get("kind") == kind and (name is None or obj["metadata"]["name"] == name):
            yield obj


def find_one(objects: Iterable[Manifest], kind: str, name: str | None = None) -> Manifest:
    matches = list(find(objects, kind, name))
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def container(objects: Iterable[Manifest]) -> Manifest:
    """The operator container of the operator workload."""
    workload = find_one(objects, "Deployment", "modelsync")
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only
