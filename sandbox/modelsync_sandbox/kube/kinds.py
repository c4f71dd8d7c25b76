"""What the built-in kinds add to the generic rules: defaults, checks, conversions.

`decode` checks what decoding into the Go types checks (base64 data, timestamps) and raises
`DecodeError`; each `prepare_*` function gets a fresh, decoded object it may change (defaults)
and returns causes (422).
Sources: k8s.io/kubernetes pkg/apis/core/validation (Secret, ConfigMap, Namespace,
Event), pkg/registry/core/namespace/strategy.go, and apiextensions-apiserver
pkg/apis/apiextensions/validation (CRD).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from modelsync_sandbox.kube import causes as c
from modelsync_sandbox.kube.errors import JsonObject
from modelsync_sandbox.kube.gotime import RFC3339, RFC3339_MICRO, parse_error
from modelsync_sandbox.kube.resources import CRDS, EVENTS_V1, NAMESPACES, ResourceType
from modelsync_sandbox.kube.validation import (
    Cause,
    NameRule,
    validate_object_name,
    validate_qualified_name,
)

LEASES = "coordination.k8s.io/leases"

# pkg/apis/core/validation: ValidateConfigMap / ValidateSecret size limit (1 MiB).
MAX_DATA_BYTES = 1024 * 1024
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
NAMESPACE_FINALIZER = "kubernetes"
CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


class DecodeError(Exception):
    """The body does not decode into the kind's Go type; the message is the decoder's."""


def name_rule(rt: ResourceType) -> NameRule:
    """Which name validation the real API applies to the type."""
    return "label" if rt is NAMESPACES else "subdomain"


def defaults(rt: ResourceType, obj: JsonObject) -> None:
    """What decoding defaults (the SetDefaults_* functions): done before field management
    looks at the object, so the writer owns these fields. Idempotent."""
    key = rt.storage_key
    meta = obj["metadata"]
    if key == "/secrets":
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = dict(obj.get("data") or {})
            for name, value in string_data.items():
                data[str(name)] = base64.b64encode(str(value).encode()).decode()
            obj["data"] = data
        if "data" in obj and not obj["data"]:
            del obj["data"]
        obj["type"] = obj.get("type") or "Opaque"
    elif key == "/namespaces":
        meta.setdefault("labels", {})[NAMESPACE_NAME_LABEL] = meta.get("name", "")
    elif key == "/events":
        _canonical_event(obj)
    elif key == LEASES:
        if not isinstance(obj.get("spec"), dict):
            obj["spec"] = {}
    elif rt is CRDS:
        _crd_defaults(obj)


def prepare_create(rt: ResourceType, obj: JsonObject) -> list[Cause]:
    hook = _CREATE.get(rt.storage_key)
    return hook(rt, obj, None) if hook else []


def prepare_update(rt: ResourceType, new: JsonObject, old: JsonObject) -> list[Cause]:
    hook = _UPDATE.get(rt.storage_key)
    return hook(rt, new, old) if hook else []


# -- Secrets and ConfigMaps --------------------------------------------------------


def _config_key_causes(field: str, keys: Any) -> list[Cause]:
    return [
        c.invalid(
            f"{field}[{key}]",
            key,
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
            "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
            "'[-._a-zA-Z0-9]+')",
        )
        for key in keys
        if not _CONFIG_KEY.match(str(key))
    ]


def go_base64_error(text: str) -> str | None:
    """encoding/base64 StdEncoding.DecodeString's error for `text` (CorruptInputError: the
    offset of the first byte it cannot use), or None if it decodes."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    data = text.encode()

    def corrupt(at: int) -> str:
        return f"illegal base64 data at input byte {at}"

    si = 0
    while True:
        j = 0
        while j < 4:
            if si == len(data):
                if j == 0:
                    return None
                return corrupt(si - j)
            ch = chr(data[si])
            si += 1
            if ch in alphabet:
                j += 1
                continue
            if ch in "\r\n":
                continue
            if ch != "=":
                return corrupt(si - 1)
            if j in (0, 1):
                return corrupt(si - 1)
            if j == 2:
                while si < len(data) and chr(data[si]) in "\r\n":
                    si += 1
                if si == len(data):
                    return corrupt(len(data))
                if chr(data[si]) != "=":
                    return corrupt(si - 1)
                si += 1
            while si < len(data) and chr(data[si]) in "\r\n":
                si += 1
            return corrupt(si) if si < len(data) else None


def _base64_map(value: Any) -> int:
    """Check the values of a `data`/`binaryData` map are base64; returns decoded size."""
    if value is None:
        return 0
    if not isinstance(value, dict):
        raise DecodeError(
            f"json: cannot unmarshal {_json_kind(value)} into Go struct field of type "
            "map[string][]uint8"
        )
    size = 0
    for item in value.values():
        if not isinstance(item, str):
            raise DecodeError(
                f"json: cannot unmarshal {_json_kind(item)} into Go value of type []uint8"
            )
        problem = go_base64_error(item)
        if problem:
            raise DecodeError(problem)
        size += len(base64.b64decode(item.replace("\n", "").replace("\r", "")))
    return size


def _json_kind(value: Any) -> str:
    """How encoding/json names a JSON value's type in "cannot unmarshal X into" errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _check_time(value: Any, layout: str) -> None:
    """metav1.Time / MicroTime UnmarshalJSON: null, or a string time.Parse accepts."""
    if value is None:
        return
    if not isinstance(value, str):
        raise DecodeError(
            f"json: cannot unmarshal {_json_kind(value)} into Go value of type string"
        )
    problem = parse_error(layout, value)
    if problem:
        raise DecodeError(problem)


# Timestamp fields each kind decodes, by storage key: (path, layout).
_TIME_FIELDS: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "/events": (
        (("firstTimestamp",), RFC3339),
        (("lastTimestamp",), RFC3339),
        (("eventTime",), RFC3339_MICRO),
        (("series", "lastObservedTime"), RFC3339_MICRO),
    ),
    LEASES: ((("spec", "acquireTime"), RFC3339_MICRO), (("spec", "renewTime"), RFC3339_MICRO)),
}


def decode(rt: ResourceType, obj: JsonObject) -> None:
    """What decoding the (core-form) object into its Go type would refuse."""
    meta = obj.get("metadata") or {}
    for key in ("creationTimestamp", "deletionTimestamp"):
        _check_time(meta.get(key), RFC3339)
    for path, layout in _TIME_FIELDS.get(rt.storage_key, ()):
        node: Any = obj
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        _check_time(node, layout)
    if rt.storage_key == "/secrets":
        _base64_map(obj.get("data"))
        string_data = obj.get("stringData")
        if string_data is not None and (
            not isinstance(string_data, dict)
            or not all(isinstance(v, str) for v in string_data.values())
        ):
            raise DecodeError("json: cannot unmarshal into Go struct field Secret.stringData")
    if rt.storage_key == "/configmaps":
        data = obj.get("data")
        if data is not None and (
            not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values())
        ):
            raise DecodeError("json: cannot unmarshal into Go struct field ConfigMap.data")
        _base64_map(obj.get("binaryData"))


def _immutable_causes(
    new: JsonObject, old: JsonObject | None, fields: tuple[str, ...]
) -> list[Cause]:
    if old is None or not old.get("immutable"):
        return []
    found = []
    if not new.get("immutable"):
        found.append(c.forbidden("immutable", "field is immutable when `immutable` is set"))
    for name in fields:
        if new.get(name) != old.get(name):
            found.append(c.forbidden(name, "field is immutable when `immutable` is set"))
    return found


# pkg/apis/core/validation ValidateSecret: what each well-known type needs in `data`.
_SECRET_TYPE_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}
SERVICE_ACCOUNT_NAME = "kubernetes.io/service-account.name"


def _secret_type_causes(obj: JsonObject) -> list[Cause]:
    kind = obj.get("type")
    data = obj.get("data") or {}
    if kind == "kubernetes.io/service-account-token":
        if not (obj["metadata"].get("annotations") or {}).get(SERVICE_ACCOUNT_NAME):
            return [c.required(f"metadata.annotations[{SERVICE_ACCOUNT_NAME}]")]
        return []
    if kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            return [c.required("data[username]"), c.required("data[password]")]
        return []
    if kind == "kubernetes.io/ssh-auth":
        return [] if data.get("ssh-privatekey") else [c.required("data[ssh-privatekey]")]
    keys = _SECRET_TYPE_KEYS.get(str(kind), ())
    if kind in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        return [c.required(f"data[{k}]") for k in keys[:1] if k not in data]
    return [c.required(f"data[{k}]") for k in keys if k not in data]


def _secret(rt: ResourceType, obj: JsonObject, old: JsonObject | None) -> list[Cause]:
    defaults(rt, obj)
    data = obj.get("data")
    found: list[Cause] = []
    if old is not None and obj["type"] != old.get("type", "Opaque"):
        found.append(c.immutable("type", obj["type"]))
    found += _immutable_causes(obj, old, ("data",))
    found += _config_key_causes("data", (data or {}).keys())
    size = sum(len(k) + len(base64.b64decode(v)) for k, v in (data or {}).items())
    if size > MAX_DATA_BYTES:
        found.append(c.too_long("data", MAX_DATA_BYTES))
    found += _secret_type_causes(obj)
    return found


def _configmap(_rt: ResourceType, obj: JsonObject, old: JsonObject | None) -> list[Cause]:
    data = obj.get("data") or {}
    binary = obj.get("binaryData") or {}
    size = _base64_map(binary)
    found = _config_key_causes("data", data.keys()) + _config_key_causes("binaryData", binary)
    for key in sorted(set(data) & set(binary)):
        found.append(c.invalid("data", key, "duplicate of key present in binaryData"))
    size += sum(len(k) + len(v.encode()) for k, v in data.items()) + sum(len(k) for k in binary)
    if size > MAX_DATA_BYTES:
        found.append(c.too_long("", MAX_DATA_BYTES))
    found += _immutable_causes(obj, old, ("data", "binaryData"))
    return found


# -- Namespaces --------------------------------------------------------------------


def _namespace_create(rt: ResourceType, obj: JsonObject, _old: JsonObject | None) -> list[Cause]:
    defaults(rt, obj)
    obj["spec"] = {"finalizers": [NAMESPACE_FINALIZER]}
    obj["status"] = {"phase": "Active"}
    return []


def _namespace_update(rt: ResourceType, obj: JsonObject, old: JsonObject | None) -> list[Cause]:
    assert old is not None
    defaults(rt, obj)
    return []


# -- Events ------------------------------------------------------------------------

# core/v1 field <-> events.k8s.io/v1 field (pkg/apis/events/v1/conversion.go).
_EVENT_FIELDS = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
)
_CORE_TO_V1 = dict(_EVENT_FIELDS)
_V1_TO_CORE = {v: k for k, v in _EVENT_FIELDS}


# How each representation writes an Event: Go structs and non-omitempty fields are always
# there ({} and null when unset, "" for the core reporting fields); omitempty ones are left
# out when empty.
_CORE_EVENT_ALWAYS: JsonObject = {
    "involvedObject": {},
    "source": {},
    "firstTimestamp": None,
    "lastTimestamp": None,
    "eventTime": None,
    "reportingComponent": "",
    "reportingInstance": "",
}
_CORE_EVENT_OMITEMPTY = ("reason", "message", "count", "type", "series", "action", "related")
_V1_EVENT_ALWAYS: JsonObject = {
    "eventTime": None,
    "regarding": {},
    "deprecatedSource": {},
    "deprecatedFirstTimestamp": None,
    "deprecatedLastTimestamp": None,
}
_V1_EVENT_OMITEMPTY = ("reportingController", "reportingInstance", "deprecatedCount")
# Limits of pkg/apis/core/validation/events.go.
_REPORTING_INSTANCE_MAX = 128
_ACTION_MAX = 128
_REASON_MAX = 128
_NOTE_MAX = 1024


def to_wire(rt: ResourceType, obj: JsonObject) -> JsonObject:
    """The stored object as the requested resource shows it."""
    if rt.representation == EVENTS_V1:
        out = {_CORE_TO_V1.get(k, k): v for k, v in obj.items()}
        for key in _V1_EVENT_OMITEMPTY:
            if key in out and not out[key]:
                del out[key]
        for key, empty in _V1_EVENT_ALWAYS.items():
            out.setdefault(key, {} if isinstance(empty, dict) else empty)
        out["apiVersion"] = rt.api_version
        return out
    if obj.get("apiVersion") != rt.api_version:
        out = dict(obj)
        out["apiVersion"] = rt.api_version
        return out
    return obj


def from_wire(rt: ResourceType, obj: JsonObject) -> JsonObject:
    if rt.representation == EVENTS_V1:
        out = {_V1_TO_CORE.get(k, k): v for k, v in obj.items()}
        out["apiVersion"] = "v1"
        return out
    return obj


def _canonical_event(obj: JsonObject) -> None:
    for key in _CORE_EVENT_OMITEMPTY:
        if key in obj and not obj[key]:
            del obj[key]
    for key, empty in _CORE_EVENT_ALWAYS.items():
        if obj.get(key) is None:
            obj[key] = {} if isinstance(empty, dict) else empty


def _event(rt: ResourceType, obj: JsonObject, old: JsonObject | None) -> list[Cause]:
    """ValidateEventCreate / ValidateEventUpdate: the legacy rules for every request, the
    strict ones for events.k8s.io requests."""
    _canonical_event(obj)
    v1 = rt.representation == EVENTS_V1
    found: list[Cause] = []
    namespace = str(obj["metadata"].get("namespace", ""))
    involved_ns = str((obj.get("involvedObject") or {}).get("namespace") or "")
    mismatch = c.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
    if not obj.get("eventTime"):
        if (not involved_ns and namespace not in ("", "default")) or (
            involved_ns and involved_ns != namespace
        ):
            found.append(mismatch)
    else:
        if not involved_ns and namespace not in ("default", "kube-system"):
            found.append(mismatch)
        controller = "reportingController" if v1 else "reportingComponent"
        reporter = str(obj.get("reportingComponent") or "")
        if not reporter:
            found.append(c.required(controller))
        found += [c.invalid(controller, reporter, m) for m in validate_qualified_name(reporter)]
        for key, limit in (
            ("reportingInstance", _REPORTING_INSTANCE_MAX),
            ("action", _ACTION_MAX),
            ("reason", _REASON_MAX),
        ):
            value = str(obj.get(key) or "")
            if not value:
                found.append(c.required(key))
            if len(value) > limit:
                found.append(c.invalid(key, "", f"can have at most {limit} characters"))
        if len(str(obj.get("message") or "")) > _NOTE_MAX:
            found.append(c.invalid("message", "", f"can have at most {_NOTE_MAX} characters"))
    if not v1:
        return found
    if not obj.get("eventTime"):
        found.append(c.required("eventTime"))
    if obj.get("type") not in ("Normal", "Warning"):
        found.append(c.invalid("type", "", f"has invalid value: {obj.get('type') or ''}"))
    for key in ("firstTimestamp", "lastTimestamp", "count"):
        if obj.get(key):
            found.append(c.invalid(key, "", "needs to be unset"))
    source = obj.get("source") or {}
    if source.get("component") or source.get("host"):
        found.append(c.invalid("source", "", "needs to be unset"))
    if old is not None:
        for key in (
            "involvedObject",
            "reason",
            "message",
            "source",
            "firstTimestamp",
            "lastTimestamp",
            "count",
            "type",
        ):
            if obj.get(key) != old.get(key):
                found.append(c.immutable(key, obj.get(key)))
    return found


# -- Leases ------------------------------------------------------------------------


def _lease(_rt: ResourceType, obj: JsonObject, _old: JsonObject | None) -> list[Cause]:
    """ValidateLeaseSpec; `spec` is a struct, so it is always there."""
    if not isinstance(obj.get("spec"), dict):
        obj["spec"] = {}
    spec = obj["spec"]
    found: list[Cause] = []
    duration = spec.get("leaseDurationSeconds")
    if isinstance(duration, int) and duration <= 0:
        found.append(c.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if isinstance(transitions, int) and transitions < 0:
        found.append(
            c.invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0")
        )
    if spec.get("preferredHolder") and not spec.get("strategy"):
        found.append(
            c.forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined")
        )
    return found


# -- CustomResourceDefinitions -----------------------------------------------------


def _crd_causes(obj: JsonObject) -> list[Cause]:
    found: list[Cause] = []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [c.required("spec")]
    group = spec.get("group")
    raw_names = spec.get("names")
    names: JsonObject = raw_names if isinstance(raw_names, dict) else {}
    plural = names.get("plural")
    kind = names.get("kind")
    if not group:
        found.append(c.required("spec.group"))
    elif "." not in str(group):
        found.append(c.invalid("spec.group", group, "should be a domain with at least one dot"))
    else:
        found += validate_object_name(str(group), "subdomain", field="spec.group")
    if not plural:
        found.append(c.required("spec.names.plural"))
    elif not _DNS_LABEL.match(str(plural)):
        found.append(
            c.invalid(
                "spec.names.plural",
                plural,
                "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-', and must start and end with an alphanumeric "
                "character",
            )
        )
    singular = names.get("singular")
    if singular and not _DNS_LABEL.match(str(singular)):
        found.append(
            c.invalid(
                "spec.names.singular",
                singular,
                "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-'",
            )
        )
    if not kind:
        found.append(c.required("spec.names.kind"))
    name = obj["metadata"].get("name", "")
    if plural and group and name != f"{plural}.{group}":
        found.append(c.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        found.append(c.not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    found += _crd_version_causes(spec.get("versions"))
    return found


def _crd_version_causes(versions: Any) -> list[Cause]:
    if not isinstance(versions, list) or not versions:
        return [
            Cause(  # field.Invalid prints the empty Go slice with %#v
                "FieldValueInvalid",
                "Invalid value: []apiextensions.CustomResourceDefinitionVersion{}: must have "
                "exactly one version marked as storage version",
                "spec.versions",
            )
        ]
    found: list[Cause] = []
    seen: set[str] = set()
    storage = 0
    for i, version in enumerate(versions):
        field = f"spec.versions[{i}]"
        if not isinstance(version, dict):
            found.append(c.invalid(field, version, "must be an object"))
            continue
        vname = str(version.get("name") or "")
        if not vname:
            found.append(c.required(f"{field}.name"))
        elif not _DNS_LABEL.match(vname):
            found.append(
                c.invalid(
                    f"{field}.name",
                    vname,
                    "a DNS-1035 label must consist of lower case alphanumeric characters or '-'",
                )
            )
        if vname in seen:
            found.append(c.duplicate(f"{field}.name", vname))
        seen.add(vname)
        if version.get("storage"):
            storage += 1
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            found.append(c.required(f"{field}.schema.openAPIV3Schema", "schemas are required"))
        elif schema.get("type") != "object":
            found.append(
                c.invalid(
                    f"{field}.schema.openAPIV3Schema.type",
                    schema.get("type", ""),
                    "must be object at the root",
                )
            )
    if storage != 1:
        found.append(
            c.invalid(
                "spec.versions",
                [v.get("name") for v in versions if isinstance(v, dict)],
                "must have exactly one version marked as storage version",
            )
        )
    if not any(isinstance(v, dict) and v.get("served") for v in versions):
        found.append(
            c.invalid(
                "spec.versions",
                [v.get("name") for v in versions if isinstance(v, dict)],
                "must have at least one version marked as served",
            )
        )
    return found


def _crd_defaults(obj: JsonObject) -> None:
    """apiextensions v1 SetDefaults_CustomResourceDefinitionSpec."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and names.get("kind"):
        names.setdefault("singular", str(names["kind"]).lower())
        names.setdefault("listKind", f"{names['kind']}List")
    if not spec.get("conversion"):
        spec["conversion"] = {"strategy": "None"}


def with_status_fields(status: Any) -> JsonObject:
    """A CRD status as the Go struct writes it: acceptedNames (with plural and kind),
    conditions and storedVersions are always there."""
    out: JsonObject = dict(status) if isinstance(status, dict) else {}
    accepted = out.get("acceptedNames")
    accepted = dict(accepted) if isinstance(accepted, dict) else {}
    accepted.setdefault("plural", "")
    accepted.setdefault("kind", "")
    out["acceptedNames"] = accepted
    out.setdefault("conditions", None)
    out.setdefault("storedVersions", None)
    return out


def _crd_create(_rt: ResourceType, obj: JsonObject, _old: JsonObject | None) -> list[Cause]:
    _crd_defaults(obj)
    storage = crd_storage_version(obj)
    obj["status"] = with_status_fields({"storedVersions": [storage] if storage else None})
    found = _crd_causes(obj)
    if not storage:
        found.append(
            Cause(
                "FieldValueInvalid",
                "Invalid value: []string(nil): must have at least one stored version",
                "status.storedVersions",
            )
        )
    return found


def _crd_update(_rt: ResourceType, obj: JsonObject, old: JsonObject | None) -> list[Cause]:
    assert old is not None
    _crd_defaults(obj)
    found = _crd_causes(obj)
    old_spec = old.get("spec") or {}
    spec = obj.get("spec") or {}
    if spec.get("scope") != old_spec.get("scope"):
        found.append(c.immutable("spec.scope", spec.get("scope")))
    if spec.get("group") != old_spec.get("group"):
        found.append(c.immutable("spec.group", spec.get("group")))
    return found


def crd_storage_version(crd: JsonObject) -> str:
    for version in (crd.get("spec") or {}).get("versions") or []:
        if isinstance(version, dict) and version.get("storage"):
            return str(version.get("name"))
    return ""


def crd_accepted_status(crd: JsonObject, now: str) -> JsonObject:
    """The status the CRD controllers write once names are accepted and the API is up."""
    names = dict((crd.get("spec") or {}).get("names") or {})
    kind = str(names.get("kind", ""))
    names.setdefault("singular", kind.lower())
    names.setdefault("listKind", f"{kind}List")
    old = crd.get("status") or {}
    stored = list(old.get("storedVersions") or [])
    storage = crd_storage_version(crd)
    if storage and storage not in stored:
        stored.append(storage)
    return {
        "acceptedNames": names,
        "conditions": [
            {
                "lastTransitionTime": now,
                "message": "no conflicts found",
                "reason": "NoConflicts",
                "status": "True",
                "type": "NamesAccepted",
            },
            {
                "lastTransitionTime": now,
                "message": "the initial names have been accepted",
                "reason": "InitialNamesAccepted",
                "status": "True",
                "type": "Established",
            },
        ],
        "storedVersions": stored,
    }


def is_established(crd: JsonObject) -> bool:
    return any(
        x.get("type") == "Established" and x.get("status") == "True"
        for x in (crd.get("status") or {}).get("conditions") or []
    )


def with_condition(status: JsonObject, condition: JsonObject) -> JsonObject:
    conditions = [x for x in status.get("conditions") or [] if x.get("type") != condition["type"]]
    return {**status, "conditions": [*conditions, condition]}


_Hook = Callable[[ResourceType, JsonObject, JsonObject | None], list[Cause]]
_CREATE: dict[str, _Hook] = {
    "/secrets": _secret,
    "/configmaps": _configmap,
    "/namespaces": _namespace_create,
    "/events": _event,
    LEASES: _lease,
    CRDS.storage_key: _crd_create,
}
_UPDATE: dict[str, _Hook] = {
    "/secrets": _secret,
    "/configmaps": _configmap,
    "/namespaces": _namespace_update,
    "/events": _event,
    LEASES: _lease,
    CRDS.storage_key: _crd_update,
}


def allows_unconditional_update(rt: ResourceType) -> bool:
    """The strategy's AllowUnconditionalUpdate: an update without a resourceVersion is
    refused for custom resources, CRDs and leases."""
    return not (rt.custom or rt is CRDS or rt.storage_key == LEASES)


def update_meta_validations(rt: ResourceType) -> tuple[int, int]:
    """How often the kind's update strategy itself runs (ValidateObjectMetaUpdate,
    ValidateObjectMeta) on top of the generic BeforeUpdate's one of each; every run reports
    the metadata problems it finds again."""
    if rt.storage_key in ("/secrets", "/configmaps", "/namespaces"):
        return 1, 1
    if rt.storage_key == "/events" and rt.representation != EVENTS_V1:
        return 0, 0
    return 1, 0


def invalid_kind(rt: ResourceType) -> tuple[str, str]:
    """(group, kind) an Invalid error names: both event APIs share core Event storage."""
    if rt.representation == EVENTS_V1:
        return "", rt.kind
    return rt.group, rt.kind


# Top-level fields each built-in kind decodes; anything else is dropped (and warned about),
# as decoding into the Go types does.
_COMMON = ("apiVersion", "kind", "metadata")
KNOWN_FIELDS: dict[str, frozenset[str]] = {
    "/secrets": frozenset((*_COMMON, "data", "stringData", "type", "immutable")),
    "/configmaps": frozenset((*_COMMON, "data", "binaryData", "immutable")),
    "/namespaces": frozenset((*_COMMON, "spec", "status")),
    "/events": frozenset(
        (
            *_COMMON,
            "involvedObject",
            "reason",
            "message",
            "source",
            "firstTimestamp",
            "lastTimestamp",
            "count",
            "type",
            "eventTime",
            "series",
            "action",
            "related",
            "reportingComponent",
            "reportingInstance",
        )
    ),
    "coordination.k8s.io/leases": frozenset((*_COMMON, "spec")),
    CRDS.storage_key: frozenset((*_COMMON, "spec", "status")),
}
