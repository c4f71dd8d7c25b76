"""Discovery documents: legacy (/api, /apis, /apis/{g}/{v}), aggregated (apidiscovery v2),
the version endpoint and a minimal OpenAPI v3 index.

The OpenAPI v3 documents describe only each resource's PATCH operation with its
`fieldValidation` parameter: enough for kubectl to detect server-side field
validation (cli-runtime query_param_verifier_v3.go) and leave validation to the
server. The OpenAPI v2 document is empty: no schemas (`kubectl explain` has
nothing to show), so client-side validation of kinds the server does not know
yet is skipped, as it is for unknown kinds on a real cluster.
"""

from __future__ import annotations

import base64
import hashlib
import json

from modelsync_sandbox.kube.errors import JsonObject
from modelsync_sandbox.kube.resources import STATUS_VERBS, Registry, ResourceType

KUBERNETES_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "modelsync-sandbox",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def _storage_version_hash(rt: ResourceType) -> str:
    digest = hashlib.sha256(f"{rt.group}/{rt.version}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _group_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def api_versions(server_address: str) -> JsonObject:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_doc(group: str, versions: list[str]) -> JsonObject:
    entries = [{"groupVersion": _group_version(group, v), "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> JsonObject:
    groups = [_group_doc(g, vs) for g, vs in registry.groups().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, group: str) -> JsonObject | None:
    versions = registry.groups().get(group)
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, versions)}


def api_resource_list(registry: Registry, group: str, version: str) -> JsonObject | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    resources: list[JsonObject] = []
    for rt in types:
        entry: JsonObject = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        entry["storageVersionHash"] = _storage_version_hash(rt)
        resources.append(entry)
        for sub in rt.subresources:
            resources.append(
                {
                    "name": f"{rt.plural}/{sub}",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": ["update"] if sub == "finalize" else list(STATUS_VERBS),
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": _group_version(group, version),
        "resources": resources,
    }


def _aggregated_resource(rt: ResourceType) -> JsonObject:
    kind = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    entry: JsonObject = {
        "resource": rt.plural,
        "responseKind": kind,
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    if rt.subresources:
        entry["subresources"] = [
            {
                "subresource": sub,
                "responseKind": kind,
                "verbs": ["update"] if sub == "finalize" else list(STATUS_VERBS),
            }
            for sub in rt.subresources
        ]
    return entry


def aggregated(registry: Registry, *, core: bool, api_version: str) -> JsonObject:
    """APIGroupDiscoveryList for /api (core=True) or /apis."""
    items: list[JsonObject] = []
    for group, versions in registry.groups().items():
        if (group == "") != core:
            continue
        metadata: JsonObject = {"creationTimestamp": None}
        if group:
            metadata["name"] = group
        items.append(
            {
                "metadata": metadata,
                "versions": [
                    {
                        "version": v,
                        "resources": [
                            _aggregated_resource(rt) for rt in registry.in_group_version(group, v)
                        ],
                        "freshness": "Current",
                    }
                    for v in versions
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{api_version}",
        "metadata": {},
        "items": items,
    }


# -- OpenAPI -------------------------------------------------------------------------------

OPENAPI_V2_EMPTY: JsonObject = {
    "swagger": "2.0",
    "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION["gitVersion"]},
    "paths": {},
    "definitions": {},
}

# -- OpenAPI v3 ----------------------------------------------------------------------------


def _openapi_path(rt: ResourceType) -> str:
    if rt.namespaced:
        return f"{rt.base_path}/namespaces/{{namespace}}/{rt.plural}/{{name}}"
    return f"{rt.base_path}/{rt.plural}/{{name}}"


def openapi_group_version(registry: Registry, group: str, version: str) -> JsonObject | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    paths: JsonObject = {}
    for rt in types:
        paths[_openapi_path(rt)] = {
            "patch": {
                "operationId": f"patch{rt.kind}",
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {
                    "group": rt.group,
                    "version": rt.version,
                    "kind": rt.kind,
                },
                "parameters": [
                    {
                        "name": "fieldValidation",
                        "in": "query",
                        "schema": {"type": "string", "uniqueItems": True},
                    }
                ],
                "responses": {"200": {"description": "OK"}},
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }


def openapi_index(registry: Registry) -> JsonObject:
    paths: JsonObject = {}
    for group, versions in registry.groups().items():
        for version in versions:
            key = f"apis/{group}/{version}" if group else f"api/{version}"
            doc = openapi_group_version(registry, group, version)
            digest = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest.upper()}"}
    return {"paths": paths}
