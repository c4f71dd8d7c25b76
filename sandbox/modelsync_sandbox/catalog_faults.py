"""Fault injection for the sandbox catalog: what the next API requests should suffer.

Faults touch API paths only (`/api/...`), never the `/_sandbox` admin paths.
Every fault takes an optional `path_prefix` (none matches every API path).
Counted faults (`count=N`) are used up by the requests they change; where a
fault's `count` may be None it stays armed until `clear()`. Armed faults of
one kind queue in the order they were set; each request takes at most one of
each kind, from the first queued entry that matches its path (and, for a
paging lie, that would change its page). Order of application per request:

1. `delay` (every API response, including injected failures);
2. `fail_next`: the request is answered with the injected status, before
   authentication (as a gateway in front of the API would);
3. otherwise the real answer; if that is a 200 listing (models or
   model-versions) the body faults apply, in this order:
   - paging lies (`catalog_lies` says exactly what each does), each counted or
     until cleared: `moving_total`, `ignore_offset`, `repeat_page`,
     `empty_page_before_total`, `duplicate_ids`;
   - `bad_body_next` (counted; a broken body takes no other body fault of
     this step), else `empty_page_next` (counted, any page) and
     `misreport_total` (counted or until cleared; `understate_total` and
     `overstate_total` arm it with a negative or positive delta);
   - one delivery fault (`catalog_delivery`), counted or until cleared, first
     armed first: `oversized_body`, `gzip_bomb`, `drip`.
   A request that ends in 401 or 422 consumes no body fault.

`clear()` disarms everything: the sandbox is honest again.

Every method is thread-safe, so synchronous test code can drive a sandbox
running in a background thread.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, TypeVar, get_args

from modelsync_sandbox.catalog_delivery import (
    DEFAULT_BOMB_INFLATED_BYTES,
    MAX_BOMB_INFLATED_BYTES,
    Delivery,
    prepare_gzip_bomb,
)
from modelsync_sandbox.catalog_lies import (
    PAGING_LIE_KINDS,
    JsonObject,
    PageFacts,
    PagingLie,
    apply_lie,
)

BadBodyKind = Literal["truncated", "not-json", "wrong-shape"]
BAD_BODY_KINDS: tuple[str, ...] = get_args(BadBodyKind)
JsonBody = dict[str, Any] | list[Any] | str


@dataclass
class InjectedFailure:
    """A queued `fail_next` entry."""

    remaining: int
    status: int
    body: JsonBody | None = None
    retry_after: str | None = None
    path_prefix: str | None = None


@dataclass
class _Counted:
    remaining: int | None
    path_prefix: str | None
    kind: str = ""
    delta: int = 0


_Entry = TypeVar("_Entry", InjectedFailure, _Counted, PagingLie, Delivery)


@dataclass(frozen=True)
class BodyFaults:
    """What to do to one 200 listing body."""

    bad_body: str | None = None
    empty_page: bool = False
    total_delta: int = 0

    @property
    def labels(self) -> list[str]:
        found = [f"bad-body:{self.bad_body}"] if self.bad_body else []
        found += ["empty-page"] if self.empty_page else []
        found += [f"misreport-total:{self.total_delta:+d}"] if self.total_delta else []
        return found


@dataclass
class _State:
    delay: float = 0.0
    failures: deque[InjectedFailure] = field(default_factory=deque)
    bad_bodies: deque[_Counted] = field(default_factory=deque)
    empty_pages: deque[_Counted] = field(default_factory=deque)
    misreports: deque[_Counted] = field(default_factory=deque)
    paging_lies: deque[PagingLie] = field(default_factory=deque)
    deliveries: deque[Delivery] = field(default_factory=deque)


class FaultPlan:
    """The faults currently armed on one sandbox."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = _State()
        self._clears = 0

    def fail_next(
        self,
        count: int,
        status: int,
        *,
        body: JsonBody | None = None,
        retry_after: float | str | None = None,
        path_prefix: str | None = None,
    ) -> None:
        """Answer the next `count` API requests with `status`.

        `body`: a dict/list is sent as JSON, a str as text/plain; by default a
        `{"detail": ...}` JSON body (for 422 one in the HTTPValidationError
        shape). `retry_after` (seconds or an HTTP date) sets the Retry-After
        header, e.g. with 429 or 503.
        """
        _check_count(count)
        if not 100 <= status <= 599:
            raise ValueError(f"status must be 100..599, not {status}")
        header = None if retry_after is None else _retry_after_value(retry_after)
        with self._lock:
            self._state.failures.append(InjectedFailure(count, status, body, header, path_prefix))

    def delay(self, seconds: float) -> None:
        """Delay every API response by `seconds` (0 turns it off)."""
        if seconds < 0:
            raise ValueError("delay must be >= 0")
        with self._lock:
            self._state.delay = float(seconds)

    def bad_body_next(self, count: int, kind: str, *, path_prefix: str | None = None) -> None:
        """Break the next `count` 200 listing bodies.

        `truncated`: the JSON cut in half (content type still JSON);
        `not-json`: an HTML page with content type text/html;
        `wrong-shape`: valid JSON without `data`/`pagination`.
        """
        _check_count(count)
        if kind not in BAD_BODY_KINDS:
            raise ValueError(f"kind must be one of {', '.join(BAD_BODY_KINDS)}")
        with self._lock:
            self._state.bad_bodies.append(_Counted(count, path_prefix, kind=kind))

    def misreport_total(
        self, delta: int, count: int | None = None, *, path_prefix: str | None = None
    ) -> None:
        """Add `delta` to `pagination.total` (floored at 0) in the next `count` listings
        (None: in every listing until cleared). The items are left as they are."""
        _check_optional_count(count)
        with self._lock:
            self._state.misreports.append(_Counted(count, path_prefix, delta=delta))

    def understate_total(
        self, by: int, count: int | None = None, *, path_prefix: str | None = None
    ) -> None:
        """`misreport_total(-by, ...)`: listings report `by` fewer items than they hold."""
        _check_positive("by", by)
        self.misreport_total(-by, count, path_prefix=path_prefix)

    def overstate_total(
        self, by: int, count: int | None = None, *, path_prefix: str | None = None
    ) -> None:
        """`misreport_total(+by, ...)`: listings report `by` more items than exist."""
        _check_positive("by", by)
        self.misreport_total(by, count, path_prefix=path_prefix)

    def moving_total(
        self, delta: int, count: int | None = None, *, path_prefix: str | None = None
    ) -> None:
        """Pages after the first report `total + delta`, cut as if `delta` items had been
        added ahead of them (negative: removed), in the next `count` such pages
        (None: until cleared)."""
        if delta == 0:
            raise ValueError("delta must not be 0")
        self._arm_lie(PagingLie("moving-total", count, path_prefix, delta=delta))

    def ignore_offset(self, count: int | None = None, *, path_prefix: str | None = None) -> None:
        """Pages after the first carry the first page's items, in the next `count` such
        pages (None: until cleared)."""
        self._arm_lie(PagingLie("ignore-offset", count, path_prefix))

    def repeat_page(self, count: int | None = None, *, path_prefix: str | None = None) -> None:
        """Pages after the first carry the items of the page served before them on the
        same listing, in the next `count` such pages (None: until cleared)."""
        self._arm_lie(PagingLie("repeat-page", count, path_prefix))

    def empty_page_before_total(
        self, count: int | None = None, *, from_offset: int = 1, path_prefix: str | None = None
    ) -> None:
        """Pages at an offset >= `from_offset` and below the true total come back with
        no items (the total stays true), in the next `count` such pages (None: until
        cleared)."""
        if from_offset < 0:
            raise ValueError("from_offset must be >= 0")
        self._arm_lie(
            PagingLie("empty-page-before-total", count, path_prefix, from_offset=from_offset)
        )

    def duplicate_ids(
        self,
        count: int | None = None,
        *,
        across_pages: bool = False,
        path_prefix: str | None = None,
    ) -> None:
        """One id appears twice and another not at all: a page's last item becomes a copy
        of its first, or with `across_pages` a later page's first item a copy of the
        item before it; in the next `count` such pages (None: until cleared)."""
        self._arm_lie(PagingLie("duplicate-ids", count, path_prefix, across_pages=across_pages))

    def oversized_body(
        self,
        size_bytes: int,
        count: int | None = None,
        *,
        declare_length: bool = False,
        path_prefix: str | None = None,
    ) -> None:
        """Pad listing bodies with whitespace to `size_bytes`, streamed (chunked unless
        `declare_length`), in the next `count` listings (None: until cleared)."""
        _check_positive("size_bytes", size_bytes)
        self._arm_delivery(
            Delivery(
                "oversized-body",
                count,
                path_prefix,
                size_bytes=size_bytes,
                declare_length=declare_length,
            )
        )

    def gzip_bomb(
        self,
        count: int | None = None,
        *,
        inflated_bytes: int = DEFAULT_BOMB_INFLATED_BYTES,
        path_prefix: str | None = None,
    ) -> None:
        """Send listing bodies gzip-encoded, inflating to `inflated_bytes` of whitespace
        before the JSON (about 1 KiB on the wire per MiB inflated), in the next `count`
        listings (None: until cleared)."""
        if not 1 <= inflated_bytes <= MAX_BOMB_INFLATED_BYTES:
            raise ValueError(f"inflated_bytes must be 1..{MAX_BOMB_INFLATED_BYTES}")
        _check_optional_count(count)
        prepare_gzip_bomb(inflated_bytes)
        self._arm_delivery(Delivery("gzip-bomb", count, path_prefix, size_bytes=inflated_bytes))

    def drip(
        self, interval: float, count: int | None = None, *, path_prefix: str | None = None
    ) -> None:
        """Send the headers at once, then listing bodies one byte every `interval`
        seconds, in the next `count` listings (None: until cleared)."""
        if not (math.isfinite(interval) and interval > 0):
            raise ValueError("interval must be a number of seconds > 0")
        self._arm_delivery(Delivery("drip", count, path_prefix, interval=float(interval)))

    def _arm_lie(self, lie: PagingLie) -> None:
        _check_optional_count(lie.remaining)
        with self._lock:
            self._state.paging_lies.append(lie)

    def _arm_delivery(self, delivery: Delivery) -> None:
        _check_optional_count(delivery.remaining)
        with self._lock:
            self._state.deliveries.append(delivery)

    def empty_page_next(self, count: int, *, path_prefix: str | None = None) -> None:
        """Return `data: []` (with the true total) in the next `count` listings."""
        _check_count(count)
        with self._lock:
            self._state.empty_pages.append(_Counted(count, path_prefix))

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._state = _State()
            self._clears += 1

    @property
    def clears(self) -> int:
        """How often `clear()` ran: a delivery in flight stops lying once this moves."""
        with self._lock:
            return self._clears

    def snapshot(self) -> dict[str, Any]:
        """The armed faults as JSON-ready data (for the admin endpoint)."""
        with self._lock:
            state = self._state
            return {
                "delay": state.delay,
                "fail_next": [asdict(f) for f in state.failures],
                "bad_body_next": [asdict(c) for c in state.bad_bodies],
                "empty_page_next": [asdict(c) for c in state.empty_pages],
                "misreport_total": [asdict(c) for c in state.misreports],
                "paging_lies": [asdict(lie) for lie in state.paging_lies],
                "delivery": [asdict(d) for d in state.deliveries],
            }

    # Used by the server, one call per request.

    def current_delay(self) -> float:
        with self._lock:
            return self._state.delay

    def take_failure(self, path: str) -> InjectedFailure | None:
        with self._lock:
            entry = _take(self._state.failures, path)
            return None if entry is None else InjectedFailure(**asdict(entry))

    def tell_lies(
        self, path: str, page: JsonObject, facts: PageFacts
    ) -> tuple[JsonObject, list[str]]:
        """`page` as the armed paging lies serve it, and the labels of those used."""
        labels: list[str] = []
        with self._lock:
            for kind in PAGING_LIE_KINDS:
                for lie in self._state.paging_lies:
                    if lie.kind != kind or not _matches(lie, path):
                        continue
                    told = apply_lie(lie, page, facts)
                    if told is not None:
                        page = told
                        labels.append(lie.label)
                        _use(self._state.paging_lies, lie)
                        break
        return page, labels

    def take_delivery(self, path: str) -> Delivery | None:
        with self._lock:
            entry = _take(self._state.deliveries, path)
            return None if entry is None else replace(entry)

    def take_body_faults(self, path: str) -> BodyFaults:
        with self._lock:
            bad = _take(self._state.bad_bodies, path)
            if bad is not None:
                return BodyFaults(bad_body=bad.kind)
            empty = _take(self._state.empty_pages, path)
            misreport = _take(self._state.misreports, path)
            return BodyFaults(
                empty_page=empty is not None,
                total_delta=0 if misreport is None else misreport.delta,
            )


def _take(queue: deque[_Entry], path: str) -> _Entry | None:
    for entry in queue:
        if _matches(entry, path):
            _use(queue, entry)
            return entry
    return None


def _matches(entry: InjectedFailure | _Counted | PagingLie | Delivery, path: str) -> bool:
    return entry.path_prefix is None or path.startswith(entry.path_prefix)


def _use(queue: deque[_Entry], entry: _Entry) -> None:
    if entry.remaining is None:
        return
    entry.remaining -= 1
    if entry.remaining <= 0:
        queue.remove(entry)


def _check_count(count: int) -> None:
    if count < 1:
        raise ValueError("count must be >= 1")


def _check_optional_count(count: int | None) -> None:
    if count is not None:
        _check_count(count)


def _check_positive(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be >= 1")


def _retry_after_value(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)
