"""Hooks for metrics and logs: the runtime reports what happened, observers count it.

The default observer does nothing; modelsync.metrics holds the Prometheus implementation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from modelsync.runtime.outcomes import PassKind

__all__ = [
    "CATALOG_COUNT_KEYS",
    "MODELREF_COUNT_KEYS",
    "SYNC_RESULTS",
    "NullObserver",
    "SyncObserver",
    "SyncReport",
]

SYNC_RESULTS = tuple(PassKind)
CATALOG_COUNT_KEYS = ("models_listed", "pages", "requests", "skipped")
MODELREF_COUNT_KEYS = (
    "selected",
    "created",
    "updated",
    "unchanged",
    "deleted",
    "retained",
    "failed",
)


@dataclass(frozen=True)
class SyncReport:
    """One finished sync.

    `result`: SUCCESS only when the sync left Ready=True (a tripped deletion guard is a
    FAILURE). `reason` is the Ready condition's reason. `ready_refs` /
    `not_ready_refs` count the sync's ModelRefs by their Ready status after the sync. `catalog`
    (CATALOG_COUNT_KEYS) and `counts` (MODELREF_COUNT_KEYS) hold this pass's numbers as in
    status.catalog / status.modelRefs; empty when the pass did not get that far.
    """

    namespace: str
    name: str
    result: PassKind
    reason: str
    duration: float
    ready_refs: int
    not_ready_refs: int
    writes: int
    counts: Mapping[str, int] = field(default_factory=dict)
    catalog: Mapping[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """The human line: `sync ns/name: success (Synced) in 0.12s; ...`."""
        parts = [f"{self.result} ({self.reason or 'no reason'}) in {self.duration:.2f}s"]
        if self.catalog:
            parts.append(
                "catalog: "
                + ", ".join(
                    _count(self.catalog.get(k, 0), noun)
                    for k, noun in (("models_listed", "model"), ("pages", "page"))
                )
                + f" in {_count(self.catalog.get('requests', 0), 'request')}"
            )
        if self.counts:
            parts.append(
                "ModelRefs: "
                + ", ".join(f"{self.counts.get(k, 0)} {k}" for k in MODELREF_COUNT_KEYS)
            )
        parts.append(_count(self.writes, "write"))
        return f"sync {self.namespace}/{self.name}: " + "; ".join(parts)

    def log_fields(self) -> dict[str, object]:
        """Structured fields of the per-sync log line (a stable schema: every key, always).

        Counts are nested because names like `created` are taken by logging.LogRecord.
        """
        return {
            "namespace": self.namespace,
            "sync": self.name,
            "result": self.result,
            "reason": self.reason,
            "duration_ms": round(self.duration * 1000),
            "writes": self.writes,
            "catalog": {k: int(self.catalog.get(k, 0)) for k in CATALOG_COUNT_KEYS},
            "modelrefs": {
                **{k: int(self.counts.get(k, 0)) for k in MODELREF_COUNT_KEYS},
                "ready": self.ready_refs,
                "not_ready": self.not_ready_refs,
            },
        }


class SyncObserver(Protocol):
    def sync_started(self, namespace: str, name: str) -> None: ...
    def sync_finished(self, report: SyncReport) -> None: ...
    def catalog_response(self, status_code: int | None) -> None:
        """One catalog HTTP response; None: no response (transport failure)."""
        ...

    def kube_request(self, verb: str, resource: str, status: int | None) -> None: ...
    def sync_forgotten(self, namespace: str, name: str) -> None: ...
    def leader_changed(self, leading: bool) -> None:
        """This replica started (True) or stopped (False) leading; also called once at start
        (True without leader election)."""
        ...


class NullObserver:
    def sync_started(self, namespace: str, name: str) -> None:
        pass

    def sync_finished(self, report: SyncReport) -> None:
        pass

    def catalog_response(self, status_code: int | None) -> None:
        pass

    def kube_request(self, verb: str, resource: str, status: int | None) -> None:
        pass

    def sync_forgotten(self, namespace: str, name: str) -> None:
        pass

    def leader_changed(self, leading: bool) -> None:
        pass


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
