"""`modelsync version`: this build, and the Kubernetes and catalog API versions it speaks."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
from typing import Any

from modelsync.api.constants import API_VERSION, KIND_MODELREF, KIND_SYNC

__all__ = [
    "CATALOG_API",
    "CATALOG_API_PATH",
    "CATALOG_API_VERSION",
    "KUBERNETES_APIS",
    "MINIMUM_KUBERNETES",
    "TESTED_KUBERNETES",
    "add_arguments",
    "report",
    "run",
]

# (apiVersion, kinds) of everything the operator reads or writes.
KUBERNETES_APIS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (API_VERSION, (KIND_SYNC, KIND_MODELREF)),
    ("coordination.k8s.io/v1", ("Lease",)),
    ("v1", ("Secret", "Event")),
)
# The CRDs' x-kubernetes-validations rules are enforced from 1.25 (beta, on by default);
# apiextensions.k8s.io/v1 servers from 1.16 take the CRDs but skip the rules, which the
# operator checks again itself (crds/modelcatalogsyncs.yaml).
MINIMUM_KUBERNETES = "1.25"
# The real control plane of the tests (tools/control-plane/go.mod).
TESTED_KUBERNETES = "v1.33.13"
# The catalog's List Models API: info.version and path of tests/data/list-models.openapi.yaml.
CATALOG_API = "TrueFoundry List Models API"
CATALOG_API_VERSION = "0.1.0"
CATALOG_API_PATH = "/api/ml/v1/models"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        choices=["text", "json"],
        default="text",
        help="text: one line per item; json: one JSON object (default text)",
    )


def _distribution(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def report() -> dict[str, Any]:
    """What `modelsync version -o json` prints."""
    from modelsync.cli import package_version

    return {
        "modelsync": package_version(),
        "kubernetes": {
            "apiVersions": [
                {"apiVersion": api, "kinds": list(kinds)} for api, kinds in KUBERNETES_APIS
            ],
            "minimumServerVersion": MINIMUM_KUBERNETES,
            "testedServerVersion": TESTED_KUBERNETES,
            "clientLibraries": {
                "kubernetes": _distribution("kubernetes"),
                "kopf": _distribution("kopf"),
            },
        },
        "catalog": {
            "api": CATALOG_API,
            "version": CATALOG_API_VERSION,
            "path": CATALOG_API_PATH,
        },
    }


def _text(data: dict[str, Any]) -> str:
    kube, catalog = data["kubernetes"], data["catalog"]
    apis = ", ".join(
        f"{item['apiVersion']} ({', '.join(item['kinds'])})" for item in kube["apiVersions"]
    )
    libraries = ", ".join(
        f"{name} {version or 'not installed'}" for name, version in kube["clientLibraries"].items()
    )
    return "\n".join(
        [
            f"modelsync {data['modelsync']}",
            f"Kubernetes APIs: {apis}",
            f"Kubernetes server: {kube['minimumServerVersion']} or newer (CRD validation "
            f"rules); tested with {kube['testedServerVersion']}",
            f"Kubernetes client: {libraries} (Python)",
            f"Catalog API: {catalog['api']} {catalog['version']} (GET {catalog['path']})",
        ]
    )


def run(args: argparse.Namespace) -> int:
    data = report()
    print(json.dumps(data, indent=2) if args.output == "json" else _text(data))
    return 0
