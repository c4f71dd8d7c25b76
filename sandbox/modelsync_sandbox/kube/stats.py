"""Request counters and a bounded request log, readable from other threads."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

WRITE_VERBS = frozenset(("create", "update", "patch", "delete", "deletecollection"))
LOG_SIZE = 100_000


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: str
    verb: str  # get, list, watch, create, update, patch, delete, deletecollection, or ""
    resource: str  # plural, "plural/subresource", or "" for non-resource paths
    namespace: str
    status: int  # 0: the connection was dropped without a response
    fault: str = ""  # the kind of injected fault that hit it (see faults.py), or ""
    started: float = field(default_factory=time.monotonic)  # time.monotonic() at arrival


class SandboxStats:
    """Counts requests that passed authentication, by (verb, resource).

    `writes` counts write verbs only: the operator's steady-state test expects none.
    Controller-side changes the sandbox makes itself (garbage collection) are not requests
    and are not counted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._writes: Counter[tuple[str, str]] = Counter()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._statuses: Counter[tuple[str, str, int]] = Counter()
        self._log: deque[RequestRecord] = deque(maxlen=LOG_SIZE)

    def record(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)
            if record.verb:
                self._requests[(record.verb, record.resource)] += 1
                self._statuses[(record.verb, record.resource, record.status)] += 1
                if record.verb in WRITE_VERBS:
                    self._writes[(record.verb, record.resource)] += 1

    @property
    def writes(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self._writes)

    @property
    def requests(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self._requests)

    @property
    def statuses(self) -> Counter[tuple[str, str, int]]:
        """Resource requests by (verb, resource, status); status 0 for a dropped connection."""
        with self._lock:
            return Counter(self._statuses)

    def matching(
        self,
        *,
        verbs: Iterable[str] = (),
        resource: str | None = None,
        namespace: str | None = None,
        since: float | None = None,
    ) -> list[RequestRecord]:
        """Logged requests with one of `verbs` (any when empty) on `resource` (or one of its
        subresources), in `namespace`, that arrived at or after `since` (time.monotonic())."""
        wanted = frozenset(verbs)
        return [
            r
            for r in self.log
            if (not wanted or r.verb in wanted)
            and (
                resource is None or r.resource == resource or r.resource.startswith(f"{resource}/")
            )
            and (namespace is None or r.namespace == namespace)
            and (since is None or r.started >= since)
        ]

    @property
    def log(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def total_writes(self, resource: str | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (_, res), n in self._writes.items()
                if resource is None or res == resource or res.startswith(f"{resource}/")
            )

    def reset(self) -> None:
        with self._lock:
            self._writes.clear()
            self._requests.clear()
            self._statuses.clear()
            self._log.clear()
