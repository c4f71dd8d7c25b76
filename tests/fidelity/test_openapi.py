"""OpenAPI v3 of custom resources: the schemas a CRD version publishes under
components.schemas (kind and list kind), and what `kubectl explain` prints from them."""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

import pytest

from fidelity.runner import Ctx, Pair, compare
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
# Not `metadata` (nor --recursive at a kind's root): the sandbox names ObjectMeta without
# spelling out its fields.
EXPLAINED = (
    "modelrefs",
    "modelrefs.spec.version",
    "mref.status.conditions.reason",
    "modelcatalogsyncs.spec --recursive",
    "mcs.spec.select.frameworks",
    "modelcatalogsyncs.status",
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


@pytest.mark.usefixtures("project_pair")
def test_crd_schemas_and_explain(pair: Pair) -> None:
    compare(pair, _script, namespace=False)
