"""`modelsync render`: the ModelRefs a ModelCatalogSync would produce, computed without a cluster.

The same catalog client, the same version resolution (models_needing_lookup, then
newest_deployable_version) and the same planner (`plan_sync` against no existing ModelRefs)
as the operator. The result is each create body, without ownerReferences (the sync's uid
exists only in a cluster), plus the status block the operator writes after the create.

A render refuses an inconsistent catalog listing (exit 1): the ModelRefs it would print are
not the catalog's, and the operator would neither delete nor mark anything on it. A token or
CA Secret given in the input without the opt-in label is used, with a warning that the
operator would refuse it. Unlike the operator, a render runs with its user's own token, so
loopback and private catalog addresses are not refused.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from modelsync.api.constants import (
    API_VERSION,
    CATALOG_CREDENTIALS_VALUE,
    KIND_SYNC,
    LABEL_CATALOG_CREDENTIALS,
)
from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec, SecretKeySelector, parse_spec
from modelsync.catalog import CatalogClient, ModelListing
from modelsync.catalog.records import ModelRecord
from modelsync.plan import (
    ModelFailure,
    SyncPlan,
    SyncRef,
    VersionResolution,
    models_needing_lookup,
    plan_sync,
)
from modelsync.runtime.catalog_reads import (
    CatalogAccess,
    catalog_client_for,
    catalog_filters,
    look_up_deployable_versions,
)
from modelsync.runtime.hosts import AllowedHosts

__all__ = [
    "DEFAULT_TOKEN_ENV",
    "RenderError",
    "RenderInput",
    "RenderResult",
    "RenderTarget",
    "load_documents",
    "render",
    "rendered_modelrefs",
    "resolve_target",
    "to_yaml",
]

DEFAULT_TOKEN_ENV = "MODELSYNC_TOKEN"  # noqa: S105 - the name of a variable

JsonDict = dict[str, Any]


class RenderError(Exception):
    """A render that cannot go on; `exit_code` 2 for bad input, 1 for catalog failures.
    Messages never contain the token."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class RenderInput:
    """The ModelCatalogSync document and any Secret documents given alongside it."""

    sync: Mapping[str, Any]
    secrets: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class RenderTarget:
    """A validated sync with its credentials, ready to list the catalog."""

    name: str
    namespace: str
    spec: ModelCatalogSyncSpec
    token: str = field(repr=False)
    ca_pem: str | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderResult:
    plan: SyncPlan
    listing: ModelListing

    @property
    def failures(self) -> tuple[ModelFailure, ...]:
        return self.plan.failures


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _documents(source: str, text: str) -> list[Mapping[str, Any]]:
    try:
        loaded = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise RenderError(f"{source}: not valid YAML: {exc}") from None
    docs: list[Mapping[str, Any]] = []
    for doc in loaded:
        if not isinstance(doc, Mapping):
            raise RenderError(f"{source}: every YAML document must be a Kubernetes object")
        if doc.get("kind") == "List":  # `kubectl get -o yaml` output
            docs.extend(item for item in doc.get("items") or () if isinstance(item, Mapping))
        else:
            docs.append(doc)
    return docs


def load_documents(sources: Iterable[tuple[str, str]]) -> RenderInput:
    """Find the one ModelCatalogSync (and any Secrets) in `(source name, YAML text)` pairs;
    other kinds are ignored."""
    syncs: list[Mapping[str, Any]] = []
    secrets: list[Mapping[str, Any]] = []
    for source, text in sources:
        for doc in _documents(source, text):
            kind, api_version = doc.get("kind"), doc.get("apiVersion")
            if kind == KIND_SYNC:
                if api_version != API_VERSION:
                    raise RenderError(
                        f"{source}: {KIND_SYNC} apiVersion {api_version!r} is not {API_VERSION}"
                    )
                syncs.append(doc)
            elif kind == "Secret" and api_version == "v1":
                secrets.append(doc)
    if len(syncs) != 1:
        found = "no" if not syncs else str(len(syncs))
        raise RenderError(f"expected exactly one {KIND_SYNC} in the input, found {found}")
    return RenderInput(syncs[0], tuple(secrets))


def _secret_value(
    secrets: Sequence[Mapping[str, Any]],
    namespace: str,
    ref: SecretKeySelector,
    what: str,
    warnings: list[str] | None = None,
) -> str | None:
    """The key of a Secret document in `namespace` (documents without a namespace match any),
    or None when no such Secret was given. A Secret without the opt-in label adds a line to
    `warnings`."""
    for secret in secrets:
        meta = _mapping(secret.get("metadata"))
        if meta.get("name") != ref.name or meta.get("namespace") not in (None, namespace):
            continue
        labels = _mapping(meta.get("labels"))
        if warnings is not None and labels.get(LABEL_CATALOG_CREDENTIALS) != (
            CATALOG_CREDENTIALS_VALUE
        ):
            warnings.append(
                f'Secret "{ref.name}" lacks the label {LABEL_CATALOG_CREDENTIALS}='
                f'"{CATALOG_CREDENTIALS_VALUE}": the operator will not use it and the sync '
                "will be Stalled (SecretNotOptedIn); add the label "
                f"(kubectl label secret {ref.name} "
                f"{LABEL_CATALOG_CREDENTIALS}={CATALOG_CREDENTIALS_VALUE})"
            )
        string_data = _mapping(secret.get("stringData"))
        if isinstance(string_data.get(ref.key), str):
            return str(string_data[ref.key])
        data = _mapping(secret.get("data"))
        encoded = data.get(ref.key)
        if isinstance(encoded, str):
            try:
                return base64.b64decode(encoded, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise RenderError(
                    f'{what}: Secret "{ref.name}" key "{ref.key}" is not valid base64 UTF-8'
                ) from None
        raise RenderError(f'{what}: Secret "{ref.name}" has no key "{ref.key}"')
    return None


def resolve_target(
    given: RenderInput,
    *,
    environ: Mapping[str, str],
    token_env: str = DEFAULT_TOKEN_ENV,
    namespace: str | None = None,
    allowed_hosts: AllowedHosts,
) -> RenderTarget:
    """Validate the sync as the operator does (spec, allowed catalog URL) and find its token:
    the `token_env` variable if set, else the referenced Secret among the input documents."""
    meta = _mapping(given.sync.get("metadata"))
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise RenderError(f"the {KIND_SYNC} has no metadata.name")
    found_ns = meta.get("namespace")
    target_ns = namespace or (found_ns if isinstance(found_ns, str) and found_ns else "default")
    what = f"{KIND_SYNC} {target_ns}/{name}"
    spec, errors = parse_spec(_mapping(given.sync.get("spec")))
    if spec is None or errors:
        raise RenderError(f"{what}: invalid spec: " + "; ".join(errors or ["unreadable"]))
    refusal = allowed_hosts.check(spec.catalog.url)
    if refusal is not None:
        raise RenderError(f"{what}: {refusal}")
    warnings: list[str] = []
    token = environ.get(token_env) or _secret_value(
        given.secrets, target_ns, spec.catalog.token_secret_ref, what, warnings
    )
    if not token:
        ref = spec.catalog.token_secret_ref
        raise RenderError(
            f"{what}: no catalog token: set ${token_env}, or give the Secret "
            f'"{ref.name}" (key "{ref.key}") in the input'
        )
    ca_pem = None
    if spec.catalog.ca_secret_ref is not None:
        ca_ref = spec.catalog.ca_secret_ref
        ca_pem = _secret_value(given.secrets, target_ns, ca_ref, what, warnings)
        if ca_pem is None:
            raise RenderError(
                f'{what}: spec.catalog.caSecretRef names Secret "{ca_ref.name}"; give it in '
                "the input"
            )
    return RenderTarget(name, target_ns, spec, token, ca_pem, tuple(warnings))


async def _resolve_versions(
    client: CatalogClient, spec: ModelCatalogSyncSpec, models: Sequence[ModelRecord]
) -> dict[str, VersionResolution]:
    pending = models_needing_lookup(models, spec.version_policy, select=spec.select)
    lookups = await look_up_deployable_versions(client, pending)
    if lookups.failed:
        # The operator would leave such a model alone and retry; a one-shot render
        # cannot, and a partial answer would mislead.
        model, exc = next(iter(lookups.failed.values()))
        raise RenderError(f"version lookup for model {model.fqn} failed: {exc}", exit_code=1)
    return lookups.results


async def render(target: RenderTarget, *, now: datetime, attempts: int = 4) -> RenderResult:
    """List the catalog and plan the sync as a first sync into an empty namespace.

    Raises CatalogError when the listing fails, RenderError for an inconsistent listing, a
    failed version lookup or an unusable token.
    """
    spec = target.spec
    try:
        client = catalog_client_for(
            CatalogAccess.of(spec, target.token, target.ca_pem), attempts=attempts
        )
    except ValueError as exc:  # a bad CA bundle, token or URL; no message quotes the token
        raise RenderError(str(exc)) from None
    async with client:
        listing = await client.list_models(catalog_filters(spec))
        if not listing.complete:
            raise RenderError(
                f"the catalog's listing is inconsistent ({listing.inconsistency}); the "
                "ModelRefs would not be the catalog's, so none are printed (the operator "
                "reports InconsistentListing and deletes or marks nothing)",
                exit_code=1,
            )
        resolutions = await _resolve_versions(client, spec, listing.models)
    plan = plan_sync(
        listing.models,
        spec,
        [],
        sync=SyncRef(target.name, target.namespace, uid=""),
        now=now,
        resolutions=resolutions,
        listing_complete=listing.complete,
        listing_problem=listing.inconsistency,
        skipped_model_ids=[s.id for s in listing.skipped if s.id is not None],
    )
    return RenderResult(plan, listing)


def rendered_modelrefs(plan: SyncPlan, *, with_status: bool = True) -> list[JsonDict]:
    """The plan's create bodies without ownerReferences, each with the status the operator
    writes right after creating it (unless `with_status` is false). Ordered by name."""
    docs: list[JsonDict] = []
    for create in sorted(plan.creates, key=lambda c: c.name):
        body = copy.deepcopy(create.body)
        body["metadata"].pop("ownerReferences", None)
        if with_status:
            body["status"] = copy.deepcopy(create.status["status"])
        docs.append(body)
    return docs


def header(target: RenderTarget, result: RenderResult, count: int) -> list[str]:
    # No time stamp: the same catalog renders to the same bytes (clean Git diffs with --no-status).
    return [
        f"ModelRefs of {KIND_SYNC} {target.namespace}/{target.name}, "
        "rendered by `modelsync render`",
        f"from {target.spec.catalog.url}: {len(result.listing.models)} models listed, "
        f"{count} ModelRefs.",
        "No ownerReferences: the ModelCatalogSync's uid exists only in a cluster. Applied as",
        "they are, the operator adopts them (managed-by label) and adds its own reference.",
        "`status` is what the operator writes; the API server ignores it on create and apply.",
    ]


_UNICODE_BREAKS = ("\x85", "\u2028", "\u2029")


def _has_unicode_break(value: Any) -> bool:
    if isinstance(value, str):
        return any(c in value for c in _UNICODE_BREAKS)
    if isinstance(value, Mapping):
        return any(_has_unicode_break(k) or _has_unicode_break(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_unicode_break(v) for v in value)
    return False


def to_yaml(docs: Sequence[Mapping[str, Any]], comments: Sequence[str] = ()) -> str:
    """Multi-document YAML, each document starting with `---`, after `#` comment lines."""
    head = "".join(f"# {line}\n" for line in comments)
    if not docs:
        return head
    plain = [dict(d) for d in docs]
    body = yaml.safe_dump_all(
        plain,
        explicit_start=True,
        sort_keys=False,
        default_flow_style=False,
        # PyYAML writes NEL/LS/PS unescaped when allowed Unicode, and then misreads them.
        allow_unicode=not _has_unicode_break(plain),
        width=100,
    )
    return head + body
