"""Hooks for metrics (issue 5): the runtime reports what happened, observers count it.

The default observer does nothing; a Prometheus implementation plugs in here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["NullObserver", "SyncObserver", "SyncReport"]


@dataclass(frozen=True)
class SyncReport:
    """One finished sync. `result` is "success", "failure", "stalled" or "suspended"."""

    namespace: str
    name: str
    result: str
    reason: str
    duration: float
    ready_refs: int
    not_ready_refs: int
    writes: int


class SyncObserver(Protocol):
    def sync_finished(self, report: SyncReport) -> None: ...
    def catalog_response(self, status_code: int) -> None: ...
    def kube_request(self, verb: str, resource: str, status: int | None) -> None: ...
    def sync_forgotten(self, namespace: str, name: str) -> None: ...


class NullObserver:
    def sync_finished(self, report: SyncReport) -> None:
        pass

    def catalog_response(self, status_code: int) -> None:
        pass

    def kube_request(self, verb: str, resource: str, status: int | None) -> None:
        pass

    def sync_forgotten(self, namespace: str, name: str) -> None:
        pass
