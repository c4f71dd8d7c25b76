"""Faults injected into resource requests at runtime: error statuses, expired watches, slow
answers and dropped connections, chosen per verb, resource, namespace and name.

A `FaultInjector` holds the armed faults. It is shared between the server's event loop
(which asks `take()` for every resource request) and test threads or the admin endpoint
(which arm and clear faults), so its state sits behind a lock. A fault with a `count` hits
that many matching requests and then disarms; without one it stays until removed.

Expired-watch and dropped-connection faults also hit matching watches that are already
open when the fault is armed: a controller keeps its watches open for minutes, so a fault
only on new requests would never reach it.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelsync_sandbox.kube import errors
from modelsync_sandbox.kube.errors import ApiError, JsonObject

STATUS = "status"  # answer with an error Status (429, 500, 503, ...)
GONE = "gone"  # a watch gets an ERROR event carrying a 410 Expired Status, then ends
DELAY = "delay"  # wait before answering (the request then proceeds normally)
DROP = "drop"  # close the TCP connection without a response
FAULT_KINDS = (STATUS, GONE, DELAY, DROP)

VERBS = frozenset(
    ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
)
# Status codes a fault may answer with, and the reason and message kube-apiserver gives them.
STATUS_REASONS: Mapping[int, tuple[str, str]] = {
    410: ("Expired", "the resourceVersion of the request is too old (injected fault)"),
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected fault"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted"),
}
DEFAULT_RETRY_AFTER = 1  # seconds, for 429 when none is given


class FaultSpecError(ValueError):
    """A fault description that cannot be armed; the message says which field and why."""


@dataclass(frozen=True)
class Fault:
    """What to do and to which requests. Empty `verbs`/`resources` match every one;
    a resource `modelrefs` also matches its subresources (`modelrefs/status`), while
    `modelrefs/status` matches only that subresource. `namespace`/`name` None match any."""

    kind: str
    status: int = 0
    retry_after: int | None = None
    seconds: float = 0.0
    verbs: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()
    namespace: str | None = None
    name: str | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        _check(self)

    def matches(self, verb: str, resource: str, namespace: str, name: str) -> bool:
        if self.verbs and verb not in self.verbs:
            return False
        if self.resources and not any(
            resource == r or resource.startswith(f"{r}/") for r in self.resources
        ):
            return False
        if self.namespace is not None and namespace != self.namespace:
            return False
        return self.name is None or name == self.name

    def to_json(self) -> JsonObject:
        out: JsonObject = {"fault": self.kind}
        if self.kind == STATUS:
            out["status"] = self.status
        if self.retry_after is not None:
            out["retryAfter"] = self.retry_after
        if self.kind == DELAY:
            out["seconds"] = self.seconds
        out["verbs"] = sorted(self.verbs)
        out["resources"] = sorted(self.resources)
        out["namespace"] = self.namespace
        out["name"] = self.name
        out["count"] = self.count
        return out

    @classmethod
    def from_json(cls, data: object) -> Fault:
        """Parse the admin endpoint's JSON (`fault`, `status`, `retryAfter`, `seconds`,
        `verbs`, `resources`, `namespace`, `name`, `count`); a 429 gets `retryAfter` 1 by
        default, and a `gone` fault applies to watches."""
        if not isinstance(data, dict):
            raise FaultSpecError("a fault must be a JSON object")
        known = {
            "fault",
            "status",
            "retryAfter",
            "seconds",
            "verbs",
            "resources",
            "namespace",
            "name",
            "count",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultSpecError(f"unknown fault fields {unknown}; known: {sorted(known)}")
        kind = data.get("fault")
        if not isinstance(kind, str):
            raise FaultSpecError(f"fault: one of {list(FAULT_KINDS)} is required")
        status = _int_field(data, "status", 0)
        retry_after = _optional_int(data, "retryAfter")
        if kind == STATUS and status == 429 and retry_after is None:
            retry_after = DEFAULT_RETRY_AFTER
        verbs = _names(data.get("verbs"), "verbs")
        if kind == GONE and not verbs:
            verbs = frozenset(("watch",))
        return cls(
            kind=kind,
            status=status,
            retry_after=retry_after,
            seconds=_number_field(data, "seconds"),
            verbs=verbs,
            resources=_names(data.get("resources"), "resources"),
            namespace=_optional_str(data, "namespace"),
            name=_optional_str(data, "name"),
            count=_optional_int(data, "count"),
        )


def _check(fault: Fault) -> None:
    if fault.kind not in FAULT_KINDS:
        raise FaultSpecError(f"fault: {fault.kind!r} is not one of {list(FAULT_KINDS)}")
    unknown_verbs = sorted(fault.verbs - VERBS)
    if unknown_verbs:
        raise FaultSpecError(f"verbs: unknown {unknown_verbs}; known: {sorted(VERBS)}")
    if fault.kind == STATUS and fault.status not in STATUS_REASONS:
        raise FaultSpecError(f"status: {fault.status} is not one of {sorted(STATUS_REASONS)}")
    if fault.kind != STATUS and fault.status:
        raise FaultSpecError(f"status: only a {STATUS!r} fault takes one")
    if fault.kind == GONE and fault.verbs != {"watch"}:
        raise FaultSpecError(
            "verbs: a 'gone' fault expires watches only (verbs ['watch']); "
            "use a 'status' fault with status 410 for other verbs"
        )
    if fault.kind == DELAY and not (0 < fault.seconds <= 3600 and math.isfinite(fault.seconds)):
        raise FaultSpecError("seconds: a 'delay' fault needs 0 < seconds <= 3600")
    if fault.kind != DELAY and fault.seconds:
        raise FaultSpecError("seconds: only a 'delay' fault takes one")
    if fault.retry_after is not None and (fault.kind != STATUS or fault.retry_after < 0):
        raise FaultSpecError("retryAfter: only a 'status' fault takes one, in seconds >= 0")
    if fault.count is not None and fault.count < 1:
        raise FaultSpecError("count: at least 1 (leave it out for a fault until cleared)")


def _int_field(data: Mapping[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FaultSpecError(f"{key}: an integer is required, got {value!r}")
    return value


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    return None if data.get(key) is None else _int_field(data, key, 0)


def _number_field(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultSpecError(f"{key}: a number is required, got {value!r}")
    return float(value)


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise FaultSpecError(f"{key}: a string is required, got {value!r}")
    return value


def _names(value: object, key: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset((value,))
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise FaultSpecError(f"{key}: a string or a list of strings is required, got {value!r}")


@dataclass(frozen=True)
class ArmedFault:
    """A snapshot of an armed fault: its id, its spec, hits so far and hits left."""

    id: int
    fault: Fault
    hits: int
    remaining: int | None

    def to_json(self) -> JsonObject:
        return {
            "id": self.id,
            **self.fault.to_json(),
            "hits": self.hits,
            "remaining": self.remaining,
        }


@dataclass
class _Armed:
    id: int
    fault: Fault
    remaining: int | None
    hits: int = 0


@dataclass(frozen=True)
class Hit:
    """A fault chosen for one request."""

    id: int
    fault: Fault


@dataclass
class _OpenWatch:
    resource: str
    namespace: str
    name: str
    interrupt: Callable[[Hit], None]
    done: bool = field(default=False)


@dataclass(frozen=True)
class _Target:
    """Which requests a fault hits, as the arming methods take it."""

    verbs: Iterable[str]
    resources: Iterable[str]
    namespace: str | None
    name: str | None
    count: int | None


class FaultInjector:
    """The armed faults of one sandbox. Safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._armed: list[_Armed] = []
        self._hits: dict[int, int] = {}
        self._open_watches: dict[int, _OpenWatch] = {}
        self._watch_ids = itertools.count(1)
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's, once it runs

    # -- arming (any thread) ----------------------------------------------------------------

    def add(self, fault: Fault) -> int:
        """Arm `fault`; returns its id."""
        with self._lock:
            fault_id = next(self._ids)
            self._armed.append(_Armed(fault_id, fault, fault.count))
            self._hits[fault_id] = 0
        loop = self.loop
        if fault.kind in (GONE, DROP) and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._hit_open_watches, fault_id)
        return fault_id

    def fail(
        self,
        status: int,
        *,
        retry_after: int | None = None,
        verbs: Iterable[str] = (),
        resources: Iterable[str] = (),
        namespace: str | None = None,
        name: str | None = None,
        count: int | None = None,
    ) -> int:
        """Answer matching requests with `status` (410, 429, 500, 503, 504) and a Status body;
        a 429 carries `Retry-After` (default 1 s)."""
        if status == 429 and retry_after is None:
            retry_after = DEFAULT_RETRY_AFTER
        target = _Target(verbs, resources, namespace, name, count)
        return self._arm(STATUS, target, status=status, retry_after=retry_after)

    def expire_watches(
        self,
        *,
        resources: Iterable[str] = (),
        namespace: str | None = None,
        name: str | None = None,
        count: int | None = None,
    ) -> int:
        """Matching watches (open ones too) get an ERROR event with a 410 Expired Status."""
        return self._arm(GONE, _Target(("watch",), resources, namespace, name, count))

    def delay(
        self,
        seconds: float,
        *,
        verbs: Iterable[str] = (),
        resources: Iterable[str] = (),
        namespace: str | None = None,
        name: str | None = None,
        count: int | None = None,
    ) -> int:
        """Wait `seconds` before serving matching requests (they then run as usual)."""
        target = _Target(verbs, resources, namespace, name, count)
        return self._arm(DELAY, target, seconds=seconds)

    def drop(
        self,
        *,
        verbs: Iterable[str] = (),
        resources: Iterable[str] = (),
        namespace: str | None = None,
        name: str | None = None,
        count: int | None = None,
    ) -> int:
        """Close the connection of matching requests (and open watches) without an answer."""
        return self._arm(DROP, _Target(verbs, resources, namespace, name, count))

    def _arm(self, kind: str, target: _Target, **what: Any) -> int:
        return self.add(
            Fault(
                kind,
                verbs=frozenset(target.verbs),
                resources=frozenset(target.resources),
                namespace=target.namespace,
                name=target.name,
                count=target.count,
                **what,
            )
        )

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._armed)
            self._armed = [a for a in self._armed if a.id != fault_id]
            return len(self._armed) != before

    def clear(self) -> None:
        """Disarm every fault (hit counts stay readable)."""
        with self._lock:
            self._armed.clear()

    def any_armed(self) -> bool:
        with self._lock:
            return bool(self._armed)

    def armed(self) -> list[ArmedFault]:
        with self._lock:
            return [ArmedFault(a.id, a.fault, a.hits, a.remaining) for a in self._armed]

    def hits(self, fault_id: int) -> int:
        """How many requests fault `fault_id` has hit so far (also once disarmed)."""
        with self._lock:
            return self._hits.get(fault_id, 0)

    # -- matching (the server's loop) -------------------------------------------------------

    def take(self, verb: str, resource: str, namespace: str, name: str) -> Hit | None:
        """The first armed fault matching this request, counted as hit; None for none."""
        with self._lock:
            return self._take_locked(verb, resource, namespace, name, kinds=None)

    def _take_locked(
        self,
        verb: str,
        resource: str,
        namespace: str,
        name: str,
        kinds: tuple[str, ...] | None,
        only: int | None = None,
    ) -> Hit | None:
        for armed in self._armed:
            if only is not None and armed.id != only:
                continue
            if kinds is not None and armed.fault.kind not in kinds:
                continue
            if not armed.fault.matches(verb, resource, namespace, name):
                continue
            armed.hits += 1
            self._hits[armed.id] += 1
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining <= 0:
                    self._armed.remove(armed)
            return Hit(armed.id, armed.fault)
        return None

    def open_watch(
        self, resource: str, namespace: str, name: str, interrupt: Callable[[Hit], None]
    ) -> int:
        """Register an open watch stream; `interrupt` delivers a gone/drop hit to it (on the
        server's loop). Returns a token for `close_watch`."""
        with self._lock:
            token = next(self._watch_ids)
            self._open_watches[token] = _OpenWatch(resource, namespace, name, interrupt)
            return token

    def close_watch(self, token: int) -> None:
        with self._lock:
            self._open_watches.pop(token, None)

    def _hit_open_watches(self, fault_id: int) -> None:
        hits: list[tuple[_OpenWatch, Hit]] = []
        with self._lock:
            for watch in self._open_watches.values():
                if watch.done:
                    continue
                hit = self._take_locked(
                    "watch", watch.resource, watch.namespace, watch.name, (GONE, DROP), fault_id
                )
                if hit is None:
                    continue
                watch.done = True
                hits.append((watch, hit))
        for watch, hit in hits:
            watch.interrupt(hit)


def status_error(fault: Fault) -> ApiError:
    """The error a `status` fault answers with: a Status body as kube-apiserver writes it."""
    reason, message = STATUS_REASONS[fault.status]
    details: JsonObject = {}
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        details["retryAfterSeconds"] = fault.retry_after
        headers["Retry-After"] = str(fault.retry_after)
    if fault.status == 500:
        details["causes"] = [{"message": "injected fault"}]
    return ApiError(fault.status, reason, message, details or None, headers=headers)


def expired_status(requested: str, oldest: int) -> JsonObject:
    """The Status inside the ERROR event of an expired watch."""
    since = requested if requested not in ("", "0") else str(oldest)
    return errors.expired(f"too old resource version: {since} ({oldest})").to_status()
