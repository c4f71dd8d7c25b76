"""Fault injection for the sandbox catalog: what the next API requests should suffer.

Faults touch API paths only (`/api/...`), never the `/_sandbox` admin paths.
Counted faults queue in the order they were set; each request takes at most one
of each kind, from the first queued entry whose `path_prefix` matches (no
prefix matches every API path). Order of application per request:

1. `delay` (every API response, including injected failures);
2. `fail_next`: the request is answered with the injected status, before
   authentication (as a gateway in front of the API would);
3. otherwise the real answer; if that is a 200 listing (models or
   model-versions), `bad_body_next`, then `empty_page_next` and
   `misreport_total` may alter it. A request that ends in 401 or 422 consumes
   no body fault.

Every method is thread-safe, so synchronous test code can drive a sandbox
running in a background thread.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeVar, get_args

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
    remaining: int
    path_prefix: str | None
    kind: str = ""
    delta: int = 0


_Entry = TypeVar("_Entry", InjectedFailure, _Counted)


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


class FaultPlan:
    """The faults currently armed on one sandbox."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = _State()

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

    def misreport_total(self, delta: int, count: int, *, path_prefix: str | None = None) -> None:
        """Add `delta` to `pagination.total` (floored at 0) in the next `count` listings."""
        _check_count(count)
        with self._lock:
            self._state.misreports.append(_Counted(count, path_prefix, delta=delta))

    def empty_page_next(self, count: int, *, path_prefix: str | None = None) -> None:
        """Return `data: []` (with the true total) in the next `count` listings."""
        _check_count(count)
        with self._lock:
            self._state.empty_pages.append(_Counted(count, path_prefix))

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._state = _State()

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
            }

    # Used by the server, one call per request.

    def current_delay(self) -> float:
        with self._lock:
            return self._state.delay

    def take_failure(self, path: str) -> InjectedFailure | None:
        with self._lock:
            entry = _take(self._state.failures, path)
            return None if entry is None else InjectedFailure(**asdict(entry))

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
        if entry.path_prefix is None or path.startswith(entry.path_prefix):
            entry.remaining -= 1
            if entry.remaining <= 0:
                queue.remove(entry)
            return entry
    return None


def _check_count(count: int) -> None:
    if count < 1:
        raise ValueError("count must be >= 1")


def _retry_after_value(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)
