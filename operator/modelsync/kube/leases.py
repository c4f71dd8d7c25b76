"""Lease I/O (coordination.k8s.io/v1) for leader election: read one, create it, replace it.

Replace sends the resourceVersion that was read, so the API server refuses it (409,
KubeConflict) when anyone wrote the Lease in between: optimistic concurrency.

Leases go through the generic custom-objects calls, as plain JSON, rather than the typed
CoordinationV1Api: that one serializes a MicroTime with a zero fraction as
`2024-05-01T10:00:00+00:00`, which the API server's RFC3339Micro parser rejects.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from modelsync.kube.client import KubeApi
from modelsync.kube.errors import KubeNotFound

__all__ = [
    "LEASE_GROUP",
    "LeaseSpec",
    "StoredLease",
    "create_lease",
    "format_micro_time",
    "read_lease",
    "replace_lease",
    "spec_from_json",
    "spec_to_json",
]

JsonDict = dict[str, Any]

LEASE_GROUP = "coordination.k8s.io"
LEASE_VERSION = "v1"
LEASE_PLURAL = "leases"


@dataclass(frozen=True)
class LeaseSpec:
    """The Lease fields leader election uses (others on the object are kept as they are)."""

    holder: str | None = None
    duration_seconds: int | None = None
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    transitions: int = 0


@dataclass(frozen=True)
class StoredLease:
    """A Lease as read (or as a write returned it): its spec and the whole object."""

    namespace: str
    name: str
    spec: LeaseSpec
    resource_version: str
    body: Mapping[str, Any]


def format_micro_time(value: datetime) -> str:
    """metav1.MicroTime: UTC, always six fraction digits, `Z`."""
    utc = value.astimezone(UTC) if value.tzinfo is not None else value
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def spec_from_json(spec: object) -> LeaseSpec:
    """Read the fields we use; anything missing or malformed reads as absent."""
    if not isinstance(spec, Mapping):
        return LeaseSpec()
    holder = spec.get("holderIdentity")
    return LeaseSpec(
        holder=holder if isinstance(holder, str) and holder else None,
        duration_seconds=_int(spec.get("leaseDurationSeconds")),
        acquire_time=_parse_time(spec.get("acquireTime")),
        renew_time=_parse_time(spec.get("renewTime")),
        transitions=_int(spec.get("leaseTransitions")) or 0,
    )


def spec_to_json(spec: LeaseSpec) -> JsonDict:
    """The Lease spec fields for `spec`; unset ones are left out."""
    wire: JsonDict = {"leaseTransitions": spec.transitions}
    if spec.holder:
        wire["holderIdentity"] = spec.holder
    if spec.duration_seconds is not None:
        wire["leaseDurationSeconds"] = spec.duration_seconds
    if spec.acquire_time is not None:
        wire["acquireTime"] = format_micro_time(spec.acquire_time)
    if spec.renew_time is not None:
        wire["renewTime"] = format_micro_time(spec.renew_time)
    return wire


_OWN_FIELDS = ("holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime")


def _stored(body: Mapping[str, Any]) -> StoredLease:
    meta = body.get("metadata") or {}
    return StoredLease(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        spec=spec_from_json(body.get("spec")),
        resource_version=str(meta.get("resourceVersion", "")),
        body=body,
    )


def _where(namespace: str, name: str) -> str:
    return f'Lease "{name}" in namespace "{namespace}"'


async def read_lease(api: KubeApi, namespace: str, name: str) -> StoredLease | None:
    """The Lease, or None when it does not exist."""
    try:
        body = await api.call(
            "get",
            LEASE_PLURAL,
            f"get {_where(namespace, name)}",
            api.custom.get_namespaced_custom_object,
            LEASE_GROUP,
            LEASE_VERSION,
            namespace,
            LEASE_PLURAL,
            name,
        )
    except KubeNotFound:
        return None
    return _stored(cast(JsonDict, body))


async def create_lease(
    api: KubeApi,
    namespace: str,
    name: str,
    spec: LeaseSpec,
    labels: Mapping[str, str] | None = None,
) -> StoredLease:
    """Create the Lease; KubeConflict when it already exists."""
    metadata: JsonDict = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    body = {
        "apiVersion": f"{LEASE_GROUP}/{LEASE_VERSION}",
        "kind": "Lease",
        "metadata": metadata,
        "spec": spec_to_json(spec),
    }
    created = await api.call(
        "create",
        LEASE_PLURAL,
        f"create {_where(namespace, name)}",
        api.custom.create_namespaced_custom_object,
        LEASE_GROUP,
        LEASE_VERSION,
        namespace,
        LEASE_PLURAL,
        body,
    )
    return _stored(cast(JsonDict, created))


async def replace_lease(api: KubeApi, current: StoredLease, spec: LeaseSpec) -> StoredLease:
    """Write `spec` over the Lease as it was read (its resourceVersion included), keeping
    metadata and spec fields we do not own; KubeConflict when it changed since the read."""
    body = copy.deepcopy(dict(current.body))
    kept = {k: v for k, v in (body.get("spec") or {}).items() if k not in _OWN_FIELDS}
    body["spec"] = {**kept, **spec_to_json(spec)}
    body.setdefault("metadata", {})["resourceVersion"] = current.resource_version
    replaced = await api.call(
        "update",
        LEASE_PLURAL,
        f"update {_where(current.namespace, current.name)}",
        api.custom.replace_namespaced_custom_object,
        LEASE_GROUP,
        LEASE_VERSION,
        current.namespace,
        LEASE_PLURAL,
        current.name,
        body,
    )
    return _stored(cast(JsonDict, replaced))
