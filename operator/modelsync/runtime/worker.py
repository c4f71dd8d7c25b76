"""The loop of one ModelCatalogSync: wait for a reason to sync, sync, schedule the next one.

Reasons to sync: the object appeared (or the operator started), its generation changed, the
manual-trigger annotation got a new value, the interval elapsed (after a failure: the backoff
delay), or a referenced Secret changed (polled, since Secrets are get-only for the operator).
Status writes by the operator itself change neither generation nor the annotation, so they
never cause a sync.

A new trigger value that names models (`modelsync reconcile --model`, the annotation
`modelsync.dev/reconcile-models`) refreshes only those models (Runner.refresh_models) and
leaves the timed full sync where it was; a full sync wanted at the same time (a new
generation, a trigger without models) covers it.

The loop holds no operator-wide slot: the runner takes its catalog's slot while it reads the
catalog and a global one while it plans and writes (runtime.gates), so a sync stuck on a slow
catalog delays no sync of another catalog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelsync.runtime.bodies import metadata_of, reconcile_models, trigger_value
from modelsync.runtime.outcomes import PassKind

__all__ = ["DriftEvent", "Outcome", "Runner", "SecretProbe", "SyncWorker", "WorkerKey"]

logger = logging.getLogger(__name__)

WorkerKey = tuple[str, str]  # (namespace, name)
_CRASH_RETRY = 60.0  # seconds; only when a runner breaks its promise not to raise


@dataclass(frozen=True)
class Outcome:
    """What one sync pass reports to its loop.

    `kind`: see PassKind; after a FAILURE the next try backs off.
    `delay`: seconds until the next timed sync; None: no timer (suspended).
    `secret_versions`: {Secret name: resourceVersion or None if missing} as the sync saw them;
    a change to any of them triggers a sync.
    """

    kind: PassKind
    delay: float | None
    secret_versions: Mapping[str, str | None] = field(default_factory=dict)


DriftEvent = tuple[str | None, Mapping[str, Any]]  # (watch event type, ModelRef body)


class Runner(Protocol):
    """The work of one ModelCatalogSync (see runtime.runner.SyncRunner)."""

    async def sync(self, body: Mapping[str, Any], failures: int) -> Outcome:
        """One pass; `failures` counts the failed passes just before it. Must not raise."""
        ...

    def wants_repair(self, event_type: str | None, body: Mapping[str, Any]) -> bool:
        """Cheap, I/O-free: does this ModelRef event show drift from the desired object?"""
        ...

    async def repair(self, events: Mapping[str, DriftEvent]) -> None:
        """Restore the ModelRefs named in `events` (latest event per name)."""
        ...

    async def refresh_models(self, body: Mapping[str, Any], models: Sequence[str]) -> object:
        """Refresh only the named models' ModelRefs and echo the trigger. Must not raise."""
        ...

    async def close(self) -> None: ...


# (namespace, Secret name) -> resourceVersion or None when missing; raises on API errors.
SecretProbe = Callable[[str, str], Awaitable[str | None]]


def _handled_trigger(body: Mapping[str, Any]) -> str | None:
    status = body.get("status")
    if isinstance(status, Mapping):
        value = status.get("lastHandledReconcileAt")
        if isinstance(value, str):
            return value
    return None


class SyncWorker:
    """One task per ModelCatalogSync. `lock` is held while a sync (or a repair) runs."""

    def __init__(
        self,
        key: WorkerKey,
        body: Mapping[str, Any],
        *,
        runner: Runner,
        probe_secret: SecretProbe,
        secret_check_interval: float,
    ) -> None:
        self.key = key
        self.uid = str(metadata_of(body).get("uid", ""))
        self.lock = asyncio.Lock()
        self._body: Mapping[str, Any] = body
        self._runner = runner
        self._probe = probe_secret
        self._secret_check_interval = secret_check_interval
        self._drift: dict[str, DriftEvent] = {}
        self._wake = asyncio.Event()
        self._wanted = True  # first sight: sync at once
        self._synced_generation: object = None
        self._handled_trigger = _handled_trigger(body)
        # A named-model refresh asked for and not run yet: the trigger value and the models
        # of every such request seen since the last run.
        self._named_trigger: str | None = None
        self._named_models: set[str] = set()
        self._due: float | None = None
        self._failures = 0
        self._secret_versions: Mapping[str, str | None] = {}
        self._next_secret_check: float | None = None
        self._task: asyncio.Task[None] | None = None
        self.syncs = 0  # completed passes, for tests and logs
        self.refreshes = 0  # completed named-model refreshes

    @property
    def body(self) -> Mapping[str, Any]:
        return self._body

    @property
    def due(self) -> float | None:
        """Loop time of the next timed sync (None: no timer)."""
        return self._due

    def start(self) -> None:
        namespace, name = self.key
        self._task = asyncio.create_task(self._run(), name=f"sync {namespace}/{name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._runner.close()

    def note_modelref(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """A watch event of one of this sync's ModelRefs; queue a repair if it drifted."""
        name = str(metadata_of(body).get("name", ""))
        if name and self._runner.wants_repair(event_type, body):
            self._drift[name] = (event_type, body)
            self._wake.set()

    def observe(self, body: Mapping[str, Any]) -> None:
        """A newer version of the object was seen; wake the loop if it asks for a sync."""
        self._body = body
        meta = metadata_of(body)
        if meta.get("generation") != self._synced_generation:
            self._request()
        value = trigger_value(body)
        if value is not None and value != self._handled_trigger:
            models = reconcile_models(body)
            if models:
                self._named_trigger = value
                self._named_models.update(models)
                self._wake.set()
            else:
                self._request()

    def _request(self) -> None:
        self._wanted = True
        self._wake.set()

    async def _run(self) -> None:
        namespace, name = self.key
        while True:
            if not await self._wait():
                await self._refresh_named()
                continue
            body = self._body
            self._wanted = False
            self._synced_generation = metadata_of(body).get("generation")
            self._handled_trigger = trigger_value(body) or self._handled_trigger
            # A full sync refreshes every model and echoes the current trigger value, so it
            # answers the named refreshes asked for so far too.
            self._named_trigger = None
            self._named_models = set()
            async with self.lock:
                self._drift.clear()  # a full sync restores everything anyway
                try:
                    outcome = await self._runner.sync(body, self._failures)
                except asyncio.CancelledError:
                    raise
                except Exception:  # the runner reports its own failures; a last resort
                    logger.exception("sync of %s/%s crashed", namespace, name)
                    outcome = Outcome(PassKind.FAILURE, _CRASH_RETRY)
            self.syncs += 1
            self._schedule(outcome)

    async def _refresh_named(self) -> None:
        """Refresh the named models; the timed sync and the failure count stay as they were."""
        body = self._body
        models = sorted(self._named_models)
        self._handled_trigger = self._named_trigger
        self._named_trigger = None
        self._named_models = set()
        async with self.lock:
            try:
                await self._runner.refresh_models(body, models)
            except asyncio.CancelledError:
                raise
            except Exception:  # the runner reports its own failures; a last resort
                logger.exception("named refresh of %s/%s crashed", *self.key)
        self.refreshes += 1

    def _schedule(self, outcome: Outcome) -> None:
        now = asyncio.get_running_loop().time()
        self._failures = self._failures + 1 if outcome.kind == PassKind.FAILURE else 0
        self._secret_versions = dict(outcome.secret_versions)
        self._next_secret_check = (
            now + self._secret_check_interval if self._secret_versions else None
        )
        self._due = None if outcome.delay is None else now + outcome.delay

    async def _repair_drift(self) -> None:
        async with self.lock:
            events, self._drift = self._drift, {}
            try:
                await self._runner.repair(events)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("drift repair for %s/%s crashed", *self.key)

    async def _wait(self) -> bool:
        """Wait for work: True for a full sync, False for a named-model refresh (which goes
        first when a timed sync is due as well: it is quick, and the timed sync follows)."""
        loop = asyncio.get_running_loop()
        while not self._wanted:
            if self._drift:
                await self._repair_drift()
                continue
            if self._named_trigger is not None:
                return False
            now = loop.time()
            if self._due is not None and now >= self._due:
                return True
            if self._next_secret_check is not None and now >= self._next_secret_check:
                if await self._secrets_changed():
                    return True
                self._next_secret_check = loop.time() + self._secret_check_interval
                continue
            deadlines = [d for d in (self._due, self._next_secret_check) if d is not None]
            timeout = max(min(deadlines) - now, 0.0) if deadlines else None
            self._wake.clear()
            if self._wanted or self._drift or self._named_trigger is not None:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
        return True

    async def _secrets_changed(self) -> bool:
        namespace, _ = self.key
        for secret, seen in self._secret_versions.items():
            try:
                current = await self._probe(namespace, secret)
            except Exception as exc:  # an API hiccup: check again next time
                logger.debug("secret check of %s/%s failed: %s", namespace, secret, exc)
                continue
            if current != seen:
                logger.info("Secret %s/%s changed; syncing %s", namespace, secret, self.key[1])
                return True
        return False
