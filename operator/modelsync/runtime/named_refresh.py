"""A refresh of named models only (`modelsync reconcile SYNC --model REPO/NAME`).

For each named model: one List Models request with the `fqn` filter (plus the sync's own
filters), the version look-up when its latest version is not the one to choose (always
asked anew, not answered from the cache: an older version may have changed), one GET of its
ModelRef; then the pure planner on those models alone with `listing_complete=False`, so the
refresh creates and updates but never deletes or marks anything removed, and the runner's
writer applies the plan. The gates are those of a full sync: suspend, --allowed-hosts, the
Secret opt-in (the same CatalogConnection) and a slot of the catalog while reading.

A model the catalog does not have, or that the sync does not select, changes nothing; such
models (and names that are not model names) are named in one Warning Event
`ModelsNotRefreshed` on the ModelCatalogSync, since whoever asked for the refresh can read
Events but seldom the operator's log. Other failures are a log line; the next full sync
retries them. A refresh never writes the sync's conditions: its one status write echoes the
trigger in status.lastHandledReconcileAt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from modelsync.api.constants import EVENT_MODELS_NOT_REFRESHED, REASON_OWNED_BY_ANOTHER_SYNC
from modelsync.api.model_names import FQN_PREFIX, ModelName, parse_fqn, parse_model_name
from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec, parse_spec
from modelsync.api.naming import modelref_name
from modelsync.catalog import CatalogClient, CatalogError, InvalidToken, ModelFilters
from modelsync.catalog.records import ModelRecord
from modelsync.kube.client import KubeApi
from modelsync.kube.errors import KubeApiError, KubeNotFound
from modelsync.kube.events import post_event
from modelsync.kube.modelrefs import get_modelref
from modelsync.kube.secrets import SecretNotFound, SecretNotOptedIn
from modelsync.plan import (
    DesiredRef,
    ModelFailure,
    SyncPlan,
    SyncRef,
    VersionLookupCache,
    compile_rules,
    ml_repo_name,
    models_needing_lookup,
    plan_sync,
)
from modelsync.runtime.bodies import metadata_of, spec_of
from modelsync.runtime.catalog_connection import CatalogConnection
from modelsync.runtime.catalog_reads import (
    LOOKUP_CONCURRENCY,
    InvalidCaBundle,
    catalog_filters,
    look_up_versions,
)
from modelsync.runtime.config import OperatorConfig
from modelsync.runtime.gates import SyncGates
from modelsync.runtime.modelref_writes import ModelRefWriter, write_count
from modelsync.runtime.outcomes import internal_error_message
from modelsync.runtime.ownership import OwnershipResolver
from modelsync.runtime.status_writer import StatusWriter

__all__ = [
    "CatalogQuery",
    "ModelRefresh",
    "NamedRefresh",
    "NamedRefresher",
    "RefreshOutcome",
    "RefreshReport",
    "catalog_query",
    "tenants_for",
]

logger = logging.getLogger(__name__)


# --- pure parts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    """The List Models request for one named model, and which answers are that model."""

    named: ModelName
    filters: ModelFilters
    fqn: str | None  # None: matched by repo and name (the tenant was unknown)

    def matches(self, model: ModelRecord) -> bool:
        if self.fqn is not None:
            return model.fqn == self.fqn
        return model.name == self.named.name and ml_repo_name(model) == self.named.repo


def catalog_query(
    named: ModelName, filters: ModelFilters, tenant: str | None = None
) -> CatalogQuery | None:
    """The request for `named` under the sync's `filters` (its spec.filters); `tenant` stands
    in when the name has none. None when those filters exclude the model outright (a
    different fqn or name), so no request is needed.

    With a tenant the request uses the `fqn` filter; without one the `name` filter, and the
    answers are kept by repo. The sync's other filters go along, so the catalog selects the
    model exactly as it does in a full sync's listing.
    """
    if filters.fqn is not None:
        pinned = parse_fqn(filters.fqn)
        if pinned is None or not named.same_model(pinned):
            return None
        return CatalogQuery(named, filters, filters.fqn)
    fqn = named.fqn or (named.fqn_in(tenant) if tenant is not None else None)
    if fqn is not None:
        return CatalogQuery(named, dataclasses.replace(filters, fqn=fqn), fqn)
    if filters.name is not None and filters.name != named.name:
        return None
    return CatalogQuery(named, dataclasses.replace(filters, name=named.name), None)


def tenants_for(
    names: Iterable[ModelName], fqns: Iterable[str], seen: Collection[str] = ()
) -> dict[ModelName, str | None]:
    """The tenant to ask the catalog for, per name: its own; else the tenant of the model of
    that repo and name among `fqns` (the last plan's models); else the one tenant `fqns` and
    `seen` (tenants of earlier answers) all share; else None (unknown or ambiguous)."""
    names = list(names)
    wanted = {f"{n.repo}/{n.name}" for n in names if n.tenant is None}
    if not wanted:
        return {n: n.tenant for n in names}
    tenants = set(seen)
    exact: dict[str, set[str]] = {}
    for fqn in fqns:
        if not fqn.startswith(FQN_PREFIX):
            continue
        tenant, _, path = fqn[len(FQN_PREFIX) :].partition("/")
        tenants.add(tenant)
        if path in wanted:
            exact.setdefault(path, set()).add(tenant)
    only = next(iter(tenants)) if len(tenants) == 1 else None
    found: dict[ModelName, str | None] = {}
    for name in names:
        if name.tenant is not None:
            found[name] = name.tenant
            continue
        known = exact.get(f"{name.repo}/{name.name}", set())
        found[name] = next(iter(known)) if len(known) == 1 else (None if known else only)
    return found


# --- the report ----------------------------------------------------------------------------


class RefreshOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    NOT_FOUND = "not found"  # not in the catalog, or not matched by spec.filters
    NOT_SELECTED = "not selected"  # spec.select (or no version) leaves it out
    INVALID = "not a model name"
    FAILED = "failed"  # retried by the next full sync

    @property
    def reported(self) -> bool:
        """Named in the ModelsNotRefreshed Event: nothing will change for it by itself."""
        return self in (
            RefreshOutcome.NOT_FOUND,
            RefreshOutcome.NOT_SELECTED,
            RefreshOutcome.INVALID,
        )


@dataclass(frozen=True, slots=True)
class ModelRefresh:
    """What became of one named model; `ref`: its ModelRef name, where known."""

    model: str
    outcome: RefreshOutcome
    ref: str | None = None
    detail: str = ""

    def describe(self) -> str:
        ref = f" ({self.ref})" if self.ref else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.model}{ref} {self.outcome.value}{detail}"


@dataclass(frozen=True)
class RefreshReport:
    """One named refresh. `skipped`: why nothing was read (suspended, a Stalled spec or
    Secret, ...); `error`: what ended it early. `writes` counts every write request (ModelRefs,
    VersionChanged and ModelsNotRefreshed Events, the status echo)."""

    namespace: str
    name: str
    models: tuple[ModelRefresh, ...] = ()
    skipped: str = ""
    error: str = ""
    catalog_requests: int = 0
    writes: int = 0
    duration: float = 0.0

    def outcome_of(self, model: str) -> RefreshOutcome | None:
        return next((m.outcome for m in self.models if m.model == model), None)

    def summary(self) -> str:
        """The log line: `named refresh of ns/name: churn/x (churn.x) updated; ...`."""
        parts = [m.describe() for m in self.models]
        if self.skipped:
            parts.append(f"skipped: {self.skipped}")
        if self.error:
            parts.append(f"failed: {self.error}; the next full sync retries")
        parts.append(
            f"{self.catalog_requests} catalog request(s), {self.writes} write(s) "
            f"in {self.duration:.2f}s"
        )
        return f"named refresh of {self.namespace}/{self.name}: " + "; ".join(parts)


@dataclass
class NamedRefresh:
    """A refresh's report and what the runner keeps from it: the desired ModelRefs it
    planned, the names found held by another owner, the grown version look-up cache."""

    report: RefreshReport
    lookups: VersionLookupCache
    desired: dict[str, DesiredRef] = field(default_factory=dict)
    held_by_others: set[str] = field(default_factory=set)

    def desired_after(self, before: Mapping[str, DesiredRef]) -> Mapping[str, DesiredRef]:
        if not self.desired and not self.held_by_others.intersection(before):
            return before
        merged = {**before, **self.desired}
        for name in self.held_by_others:
            merged.pop(name, None)
        return merged


class _Skipped(Exception):
    """Nothing to read: the spec or its Secrets rule the refresh out (a full sync reports
    the same as a condition)."""


# --- the shell -----------------------------------------------------------------------------


class NamedRefresher:
    """Named refreshes of one ModelCatalogSync, with its runner's collaborators."""

    def __init__(
        self,
        namespace: str,
        name: str,
        *,
        api: KubeApi,
        config: OperatorConfig,
        gates: SyncGates,
        catalog: CatalogConnection,
        writer: ModelRefWriter,
        ownership: OwnershipResolver,
        status: StatusWriter,
        clock: Callable[[], datetime],
    ) -> None:
        self.namespace = namespace
        self.name = name
        self._api = api
        self._config = config
        self._gates = gates
        self._catalog = catalog
        self._writer = writer
        self._ownership = ownership
        self._status = status
        self._clock = clock
        self._tenants: set[str] = set()  # tenants of models earlier refreshes found

    async def refresh(
        self,
        body: Mapping[str, Any],
        models: Sequence[str],
        *,
        desired: Mapping[str, DesiredRef],
        lookups: VersionLookupCache,
    ) -> NamedRefresh:
        """Refresh `models` (as the annotation names them); never raises."""
        started = time.monotonic()
        responses = self._catalog.responses
        run = _Run(body, lookups)
        try:
            await self._refresh(run, models, desired)
        except _Skipped as skipped:
            run.skipped = str(skipped)
        except TimeoutError:
            run.error = (
                f"reading did not finish within {self._config.sync_timeout:g}s (--sync-timeout)"
            )
        except KubeApiError as exc:
            run.error = f"Kubernetes API error: {exc}"
        except Exception as exc:
            logger.exception("named refresh of %s/%s failed", self.namespace, self.name)
            run.error = internal_error_message(exc, secret=self._catalog.token)
        run.outcomes.sort(key=lambda m: (m.model, m.ref or ""))
        run.writes += await self._report_unrefreshed(body, run.outcomes)
        run.writes += await self._status.echo_trigger(body)
        report = RefreshReport(
            namespace=self.namespace,
            name=self.name,
            models=tuple(run.outcomes),
            skipped=run.skipped,
            error=self._redacted(run.error),
            catalog_requests=self._catalog.responses - responses,
            writes=run.writes,
            duration=time.monotonic() - started,
        )
        quiet = not report.error and not any(
            m.outcome is RefreshOutcome.FAILED for m in report.models
        )
        logger.log(logging.INFO if quiet else logging.WARNING, "%s", report.summary())
        return NamedRefresh(report, run.lookups, run.desired, run.held_by_others)

    def _redacted(self, text: str) -> str:
        token = self._catalog.token
        return text.replace(token, "[redacted]") if token else text

    async def _refresh(
        self, run: _Run, models: Sequence[str], desired: Mapping[str, DesiredRef]
    ) -> None:
        names: list[ModelName] = []
        for text in models:
            try:
                names.append(parse_model_name(text))
            except ValueError as exc:
                run.outcomes.append(ModelRefresh(text, RefreshOutcome.INVALID, detail=str(exc)))
        if not names:
            return
        spec = self._gated_spec(run.body)
        catalog = await self._client(spec)
        tenants = tenants_for(names, (d.model_fqn for d in desired.values()), self._tenants)
        filters = catalog_filters(spec)
        queries: list[CatalogQuery] = []
        for named in names:
            query = catalog_query(named, filters, tenants[named])
            if query is None:
                run.outcomes.append(
                    ModelRefresh(str(named), RefreshOutcome.NOT_FOUND, detail=_FILTERED_OUT)
                )
            else:
                queries.append(query)
        if not queries:
            return
        async with asyncio.timeout(self._config.sync_timeout):
            async with self._gates.catalog(spec.catalog.url):
                found = await self._find(catalog, queries, run)
                failed_lookups = await self._resolve(catalog, spec, found, run)
            existing = await self._existing(found)
        readable = _without_unread(found, existing, run)
        if readable:
            objects = [o for o in existing.values() if isinstance(o, dict)]
            await self._plan_and_apply(run, spec, readable, objects, failed_lookups)

    def _gated_spec(self, body: Mapping[str, Any]) -> ModelCatalogSyncSpec:
        """The spec, when a sync would read the catalog with it: not invalid, not suspended,
        its URL allowed."""
        spec, errors = parse_spec(spec_of(body))
        if spec is None or errors:
            raise _Skipped("the spec is invalid (see the Stalled condition)")
        if spec.suspend:
            raise _Skipped("the sync is suspended")
        refusal = self._config.allowed_hosts.check(spec.catalog.url)
        if refusal is not None:
            raise _Skipped(refusal)
        return spec

    async def _client(self, spec: ModelCatalogSyncSpec) -> CatalogClient:
        secrets: dict[str, str | None] = {}
        try:
            return await self._catalog.client_for(spec, secrets)
        except (SecretNotOptedIn, SecretNotFound, InvalidToken, InvalidCaBundle, ValueError) as exc:
            raise _Skipped(f"the catalog credentials cannot be used ({exc})") from None

    async def _find(
        self, catalog: CatalogClient, queries: Sequence[CatalogQuery], run: _Run
    ) -> dict[CatalogQuery, list[ModelRecord]]:
        """One listing per query; the matching models of each, per query."""
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)
        found: dict[CatalogQuery, list[ModelRecord]] = {}

        async def find(query: CatalogQuery) -> None:
            async with gate:
                try:
                    listing = await catalog.list_models(query.filters)
                except CatalogError as exc:
                    run.failed(str(query.named), f"catalog request failed ({exc.reason}): {exc}")
                    return
            matching = [m for m in listing.models if query.matches(m)]
            if matching:
                found[query] = matching
                self._tenants.update(t for m in matching if (t := _tenant_of(m.fqn)))
            elif not listing.complete:
                problem = f"the catalog's answer was inconsistent: {listing.inconsistency}"
                run.failed(str(query.named), problem)
            else:
                run.outcomes.append(
                    ModelRefresh(str(query.named), RefreshOutcome.NOT_FOUND, detail=_NOT_FOUND)
                )

        await asyncio.gather(*(find(q) for q in queries))
        return found

    async def _resolve(
        self,
        catalog: CatalogClient,
        spec: ModelCatalogSyncSpec,
        found: Mapping[CatalogQuery, list[ModelRecord]],
        run: _Run,
    ) -> dict[str, str]:
        """The version look-ups these models need, always asked anew (a cached answer may be
        stale: an older version's flags, tags, alias or metrics change without a new latest
        version), into the runner's cache (not pruned: the other models' entries stay for
        the next full sync). Returns the failed ones as {model id: message}."""
        models = [m for matching in found.values() for m in matching]
        rules = compile_rules(spec)
        pending = models_needing_lookup(models, rules, select=spec.select)
        if not pending:
            return {}
        answers = await look_up_versions(catalog, pending, rules)
        run.lookups = run.lookups.with_results(
            pending, answers.results, rules, self._clock().timestamp()
        )
        return answers.failure_messages()

    async def _existing(
        self, found: Mapping[CatalogQuery, list[ModelRecord]]
    ) -> dict[str, dict[str, Any] | KubeApiError | None]:
        """{ModelRef name: the object, None when there is none, or why the GET failed} of
        the found models."""
        refs = {_ref_name(m) for matching in found.values() for m in matching}
        existing: dict[str, dict[str, Any] | KubeApiError | None] = {}
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def get(name: str) -> None:
            async with gate:
                try:
                    existing[name] = await get_modelref(self._api, self.namespace, name)
                except KubeNotFound:
                    existing[name] = None
                except KubeApiError as exc:
                    existing[name] = exc

        await asyncio.gather(*(get(n) for n in sorted(refs)))
        return existing

    async def _plan_and_apply(
        self,
        run: _Run,
        spec: ModelCatalogSyncSpec,
        found: Mapping[CatalogQuery, list[ModelRecord]],
        existing: Sequence[Mapping[str, Any]],
        failed_lookups: Mapping[str, str],
    ) -> None:
        models = [m for matching in found.values() for m in matching]
        uid = str(metadata_of(run.body).get("uid", ""))
        plan = plan_sync(
            models,
            spec,
            existing,
            sync=SyncRef(self.name, self.namespace, uid),
            now=self._clock(),
            resolutions=run.lookups.resolutions(models, compile_rules(spec)),
            failed_lookups=failed_lookups,
            listing_complete=False,  # what a refresh did not ask for may not be concluded
        )
        # Never a removal, whatever the plan (an incomplete listing plans none anyway).
        plan = dataclasses.replace(plan, deletes=(), retained=())
        plan, known_foreign = await self._ownership.skip_known_foreign(plan)
        applied = await self._writer.apply(plan)
        self._writer.remember(applied)
        extra = await self._ownership.resolve_write_failures(plan, applied)
        run.writes += write_count(applied)
        failures = [*plan.failures, *known_foreign, *extra]
        run.held_by_others = {
            f.name for f in failures if f.reason == REASON_OWNED_BY_ANOTHER_SYNC and f.name
        }
        run.desired = {n: d for n, d in plan.desired.items() if n not in run.held_by_others}
        for query, matching in found.items():
            for model in matching:
                run.outcomes.append(_outcome(str(query.named), model, plan, failures))

    async def _report_unrefreshed(
        self, body: Mapping[str, Any], outcomes: Sequence[ModelRefresh]
    ) -> int:
        unrefreshed = [m for m in outcomes if m.outcome.reported]
        if not unrefreshed:
            return 0
        message = (
            "; ".join(m.describe() for m in unrefreshed)
            + " (modelsync reconcile --model); nothing was changed for them"
        )
        posted = await post_event(
            self._api,
            body,
            event_type="Warning",
            reason=EVENT_MODELS_NOT_REFRESHED,
            message=message,
        )
        return int(posted)


_NOT_FOUND = "not in the catalog, or not matched by spec.filters"
_FILTERED_OUT = "not matched by spec.filters"


@dataclass
class _Run:
    """What one refresh gathers as it goes."""

    body: Mapping[str, Any]
    lookups: VersionLookupCache
    outcomes: list[ModelRefresh] = field(default_factory=list)
    desired: dict[str, DesiredRef] = field(default_factory=dict)
    held_by_others: set[str] = field(default_factory=set)
    skipped: str = ""
    error: str = ""
    writes: int = 0

    def failed(self, model: str, detail: str, ref: str | None = None) -> None:
        self.outcomes.append(ModelRefresh(model, RefreshOutcome.FAILED, ref, detail))


def _without_unread(
    found: Mapping[CatalogQuery, list[ModelRecord]],
    existing: Mapping[str, dict[str, Any] | KubeApiError | None],
    run: _Run,
) -> dict[CatalogQuery, list[ModelRecord]]:
    """The found models whose ModelRef could be read (or is absent); the others failed."""
    readable: dict[CatalogQuery, list[ModelRecord]] = {}
    for query, matching in found.items():
        for model in matching:
            ref = _ref_name(model)
            problem = existing[ref]
            if isinstance(problem, KubeApiError):
                run.failed(str(query.named), f"reading the ModelRef failed: {problem}", ref)
            else:
                readable.setdefault(query, []).append(model)
    return readable


def _tenant_of(fqn: str) -> str | None:
    parsed = parse_fqn(fqn)
    return parsed.tenant if parsed is not None else None


def _ref_name(model: ModelRecord) -> str:
    return modelref_name(ml_repo_name(model), model.name, model.fqn)


def _outcome(
    named: str, model: ModelRecord, plan: SyncPlan, failures: Sequence[ModelFailure]
) -> ModelRefresh:
    """What the plan and its writes did for one found model."""
    ref = _ref_name(model)
    failure = next((f for f in failures if f.name == ref or f.model == model.fqn), None)
    if failure is not None:
        return ModelRefresh(
            named, RefreshOutcome.FAILED, ref, f"{failure.reason}: {failure.message}"
        )
    if any(c.name == ref for c in plan.creates):
        return ModelRefresh(named, RefreshOutcome.CREATED, ref)
    if any(u.name == ref for u in plan.updates):
        return ModelRefresh(named, RefreshOutcome.UPDATED, ref)
    if ref in plan.desired:
        return ModelRefresh(named, RefreshOutcome.UNCHANGED, ref)
    why = "it has no version" if model.latest_version is None else "spec.select leaves it out"
    return ModelRefresh(named, RefreshOutcome.NOT_SELECTED, ref, why)
