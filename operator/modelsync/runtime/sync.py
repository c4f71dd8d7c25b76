"""One ModelCatalogSync's work: a sync pass and drift repair.

The runner keeps, per sync, what later passes need: the desired ModelRefs of the last plan
(for drift repair), the resourceVersions its own writes produced (so their watch events are
not mistaken for drift), the model-versions lookup cache and the catalog client.

A pass reads the catalog holding only a slot of that catalog (SyncGates), then plans and
writes holding a global slot; the whole pass has a deadline (`--sync-timeout`), and no
removal (mark or delete) starts after it. Every failure, expected or not, ends as a status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import ssl
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from modelsync.api.constants import (
    CONDITION_READY,
    CONDITION_STALLED,
    REASON_OWNED_BY_ANOTHER_SYNC,
    REASON_VERSION_LOOKUP_FAILED,
)
from modelsync.api.sync import CatalogCounts, ModelCatalogSyncSpec, ModelRefCounts, parse_spec
from modelsync.api.timestamps import parse_time
from modelsync.catalog import (
    CatalogClient,
    CatalogError,
    ConnectGuard,
    InvalidToken,
    ModelListing,
    RetryPolicy,
    restricted_destinations_guard,
)
from modelsync.catalog.models import Model
from modelsync.kube.apply import ApplyResult, WriteFailure, apply_plan
from modelsync.kube.client import KubeApi
from modelsync.kube.errors import KubeApiError, KubeNotFound
from modelsync.kube.events import post_event
from modelsync.kube.modelrefs import get_modelref, list_modelrefs
from modelsync.kube.secrets import (
    SecretKeyMissing,
    SecretNotFound,
    SecretNotOptedIn,
    read_secret_value,
)
from modelsync.kube.syncs import get_sync, patch_sync_status
from modelsync.plan import (
    CreateRef,
    DesiredRef,
    ModelFailure,
    SyncOutcome,
    SyncPlan,
    SyncRef,
    SyncResult,
    UpdateRef,
    VersionLookupCache,
    VersionResolution,
    failure_event_needed,
    foreign_owner,
    models_needing_lookup,
    repair_plan,
    sync_status,
)
from modelsync.runtime.catalog_reads import catalog_filters, look_up_deployable_versions
from modelsync.runtime.config import OperatorConfig
from modelsync.runtime.gates import SyncGates
from modelsync.runtime.observers import NullObserver, SyncObserver, SyncReport
from modelsync.runtime.planning import plan_off_the_loop
from modelsync.runtime.timing import failure_delay, success_delay
from modelsync.runtime.worker import DriftEvent, Outcome, trigger_value

__all__ = ["RuntimeContext", "SyncRunner", "catalog_outcome", "internal_error_message"]

logger = logging.getLogger(__name__)

_TIMESTAMP_FIELDS = ("lastSyncTime", "lastSuccessfulSyncTime", "nextSyncTime")
# Counters of what one pass did rather than of what the cluster holds.
_ACTIVITY_FIELDS = {
    "modelRefs": ("created", "updated", "unchanged", "deleted"),
    "catalog": ("requests",),
}
_OWN_VERSIONS_KEPT = 4

_CATALOG_OUTCOMES = {
    "InvalidRequest": SyncOutcome.INVALID_SPEC,  # the catalog rejected our filters (422)
}
_INTERNAL_MESSAGE_CHARS = 300
# Per-model failures that may clear by themselves (API server or catalog hiccups).
_TRANSIENT_FAILURES = frozenset({"WriteFailed", "Conflict", REASON_VERSION_LOOKUP_FAILED})


def catalog_outcome(exc: CatalogError) -> SyncOutcome:
    """The sync outcome of a failed catalog read (its reason, where it names an outcome)."""
    if exc.reason in _CATALOG_OUTCOMES:
        return _CATALOG_OUTCOMES[exc.reason]
    try:
        outcome = SyncOutcome(exc.reason)
    except ValueError:
        return SyncOutcome.CATALOG_UNAVAILABLE
    catalog_reasons = {
        SyncOutcome.UNAUTHORIZED,
        SyncOutcome.INVALID_RESPONSE,
        SyncOutcome.RESPONSE_TOO_LARGE,
        SyncOutcome.CATALOG_NOT_ALLOWED,
        SyncOutcome.CATALOG_UNAVAILABLE,
    }
    return outcome if outcome in catalog_reasons else SyncOutcome.CATALOG_UNAVAILABLE


def internal_error_message(exc: BaseException, *, secret: str | None = None) -> str:
    """`ClassName: short text` of an unexpected exception, for a condition message; a known
    secret value is blanked out."""
    text = " ".join(str(exc).split())
    if secret:
        text = text.replace(secret, "[redacted]")
    if len(text) > _INTERNAL_MESSAGE_CHARS:
        text = text[: _INTERNAL_MESSAGE_CHARS - 3] + "..."
    name = type(exc).__name__
    summary = f"{name}: {text}" if text else name
    return f"{summary} (an internal error; the operator log has the traceback)"


def _merged(first: ApplyResult, second: ApplyResult) -> ApplyResult:
    written = {name: list(versions) for name, versions in first.written.items()}
    for name, versions in second.written.items():
        written.setdefault(name, []).extend(versions)
    return ApplyResult(
        created=first.created + second.created,
        updated=first.updated + second.updated,
        deleted=first.deleted + second.deleted,
        marked_removed=first.marked_removed + second.marked_removed,
        version_changes=first.version_changes + second.version_changes,
        failures=[*first.failures, *second.failures],
        written=written,
    )


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


@dataclass(frozen=True)
class _CatalogConfig:
    url: str
    api_path: str
    token: str = field(repr=False)
    ca_pem: str | None = field(repr=False)
    timeout: float
    page_size: int


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _status_of(body: Mapping[str, Any]) -> dict[str, Any]:
    status = body.get("status")
    return dict(status) if isinstance(status, Mapping) else {}


def _comparable(status: Mapping[str, Any], with_activity: bool) -> dict[str, Any]:
    """The status without the fields that change on every pass (and, unless `with_activity`,
    without the counters of what the last pass did)."""
    out = {k: v for k, v in status.items() if k not in _TIMESTAMP_FIELDS}
    if not with_activity:
        for block, keys in _ACTIVITY_FIELDS.items():
            if isinstance(out.get(block), Mapping):
                out[block] = {k: v for k, v in out[block].items() if k not in keys}
    return out


def _condition(status: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for item in status.get("conditions") or ():
        if isinstance(item, Mapping) and item.get("type") == type_:
            return item
    return None


class SyncRunner:
    """Implements runtime.worker.Runner for one ModelCatalogSync."""

    def __init__(self, namespace: str, name: str, ctx: RuntimeContext) -> None:
        self.namespace = namespace
        self.name = name
        self._ctx = ctx
        self._api = ctx.api
        self.desired: Mapping[str, DesiredRef] = {}
        self.retained_refs = 0  # kept as RemovedFromCatalog (Ready=False), not in `desired`
        self._own_versions: dict[str, deque[str]] = {}
        self._lookups = VersionLookupCache()
        self._foreign: set[str] = set()
        self._catalog: CatalogClient | None = None
        self._catalog_config: _CatalogConfig | None = None
        self._status: dict[str, Any] | None = None  # last status written or found equal
        self._status_written_at: datetime | None = None
        self._catalog_responses = 0

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
    ) -> tuple[Outcome, SyncReport]:
        """A bug or an unforeseen failure: report it as Ready=False InternalError and back
        off, instead of crashing the loop with an empty status."""
        token = self._catalog_config.token if self._catalog_config is not None else None
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
            return await self._finish(body, result, "failure", interval, failures)
        except Exception as again:
            logger.warning(
                "sync %s/%s: cannot record the internal error: %s",
                self.namespace,
                self.name,
                internal_error_message(again, secret=token),
            )
            delay = failure_delay(interval, failures + 1, self._ctx.config.failure_backoff_base)
            return Outcome("failure", delay), self._report(
                "failure", SyncOutcome.INTERNAL_ERROR.value, writes=0
            )

    def _interval_of(self, body: Mapping[str, Any]) -> float:
        found_spec = body.get("spec")
        raw_spec: Mapping[str, Any] = found_spec if isinstance(found_spec, Mapping) else {}
        try:
            spec, _ = parse_spec(raw_spec)
        except Exception:
            return self._ctx.config.default_interval
        return self._interval(spec, raw_spec)

    async def _sync(self, body: Mapping[str, Any], failures: int) -> tuple[Outcome, SyncReport]:
        meta = _meta(body)
        uid = str(meta.get("uid", ""))
        found_spec = body.get("spec")
        raw_spec: Mapping[str, Any] = found_spec if isinstance(found_spec, Mapping) else {}
        spec, errors = parse_spec(raw_spec)
        interval = self._interval(spec, raw_spec)
        if spec is None or errors:
            message = "; ".join(errors) or "the spec cannot be read"
            result = SyncResult(SyncOutcome.INVALID_SPEC, message)
            return await self._finish(body, result, "stalled", interval, failures)
        if spec.suspend:
            return await self._finish(body, SyncResult(SyncOutcome.SUSPENDED), "suspended", None, 0)
        refusal = self._ctx.config.allowed_hosts.check(spec.catalog.url)
        if refusal is not None:
            result = SyncResult(SyncOutcome.CATALOG_NOT_ALLOWED, refusal)
            return await self._finish(body, result, "stalled", interval, failures)

        secrets: dict[str, str | None] = {}
        try:
            catalog = await self._catalog_client(spec, secrets)
        except SecretNotOptedIn as exc:
            secrets[exc.name] = exc.resource_version
            result = SyncResult(SyncOutcome.SECRET_NOT_OPTED_IN, str(exc))
            return await self._finish(body, result, "stalled", interval, failures, secrets)
        except SecretNotFound as exc:
            if isinstance(exc, SecretKeyMissing):
                secrets[exc.name] = exc.resource_version
            else:
                secrets[exc.name] = None
            result = SyncResult(SyncOutcome.SECRET_NOT_FOUND, str(exc))
            return await self._finish(body, result, "stalled", interval, failures, secrets)
        except InvalidToken as exc:
            ref = spec.catalog.token_secret_ref
            message = (
                f'Secret "{ref.name}" key "{ref.key}" holds a token that cannot be sent as an '
                f"HTTP header: {exc}; store the token alone, without spaces or line breaks"
            )
            result = SyncResult(SyncOutcome.INVALID_TOKEN, message)
            return await self._finish(body, result, "stalled", interval, failures, secrets)
        except ssl.SSLError:
            ca_ref = spec.catalog.ca_secret_ref
            where = f'Secret "{ca_ref.name}" key "{ca_ref.key}"' if ca_ref else "the CA Secret"
            result = SyncResult(
                SyncOutcome.SECRET_NOT_FOUND, f"{where} does not hold a valid PEM CA bundle"
            )
            return await self._finish(body, result, "stalled", interval, failures, secrets)
        except KubeApiError as exc:
            return await self._kube_failure(body, exc, interval, failures, secrets)

        config = self._ctx.config
        deadline = asyncio.get_running_loop().time() + config.sync_timeout
        self._catalog_responses = 0
        reading = asyncio.timeout_at(deadline)
        try:
            async with reading, self._ctx.gates.catalog(spec.catalog.url):
                listing = await catalog.list_models(catalog_filters(spec))
                listing_responses = self._catalog_responses
                resolutions, failed_lookups = await self._resolve_versions(
                    catalog, spec, listing.models
                )
        except CatalogError as exc:
            verdict = catalog_outcome(exc)
            kind = "stalled" if verdict.stalls else "failure"
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
    ) -> tuple[Outcome, SyncReport]:
        planning = asyncio.timeout_at(deadline)
        try:
            async with planning:
                existing = await list_modelrefs(self._api, self.namespace, self.name)
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
                    skipped_model_ids=[s.id for s in listing.skipped if s.id is not None],
                )
                plan, known_foreign = await self._skip_known_foreign(plan)
        except KubeApiError as exc:
            return await self._kube_failure(body, exc, interval, failures, secrets)
        except TimeoutError:
            if not planning.expired():
                raise
            return await self._timed_out(body, interval, failures, secrets, "planning")

        # What the listing showed is written first; removals (marks, deletes) only when the
        # pass is still within its deadline.
        presence = dataclasses.replace(plan, deletes=(), retained=())
        applied = await apply_plan(self._api, self.namespace, presence, writes=self._ctx.writes)
        removals = bool(plan.deletes or plan.retained)
        removals_started = False
        timed_out = removals and asyncio.get_running_loop().time() >= deadline
        if removals and not timed_out:
            absence = SyncPlan(deletes=plan.deletes, retained=plan.retained)
            removing = asyncio.timeout_at(deadline)
            try:
                # Removals waiting for a write slot when the deadline passes never start.
                async with removing:
                    removed = await apply_plan(
                        self._api, self.namespace, absence, writes=self._ctx.writes
                    )
                applied = _merged(applied, removed)
            except TimeoutError:
                if not removing.expired():
                    raise
                timed_out = removals_started = True
        self._remember_writes(applied)
        extra = await self._resolve_write_failures(plan, applied)
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
            requests=listing.requests + self._catalog_responses - listing_responses,
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
        writes = self._write_count(applied)
        # An inconsistent listing, a refused write or a failed look-up is retried with
        # backoff, like a catalog outage; a model held by another sync waits for the interval.
        transient = any(f.reason in _TRANSIENT_FAILURES for f in result.failures)
        kind = "success" if plan.listing_complete and not transient else "failure"
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
    ) -> tuple[Outcome, SyncReport]:
        timeout = self._ctx.config.sync_timeout
        message = (
            f"the sync pass did not finish within {timeout:g}s (--sync-timeout) while {stage}; "
            f"{consequence}; it is retried with backoff"
        )
        result = SyncResult(SyncOutcome.SYNC_TIMED_OUT, message)
        writes = self._write_count(wrote) if wrote is not None else 0
        outcome, report = await self._finish(
            body, result, "failure", interval, failures, secrets, wrote_refs=writes > 0
        )
        return outcome, dataclasses.replace(report, writes=report.writes + writes)

    def _interval(self, spec: ModelCatalogSyncSpec | None, raw: Mapping[str, Any]) -> float:
        if spec is None:
            return self._ctx.config.default_interval
        try:
            interval = spec.interval_duration
        except ValueError:
            return self._ctx.config.default_interval
        if interval is None:
            return self._ctx.config.default_interval
        return max(interval.total_seconds(), 1.0)

    async def _catalog_client(
        self, spec: ModelCatalogSyncSpec, secrets: dict[str, str | None]
    ) -> CatalogClient:
        """The client for this spec and token (reused while neither changes)."""
        ref = spec.catalog.token_secret_ref
        token = await read_secret_value(self._api, self.namespace, ref.name, ref.key)
        secrets[ref.name] = token.resource_version
        ca_pem = None
        if spec.catalog.ca_secret_ref is not None:
            ca_ref = spec.catalog.ca_secret_ref
            ca = await read_secret_value(self._api, self.namespace, ca_ref.name, ca_ref.key)
            secrets[ca_ref.name] = ca.resource_version
            ca_pem = ca.value
        wanted = _CatalogConfig(
            url=spec.catalog.url,
            api_path=spec.catalog.api_path,
            token=token.value,
            ca_pem=ca_pem,
            timeout=float(spec.catalog.timeout_seconds),
            page_size=spec.catalog.page_size,
        )
        if self._catalog is not None and self._catalog_config == wanted:
            return self._catalog
        verify: bool | ssl.SSLContext = True
        if ca_pem is not None:
            context = ssl.create_default_context()
            context.load_verify_locations(cadata=ca_pem)
            verify = context
        client = CatalogClient(
            wanted.url,
            wanted.token,
            api_path=wanted.api_path,
            timeout=wanted.timeout,
            page_size=wanted.page_size,
            retry=RetryPolicy(attempts=self._ctx.config.catalog_attempts),
            verify=verify,
            on_response=self._on_catalog_response,
            max_response_bytes=self._ctx.config.max_response_bytes,
            connect_guard=self._ctx.connect_guard,
        )
        if self._catalog is not None:
            await self._catalog.aclose()
        self._catalog, self._catalog_config = client, wanted
        return client

    def _on_catalog_response(self, status_code: int | None) -> None:
        self._catalog_responses += 1
        self._ctx.observer.catalog_response(status_code)

    async def _resolve_versions(
        self, catalog: CatalogClient, spec: ModelCatalogSyncSpec, models: Sequence[Model]
    ) -> tuple[dict[str, VersionResolution], dict[str, str]]:
        """Look up the newest deployable version of models whose latest is not deployable.

        Answers are cached by the latest version's id; a lookup that fails leaves the model
        unresolved and is returned as {model id: message} (the planner then reports it as
        failed and leaves its ModelRef alone).
        """
        pending = models_needing_lookup(
            models, spec.version_policy, select=spec.select, cache=self._lookups
        )
        lookups = await look_up_deployable_versions(catalog, pending)
        for model, exc in lookups.failed.values():
            logger.warning("version lookup for model %s failed: %s", model.fqn, exc)
        results = lookups.results
        self._lookups = self._lookups.with_results(pending, results).pruned(models)
        return self._lookups.resolutions(models), lookups.failure_messages()

    async def _skip_known_foreign(self, plan: SyncPlan) -> tuple[SyncPlan, list[ModelFailure]]:
        """Creates of names another owner held last time: re-read instead of a failing POST."""
        if not self._foreign or not any(c.name in self._foreign for c in plan.creates):
            return plan, []
        creates: list[CreateRef] = []
        updates = list(plan.updates)
        failures: list[ModelFailure] = []
        for create in plan.creates:
            if create.name not in self._foreign:
                creates.append(create)
                continue
            try:
                observed = await get_modelref(self._api, self.namespace, create.name)
            except KubeNotFound:
                self._foreign.discard(create.name)
                creates.append(create)
                continue
            except KubeApiError:
                creates.append(create)
                continue
            desired = plan.desired[create.name]
            failure = foreign_owner(desired, observed)
            if failure is not None:
                failures.append(failure)
                continue
            self._foreign.discard(create.name)
            adopt = repair_plan(desired, observed, now=self._ctx.clock())
            if isinstance(adopt, UpdateRef):
                updates.append(adopt)
        return dataclasses.replace(plan, creates=tuple(creates), updates=tuple(updates)), failures

    async def _resolve_write_failures(
        self, plan: SyncPlan, applied: ApplyResult
    ) -> list[ModelFailure]:
        """Turn write failures into per-model failures; a create that hit an existing object
        is re-read: someone else's -> OwnedByAnotherSync, an orphan of ours -> adopted."""
        failures: list[ModelFailure] = []
        for failure in applied.failures:
            desired = plan.desired.get(failure.name)
            if failure.action == "create" and failure.reason == "Conflict" and desired:
                resolved = await self._resolve_create_conflict(desired, failure)
                if resolved is not None:
                    failures.append(resolved)
                continue
            failures.append(
                ModelFailure(failure.model_fqn or failure.name, failure.reason, failure.message)
            )
        return failures

    async def _resolve_create_conflict(
        self, desired: DesiredRef, failure: WriteFailure
    ) -> ModelFailure | None:
        try:
            observed = await get_modelref(self._api, self.namespace, desired.name)
        except KubeApiError as exc:
            return ModelFailure(desired.model_fqn, "Conflict", str(exc), desired.name)
        foreign = foreign_owner(desired, observed)
        if foreign is not None:
            self._foreign.add(desired.name)
            return foreign
        adopt = repair_plan(desired, observed, now=self._ctx.clock())
        if adopt is None:
            return None
        applied = await self._apply_one(adopt)
        if applied.failures:
            first = applied.failures[0]
            return ModelFailure(desired.model_fqn, first.reason, first.message, desired.name)
        return None

    async def _apply_one(self, item: CreateRef | UpdateRef) -> ApplyResult:
        if isinstance(item, CreateRef):
            plan = SyncPlan(creates=(item,))
        else:
            plan = SyncPlan(updates=(item,))
        applied = await apply_plan(self._api, self.namespace, plan, writes=self._ctx.writes)
        self._remember_writes(applied)
        return applied

    def _remember_writes(self, applied: ApplyResult) -> None:
        for name, versions in applied.written.items():
            kept = self._own_versions.setdefault(name, deque(maxlen=_OWN_VERSIONS_KEPT))
            kept.extend(versions)

    @staticmethod
    def _write_count(applied: ApplyResult) -> int:
        return sum(len(v) for v in applied.written.values()) + applied.version_changes

    async def _kube_failure(
        self,
        body: Mapping[str, Any],
        exc: KubeApiError,
        interval: float,
        failures: int,
        secrets: Mapping[str, str | None],
    ) -> tuple[Outcome, SyncReport]:
        # No status write: the API server is the thing that just failed.
        logger.warning("sync %s/%s: Kubernetes API error: %s", self.namespace, self.name, exc)
        delay = failure_delay(interval, failures + 1, self._ctx.config.failure_backoff_base)
        report = self._report("failure", "KubernetesError", writes=0)
        return Outcome("failure", delay, dict(secrets)), report

    def _report(self, result: str, reason: str, *, writes: int) -> SyncReport:
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

    # --- status and events ---------------------------------------------------------------

    async def _finish(
        self,
        body: Mapping[str, Any],
        result: SyncResult,
        kind: str,
        interval: float | None,
        failures: int,
        secrets: Mapping[str, str | None] | None = None,
        *,
        retry_after: float | None = None,
        wrote_refs: bool = False,
    ) -> tuple[Outcome, SyncReport]:
        config = self._ctx.config
        delay: float | None
        if interval is None:
            delay = None
        elif kind == "failure":
            delay = failure_delay(interval, failures + 1, config.failure_backoff_base, retry_after)
        else:
            delay = success_delay(interval, config.interval_jitter, self._ctx.rng.random())
        now = self._ctx.clock()
        current = self._status if self._status is not None else _status_of(body)
        generation = _meta(body).get("generation")
        new = sync_status(
            current,
            result,
            generation=generation if isinstance(generation, int) else 0,
            now=now,
            next_sync_time=now + timedelta(seconds=delay) if delay is not None else None,
            reconcile_requested_at=trigger_value(body),
        ).to_k8s()
        writes = 0
        if self._status_write_due(current, new, now, with_activity=wrote_refs):
            try:
                await patch_sync_status(self._api, self.namespace, self.name, current, new)
                self._status, self._status_written_at = new, now
                writes += 1
            except KubeApiError as exc:
                logger.warning("%s", exc)
        else:
            self._status = current
        if failure_event_needed(current.get("conditions") or [], new.get("conditions") or []):
            writes += await self._post_failure_event(body, new)
        ready = _condition(new, CONDITION_READY) or {}
        # A pass that completed but left Ready=False (a tripped deletion guard) is reported
        # as a failure: alerts on failed syncs must see it.
        reported = "failure" if kind == "success" and ready.get("status") != "True" else kind
        report = self._report(reported, str(ready.get("reason", "")), writes=writes)
        return Outcome(kind, delay, dict(secrets or {})), report

    def _status_write_due(
        self,
        current: Mapping[str, Any],
        new: Mapping[str, Any],
        now: datetime,
        *,
        with_activity: bool,
    ) -> bool:
        """Write when the status says something new. A pass that wrote no ModelRef compares
        without the per-pass activity counters too, so a sync that changed nothing writes
        nothing (the counters and timestamps catch up with the heartbeat or the next change).
        """
        if _comparable(current, with_activity) != _comparable(new, with_activity):
            return True
        last = self._status_written_at
        if last is None:
            stamp = current.get("lastSyncTime")
            try:
                last = parse_time(stamp) if isinstance(stamp, str) else None
            except ValueError:
                last = None
        if last is None:
            return True
        return (now - last).total_seconds() >= self._ctx.config.status_heartbeat

    async def _post_failure_event(self, body: Mapping[str, Any], status: Mapping[str, Any]) -> int:
        stalled = _condition(status, CONDITION_STALLED)
        source = stalled if stalled and stalled.get("status") == "True" else None
        source = source or _condition(status, CONDITION_READY) or {}
        reason = str(source.get("reason") or "SyncFailed")
        message = str(source.get("message") or reason)
        posted = await post_event(
            self._api, body, event_type="Warning", reason=reason, message=message
        )
        return int(posted)

    # --- drift repair --------------------------------------------------------------------

    def _is_own_write(self, body: Mapping[str, Any]) -> bool:
        meta = _meta(body)
        version = meta.get("resourceVersion")
        return version is not None and version in self._own_versions.get(str(meta.get("name")), ())

    def wants_repair(self, event_type: str | None, body: Mapping[str, Any]) -> bool:
        name = str(_meta(body).get("name", ""))
        desired = self.desired.get(name)
        if desired is None:
            return False
        if event_type == "DELETED":
            return True
        if self._is_own_write(body):
            return False
        return repair_plan(desired, body, now=self._ctx.clock()) is not None

    async def repair(self, events: Mapping[str, DriftEvent]) -> None:
        sync_checked = False
        for name, (event_type, body) in events.items():
            desired = self.desired.get(name)
            if desired is None or (event_type != "DELETED" and self._is_own_write(body)):
                continue
            observed: Mapping[str, Any] | None = body
            if event_type == "DELETED":
                if not sync_checked:
                    if not await self._sync_alive(desired.owner.uid):
                        return  # the sync is going away: its ModelRefs go with it
                    sync_checked = True
                # Also sent when an object stops matching the watch's label selector.
                try:
                    observed = await get_modelref(self._api, self.namespace, name)
                except KubeNotFound:
                    observed = None
                except KubeApiError as exc:
                    logger.warning("drift repair of %s/%s: %s", self.namespace, name, exc)
                    continue
            action = repair_plan(desired, observed, now=self._ctx.clock())
            if action is None:
                continue
            logger.info(
                "ModelRef %s/%s was %s by someone else; restoring it",
                self.namespace,
                name,
                "deleted" if observed is None else "changed",
            )
            applied = await self._apply_one(action)
            for failure in applied.failures:
                if failure.action == "create" and failure.reason == "Conflict":
                    continue  # already back (our own sync or another writer won the race)
                logger.warning("drift repair of %s/%s failed: %s", self.namespace, name, failure)

    async def _sync_alive(self, uid: str) -> bool:
        try:
            current = await get_sync(self._api, self.namespace, self.name)
        except KubeNotFound:
            return False
        except KubeApiError:
            return False
        meta = _meta(current)
        return meta.get("uid") == uid and not meta.get("deletionTimestamp")

    async def close(self) -> None:
        if self._catalog is not None:
            await self._catalog.aclose()
            self._catalog = None
