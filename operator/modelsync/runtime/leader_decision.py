"""Leader election on a Lease, the pure part: what a replica does with the Lease it just read.

The rules are client-go's (k8s.io/client-go/tools/leaderelection):
- a Lease that is absent, has no holder, or has expired is acquired;
- the leader renews its own Lease; a candidate that finds itself named takes it back;
- a Lease someone else holds and keeps renewing is waited on;
- a leader that does not find itself named (someone else or no one), or has not renewed for
  `renew_deadline`, has lost and must stop all work at once. `renew_deadline <
  lease_duration`, so it stops before any other replica may take over;
- a leader writes only while its last successful renewal is younger than `renew_deadline`
  (`write_allowed`), so a replica whose election loop could not run (a blocked event loop)
  stops writing by the clock, before it even notices it lost.

Expiry is judged on this replica's monotonic clock, from the moment it *saw* the Lease change
(not from `renewTime`, which another node's clock wrote), so clock skew between nodes does
not matter; a replica that starts next to a dead leader waits one full lease duration.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from modelsync.api.label_selector import LabelSelector
from modelsync.kube.leases import LeaseSpec

__all__ = [
    "JITTER_FACTOR",
    "ElectionTiming",
    "Sighting",
    "Verdict",
    "claimed",
    "decide",
    "released",
    "shard_lease_name",
    "sight",
    "write_allowed",
]

SHARD_LEASE_PREFIX = "modelsync-shard-"
_SHARD_HASH_LENGTH = 10


def shard_lease_name(selector: LabelSelector) -> str:
    """The Lease of the shard `--sync-selector` names: `modelsync-shard-<10 hex digits of the
    SHA-256 of the normalized selector>`, so replicas of one shard share it however they write
    the selector, and shards with different selectors never do."""
    digest = hashlib.sha256(str(selector).encode("utf-8")).hexdigest()
    return SHARD_LEASE_PREFIX + digest[:_SHARD_HASH_LENGTH]


# Candidates wait retry_period * (1 + up to 0.2); renew_deadline must outlast one such wait.
JITTER_FACTOR = 1.2


@dataclass(frozen=True)
class ElectionTiming:
    """Seconds. Defaults as controller-runtime's: 15 s lease, 10 s renew deadline, 2 s retry."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if self.retry_period <= 0:
            raise ValueError("the leader election retry period must be positive")
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ValueError(
                f"the leader election renew deadline ({self.renew_deadline:g}s) must be longer "
                f"than {JITTER_FACTOR:g} x the retry period ({self.retry_period:g}s)"
            )
        if self.lease_duration <= self.renew_deadline:
            raise ValueError(
                f"the leader election lease duration ({self.lease_duration:g}s) must be longer "
                f"than the renew deadline ({self.renew_deadline:g}s)"
            )

    @property
    def lease_duration_seconds(self) -> int:
        """What goes into `leaseDurationSeconds` (whole seconds, rounded up: others then
        wait at least as long as we promised)."""
        return max(1, math.ceil(self.lease_duration))


class Verdict(StrEnum):
    ACQUIRE = "acquire"  # write the Lease naming us (create it when absent)
    RENEW = "renew"  # we lead: write a fresh renewTime
    WAIT = "wait"  # someone else leads
    LOST = "lost"  # we led and must stop now


@dataclass(frozen=True)
class Sighting:
    """The Lease as last seen (spec and resourceVersion; None: absent) and the local
    monotonic time it was first seen that way."""

    spec: LeaseSpec | None
    version: str | None
    since: float


def sight(
    previous: Sighting | None, spec: LeaseSpec | None, version: str | None, now: float
) -> Sighting:
    """The sighting after reading the Lease at `now`: an unchanged Lease keeps its sighting
    (and so its expiry); any write to it starts a new one."""
    if previous is not None and (previous.spec, previous.version) == (spec, version):
        return previous
    return Sighting(spec, version, now)


def decide(
    seen: Sighting,
    *,
    identity: str,
    now: float,
    renewed_at: float | None,
    timing: ElectionTiming,
) -> Verdict:
    """What to do with the Lease just read. `renewed_at`: when our last successful acquire or
    renew was sent (local monotonic time), None when we do not lead."""
    leading = renewed_at is not None
    if renewed_at is not None and now - renewed_at > timing.renew_deadline:
        return Verdict.LOST
    holder = seen.spec.holder if seen.spec is not None else None
    if holder == identity:
        return Verdict.RENEW if leading else Verdict.ACQUIRE
    if holder is not None:
        if leading:
            return Verdict.LOST
        assert seen.spec is not None
        duration = seen.spec.duration_seconds
        valid_for = duration if duration is not None and duration > 0 else timing.lease_duration
        if now < seen.since + valid_for:
            return Verdict.WAIT
    return Verdict.LOST if leading else Verdict.ACQUIRE


def write_allowed(renewed_at: float | None, now: float, renew_deadline: float) -> bool:
    """The write fence: True only while we lead (`renewed_at`: when our last successful
    acquire or renew was sent, on the local monotonic clock) and that is less than
    `renew_deadline` ago. Strictly less: at the deadline `decide` may already say LOST."""
    return renewed_at is not None and 0.0 <= now - renewed_at < renew_deadline


def claimed(
    current: LeaseSpec | None, *, identity: str, now: datetime, timing: ElectionTiming
) -> LeaseSpec:
    """The spec to write when acquiring or renewing: a new holder counts one more transition
    and a fresh acquireTime; the same holder keeps both."""
    if current is not None and current.holder == identity:
        return dataclasses.replace(
            current,
            duration_seconds=timing.lease_duration_seconds,
            acquire_time=current.acquire_time or now,
            renew_time=now,
        )
    return LeaseSpec(
        holder=identity,
        duration_seconds=timing.lease_duration_seconds,
        acquire_time=now,
        renew_time=now,
        transitions=current.transitions + 1 if current is not None else 0,
    )


def released(current: LeaseSpec, *, now: datetime) -> LeaseSpec:
    """The spec to write when giving the Lease up on shutdown: no holder, so a candidate
    takes it at its next try instead of waiting for it to expire."""
    return dataclasses.replace(current, holder=None, duration_seconds=1, renew_time=now)
