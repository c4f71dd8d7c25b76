"""Catalog reads shared by a sync pass and `modelsync render`: the client a spec gets, the
filters it sends and the look-ups of models' versions (the pure chooser of
plan/version_selector.py picks from them), so both connect, list and resolve the same way."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec
from modelsync.catalog import (
    DEFAULT_MAX_RESPONSE_BYTES,
    CatalogClient,
    CatalogError,
    ConnectGuard,
    ModelFilters,
    RetryPolicy,
    VersionsEndpointUnsupported,
)
from modelsync.catalog.records import ModelRecord
from modelsync.plan import UNSUPPORTED, VersionResolution, VersionRules

__all__ = [
    "LOOKUP_CONCURRENCY",
    "CatalogAccess",
    "InvalidCaBundle",
    "VersionLookups",
    "catalog_client_for",
    "catalog_filters",
    "look_up_versions",
]

LOOKUP_CONCURRENCY = 4


class InvalidCaBundle(ValueError):
    """The CA Secret's value is not a PEM CA bundle."""

    def __init__(self) -> None:
        super().__init__("the CA Secret does not hold a valid PEM CA bundle")


@dataclass(frozen=True)
class CatalogAccess:
    """Where and how to reach one catalog; a client can be reused while this stays equal."""

    url: str
    api_path: str
    token: str = field(repr=False)
    ca_pem: str | None = field(repr=False)
    timeout: float
    page_size: int

    @classmethod
    def of(cls, spec: ModelCatalogSyncSpec, token: str, ca_pem: str | None) -> CatalogAccess:
        catalog = spec.catalog
        return cls(
            url=catalog.url,
            api_path=catalog.api_path,
            token=token,
            ca_pem=ca_pem,
            timeout=float(catalog.timeout_seconds),
            page_size=catalog.page_size,
        )


def _verify(ca_pem: str | None) -> bool | ssl.SSLContext:
    if ca_pem is None:
        return True
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cadata=ca_pem)
    # SSLError: not PEM; ValueError: no certificate at all; TypeError: not ASCII.
    except (ssl.SSLError, ValueError, TypeError):
        raise InvalidCaBundle from None
    return context


def catalog_client_for(
    access: CatalogAccess,
    *,
    attempts: int,
    on_response: Callable[[int | None], None] | None = None,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    connect_guard: ConnectGuard | None = None,
) -> CatalogClient:
    """A catalog client for `access` (TLS verified against `ca_pem` when given).

    Raises InvalidCaBundle for an unusable CA bundle, InvalidToken (a ValueError) for a token
    that cannot be sent as a header and ValueError for other settings the client refuses;
    no message quotes the token.
    """
    verify = _verify(access.ca_pem)
    return CatalogClient(
        access.url,
        access.token,
        api_path=access.api_path,
        timeout=access.timeout,
        page_size=access.page_size,
        retry=RetryPolicy(attempts=attempts),
        verify=verify,
        on_response=on_response,
        max_response_bytes=max_response_bytes,
        connect_guard=connect_guard,
    )


def catalog_filters(spec: ModelCatalogSyncSpec) -> ModelFilters:
    """The server-side filters of `spec.filters`, as List Models query parameters."""
    f = spec.filters
    return ModelFilters(
        fqn=f.fqn,
        ml_repo_id=f.ml_repo_id,
        name=f.name,
        run_id=f.run_id,
        include_empty_models=f.include_empty_models,
    )


@dataclass
class VersionLookups:
    """Answers by model id; `failed` holds the models whose look-up failed (no answer)."""

    results: dict[str, VersionResolution] = field(default_factory=dict)
    failed: dict[str, tuple[ModelRecord, CatalogError]] = field(default_factory=dict)

    def failure_messages(self) -> dict[str, str]:
        """{model id: why its look-up failed}, as the planner's `failed_lookups`."""
        return {
            model_id: f"listing the model's versions failed ({exc.reason}): {exc}"
            for model_id, (_, exc) in self.failed.items()
        }


async def look_up_versions(
    client: CatalogClient,
    pending: Sequence[ModelRecord],
    rules: VersionRules,
    *,
    concurrency: int = LOOKUP_CONCURRENCY,
) -> VersionLookups:
    """List each pending model's versions (model-versions endpoint) and keep what `rules`
    choose from them (`VersionRules.resolve`): the pinned or newest qualifying version, or
    why there is none.

    Once the endpoint answers 404 (not supported), every remaining model is UNSUPPORTED
    without another request.
    """
    lookups = VersionLookups()
    unsupported = False
    gate = asyncio.Semaphore(concurrency)

    async def look_up(model: ModelRecord) -> None:
        nonlocal unsupported
        async with gate:
            if unsupported:
                lookups.results[model.id] = UNSUPPORTED
                return
            try:
                versions = await client.list_model_versions(model.id)
                lookups.results[model.id] = rules.resolve(model, versions)
            except VersionsEndpointUnsupported:
                unsupported = True
                lookups.results[model.id] = UNSUPPORTED
            except CatalogError as exc:
                lookups.failed[model.id] = (model, exc)

    await asyncio.gather(*(look_up(m) for m in pending))
    return lookups
