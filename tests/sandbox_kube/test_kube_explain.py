"""`kubectl explain` and the printer columns of the project's CRDs, with the real kubectl
(v1.32): the sandbox serves the OpenAPI v3 explain reads, with every field's description.

Runs against a real cluster too when MODELSYNC_E2E_KUBECONFIG is set; tests/fidelity/
test_openapi.py holds the sandbox's documents and explain output equal to kube-apiserver's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures_kube import ClusterHandle, kubectl

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"
GROUP_VERSION = "apis/modelsync.dev/v1alpha1"


def ok(kubeconfig: Path, *args: str, input: str | None = None) -> str:
    done = kubectl(kubeconfig, *args, input=input)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def schema_of(filename: str) -> dict[str, Any]:
    crd = yaml.safe_load((CRD_DIR / filename).read_text(encoding="utf-8"))
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def words(text: str) -> str:
    """`text` with every run of whitespace made one space (explain wraps at 76 columns)."""
    return re.sub(r"\s+", " ", text).strip()


def at(schema: Mapping[str, Any], dotted: str) -> Mapping[str, Any]:
    node = schema
    for name in dotted.split("."):
        node = node["properties"][name]
    return node


def names_below(node: Mapping[str, Any]) -> Iterator[str]:
    """Every property name in `node`'s subtree (through array items and map values)."""
    for name, child in (node.get("properties") or {}).items():
        yield name
        yield from names_below(child)
        for key in ("items", "additionalProperties"):
            if isinstance(child.get(key), Mapping):
                yield from names_below(child[key])


@pytest.fixture
def project_cluster(cluster: ClusterHandle) -> Path:
    kc = cluster.kubeconfig_path
    ok(kc, "apply", "-f", str(CRD_DIR))
    ok(kc, "wait", "--for=condition=Established", "--timeout=30s", "-f", str(CRD_DIR))
    return kc


def test_explain_prints_a_fields_description_and_its_fields(project_cluster: Path) -> None:
    out = ok(project_cluster, "explain", "modelrefs.spec.version")
    version = at(schema_of("modelrefs.yaml"), "spec.version")
    assert out.startswith("GROUP:      modelsync.dev\nKIND:       ModelRef\n"), out
    assert "FIELD: version <Object>" in out
    assert words(version["description"]) in words(out)
    for name, field in version["properties"].items():
        assert re.search(rf"^  {name}\t<", out, re.MULTILINE), name
        assert words(field["description"]) in words(out), name
    assert re.search(r"^  id\t<string> -required-$", out, re.MULTILINE)


def test_explain_recursive_lists_every_spec_field(project_cluster: Path) -> None:
    out = ok(project_cluster, "explain", "modelcatalogsyncs.spec", "--recursive")
    spec = at(schema_of("modelcatalogsyncs.yaml"), "spec")
    assert words(spec["description"]) in words(out)
    listed = {line.split("\t")[0].strip() for line in out.split("FIELDS:", 1)[1].splitlines()}
    assert set(names_below(spec)) <= listed, set(names_below(spec)) - listed


def test_explain_of_a_leaf_field_shows_default_and_units(project_cluster: Path) -> None:
    out = ok(project_cluster, "explain", "modelcatalogsyncs.spec.catalog.timeoutSeconds")
    assert "FIELD: timeoutSeconds <integer>" in out
    assert "in seconds" in words(out)
    assert "Default 30; 1 to 300." in words(out)
    policy = ok(project_cluster, "explain", "mcs.spec.versionPolicy")
    assert "ENUM:\n    LatestDeployable\n    Latest" in policy


def test_served_schemas_describe_every_field(project_cluster: Path) -> None:
    index = json.loads(ok(project_cluster, "get", "--raw", "/openapi/v3"))
    url = index["paths"][GROUP_VERSION]["serverRelativeURL"]
    assert re.fullmatch(rf"/openapi/v3/{GROUP_VERSION}\?hash=[0-9A-F]+", url), url
    document = json.loads(ok(project_cluster, "get", "--raw", url))
    schemas = document["components"]["schemas"]
    for kind in ("ModelRef", "ModelCatalogSync"):
        schema = schemas[f"dev.modelsync.v1alpha1.{kind}"]
        assert schema["x-kubernetes-group-version-kind"] == [
            {"group": "modelsync.dev", "kind": kind, "version": "v1alpha1"}
        ]
        missing: list[str] = []

        def walk(node: Mapping[str, Any], prefix: str, missing: list[str] = missing) -> None:
            for name, child in (node.get("properties") or {}).items():
                path = f"{prefix}.{name}" if prefix else name
                if not child.get("description"):
                    missing.append(path)
                walk(child, path)
                if isinstance(child.get("items"), Mapping):
                    walk(child["items"], f"{path}[]")

        walk(schema, "")
        assert not missing, f"{kind}: served without a description: {missing}"
        (meta,) = schema["properties"]["metadata"]["allOf"]
        assert meta["$ref"].endswith(".meta.v1.ObjectMeta")
        assert schemas[f"dev.modelsync.v1alpha1.{kind}List"]["required"] == ["items"]


def _sync(name: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "modelsync.dev/v1alpha1",
            "kind": "ModelCatalogSync",
            "metadata": {"name": name},
            "spec": {
                "catalog": {
                    "url": "https://catalog.example.com",
                    "tokenSecretRef": {"name": "tfy-api", "key": "token"},
                },
            },
        }
    )


def test_wide_output_shows_the_ready_message(project_cluster: Path, namespace: str) -> None:
    kc = project_cluster
    ok(kc, "apply", "-n", namespace, "-f", "-", input=_sync("s1"))
    message = "4 models selected, 0 retained, 0 failed"
    status = {
        "status": {
            "modelRefs": {"selected": 4},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Synced",
                    "message": message,
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
        }
    }
    patch = ("patch", "mcs", "s1", "-n", namespace, "--subresource=status", "--type=merge")
    ok(kc, *patch, "-p", json.dumps(status))

    plain = ok(kc, "get", "mcs", "-n", namespace).splitlines()
    assert re.split(r"\s{2,}", plain[0].strip()) == [
        "NAME", "URL", "MODELS", "READY", "LAST SYNC", "AGE",
    ]  # fmt: skip
    wide = ok(kc, "get", "mcs", "-n", namespace, "-o", "wide").splitlines()
    assert re.split(r"\s{2,}", wide[0].strip()) == [
        "NAME", "URL", "MODELS", "READY", "REASON", "LAST SYNC", "AGE", "MESSAGE",
    ]  # fmt: skip
    row = re.split(r"\s{2,}", wide[1].strip())
    assert row[:5] == ["s1", "https://catalog.example.com", "4", "True", "Synced"]
    assert row[-1] == message
