"""OpenAPI v3 of custom resources: the schemas a CRD version publishes under
components.schemas (kind and list kind), and what `kubectl explain` prints from them."""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

import pytest
import yaml

from fidelity.runner import CRD_DIR, REAL, Ctx, Pair, compare
from fixtures_real_cluster import XDIST_GROUP

pytestmark = [pytest.mark.real_cluster, pytest.mark.xdist_group(XDIST_GROUP)]

PUBLISHED = {
    "apis/modelsync.dev/v1alpha1": (
        "dev.modelsync.v1alpha1.ModelRef",
        "dev.modelsync.v1alpha1.ModelRefList",
        "dev.modelsync.v1alpha1.ModelCatalogSync",
        "dev.modelsync.v1alpha1.ModelCatalogSyncList",
    ),
    "apis/example.dev/v1": ("dev.example.v1.Widget", "dev.example.v1.WidgetList"),
}
PUBLISH_WITHIN = 60.0  # seconds
# Fields whose explain output must carry their CRD description: (kubectl explain argument,
# (CRD kind, property path below the version's schema)).
DESCRIBED = (
    ("modelcatalogsyncs.spec.versionSelector", ("ModelCatalogSync", "spec.versionSelector")),
    (
        "modelcatalogsyncs.spec.versionSelector.aliasSemver",
        ("ModelCatalogSync", "spec.versionSelector.aliasSemver"),
    ),
    ("modelcatalogsyncs.spec.pins", ("ModelCatalogSync", "spec.pins")),
    ("modelcatalogsyncs.spec.webhook", ("ModelCatalogSync", "spec.webhook")),
    ("modelrefs.spec.pinned", ("ModelRef", "spec.pinned")),
)
# Not `metadata` (nor --recursive at a kind's root): the sandbox names ObjectMeta without
# spelling out its fields.
EXPLAINED = (
    "modelrefs",
    "modelrefs.spec.version",
    "mref.status.conditions.reason",
    "modelcatalogsyncs.spec --recursive",
    "mcs.spec.select.frameworks",
    "modelcatalogsyncs.status",
    *(what for what, _ in DESCRIBED),
    "widgets",
    "widgets.spec",
    "widgets.spec.extra",
)


def _published(t: Ctx, group_version: str, names: tuple[str, ...]) -> dict[str, Any]:
    """The group version's schemas once all of `names` are in them: kube-apiserver publishes
    a CRD's OpenAPI a moment after the CRD is established, not at once."""
    deadline = time.monotonic() + PUBLISH_WITHIN
    while True:
        index = t.server.request("GET", "/openapi/v3").obj()
        entry = index["paths"].get(group_version)
        schemas: dict[str, Any] = {}
        if entry is not None:
            path, _, query = entry["serverRelativeURL"].partition("?")
            reply = t.server.request("GET", path, query=dict(urllib.parse.parse_qsl(query)))
            # 301: the schemas changed between the index and this request (the index names
            # them by hash); read the index again.
            if reply.status == 200:
                schemas = reply.obj()["components"]["schemas"]
        if all(name in schemas for name in names):
            return schemas
        if time.monotonic() > deadline:
            raise AssertionError(f"{group_version} not published in {PUBLISH_WITHIN:g}s: {names}")
        time.sleep(0.2)


def _explainable(t: Ctx, *fields: str) -> None:
    """Wait until kubectl explains `fields` (it reads the OpenAPI the server publishes a
    moment after the CRD is established)."""
    deadline = time.monotonic() + PUBLISH_WITHIN
    while any(t.server.kubectl("explain", field).rc != 0 for field in fields):
        if time.monotonic() > deadline:
            raise AssertionError(f"kubectl cannot explain {fields} after {PUBLISH_WITHIN:g}s")
        time.sleep(0.2)


def _script(t: Ctx) -> None:
    for group_version, names in PUBLISHED.items():
        schemas = _published(t, group_version, names)
        for name in names:
            t.record(name, schemas.get(name))
    _explainable(t, "modelrefs.spec", "modelcatalogsyncs.spec", "widgets.spec")
    for what in EXPLAINED:
        t.kubectl(f"explain {what}", f"explain {what}")


def _description(kind: str, path: str) -> str:
    """A field's description in crds/, whitespace collapsed."""
    for file in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(file.read_text(encoding="utf-8"))
        if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
            continue
        if crd["spec"]["names"]["kind"] != kind:
            continue
        node = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for part in path.split("."):
            node = node["properties"][part]
        return " ".join(str(node["description"]).split())
    raise AssertionError(f"no CRD of kind {kind} in {CRD_DIR}")


@pytest.mark.usefixtures("project_pair")
def test_crd_schemas_and_explain(pair: Pair) -> None:
    transcripts = compare(pair, _script, namespace=False)
    # Equal on both servers; and what they print is the CRD's description of the field.
    explained = dict(transcripts[REAL])
    for what, (kind, path) in DESCRIBED:
        step = explained[f"explain {what}"]
        assert step["rc"] == 0, step["stderr"]
        printed = " ".join(step["stdout"].split())
        assert _description(kind, path) in printed, what
