"""OpenAPI v3 of custom resources: the schemas a CRD version publishes under
components.schemas (kind and list kind), and what `kubectl explain` prints from them."""

from __future__ import annotations

import urllib.parse

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


def _script(t: Ctx) -> None:
    index = t.server.request("GET", "/openapi/v3").obj()
    for group_version, names in PUBLISHED.items():
        path, _, query = index["paths"][group_version]["serverRelativeURL"].partition("?")
        reply = t.server.request("GET", path, query=dict(urllib.parse.parse_qsl(query)))
        schemas = reply.obj()["components"]["schemas"]
        for name in names:
            t.record(name, schemas.get(name))
    for what in EXPLAINED:
        t.kubectl(f"explain {what}", f"explain {what}")


@pytest.mark.usefixtures("project_pair")
def test_crd_schemas_and_explain(pair: Pair) -> None:
    compare(pair, _script, namespace=False)
