"""One ModelCatalogSync's sync pass: read the catalog, plan, write, report.

The runner keeps, per sync, what later passes need: the desired ModelRefs of the last plan
(for drift repair, runtime/drift.py), the resourceVersions its own writes produced
(runtime/modelref_writes.py), the names another owner holds (runtime/ownership.py), the
status as the API server holds it (runtime/status_writer.py), the catalog client
(runtime/catalog_connection.py) and the model-versions lookup cache.

A pass reads the catalog holding only a slot of that catalog (SyncGates), then plans and
writes holding a global slot; the whole pass has a deadline (`--sync-timeout`), and no
removal (mark or delete) starts after it. Every failure, expected or not, ends as a status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from modelsync.api.constants import REASON_OWNED_BY_ANOTHER_SYNC
from modelsync.api.modelcatalogsync import (
    CatalogCounts,
    ModelCatalogSyncSpec,
    ModelRefCounts,
    parse_spec,
)
from modelsync.catalog import (
    CatalogClient,
    CatalogError,
    ConnectGuard,
    InvalidToken,
    ModelListing,
    restricted_destinations_guard,
)
from modelsync.catalog.records import ModelRecord
from modelsync.kube.apply import ApplyResult
from modelsync.kube.client import KubeApi
from modelsync.kube.errors import KubeApiError
from modelsync.kube.modelref_cache import NamespaceCache
from modelsync.kube.modelref_states import SpecNeeded, list_modelref_states
from modelsync.kube.secrets import SecretKeyMissing, SecretNotFound, SecretNotOptedIn
from modelsync.plan import (
    DesiredRef,
    ExistingRef,
    SyncOutcome,
    SyncPlan,
    SyncRef,
    SyncResult,
    VersionLookupCache,
    VersionResolution,
    compile_rules,
    digest_vouches,
    models_needing_lookup,
)
from modelsync.runtime.bodies import metadata_of, spec_of
from modelsync.runtime.catalog_connection import CatalogConnection
from modelsync.runtime.catalog_reads import (
    InvalidCaBundle,
    catalog_filters,
    look_up_versions,
)
from modelsync.runtime.config import OperatorConfig
from modelsync.runtime.drift import DriftRepairer
from modelsync.runtime.gates import SyncGates
from modelsync.runtime.modelref_writes import ModelRefWriter, merged, write_count
from modelsync.runtime.named_refresh import NamedRefresher, RefreshReport
from modelsync.runtime.observers import NullObserver, SyncObserver, SyncReport
from modelsync.runtime.outcomes import (
    TRANSIENT_FAILURES,
    PassKind,
    catalog_outcome,
    internal_error_message,
)
from modelsync.runtime.ownership import OwnershipResolver
from modelsync.runtime.planning import PlanMemo, SelectionMemo, plan_off_the_loop
from modelsync.runtime.status_writer import StatusWriter
from modelsync.runtime.timing import failure_delay, success_delay
from modelsync.runtime.worker import DriftEvent, Outcome

__all__ = ["RuntimeContext", "SyncRunner"]

logger = logging.getLogger(__name__)

PassEnd = tuple[Outcome, SyncReport]

# How long a pass waits for its own last writes to come back through the ModelRef watch
# before it LISTs instead (they come within milliseconds when the watch is well).
CACHE_WAIT = 2.0


@dataclass
class RuntimeContext:
    """What every runner shares: the API connection, flags, the limits, hooks.

    `sync_gates` defaults to gates sized by the config (one set per operator process).
    """

    api: KubeApi
    config: OperatorConfig
    writes: asyncio.Semaphore
    observer: SyncObserver = field(default_factory=NullObserver)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    rng: random.Random = field(default_factory=random.Random)
    sync_gates: SyncGates | None = None
    # The ModelRefs of a namespace as the operator's own watch delivered them (None: not
    # watched): a pass plans against it instead of a LIST when it can.
    modelref_cache: Callable[[str], NamespaceCache | None] | None = None

    @cached_property
    def gates(self) -> SyncGates:
        if self.sync_gates is not None:
            return self.sync_gates
        config = self.config
        return SyncGates(config.max_concurrent_syncs, config.max_concurrent_syncs_per_host)

    @cached_property
    def connect_guard(self) -> ConnectGuard:
        """Refuses loopback, link-local and private addresses unless --allowed-hosts names
        the host or IP explicitly; checked by the catalog client on every connection."""
        return restricted_destinations_guard(self.config.allowed_hosts.names_explicitly)


class SyncRunner:
    """Implements runtime.worker.Runner for one ModelCatalogSync."""

    def __init__(self, namespace: str, name: str, ctx: RuntimeContext) -> None:
        self.namespace = namespace
        self.name = name
        self._ctx = ctx
        self._api = ctx.api
        self.desired: Mapping[str, DesiredRef] = {}
        self.retained_refs = 0  # kept as RemovedFromCatalog (Ready=False), not in `desired`
        self._writer = ModelRefWriter(ctx.api, namespace, ctx.writes, self._cache)
        self._ownership = OwnershipResolver(ctx.api, namespace, self._writer, ctx.clock)
        self._drift = DriftRepairer(ctx.api, namespace, name, self._writer, ctx.clock)
        self._status = StatusWriter(ctx.api, namespace, name, heartbeat=ctx.config.status_heartbeat)
        self._catalog = CatalogConnection(
            ctx.api, namespace, ctx.config, ctx.observer, ctx.connect_guard
        )
        self._lookups = VersionLookupCache()
        self._selections = SelectionMemo()
        self._plans = PlanMemo()
        self._named = NamedRefresher(
            namespace,
            name,
            api=ctx.api,
            config=ctx.config,
            gates=ctx.gates,
            catalog=self._catalog,
            writer=self._writer,
            ownership=self._ownership,
            status=self._status,
            clock=ctx.clock,
        )

    # --- the sync pass -------------------------------------------------------------------

    async def sync(self, body: Mapping[str, Any], failures: int) -> Outcome:
        self._ctx.observer.sync_started(self.namespace, self.name)
        started = time.monotonic()
        try:
            outcome, report = await self._sync(body, failures)
        except Exception as exc:
            outcome, report = await self._internal_error(body, failures, exc)
        report = dataclasses.replace(report, duration=time.monotonic() - started)
        # The one line per finished sync; its fields are the JSON log's schema.
        logger.info("%s", report.summary(), extra=report.log_fields())
        self._ctx.observer.sync_finished(report)
        return outcome

    async def _internal_error(
        self, body: Mapping[str, Any], failures: int, exc: Exception
    ) -> PassEnd:
        """A bug or an unforeseen failure: report it as Ready=False InternalError and back
        off, instead of crashing the loop with an empty status."""
        token = self._catalog.token
        trace = "".join(traceback.format_exception(exc))
        logger.error(
            "sync %s/%s failed with an internal error: %s",
            self.namespace,
            self.name,
            trace.replace(token, "[redacted]") if token else trace,
        )
        result = SyncResult(SyncOutcome.INTERNAL_ERROR, internal_error_message(exc, secret=token))
        interval = self._interval_of(body)
        try:
            return await self._finish(body, result, PassKind.FAILURE, interval, failures)
        except Exception as again:
            logger.warning(
                "sync %s/%s: cannot record the internal error: %s",
                self.namespace,
                self.name,
                internal_error_message(again, secret=token),
            )
            delay = failure_delay(interval, failures + 1, self._ctx.config.failure_backoff_base)
            return Outcome(PassKind.FAILURE, delay), self._report(
                PassKind.FAILURE, SyncOutcome.INTERNAL_ERROR.value, writes=0
            )

    def _interval_of(self, body: Mapping[str, Any]) -> float:
        try:
            spec, _ = parse_spec(spec_of(body))
        except Exception:
            return self._ctx.config.default_interval
        return self._interval(spec)

    async def _sync(self, body: Mapping[str, Any], failures: int) -> PassEnd:
        uid = str(metadata_of(body).get("uid", ""))
        spec, errors = parse_spec(spec_of(body))
        interval = self._interval(spec)
        if spec is None or errors:
            message = "; ".join(errors) or "the spec cannot be read"
            result = SyncResult(SyncOutcome.INVALID_SPEC, message)
            return await self._finish(body, result, PassKind.STALLED, interval, failures)
        if spec.suspend:
            suspended = SyncResult(SyncOutcome.SUSPENDED)
            return await self._finish(body, suspended, PassKind.SUSPENDED, None, 0)
        refusal = self._ctx.config.allowed_hosts.check(spec.catalog.url)
        if refusal is not None:
            result = SyncResult(SyncOutcome.CATALOG_NOT_ALLOWED, refusal)
            return await self._finish(body, result, PassKind.STALLED, interval, failures)

        secrets: dict[str, str | None] = {}
        try:
            catalog = await self._catalog.client_for(spec, secrets)
        except (SecretNotOptedIn, SecretNotFound, InvalidToken, InvalidCaBundle, ValueError) as exc:
            result = self._unusable_credentials(spec, exc, secrets)
            return await self._finish(body, result, PassKind.STALLED, interval, failures, secrets)
        except KubeApiError as exc:
            return await self._kube_failure(exc, interval, failures, secrets)

        config = self._ctx.config
        deadline = asyncio.get_running_loop().time() + config.sync_timeout
        self._catalog.responses = 0
        reading = asyncio.timeout_at(deadline)
        try:
            async with reading, self._ctx.gates.catalog(spec.catalog.url):
                listing = await catalog.list_models(catalog_filters(spec))
                listing_responses = self._catalog.responses
                resolutions, failed_lookups = await self._resolve_versions(
                    catalog, spec, listing.models
                )
        except CatalogError as exc:
            verdict = catalog_outcome(exc)
            kind = PassKind.STALLED if verdict.stalls else PassKind.FAILURE
            result = SyncResult(verdict, str(exc))
            return await self._finish(
                body, result, kind, interval, failures, secrets, retry_after=exc.retry_after
            )
        except TimeoutError:
            if not reading.expired():
                raise
            return await self._timed_out(body, interval, failures, secrets, "reading the catalog")

        async with self._ctx.gates.planning:
            return await self._plan_and_apply(
                body,
                spec,
                SyncRef(self.name, self.namespace, uid),
                listing,
                listing_responses,
                resolutions,
                failed_lookups,
                deadline=deadline,
                interval=interval,
                failures=failures,
                secrets=secrets,
            )

    @staticmethod
    def _unusable_credentials(
        spec: ModelCatalogSyncSpec, exc: Exception, secrets: dict[str, str | None]
    ) -> SyncResult:
        """The Stalled result of a token or CA Secret (or catalog setting) the client cannot
        use; records in `secrets` the versions to watch for a fix."""
        if isinstance(exc, SecretNotOptedIn):
            secrets[exc.name] = exc.resource_version
            return SyncResult(SyncOutcome.SECRET_NOT_OPTED_IN, str(exc))
        if isinstance(exc, SecretNotFound):
            # A missing key is watched through the Secret's version, a missing Secret as None.
            found = exc.resource_version if isinstance(exc, SecretKeyMissing) else None
            secrets[exc.name] = found
            return SyncResult(SyncOutcome.SECRET_NOT_FOUND, str(exc))
        if isinstance(exc, InvalidToken):
            ref = spec.catalog.token_secret_ref
            message = (
                f'Secret "{ref.name}" key "{ref.key}" holds a token that cannot be sent as an '
                f"HTTP header: {exc}; store the token alone, without spaces or line breaks"
            )
            return SyncResult(SyncOutcome.INVALID_TOKEN, message)
        if isinstance(exc, InvalidCaBundle):
            ca_ref = spec.catalog.ca_secret_ref
            where = f'Secret "{ca_ref.name}" key "{ca_ref.key}"' if ca_ref else "the CA Secret"
            return SyncResult(
                SyncOutcome.SECRET_NOT_FOUND, f"{where} does not hold a valid PEM CA bundle"
            )
        return SyncResult(SyncOutcome.INVALID_SPEC, f"spec.catalog: {exc}")

    async def _plan_and_apply(
        self,
        body: Mapping[str, Any],
        spec: ModelCatalogSyncSpec,
        sync_ref: SyncRef,
        listing: ModelListing,
        listing_responses: int,
        resolutions: Mapping[str, VersionResolution],
        failed_lookups: Mapping[str, str],
        *,
        deadline: float,
        interval: float,
        failures: int,
        secrets: dict[str, str | None],
    ) -> PassEnd:
        planning = asyncio.timeout_at(deadline)
        try:
            async with planning:
                # Which specs the pass must read whole (from the watch's cache or the LIST):
                # those whose digest cannot vouch for them (changed, or edited since); a
                # steady sync reads none.
                selection = await self._selections.select(
                    listing.models, spec, sync_ref, resolutions, failed_lookups
                )
                expected = selection.expected_digests()

                def spec_needed(
                    name: str, found: object, generation: object, observed: object
                ) -> bool:
                    return name in expected and not digest_vouches(
                        expected[name], found, generation, observed
                    )

                skipped = tuple(s.id for s in listing.skipped if s.id is not None)
                cache = self._cache()
                made_of: tuple[Any, ...] | None = None
                if cache is not None and await cache.settle(CACHE_WAIT):
                    made_of = (cache, cache.version, listing.complete, listing.inconsistency)
                    made_of += (skipped, sync_ref)
                reused = self._plans.reuse(selection, made_of) if made_of else None
                if reused is not None:
                    plan = reused
                else:
                    existing, cached = await self._existing(spec_needed)
                    plan = await plan_off_the_loop(
                        listing.models,
                        spec,
                        existing,
                        sync=sync_ref,
                        now=self._ctx.clock(),
                        resolutions=resolutions,
                        listing_complete=listing.complete,
                        listing_problem=listing.inconsistency,
                        failed_lookups=failed_lookups,
                        skipped_model_ids=skipped,
                        preselected=selection,
                    )
                    self._plans.keep(selection, made_of if cached else None, plan)
                plan, known_foreign = await self._ownership.skip_known_foreign(plan)
        except KubeApiError as exc:
            return await self._kube_failure(exc, interval, failures, secrets)
        except TimeoutError:
            if not planning.expired():
                raise
            return await self._timed_out(body, interval, failures, secrets, "planning")

        # What the listing showed is written first; removals (marks, deletes) only when the
        # pass is still within its deadline.
        applied = await self._writer.apply(dataclasses.replace(plan, deletes=(), retained=()))
        removals = bool(plan.deletes or plan.retained)
        removals_started = False
        timed_out = removals and asyncio.get_running_loop().time() >= deadline
        if removals and not timed_out:
            removing = asyncio.timeout_at(deadline)
            try:
                # Removals waiting for a write slot when the deadline passes never start.
                async with removing:
                    removed = await self._writer.apply(
                        SyncPlan(deletes=plan.deletes, retained=plan.retained)
                    )
                applied = merged(applied, removed)
            except TimeoutError:
                if not removing.expired():
                    raise
                timed_out = removals_started = True
        self._writer.remember(applied)
        extra = await self._ownership.resolve_write_failures(plan, applied)
        held_by_others = {
            f.name for f in (*known_foreign, *extra) if f.reason == REASON_OWNED_BY_ANOTHER_SYNC
        }
        self.desired = {n: d for n, d in plan.desired.items() if n not in held_by_others}
        if timed_out:
            return await self._timed_out(
                body,
                interval,
                failures,
                secrets,
                "removing ModelRefs" if removals_started else "writing ModelRefs",
                wrote=applied,
                consequence=(
                    "no removal was started after the deadline"
                    if removals_started
                    else "nothing was deleted or marked removed"
                ),
            )
        self.retained_refs = plan.retained_total
        catalog_counts = CatalogCounts(
            models_listed=len(listing.models),
            pages=listing.pages,
            # listing attempts (responses or not) plus the version lookups' responses
            requests=listing.requests + self._catalog.responses - listing_responses,
            skipped=len(listing.skipped),
        )
        failures_all = [*known_foreign, *extra]
        counts = ModelRefCounts(
            selected=plan.selected,
            created=applied.created,
            updated=applied.updated,
            unchanged=plan.unchanged,
            deleted=applied.deleted,
            retained=plan.retained_total,
            failed=len(plan.failures) + len(failures_all),
        )
        result = SyncResult.from_plan(
            plan, catalog_counts, ref_counts=counts, extra_failures=failures_all
        )
        writes = write_count(applied)
        # An inconsistent listing, a refused write or a failed look-up is retried with
        # backoff, like a catalog outage; a model held by another sync waits for the interval.
        transient = any(f.reason in TRANSIENT_FAILURES for f in result.failures)
        kind = PassKind.SUCCESS if plan.listing_complete and not transient else PassKind.FAILURE
        outcome, report = await self._finish(
            body, result, kind, interval, failures, secrets, wrote_refs=writes > 0
        )
        report = dataclasses.replace(
            report,
            writes=report.writes + writes,
            counts=counts.model_dump(by_alias=False),
            catalog=catalog_counts.model_dump(by_alias=False),
        )
        return outcome, report

    async def _timed_out(
        self,
        body: Mapping[str, Any],
        interval: float,
        failures: int,
        secrets: Mapping[str, str | None],
        stage: str,
        *,
        wrote: ApplyResult | None = None,
        consequence: str = "nothing was deleted or marked removed",
    ) -> PassEnd:
        timeout = self._ctx.config.sync_timeout
        message = (
            f"the sync pass did not finish within {timeout:g}s (--sync-timeout) while {stage}; "
            f"{consequence}; it is retried with backoff"
        )
        result = SyncResult(SyncOutcome.SYNC_TIMED_OUT, message)
        writes = write_count(wrote) if wrote is not None else 0
        outcome, report = await self._finish(
            body, result, PassKind.FAILURE, interval, failures, secrets, wrote_refs=writes > 0
        )
        return outcome, dataclasses.replace(report, writes=report.writes + writes)

    def _interval(self, spec: ModelCatalogSyncSpec | None) -> float:
        if spec is None:
            return self._ctx.config.default_interval
        try:
            interval = spec.interval_duration
        except ValueError:
            return self._ctx.config.default_interval
        if interval is None:
            return self._ctx.config.default_interval
        return max(interval.total_seconds(), 1.0)

    async def _resolve_versions(
        self, catalog: CatalogClient, spec: ModelCatalogSyncSpec, models: Sequence[ModelRecord]
    ) -> tuple[dict[str, VersionResolution], dict[str, str]]:
        """Look up the versions of models whose latest version is not the one to choose (not
        deployable under LatestDeployable, not what versionSelector asks for, not pinned).

        Answers are cached by the latest version's id and the rules; one older than
        VERSION_LOOKUP_MAX_AGE is looked up again (older versions change too). A look-up
        that fails leaves a model without a cached answer unresolved, returned as
        {model id: message} (the planner then reports it as failed and leaves its ModelRef
        alone); one with an older answer keeps using it.
        """
        rules = compile_rules(spec)
        now = self._ctx.clock().timestamp()
        pending = models_needing_lookup(
            models, rules, select=spec.select, cache=self._lookups, now=now
        )
        lookups = await look_up_versions(catalog, pending, rules)
        for model, exc in lookups.failed.values():
            logger.warning("version lookup for model %s failed: %s", model.fqn, exc)
        results = lookups.results
        self._lookups = self._lookups.with_results(pending, results, rules, now).pruned(models)
        resolutions = self._lookups.resolutions(models, rules)
        failed = {m: why for m, why in lookups.failure_messages().items() if m not in resolutions}
        return resolutions, failed

    async def _kube_failure(
        self,
        exc: KubeApiError,
        interval: float,
        failures: int,
        secrets: Mapping[str, str | None],
    ) -> PassEnd:
        # No status write: the API server is the thing that just failed.
        logger.warning("sync %s/%s: Kubernetes API error: %s", self.namespace, self.name, exc)
        delay = failure_delay(interval, failures + 1, self._ctx.config.failure_backoff_base)
        report = self._report(PassKind.FAILURE, "KubernetesError", writes=0)
        return Outcome(PassKind.FAILURE, delay, dict(secrets)), report

    def _report(self, result: PassKind, reason: str, *, writes: int) -> SyncReport:
        """A report of this pass; the ModelRef numbers are those of the last plan, which is
        what the cluster holds when this pass wrote nothing."""
        refs = self.desired.values()
        ready = sum(1 for d in refs if d.ready.status == "True")
        return SyncReport(
            namespace=self.namespace,
            name=self.name,
            result=result,
            reason=reason,
            duration=0.0,
            ready_refs=ready,
            not_ready_refs=len(self.desired) - ready + self.retained_refs,
            writes=writes,
        )

    async def _finish(
        self,
        body: Mapping[str, Any],
        result: SyncResult,
        kind: PassKind,
        interval: float | None,
        failures: int,
        secrets: Mapping[str, str | None] | None = None,
        *,
        retry_after: float | None = None,
        wrote_refs: bool = False,
    ) -> PassEnd:
        """Write the status of a pass that ended as `kind`, and schedule the next one."""
        config = self._ctx.config
        delay: float | None
        if interval is None:
            delay = None
        elif kind is PassKind.FAILURE:
            delay = failure_delay(interval, failures + 1, config.failure_backoff_base, retry_after)
        else:
            delay = success_delay(interval, config.interval_jitter, self._ctx.rng.random())
        now = self._ctx.clock()
        written = await self._status.record(
            body,
            result,
            now=now,
            next_sync_time=now + timedelta(seconds=delay) if delay is not None else None,
            wrote_refs=wrote_refs,
        )
        # A pass that completed but left Ready=False (a tripped deletion guard) is reported
        # as a failure: alerts on failed syncs must see it.
        reported = PassKind.FAILURE if kind is PassKind.SUCCESS and not written.ready else kind
        report = self._report(reported, written.ready_reason, writes=written.writes)
        return Outcome(kind, delay, dict(secrets or {})), report

    # --- named-model refresh (runtime/named_refresh.py) ----------------------------------

    async def refresh_models(self, body: Mapping[str, Any], models: Sequence[str]) -> RefreshReport:
        """Refresh only the named models' ModelRefs (`modelsync reconcile --model`) and echo
        the trigger; never deletes, never writes the sync's conditions, never raises."""
        done = await self._named.refresh(body, models, desired=self.desired, lookups=self._lookups)
        self._lookups = done.lookups
        self.desired = done.desired_after(self.desired)
        return done.report

    # --- drift repair (runtime/drift.py) -------------------------------------------------

    def _cache(self) -> NamespaceCache | None:
        source = self._ctx.modelref_cache
        return source(self.namespace) if source is not None else None

    async def _existing(self, spec_needed: SpecNeeded) -> tuple[list[ExistingRef], bool]:
        """This sync's ModelRefs, and whether they came from the watch's cache (when it can
        stand in for the LIST, kube/modelref_cache.py), else from one LIST."""
        cache = self._cache()
        if cache is not None and await cache.settle(CACHE_WAIT):
            states = cache.snapshot(self.name, spec_needed)
            if states is not None:
                return states, True
        listed = await list_modelref_states(self._api, self.namespace, self.name, spec_needed)
        return listed, False

    def wants_repair(self, event_type: str | None, body: Mapping[str, Any]) -> bool:
        return self._drift.wants_repair(self.desired, event_type, body)

    async def repair(self, events: Mapping[str, DriftEvent]) -> None:
        await self._drift.repair(self.desired, events)

    async def close(self) -> None:
        await self._catalog.close()
