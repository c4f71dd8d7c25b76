"""The resource types the sandbox serves: built-in ones and those CRDs define."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

JsonObject = dict[str, Any]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")

# How a resource's objects are represented on the wire when they share storage with
# another resource (events.k8s.io/v1 events are core/v1 events underneath).
CORE_EVENTS = "core-events"
EVENTS_V1 = "events.k8s.io"


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    # CRD-defined types only:
    custom: bool = False
    schema: JsonObject | None = None
    printer_columns: tuple[JsonObject, ...] = ()
    crd_name: str = ""
    selectable_fields: tuple[str, ...] = ()  # a CRD version's selectableFields, as field labels
    # Objects carry metadata.generation (CRDs and custom resources do; ConfigMaps do not).
    has_generation: bool = False
    representation: str = ""
    storage_group: str = field(default="")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def storage_key(self) -> str:
        """All versions of a resource (and aliases like events.k8s.io events) share storage."""
        group = self.storage_group if self.representation == EVENTS_V1 else self.group
        return f"{group}/{self.plural}"

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def base_path(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


def _builtin(
    group: str,
    version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool,
    short_names: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    subresources: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    has_generation: bool = False,
    representation: str = "",
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        short_names=short_names,
        categories=categories,
        subresources=subresources,
        verbs=verbs,
        has_generation=has_generation,
        representation=representation,
    )


NAMESPACES = _builtin(
    "",
    "v1",
    "namespaces",
    "Namespace",
    namespaced=False,
    short_names=("ns",),
    subresources=("status", "finalize"),
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
)
CRDS = _builtin(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    namespaced=False,
    short_names=("crd", "crds"),
    categories=("api-extensions",),
    subresources=("status",),
    has_generation=True,
)
CORE_EVENT_TYPE = _builtin(
    "", "v1", "events", "Event", namespaced=True, short_names=("ev",), representation=CORE_EVENTS
)

BUILTINS: tuple[ResourceType, ...] = (
    NAMESPACES,
    _builtin("", "v1", "configmaps", "ConfigMap", namespaced=True, short_names=("cm",)),
    _builtin("", "v1", "secrets", "Secret", namespaced=True),
    CORE_EVENT_TYPE,
    ResourceType(
        group="events.k8s.io",
        version="v1",
        plural="events",
        singular="event",
        kind="Event",
        namespaced=True,
        short_names=("ev",),
        representation=EVENTS_V1,
        storage_group="",
    ),
    _builtin("coordination.k8s.io", "v1", "leases", "Lease", namespaced=True),
    CRDS,
)


_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key: GA before beta before alpha, newer first; non-Kubernetes names last."""
    match = _VERSION.match(version)
    if not match:
        return (3, 0, 0, version)
    major = int(match.group(1))
    stage = {None: 0, "beta": 1, "alpha": 2}[match.group(2)]
    minor = int(match.group(3) or 0)
    return (stage, -major, -minor, "")


DEFAULT_PRINTER_COLUMNS: tuple[JsonObject, ...] = (
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)


def crd_resource_types(crd: JsonObject) -> list[ResourceType]:
    """The served versions of a CRD, as resource types (assumes a validated CRD)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    kind = str(names.get("kind", ""))
    plural = str(names.get("plural", ""))
    types = []
    for version in spec.get("versions") or []:
        if not version.get("served", False):
            continue
        subresources = []
        if "status" in (version.get("subresources") or {}):
            subresources.append("status")
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        columns = tuple(version.get("additionalPrinterColumns") or ()) or DEFAULT_PRINTER_COLUMNS
        types.append(
            ResourceType(
                group=str(spec.get("group", "")),
                version=str(version.get("name", "")),
                plural=plural,
                singular=str(names.get("singular") or kind.lower()),
                kind=kind,
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=tuple(subresources),
                custom=True,
                schema=schema,
                printer_columns=columns,
                crd_name=str((crd.get("metadata") or {}).get("name", "")),
                selectable_fields=tuple(
                    str(f.get("jsonPath", "")).lstrip(".")
                    for f in version.get("selectableFields") or []
                    if isinstance(f, dict)
                ),
                has_generation=True,
            )
        )
    return types


class Registry:
    """Which (group, version, plural) the server answers for, built-ins first."""

    def __init__(self) -> None:
        self._builtin: dict[tuple[str, str, str], ResourceType] = {
            (t.group, t.version, t.plural): t for t in BUILTINS
        }
        self._custom: dict[str, list[ResourceType]] = {}  # CRD name -> its served types
        self._index: dict[tuple[str, str, str], ResourceType] = {}
        self._by_storage: dict[str, ResourceType] = {}
        self._reindex()

    def set_crd(self, crd: JsonObject) -> None:
        name = str((crd.get("metadata") or {}).get("name", ""))
        self._custom[name] = crd_resource_types(crd)
        self._reindex()

    def remove_crd(self, name: str) -> None:
        if self._custom.pop(name, None) is not None:
            self._reindex()

    def _reindex(self) -> None:
        index = dict(self._builtin)
        for types in self._custom.values():
            for t in types:
                index.setdefault((t.group, t.version, t.plural), t)
        self._index = index
        by_storage: dict[str, ResourceType] = {}
        for t in index.values():
            by_storage.setdefault(t.storage_key, t)
        self._by_storage = by_storage

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._index.get((group, version, plural))

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(self._index.values())

    def custom_types(self, crd_name: str) -> list[ResourceType]:
        return list(self._custom.get(crd_name, ()))

    def groups(self) -> dict[str, list[str]]:
        """Group -> served versions, preferred first; the core group is "" and listed first."""
        versions: dict[str, set[str]] = {}
        for t in self._index.values():
            versions.setdefault(t.group, set()).add(t.version)
        ordered = sorted(versions, key=lambda g: (g != "", g))
        return {g: sorted(versions[g], key=version_priority) for g in ordered}

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return sorted(
            (t for t in self._index.values() if t.group == group and t.version == version),
            key=lambda t: t.plural,
        )

    def storage_types(self) -> Iterable[ResourceType]:
        """One type per storage key (the first served one)."""
        return list(self._by_storage.values())

    def for_storage(self, skey: str) -> ResourceType | None:
        return self._by_storage.get(skey)
