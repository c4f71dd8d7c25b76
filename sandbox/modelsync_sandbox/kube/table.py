"""Server-side `meta.k8s.io/v1` Table output (`Accept: application/json;as=Table;...`).

Sources:
- custom resources: apiextensions-apiserver pkg/registry/customresource/tableconvertor
  (a "Name" column, then the CRD's additionalPrinterColumns; cellForJSONValue) and
  crdHandler serveDefaultColumnsIfEmpty (no printer columns means one "Age" date column);
- built-in kinds: kubernetes pkg/printers/internalversion (namespaces, secrets, configmaps,
  events, leases), generated with Wide=true so priority>0 columns are always present;
- anything else, CRDs included: apiserver pkg/registry/rest.defaultTableConvertor
  ("Name", "Created At" in RFC 3339);
- rows' objects: apiserver pkg/endpoints/handlers/response.go asTable (includeObject).

Date cells are rendered by the server, as the real one does: a custom resource's "date"
column and every built-in "Age" hold a human duration ("5m", "3d4h",
duration.HumanDuration); kubectl prints cells as they come and a null cell as "<none>".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from modelsync.cli.tables import human_duration
from modelsync_sandbox.kube.jsonpath import JsonPath, JsonPathError, compile_jsonpath
from modelsync_sandbox.kube.validation import format_go_float

IncludeObject = Literal["None", "Metadata", "Object"]
JsonObject = dict[str, Any]

# ObjectMeta SwaggerDoc, as the real column definitions quote it.
NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
CREATION_TIMESTAMP_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


# -- time ---------------------------------------------------------------------------------------


def parse_timestamp(text: Any) -> datetime | None:
    """A metav1.Time / MicroTime string (RFC 3339), or None if absent or malformed."""
    if not isinstance(text, str) or not _RFC3339.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(timestamp: Any, now: datetime) -> str:
    """translateTimestampSince / ConvertToHumanReadableDateType: "<unknown>" when unset."""
    parsed = parse_timestamp(timestamp)
    if parsed is None:
        return "<unknown>"
    return human_duration((now - parsed).total_seconds())


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


# -- shared table assembly ---------------------------------------------------------------------


def column(
    name: str, type_: str, description: str, *, format_: str = "", priority: int = 0
) -> JsonObject:
    """A metav1.TableColumnDefinition (every field is always serialised)."""
    return {
        "name": name,
        "type": type_,
        "format": format_,
        "description": description,
        "priority": priority,
    }


_NAME_COLUMN = column("Name", "string", NAME_DESCRIPTION, format_="name")


def _row_object(obj: Mapping[str, Any], include_object: str) -> Any:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    if include_object == "Metadata":
        return {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata") or {},
        }
    raise ValueError(f"unrecognized includeObject value: {include_object!r}")


def _table_metadata(
    objects: Sequence[Mapping[str, Any]], list_metadata: Mapping[str, Any] | None
) -> JsonObject:
    """The Table's ListMeta: a list's resourceVersion/continue, else the single object's RV."""
    if list_metadata is not None:
        return {
            k: list_metadata[k]
            for k in ("resourceVersion", "continue", "remainingItemCount")
            if list_metadata.get(k) not in (None, "")
        }
    if len(objects) == 1:
        rv = (objects[0].get("metadata") or {}).get("resourceVersion")
        if rv:
            return {"resourceVersion": rv}
    return {}


def _table(
    columns: list[JsonObject],
    objects: Sequence[Mapping[str, Any]],
    cells: Callable[[Mapping[str, Any]], list[Any]],
    include_object: str,
    list_metadata: Mapping[str, Any] | None,
) -> JsonObject:
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": _table_metadata(objects, list_metadata),
        "columnDefinitions": columns,
        "rows": [
            {"cells": cells(obj), "object": _row_object(obj, include_object)} for obj in objects
        ],
    }


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _created(obj: Mapping[str, Any]) -> Any:
    return (obj.get("metadata") or {}).get("creationTimestamp")


# -- custom resources ---------------------------------------------------------------------------


def _go_json(value: Any) -> str:
    """encoding/json.Marshal: compact, sorted keys, <>& escaped."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _print_result(value: Any) -> str | None:
    """jsonpath PrintResults of one value: JSON for maps and lists, fmt.Fprint otherwise."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        return _go_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_go_float(value)
    return str(value)


def cell_for_json_value(type_: str, value: Any, now: datetime) -> Any:
    """tableconvertor cellForJSONValue: the typed cell, or None (kubectl shows "<none>")."""
    if value is None:
        return None
    if type_ == "string":
        return _print_result(value)
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if type_ == "integer" and numeric:
        return int(value)
    if type_ == "number" and numeric:
        return float(value)
    if type_ == "boolean" and isinstance(value, bool):
        return value
    if type_ == "date" and isinstance(value, str):
        parsed = parse_timestamp(value)
        if parsed is None:
            return "<invalid>"
        return human_duration((now - parsed).total_seconds())
    return None


def _default_columns() -> list[JsonObject]:
    """crdHandler.serveDefaultColumnsIfEmpty."""
    return [
        {
            "name": "Age",
            "type": "date",
            "jsonPath": ".metadata.creationTimestamp",
            "description": CREATION_TIMESTAMP_DESCRIPTION,
        }
    ]


def render_table(
    objects: Sequence[Mapping[str, Any]],
    columns: Sequence[Mapping[str, Any]] | None,
    *,
    include_object: IncludeObject | str = "Metadata",
    list_metadata: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> JsonObject:
    """A custom resource Table: "Name", then the CRD version's additionalPrinterColumns.

    `columns` are CustomResourceColumnDefinitions (name, type, jsonPath, format, priority,
    description). A column whose jsonPath cannot be parsed yields null cells.
    """
    moment = _now(now)
    specs = list(columns) if columns else _default_columns()
    definitions = [dict(_NAME_COLUMN)]
    paths: list[JsonPath | None] = []
    for spec in specs:
        json_path = str(spec.get("jsonPath", ""))
        try:
            paths.append(compile_jsonpath(json_path))
        except JsonPathError:
            paths.append(None)
        definitions.append(
            column(
                str(spec.get("name", "")),
                str(spec.get("type", "string")),
                str(spec.get("description") or "")
                or f"Custom resource definition column (in JSONPath format): {json_path}",
                format_=str(spec.get("format") or ""),
                priority=int(spec.get("priority") or 0),
            )
        )

    def cells(obj: Mapping[str, Any]) -> list[Any]:
        row: list[Any] = [_name(obj)]
        for definition, path in zip(definitions[1:], paths, strict=True):
            found = path.find(obj) if path is not None else []
            value = found[0] if found else None
            row.append(cell_for_json_value(definition["type"], value, moment))
        return row

    return _table(definitions, objects, cells, include_object, list_metadata)


# -- built-in kinds -----------------------------------------------------------------------------


def _namespace_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    phase = (obj.get("status") or {}).get("phase", "")
    return [_name(obj), str(phase or ""), age(_created(obj), now)]


def _secret_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [
        _name(obj),
        str(obj.get("type") or ""),
        len(obj.get("data") or {}),
        age(_created(obj), now),
    ]


def _configmap_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    size = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    return [_name(obj), size, age(_created(obj), now)]


def _lease_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    holder = (obj.get("spec") or {}).get("holderIdentity") or ""
    return [_name(obj), str(holder), age(_created(obj), now)]


def _event_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    """printEvent (Wide): core/v1 field names."""
    first = age(obj.get("firstTimestamp"), now)
    if parse_timestamp(obj.get("firstTimestamp")) is None:
        first = age(obj.get("eventTime"), now)
    last = age(obj.get("lastTimestamp"), now)
    if parse_timestamp(obj.get("lastTimestamp")) is None:
        last = first
    count = obj.get("count") or 0
    series = obj.get("series")
    if isinstance(series, Mapping):
        last = age(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif count == 0:
        count = 1  # singleton events have no count in the new API
    involved = obj.get("involvedObject") or {}
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = obj.get("source") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    return [
        last,
        str(obj.get("type") or ""),
        str(obj.get("reason") or ""),
        target,
        str(involved.get("fieldPath") or ""),
        f"{component}, {instance}" if instance else str(component),
        str(obj.get("message") or "").strip(),
        first,
        int(count),
        _name(obj),
    ]


def _default_cells(obj: Mapping[str, Any], _now: datetime) -> list[Any]:
    """defaultTableConvertor: the creation time in UTC RFC 3339."""
    created = parse_timestamp(_created(obj)) or datetime(1, 1, 1, tzinfo=UTC)
    return [_name(obj), created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]


_AGE = column("Age", "string", CREATION_TIMESTAMP_DESCRIPTION)

_BUILTIN: dict[str, tuple[list[JsonObject], Callable[[Mapping[str, Any], datetime], list[Any]]]] = {
    "namespace": (
        [_NAME_COLUMN, column("Status", "string", "The status of the namespace"), _AGE],
        _namespace_cells,
    ),
    "secret": (
        [
            _NAME_COLUMN,
            column(
                "Type",
                "string",
                "Used to facilitate programmatic handling of secret data. More info: "
                "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
            ),
            column(
                "Data",
                "string",
                "Data contains the secret data. Each key must consist of alphanumeric "
                "characters, '-', '_' or '.'. The serialized form of the secret data is a "
                "base64 encoded string, representing the arbitrary (possibly non-string) data "
                "value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
            ),
            _AGE,
        ],
        _secret_cells,
    ),
    "configmap": (
        [
            _NAME_COLUMN,
            column(
                "Data",
                "string",
                "Data contains the configuration data. Each key must consist of alphanumeric "
                "characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use "
                "the BinaryData field. The keys stored in Data must not overlap with the keys "
                "in the BinaryData field, this is enforced during validation process.",
            ),
            _AGE,
        ],
        _configmap_cells,
    ),
    "lease": (
        [
            _NAME_COLUMN,
            column(
                "Holder",
                "string",
                "holderIdentity contains the identity of the holder of a current lease.",
            ),
            _AGE,
        ],
        _lease_cells,
    ),
    "event": (
        [
            column(
                "Last Seen",
                "string",
                "The time at which the most recent occurrence of this event was recorded.",
            ),
            column(
                "Type",
                "string",
                "Type of this event (Normal, Warning), new types could be added in the future",
            ),
            column(
                "Reason",
                "string",
                "This should be a short, machine understandable string that gives the reason "
                "for the transition into the object's current status.",
            ),
            column("Object", "string", "The object that this event is about."),
            column(
                "Subobject",
                "string",
                "If referring to a piece of an object instead of an entire object, this string "
                "should contain a valid JSON/Go field access statement, such as "
                "desiredState.manifest.containers[2].",
                priority=1,
            ),
            column(
                "Source",
                "string",
                "The component reporting this event. Should be a short machine understandable "
                "string.",
                priority=1,
            ),
            column(
                "Message", "string", "A human-readable description of the status of this operation."
            ),
            column(
                "First Seen",
                "string",
                "The time at which the event was first recorded. (Time of server receipt is in "
                "TypeMeta.)",
                priority=1,
            ),
            column("Count", "string", "The number of times this event has occurred.", priority=1),
            column("Name", "string", NAME_DESCRIPTION, format_="name", priority=1),
        ],
        _event_cells,
    ),
}
_DEFAULT: tuple[list[JsonObject], Callable[[Mapping[str, Any], datetime], list[Any]]] = (
    [_NAME_COLUMN, column("Created At", "date", CREATION_TIMESTAMP_DESCRIPTION)],
    _default_cells,
)
_ALIASES = {
    "namespaces": "namespace",
    "secrets": "secret",
    "configmaps": "configmap",
    "leases": "lease",
    "events": "event",
}


def render_builtin_table(
    kind: str,
    objects: Sequence[Mapping[str, Any]],
    *,
    include_object: IncludeObject | str = "Metadata",
    list_metadata: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> JsonObject:
    """The Table a built-in kind prints as; `kind` is the Kind or the resource plural.

    Namespace, Secret, ConfigMap, Lease, Event have their printers; any other kind
    (CustomResourceDefinition included) gets the default Name / Created At table.
    """
    key = kind.lower()
    columns, row = _BUILTIN.get(_ALIASES.get(key, key), _DEFAULT)
    moment = _now(now)
    return _table(
        [dict(c) for c in columns],
        objects,
        lambda obj: row(obj, moment),
        include_object,
        list_metadata,
    )
