"""Bodies of every kind the operator uses, valid unless a test spoils them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fidelity.runner import JsonObject


def widget(name: str, size: int = 3, **spec: Any) -> JsonObject:
    return {
        "apiVersion": "example.dev/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": size, **spec},
    }


def secret(name: str, **data: str) -> JsonObject:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "stringData": data or {"token": "xyz"},
    }


def lease(name: str, holder: str = "pod-a", seconds: int = 15) -> JsonObject:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": seconds},
    }


def core_event(name: str, namespace: str, about: str = "sync-a") -> JsonObject:
    """A core/v1 Event as Kopf and the operator post them."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name},
        "involvedObject": {
            "apiVersion": "modelsync.dev/v1alpha1",
            "kind": "ModelCatalogSync",
            "name": about,
            "namespace": namespace,
            "uid": "3b0a3f6e-2c4f-4c39-9a43-2a4b7a0f1d11",
        },
        "reason": "Synced",
        "message": "4 models selected",
        "type": "Normal",
        "source": {"component": "modelsync"},
        "firstTimestamp": "2026-01-02T03:04:05Z",
        "lastTimestamp": "2026-01-02T03:04:05Z",
        "count": 1,
    }


def events_v1_event(name: str, namespace: str, about: str = "sync-a") -> JsonObject:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name},
        "eventTime": "2026-01-02T03:04:05.000000Z",
        "reportingController": "modelsync.dev/operator",
        "reportingInstance": "modelsync-0",
        "action": "Sync",
        "reason": "Synced",
        "note": "4 models selected",
        "type": "Normal",
        "regarding": {
            "apiVersion": "modelsync.dev/v1alpha1",
            "kind": "ModelCatalogSync",
            "name": about,
            "namespace": namespace,
        },
    }


def namespace(name: str, **labels: str) -> JsonObject:
    meta: JsonObject = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def model_catalog_sync(name: str, **spec: Any) -> JsonObject:
    return {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelCatalogSync",
        "metadata": {"name": name},
        "spec": {
            "catalog": {
                "url": "https://catalog.example.com",
                "tokenSecretRef": {"name": "tfy-api", "key": "token"},
            },
            **spec,
        },
    }


def model_ref(name: str, version: int = 3) -> JsonObject:
    fqn = "model:acme/fraud/fraud-detector"
    return {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelRef",
        "metadata": {"name": name, "labels": {"modelsync.dev/sync": "sync-a"}},
        "spec": {
            "model": {"id": "m-1", "name": "fraud-detector", "fqn": fqn, "mlRepo": "fraud"},
            "version": {
                "id": f"v-{version}",
                "fqn": f"{fqn}:{version}",
                "version": version,
                "deployable": True,
                "framework": {"type": "sklearn", "libraryVersion": "1.5"},
            },
        },
    }


def crd(plural: str, group: str = "fidelity.example.dev", **version_extra: Any) -> JsonObject:
    """A small CRD of its own (a test's, created and deleted in it)."""
    kind = plural[:-1].capitalize()
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1], "kind": kind},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "min": {"type": "integer"},
                                        "max": {"type": "integer"},
                                    },
                                }
                            },
                        }
                    },
                    **version_extra,
                }
            ],
        },
    }


def status_condition(status: str = "True", reason: str = "Synced") -> JsonObject:
    return {
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": "ok",
        "lastTransitionTime": "2026-01-02T03:04:05Z",
    }


@dataclass(frozen=True)
class Kind:
    id: str
    resource: str  # as kubectl names it
    make: Callable[[str], JsonObject]  # namespace -> body
    change: Callable[[JsonObject, int], None]  # the n-th edit, for apply and replace
    merge: JsonObject
    json_patch: list[JsonObject]
    strategic: JsonObject | None  # None: a custom resource, which refuses strategic merge
    namespaced: bool = True
    project_crds: bool = False


def _edit_spec(key: str) -> Callable[[JsonObject, int], None]:
    def change(obj: JsonObject, n: int) -> None:
        obj.setdefault("spec", {})[key] = n

    return change


def _edit_label(obj: JsonObject, n: int) -> None:
    obj["metadata"].setdefault("labels", {})["edit"] = str(n)


def _edit_secret(obj: JsonObject, n: int) -> None:
    obj["stringData"] = {"token": f"t{n}"}
    _edit_label(obj, n)


def _edit_event(obj: JsonObject, n: int) -> None:
    obj["count"] = n + 1
    obj["message"] = f"{n} models selected"


def _edit_mcs(obj: JsonObject, n: int) -> None:
    obj["spec"]["suspend"] = n % 2 == 1
    obj["spec"]["interval"] = f"{n}m"


def _edit_modelref(obj: JsonObject, n: int) -> None:
    obj["spec"]["version"]["version"] = n
    obj["spec"]["version"]["tags"] = [f"t{n}"]


def _edit_crd(obj: JsonObject, n: int) -> None:
    version = obj["spec"]["versions"][0]
    version["additionalPrinterColumns"] = [
        {"name": f"Min{n}", "type": "integer", "jsonPath": ".spec.min"}
    ]


def crd_plural(name: str) -> str:
    return "".join(ch for ch in name if ch.isalnum()) + "s"


# Every kind the operator uses, and the Widget test CRD: a body, the edits tests make, and a
# patch of each type (`strategic` None: a custom resource, which refuses strategic merge).
KINDS = [
    Kind(
        "widget",
        "widgets.example.dev",
        lambda _ns: widget("k1", tags=["a", "b"], extra={"free": {"x": 1}}),
        _edit_spec("size"),
        {"spec": {"owner": "ann", "tags": ["c"]}, "metadata": {"labels": {"m": "1"}}},
        [
            {"op": "replace", "path": "/spec/size", "value": 9},
            {"op": "add", "path": "/spec/tags/-", "value": "d"},
            {"op": "remove", "path": "/spec/owner"},
        ],
        None,
    ),
    Kind(
        "secret",
        "secrets",
        lambda _ns: secret("k1", token="abc", other="o"),
        _edit_secret,
        {"data": {"other": None, "more": "bW9yZQ=="}, "type": "Opaque"},
        [{"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}}],
        {"metadata": {"finalizers": ["example.dev/keep"]}, "data": {"k2": "djI="}},
    ),
    Kind(
        "lease",
        "leases.coordination.k8s.io",
        lambda _ns: lease("k1"),
        _edit_spec("leaseDurationSeconds"),
        {"spec": {"holderIdentity": "pod-b", "leaseTransitions": 1}},
        [{"op": "replace", "path": "/spec/holderIdentity", "value": "pod-c"}],
        {"spec": {"renewTime": "2026-01-02T03:04:05.000000Z"}},
    ),
    Kind(
        "event",
        "events",
        lambda ns: core_event("k1", ns),
        _edit_event,
        {"count": 7, "reason": "SyncFailed", "type": "Warning"},
        [{"op": "replace", "path": "/message", "value": "patched"}],
        {"source": {"host": "node-1"}},
    ),
    Kind(
        "namespace",
        "namespaces",
        lambda ns: namespace(f"{ns}-k", team="a"),
        _edit_label,
        {"metadata": {"labels": {"team": "b"}}},
        [{"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}}],
        {"metadata": {"labels": {"strategic": "yes"}}},
        namespaced=False,
    ),
    Kind(
        "crd",
        "customresourcedefinitions",
        lambda ns: crd(crd_plural(ns)),
        _edit_crd,
        {"metadata": {"labels": {"m": "1"}}, "spec": {"names": {"shortNames": ["fx"]}}},
        [{"op": "add", "path": "/spec/names/categories", "value": ["fidelity"]}],
        {"metadata": {"labels": {"s": "1"}}},
        namespaced=False,
    ),
    Kind(
        "modelcatalogsync",
        "modelcatalogsyncs.modelsync.dev",
        lambda _ns: model_catalog_sync("k1", select={"mlRepos": ["fraud"]}),
        _edit_mcs,
        {"spec": {"maxDeletions": 3, "select": {"namePattern": "^fraud-"}}},
        [{"op": "replace", "path": "/spec/deletionPolicy", "value": "Delete"}],
        None,
        project_crds=True,
    ),
    Kind(
        "modelref",
        "modelrefs.modelsync.dev",
        lambda _ns: model_ref("k1"),
        _edit_modelref,
        {"spec": {"version": {"versionAlias": "prod", "deployable": False}}},
        [{"op": "add", "path": "/spec/version/description", "value": "d"}],
        None,
        project_crds=True,
    ),
]


def path_of(kind: Kind, ns: str, body: JsonObject) -> str:
    """The URL path of `body`, an object of `kind`."""
    group, _, version = body["apiVersion"].rpartition("/")
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    plural = kind.resource.split(".")[0]
    scope = f"/namespaces/{ns}" if kind.namespaced else ""
    return f"{base}{scope}/{plural}/{body['metadata']['name']}"


def every_kind(ns: str, n: int = 0) -> list[JsonObject]:
    """A body of every kind (after the n-th edit), for one kubectl run over all of them."""
    bodies = []
    for kind in KINDS:
        body = kind.make(ns)
        if n:
            kind.change(body, n)
        bodies.append(body)
    return bodies
