"""`modelsync render` says what a real kube-apiserver says: each bad ModelCatalogSync below goes
to `kubectl apply --dry-run=server` on the real control plane (tests/fixtures_real_cluster.py)
and through the render's checks, and every problem the render names is in kubectl's error,
word for word (the server stops at unknown fields, so those documents have nothing else)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures_kube import unique_name
from fixtures_real_cluster import RealCluster
from modelsync.render import sync_validator

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"
BASE: dict[str, Any] = {
    "apiVersion": "modelsync.dev/v1alpha1",
    "kind": "ModelCatalogSync",
    "metadata": {"name": "render-check"},
    "spec": {
        "catalog": {
            "url": "https://catalog.example",
            "tokenSecretRef": {"name": "tfy-api", "key": "token"},
        }
    },
}


def _with(path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node.setdefault(part, {})
    if value is None:
        del node[last]
    else:
        node[last] = value
    return doc


BAD: dict[str, dict[str, Any]] = {
    "unknown-select-field": _with("spec.select", {"namepattern": "^fraud"}),
    "unknown-metadata-field": _with("metadata.lables", {"team": "risk"}),
    "duration-not-matching": _with("spec.interval", "5x"),
    "duration-out-of-range": _with("spec.interval", "2562048h"),
    "interval-too-short": _with("spec.interval", "1s"),
    "enum-blocks-the-rules": _with("spec.versionPolicy", "Newest"),
    "wrong-type": _with("spec.maxDeletions", "ten"),
    "duplicate-framework": _with("spec.select", {"frameworks": ["onnx", "onnx"]}),
    "label-value": _with("spec.modelRefTemplate", {"labels": {"team": "a b"}}),
    "label-key": _with("spec.modelRefTemplate", {"labels": {"a/b/c": "x"}}),
    "bad-name": _with("metadata.name", "Render_Check"),
    "missing-token-ref": _with("spec.catalog.tokenSecretRef", None),
}
BAD["enum-blocks-the-rules"]["spec"]["interval"] = "1s"


@pytest.fixture(scope="module")
def namespace(real_cluster: RealCluster) -> Iterator[str]:
    done = real_cluster.kubectl("apply", "-f", str(CRD_DIR))
    assert done.returncode == 0, done.stderr
    real_cluster.ok("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    name = unique_name("render")
    real_cluster.ok("create", "namespace", name)
    yield name
    real_cluster.ok("delete", "namespace", name, "--wait=false")


@pytest.mark.parametrize("case", sorted(BAD))
def test_the_render_names_what_the_server_names(
    case: str, real_cluster: RealCluster, namespace: str
) -> None:
    doc = copy.deepcopy(BAD[case])
    doc["metadata"]["namespace"] = namespace
    problems = sync_validator().admit(doc).problems
    assert problems, "the render accepts it"
    done = real_cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(doc))
    assert done.returncode != 0, f"the server accepts it: {done.stdout}"
    said = done.stderr
    for problem in problems:
        assert problem.text in said, f"{problem.text!r} not in:\n{said}"
