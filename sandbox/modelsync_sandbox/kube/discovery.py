"""Discovery documents: legacy (/api, /apis, /apis/{g}/{v}), aggregated (apidiscovery v2),
the version endpoint and OpenAPI v3.

An OpenAPI v3 document (/openapi/v3/apis/{g}/{v}) declares each resource's PATCH operation
with its `fieldValidation` parameter: enough for kubectl to detect server-side field
validation (cli-runtime query_param_verifier_v3.go) and leave validation to the server. For
a CRD's kinds it also carries their schemas under `components.schemas`, as kube-apiserver
publishes them (apiextensions-apiserver controller/openapi/builder): the CRD version's
schema, its descriptions included, with the TypeMeta and ObjectMeta properties put in and
`x-kubernetes-group-version-kind`, plus the list kind. That is what `kubectl explain`
reads (kubectl/pkg/explain/v2). ObjectMeta and ListMeta are named but not spelled out (no
properties), and built-in kinds have no schema. The OpenAPI v2 document is empty, so
client-side validation of kinds the server does not know yet is skipped, as it is for
unknown kinds on a real cluster.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

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

_CONVENTIONS: Final = (
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
)
SCHEMA_REF_PREFIX: Final = "#/components/schemas/"
OBJECT_META: Final = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META: Final = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
GVK_EXTENSION: Final = "x-kubernetes-group-version-kind"
SELECTABLE_FIELDS_EXTENSION: Final = "x-kubernetes-selectable-fields"
# metav1.TypeMeta's properties, which replace a CRD schema's apiVersion and kind.
TYPE_META_PROPERTIES: Final[JsonObject] = {
    "apiVersion": {
        "type": "string",
        "description": (
            "APIVersion defines the versioned schema of this representation of an object. "
            "Servers should convert recognized schemas to the latest internal value, and may "
            f"reject unrecognized values. More info: {_CONVENTIONS}#resources"
        ),
    },
    "kind": {
        "type": "string",
        "description": (
            "Kind is a string value representing the REST resource this object represents. "
            "Servers may infer this from the endpoint the client submits requests to. Cannot "
            f"be updated. In CamelCase. More info: {_CONVENTIONS}#types-kinds"
        ),
    },
}
_META_SCHEMAS: Final[JsonObject] = {
    OBJECT_META: {
        "type": "object",
        "description": (
            "ObjectMeta is metadata that all persisted resources must have, which includes "
            "all objects users must create."
        ),
    },
    LIST_META: {
        "type": "object",
        "description": (
            "ListMeta describes metadata that synthetic resources must have, including lists "
            "and various status objects. A resource may have only one of {ObjectMeta, "
            "ListMeta}."
        ),
    },
}
# The schema keys a structural schema keeps and kube-apiserver publishes (structural.go's
# Generic, ValueValidation and Extensions); anything else a CRD may hold is left out.
_PUBLISHED_KEYS: Final = frozenset(
    {
        "description", "type", "title", "default", "nullable", "format", "maximum",
        "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
        "maxItems", "minItems", "uniqueItems", "multipleOf", "enum", "maxProperties",
        "minProperties", "required", "allOf", "oneOf", "anyOf", "not", "properties", "items",
        "additionalProperties", "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string",
        "x-kubernetes-list-map-keys", "x-kubernetes-list-type", "x-kubernetes-map-type",
        "x-kubernetes-validations",
    }
)  # fmt: skip
_FLAG_KEYS: Final = frozenset(
    {
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
        "nullable",
        "uniqueItems",
        "exclusiveMaximum",
        "exclusiveMinimum",
    }
)
_INT_OR_STRING: Final = ({"type": "integer"}, {"type": "string"})


def definition_name(group: str, version: str, kind: str) -> str:
    """The name kube-apiserver files a CRD kind under: the group reversed (kube-openapi's
    ToRESTFriendlyName), e.g. dev.modelsync.v1alpha1.ModelRef."""
    return ".".join([*reversed(group.split(".")), version, kind])


def _ref(name: str, description: str) -> JsonObject:
    # OpenAPI 3.0 ignores a $ref's siblings, so kube-openapi wraps a described one in allOf.
    return {"allOf": [{"$ref": SCHEMA_REF_PREFIX + name}], "description": description}


def _gvk(group: str, version: str, kind: str) -> list[JsonObject]:
    return [{"group": group, "version": version, "kind": kind}]


def published_schema(schema: Mapping[str, Any]) -> JsonObject:
    """A CRD schema node as kube-apiserver publishes it: the keys a structural schema keeps
    (false flags dropped), x-kubernetes-int-or-string unfolded into its anyOf."""
    out: JsonObject = {}
    for key, value in schema.items():
        if key not in _PUBLISHED_KEYS or (key in _FLAG_KEYS and value is False):
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {
                name: published_schema(child) if isinstance(child, Mapping) else child
                for name, child in value.items()
            }
        elif key in ("items", "additionalProperties", "not") and isinstance(value, Mapping):
            out[key] = published_schema(value)
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
            out[key] = [published_schema(v) if isinstance(v, Mapping) else v for v in value]
        else:
            out[key] = json.loads(json.dumps(value))  # a copy the caller may keep
    if out.get("x-kubernetes-int-or-string") is True and "anyOf" not in out:
        out["anyOf"] = [dict(t) for t in _INT_OR_STRING]
    return out


def kind_schema(rt: ResourceType) -> JsonObject:
    """components.schemas entry of a CRD kind (builder.go buildKubeNative)."""
    schema = published_schema(rt.schema or {"type": "object"})
    properties = schema.setdefault("properties", {})
    properties["metadata"] = _ref(
        OBJECT_META, f"Standard object's metadata. More info: {_CONVENTIONS}#metadata"
    )
    properties.update(json.loads(json.dumps(TYPE_META_PROPERTIES)))
    schema[GVK_EXTENSION] = _gvk(rt.group, rt.version, rt.kind)
    return _with_selectable_fields(schema, rt)


def _with_selectable_fields(schema: JsonObject, rt: ResourceType) -> JsonObject:
    if rt.selectable_fields:
        schema[SELECTABLE_FIELDS_EXTENSION] = [{"fieldPath": f} for f in rt.selectable_fields]
    return schema


def list_schema(rt: ResourceType) -> JsonObject:
    """components.schemas entry of a CRD kind's list (builder.go buildListSchema)."""
    item = definition_name(rt.group, rt.version, rt.kind)
    schema: JsonObject = {
        "type": "object",
        "description": f"{rt.list_kind} is a list of {rt.kind}",
        "required": ["items"],
        "properties": {
            **json.loads(json.dumps(TYPE_META_PROPERTIES)),
            "items": {
                "type": "array",
                "items": {"$ref": SCHEMA_REF_PREFIX + item},
                "description": f"List of {rt.plural}. More info: {_CONVENTIONS}",
            },
            "metadata": _ref(
                LIST_META, f"Standard list metadata. More info: {_CONVENTIONS}#types-kinds"
            ),
        },
        GVK_EXTENSION: _gvk(rt.group, rt.version, rt.list_kind),
    }
    return _with_selectable_fields(schema, rt)


def _openapi_path(rt: ResourceType) -> str:
    if rt.namespaced:
        return f"{rt.base_path}/namespaces/{{namespace}}/{rt.plural}/{{name}}"
    return f"{rt.base_path}/{rt.plural}/{{name}}"


def openapi_group_version(registry: Registry, group: str, version: str) -> JsonObject | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    paths: JsonObject = {}
    schemas: JsonObject = {}
    for rt in types:
        paths[_openapi_path(rt)] = {
            "patch": {
                "operationId": f"patch{rt.kind}",
                "x-kubernetes-action": "patch",
                GVK_EXTENSION: {
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
        if rt.custom:
            schemas[definition_name(rt.group, rt.version, rt.kind)] = kind_schema(rt)
            schemas[definition_name(rt.group, rt.version, rt.list_kind)] = list_schema(rt)
    if schemas:
        schemas.update(json.loads(json.dumps(_META_SCHEMAS)))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": schemas},
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
