"""Leader election loop: every retry period, read the Lease and acquire, renew, wait or give
up leadership (the decision is runtime.leader_decision's); tell the runtime when this replica
starts and stops leading; release the Lease on shutdown so a standby takes over at once.

A leader that cannot renew within the renew deadline stops leading even when the API server
is unreachable: a round (read + write) is cut off at the deadline.

Writes are fenced by the clock, not by the loop: `may_write()` (asked on the API pool's
threads right before a write is sent) is False once the last successful renewal is as old as
the renew deadline, even when the event loop is blocked and this loop could not run to notice;
it then wakes this loop, which stops leading as soon as the event loop runs again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from modelsync.api.constants import LABEL_MANAGED_BY, MANAGED_BY_VALUE
from modelsync.kube.client import KubeApi, service_account_namespace
from modelsync.kube.errors import KubeApiError, KubeConflict
from modelsync.kube.leases import StoredLease, create_lease, read_lease, replace_lease
from modelsync.runtime.leader_decision import (
    JITTER_FACTOR,
    ElectionTiming,
    Sighting,
    Verdict,
    claimed,
    decide,
    released,
    sight,
    write_allowed,
)

__all__ = [
    "DEFAULT_LEASE_NAME",
    "LeaderElectionConfig",
    "LeaderElector",
    "default_identity",
    "default_namespace",
]

logger = logging.getLogger(__name__)

DEFAULT_LEASE_NAME = "modelsync-leader"
_POD_NAME_ENV = "POD_NAME"
_POD_NAMESPACE_ENV = "POD_NAMESPACE"


def default_identity(base: str | None = None) -> str:
    """`<pod name>_<random>`: the pod name ($POD_NAME, else the host name, which in a pod is
    the pod name) for people, the suffix so that a restarted process is a new holder."""
    name = base or os.environ.get(_POD_NAME_ENV) or socket.gethostname() or "modelsync"
    return f"{name}_{secrets.token_hex(4)}"


def default_namespace() -> str:
    """Where the Lease lives by default: $POD_NAMESPACE, else the pod's namespace from its
    service account, else "default"."""
    return os.environ.get(_POD_NAMESPACE_ENV) or service_account_namespace() or "default"


@dataclass(frozen=True)
class LeaderElectionConfig:
    namespace: str
    name: str = DEFAULT_LEASE_NAME
    identity: str = field(default_factory=default_identity)
    timing: ElectionTiming = field(default_factory=ElectionTiming)


Callback = Callable[[], Awaitable[None]]

_DEADLINE_PASSED = "could not renew the Lease within the renew deadline"


@dataclass(frozen=True)
class _Attempt:
    delay: float  # seconds until the next try
    acquired: bool = False  # became the leader
    lost: str | None = None  # stopped leading, and why


class LeaderElector:
    """Runs the election for one process; `on_started` / `on_stopped` are awaited when it
    starts and stops leading (`on_stopped` must leave no work running when it returns)."""

    def __init__(
        self,
        api: KubeApi,
        config: LeaderElectionConfig,
        *,
        on_started: Callback,
        on_stopped: Callback,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._api = api
        self._on_started = on_started
        self._on_stopped = on_stopped
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._seen: Sighting | None = None
        # When our last successful write was sent. Written only on the event loop; read by
        # `may_write` on other threads (a float or None: one atomic attribute read).
        self._renewed_at: float | None = None
        self._failure: str | None = None  # the API failure last logged
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()  # ends the wait between rounds early
        self._wake_requested = False  # a fenced write already asked for a round
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def leading(self) -> bool:
        return self._renewed_at is not None

    def may_write(self) -> bool:
        """The write fence; thread-safe and cheap (one attribute read and a clock read). True
        only while the last successful renewal is younger than the renew deadline. When it
        is not and we still count as leading (the loop has not run since), the election loop
        is woken to stop leading as soon as the event loop runs."""
        renewed = self._renewed_at  # read before the clock: `now` is never before it
        if write_allowed(renewed, self._clock(), self.config.timing.renew_deadline):
            return True
        if renewed is not None:
            self._step_down_soon()
        return False

    def _step_down_soon(self) -> None:
        loop = self._loop
        if loop is None or self._wake_requested:
            return
        self._wake_requested = True  # a benign race: at worst the loop is woken twice
        with contextlib.suppress(RuntimeError):  # the event loop is closed: nothing to stop
            loop.call_soon_threadsafe(self._wake.set)

    @property
    def _where(self) -> str:
        return f"Lease {self.config.namespace}/{self.config.name}"

    def start(self) -> None:
        logger.info("leader election: candidate %s for %s", self.config.identity, self._where)
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="leader election")

    async def stop(self) -> None:
        """Stop campaigning; if leading, stop leading and release the Lease."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        timing = self.config.timing
        while not self._stopping.is_set():
            try:
                delay = await self._round()
            except Exception:  # a bug here must not leave a leader that no longer renews
                logger.exception("leader election: unexpected error")
                await self._lose("unexpected error")
                delay = self._pause()
            if self._renewed_at is not None:  # wake up at the deadline at the latest
                deadline = self._renewed_at + timing.renew_deadline - self._clock()
                delay = min(delay, max(deadline, 0.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
        if self.leading:
            await self._lose("shutting down", logging.INFO)
            await self._release()

    def _pause(self) -> float:
        retry = self.config.timing.retry_period
        if self.leading:
            return retry
        return retry * (1 + self._rng.random() * (JITTER_FACTOR - 1))

    async def _round(self) -> float:
        """One try; returns the seconds to wait before the next. Only the API calls run
        under the deadline; starting and stopping the loops never gets cut off."""
        if self._renewed_at is None:
            attempt = await self._attempt()
        else:
            left = self._renewed_at + self.config.timing.renew_deadline - self._clock()
            try:
                async with asyncio.timeout(max(left, 0.0)):
                    attempt = await self._attempt()
            except TimeoutError:
                attempt = _Attempt(self._pause(), lost=_DEADLINE_PASSED)
            if self._renewed_at is not None and self._deadline_passed():
                attempt = _Attempt(attempt.delay, lost=_DEADLINE_PASSED)
        if attempt.lost is not None:
            await self._lose(attempt.lost)
        elif attempt.acquired:
            await self._on_started()
        return attempt.delay

    def _deadline_passed(self) -> bool:
        renewed = self._renewed_at
        return renewed is not None and self._clock() - renewed > self.config.timing.renew_deadline

    async def _attempt(self) -> _Attempt:
        cfg = self.config
        try:
            current = await read_lease(self._api, cfg.namespace, cfg.name)
        except KubeApiError as exc:
            self._failed(f"cannot read the {self._where}: {exc}{self._unanswered(exc)}")
            return _Attempt(self._pause())
        self._recovered()
        now = self._clock()
        spec = current.spec if current is not None else None
        version = current.resource_version if current is not None else None
        self._seen = sight(self._seen, spec, version, now)
        verdict = decide(
            self._seen,
            identity=cfg.identity,
            now=now,
            renewed_at=self._renewed_at,
            timing=cfg.timing,
        )
        if verdict is Verdict.LOST:
            holder = spec.holder if spec is not None else None
            return _Attempt(self._pause(), lost=f"the Lease is now held by {holder or 'no one'}")
        if verdict is Verdict.WAIT:
            return _Attempt(self._pause())
        return await self._write(current)

    async def _write(self, current: StoredLease | None) -> _Attempt:
        cfg = self.config
        wanted = claimed(
            current.spec if current is not None else None,
            identity=cfg.identity,
            now=self._wall_clock(),
            timing=cfg.timing,
        )
        sent = self._clock()
        try:
            if current is None:
                written = await create_lease(
                    self._api,
                    cfg.namespace,
                    cfg.name,
                    wanted,
                    labels={LABEL_MANAGED_BY: MANAGED_BY_VALUE},
                )
            else:
                written = await replace_lease(self._api, current, wanted)
        except KubeConflict:
            return _Attempt(0.0)  # someone else wrote first: read again at once
        except KubeApiError as exc:
            self._failed(f"cannot write the {self._where}: {exc}{self._unanswered(exc)}")
            return _Attempt(self._pause())
        self._seen = Sighting(written.spec, written.resource_version, self._clock())
        acquired = self._renewed_at is None
        self._renewed_at = sent
        self._wake_requested = False
        if acquired:
            logger.info(
                "leader election: %s is now the leader (%s, leaseTransitions=%d); "
                "starting the sync loops",
                cfg.identity,
                self._where,
                written.spec.transitions,
            )
        return _Attempt(self._pause(), acquired=acquired)

    def _unanswered(self, exc: KubeApiError) -> str:
        """For a request that got no answer: which server, and what to check."""
        if exc.status is not None:
            return ""
        return (
            f" from the Kubernetes API server {self._api.configuration.host}; is it running, "
            "and is the server address in the kubeconfig right?"
        )

    def _failed(self, problem: str) -> None:
        """Log an API failure once, not on every retry, until a read succeeds again."""
        if problem != self._failure:
            logger.warning("leader election: %s", problem)
        self._failure = problem

    def _recovered(self) -> None:
        if self._failure is not None:
            logger.info("leader election: the %s can be read again", self._where)
            self._failure = None

    async def _lose(self, reason: str, level: int = logging.WARNING) -> None:
        if self._renewed_at is None:
            return
        self._renewed_at = None
        logger.log(
            level,
            "leader election: %s stopped leading (%s); stopping the sync loops",
            self.config.identity,
            reason,
        )
        await self._on_stopped()

    async def _release(self) -> None:
        """Clear the holder, if it is still us, so that a standby need not wait for expiry."""
        cfg = self.config
        try:
            async with asyncio.timeout(cfg.timing.renew_deadline):
                for _ in range(3):
                    current = await read_lease(self._api, cfg.namespace, cfg.name)
                    if current is None or current.spec.holder != cfg.identity:
                        return
                    try:
                        await replace_lease(
                            self._api, current, released(current.spec, now=self._wall_clock())
                        )
                    except KubeConflict:
                        continue
                    logger.info("leader election: released the %s", self._where)
                    return
        except (KubeApiError, TimeoutError) as exc:
            logger.warning(
                "leader election: could not release the %s (it expires by itself): %s",
                self._where,
                exc or "timed out",
            )
