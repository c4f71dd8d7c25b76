"""Async client of the catalog: `GET {apiPath}/models` and `GET {apiPath}/model-versions`.

One httpx.AsyncClient per CatalogClient (connections are reused across pages and syncs).
Retries: 429, 5xx and transport failures/timeouts with exponential backoff and jitter,
honouring `Retry-After`; a 2xx with an unreadable (non-JSON, truncated) body is retried once.
Other statuses are not retried, nor are failures another try cannot fix: an untrusted or
mismatched certificate, a TLS protocol error (an https URL to a plain-http port). Redirects are
not followed (a redirect means a wrong URL, and the token must not travel anywhere the
configuration did not name). Every error message starts with the request, `GET
scheme://host:port/path?query`, and says what failed and, where there is one, the fix
(catalog/transport.py judges transport failures); the token never appears in it.

Bounds: `timeout` is a wall-clock deadline for a whole request (connect, headers and the
whole body), and one response body may not pass `max_response_bytes` (counted after
decompression, while it streams in). With a `connect_guard`, every new connection is checked
on the address it actually dials (see catalog/transport.py).

A listing is judged by catalog/listing.py: an inconsistent one is returned with
`complete=False` and the models it did see, never passed off as complete. Once a pass's first
page gives the total, up to `page_concurrency` pages are requested at a time (_PagesAhead);
each page is decoded into records (catalog/pages.py) as soon as its body is in.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from importlib import metadata
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx

from modelsync.catalog.body import (
    ACCEPTED_ENCODINGS,
    BodyTooLarge,
    UndecodableBody,
    json_values_bound,
    read_capped_body,
)
from modelsync.catalog.destinations import ConnectGuard
from modelsync.catalog.errors import (
    CatalogError,
    DestinationRefused,
    Forbidden,
    InvalidResponse,
    InvalidToken,
    NotFound,
    RateLimited,
    RequestInvalid,
    ResponseTooLarge,
    ServerError,
    TransportFailure,
    Unauthorized,
    UnexpectedStatus,
    VersionsEndpointUnsupported,
)
from modelsync.catalog.listing import FetchPage, ListingCheck, ListingEnd, PageReport
from modelsync.catalog.models import HTTPValidationError
from modelsync.catalog.pages import (
    MODEL_PAGES,
    VERSION_PAGES,
    NotAPage,
    NotJson,
    PageKind,
    ParsedPage,
    SkippedModel,
    decode_page,
)
from modelsync.catalog.records import ModelRecord, RecordSharing, VersionRecord
from modelsync.catalog.retry import RetryPolicy, backoff_delay, jitter_unit, parse_retry_after
from modelsync.catalog.transport import (
    CatalogEndpoint,
    CatalogTransport,
    judge_transport_failure,
)

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_PAGE_CONCURRENCY",
    "USER_AGENT",
    "CatalogClient",
    "ModelFilters",
    "ModelListing",
    "RetryPolicy",
    "SkippedModel",
]

DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
DEFAULT_PAGE_CONCURRENCY = 4

logger = logging.getLogger(__name__)

RecordT = TypeVar("RecordT", ModelRecord, VersionRecord)

_REDACTED = "[redacted]"
_MAX_422_DETAILS = 3
# A 422 body is read for its detail; a larger one is ignored (the status says enough).
_MAX_ERROR_BODY_BYTES = 64 * 1024
# Decoding allows one JSON value per this many bytes of the cap: a decoded value costs up to
# ~72 bytes, so a hostile body of tiny values stays within about 4.5x the cap once decoded.
# Real pages use ~10 bytes per value, so they may be up to ~60% of the cap.
_BYTES_PER_JSON_VALUE = 16


def _user_agent() -> str:
    try:
        version = metadata.version("modelsync")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"modelsync/{version}"


USER_AGENT = _user_agent()


@dataclass(frozen=True)
class ModelFilters:
    """The List Models filters; `None` means the parameter is not sent."""

    fqn: str | None = None
    ml_repo_id: str | None = None
    name: str | None = None
    run_id: str | None = None
    include_empty_models: bool | None = None

    def to_params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        for key, value in (
            ("fqn", self.fqn),
            ("ml_repo_id", self.ml_repo_id),
            ("name", self.name),
            ("run_id", self.run_id),
        ):
            if value is not None:
                params[key] = value
        if self.include_empty_models is not None:
            params["include_empty_models"] = "true" if self.include_empty_models else "false"
        return params


@dataclass(frozen=True)
class ModelListing:
    """One listing: unique models (first occurrence wins), the ones that failed validation,
    the last `pagination.total` seen, pages judged and HTTP requests started (retries,
    restarts and pages requested ahead but not needed included).

    `complete` is True only when the pages were self-consistent (catalog/listing.py); then
    `models` plus `skipped` are the whole catalog. Otherwise `inconsistency` says in one line
    what was wrong and `models` are only the models that were seen: nothing may be concluded
    from a model's absence. `restarts` counts how often the listing started over because
    `pagination.total` moved while paging.
    """

    models: tuple[ModelRecord, ...]
    skipped: tuple[SkippedModel, ...]
    total: int
    pages: int
    requests: int
    complete: bool
    inconsistency: str
    restarts: int = 0


@dataclass
class _RequestCounter:
    requests: int = 0


_LISTINGS_REMEMBERED = 2  # filters whose last listing's pages are kept (a sync has one)


class _PageMemo:
    """The pages of one listing pass (`fresh`), and those of the last pass (`last`)."""

    def __init__(self, last: dict[int, tuple[bytes, Any]]) -> None:
        self.last = last
        self.fresh: dict[int, tuple[bytes, Any]] = {}

    def known(self, offset: int, content: bytes | bytearray) -> Any:
        """The page the last pass decoded from the same body at `offset` (kept for the next
        pass too), or None."""
        digest = hashlib.blake2b(content, digest_size=16).digest()
        held = self.last.get(offset)
        if held is None or held[0] != digest:
            self.fresh[offset] = (digest, None)  # `keep` adds the page once decoded
            return None
        self.fresh[offset] = held
        return held[1]

    def keep(self, offset: int, page: Any) -> None:
        self.fresh[offset] = (self.fresh[offset][0], page)


@dataclass(frozen=True)
class _Collected(Generic[RecordT]):
    items: tuple[RecordT, ...]
    skipped: tuple[SkippedModel, ...]
    total: int
    pages: int
    problem: str
    restarts: int


@dataclass(frozen=True)
class _Answer:
    status: int
    reason_phrase: str
    headers: httpx.Headers
    content: bytes | bytearray | None  # None: not read (not needed for this status)


_PageFetch = Callable[[int], Coroutine[Any, Any, tuple[ParsedPage[RecordT], str]]]


class _PagesAhead(Generic[RecordT]):
    """The pages of one listing pass, requested ahead of ListingCheck.

    Once a pass's first page gives the total, `plan` lays out the offsets a consistent
    catalog will be asked for: every `stride` (the first page's size) from the next offset
    up to the total itself (the page confirming a full last page), never beyond, so a
    consistent catalog gets exactly the requests a sequential pass sends. At most `width`
    of those requests are in flight (the page being waited for included), each holding at
    most one body. `take` hands out pages strictly in offset order; when the offset the
    check asks for is not the next planned one (a page of another size), the pages
    requested ahead are cancelled and the pass goes on one page at a time. A page's
    failure only surfaces when the check asks for that page, as it would sequentially.
    """

    def __init__(self, fetch: _PageFetch[RecordT], width: int) -> None:
        self._fetch: _PageFetch[RecordT] = fetch
        self._width = width
        self._ahead: dict[int, asyncio.Task[tuple[ParsedPage[RecordT], str]]] = {}
        self._next: int | None = None  # the next planned offset not requested yet
        self._stride = 0
        self._last = 0

    def plan(self, start: int, stride: int, total: int) -> None:
        if self._width > 1 and stride > 0 and start <= total:
            self._next, self._stride, self._last = start, stride, total

    async def take(self, offset: int, allowed: int) -> tuple[ParsedPage[RecordT], str]:
        """The page at `offset`; `allowed`: how many more pages may be requested after it."""
        task = None
        if self._ahead:
            if next(iter(self._ahead)) == offset:
                task = self._ahead.pop(offset)
            else:
                await self._drop_all()
        elif self._next is not None and self._next != offset:
            self._next = None
        if task is None:
            if self._next == offset:
                self._advance()
            task = asyncio.create_task(self._fetch(offset))
        self._top_up(allowed)
        return await task

    def _advance(self) -> None:
        assert self._next is not None
        following = self._next + self._stride
        self._next = following if following <= self._last else None

    def _top_up(self, allowed: int) -> None:
        while self._next is not None and len(self._ahead) < min(self._width - 1, allowed):
            self._ahead[self._next] = asyncio.create_task(self._fetch(self._next))
            self._advance()

    async def _drop_all(self) -> None:
        self._next = None
        tasks = list(self._ahead.values())
        self._ahead.clear()
        for task in tasks:
            task.cancel()
        # Their outcomes (pages, errors, cancellations) are of requests the pass no longer
        # needs, which a sequential pass would not have sent.
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        await self._drop_all()


def _checked_base_url(base_url: str) -> str:
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("the catalog URL must be an absolute http(s) URL")
    if url.userinfo:
        raise ValueError("the catalog URL must not carry credentials; use the token")
    if url.query or url.fragment:
        raise ValueError("the catalog URL must not carry a query or fragment")
    return str(url).rstrip("/")


def _checked_api_path(api_path: str) -> str:
    stripped = api_path.strip().strip("/")
    return f"/{stripped}" if stripped else ""


def _checked_token(token: str | None) -> str | None:
    if token is None:
        return None
    # Secrets made with `--from-file` often end in a newline; inner whitespace or control
    # characters would make httpx fail with an error that quotes the header value.
    cleaned = token.strip()
    if not cleaned:
        raise InvalidToken("the catalog token is empty; put the token in the Secret")
    if not all("\x21" <= char <= "\x7e" for char in cleaned):
        raise InvalidToken(
            "the catalog token contains whitespace, control or non-ASCII characters and "
            "cannot be sent as a header; store only the token in the Secret"
        )
    return cleaned


def _summarize_422(errors: HTTPValidationError) -> str:
    parts = [
        f"{'.'.join(str(part) for part in item.loc)}: {item.msg}"
        for item in errors.detail[:_MAX_422_DETAILS]
    ]
    if len(errors.detail) > _MAX_422_DETAILS:
        parts.append(f"and {len(errors.detail) - _MAX_422_DETAILS} more")
    return "; ".join(parts) or "no detail given"


def _retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


class CatalogClient:
    """Reads one catalog. Use as `async with CatalogClient(...) as client:` or call aclose()."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        api_path: str = "/api/ml/v1",
        timeout: float = 30.0,
        page_size: int = 100,
        max_pages: int = 10_000,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, never mutated
        verify: bool | ssl.SSLContext = True,
        on_response: Callable[[int | None], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        connect_guard: ConnectGuard | None = None,
        max_listing_restarts: int = 2,
        page_concurrency: int = DEFAULT_PAGE_CONCURRENCY,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_response_bytes < 1:
            raise ValueError("max_response_bytes must be at least 1")
        if max_listing_restarts < 0:
            raise ValueError("max_listing_restarts must not be negative")
        if page_concurrency < 1:
            raise ValueError("page_concurrency must be at least 1")
        self._base_url = _checked_base_url(base_url)
        self._endpoint = CatalogEndpoint.of(
            httpx.URL(self._base_url), own_ca=isinstance(verify, ssl.SSLContext)
        )
        self._api_path = _checked_api_path(api_path)
        self._token = _checked_token(token)
        self._timeout = timeout
        self._page_size = page_size
        self._max_pages = max_pages
        self._retry = retry
        self._on_response = on_response
        self._sleep = sleep
        self._max_response_bytes = max_response_bytes
        self._max_listing_restarts = max_listing_restarts
        self._page_concurrency = page_concurrency
        # The model pages of the last listing per filter, by offset: (digest of the body, the
        # page decoded). A page whose body is byte for byte the last one's is not decoded
        # again, and its records are the same objects (a steady sync compares them by
        # identity, runtime/planning.py SelectionMemo).
        self._last_pages: dict[tuple[str, str], dict[int, tuple[bytes, Any]]] = {}
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": ACCEPTED_ENCODINGS,
            "User-Agent": USER_AGENT,
        }
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            headers=headers,
            # `timeout` is enforced as one deadline per request in _exchange; httpx's own
            # per-operation timeouts would only fire later, so they are left off.
            timeout=httpx.Timeout(None),
            transport=CatalogTransport(verify=verify, connect_guard=connect_guard),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"CatalogClient(base_url={self._base_url!r}, api_path={self._api_path!r})"

    async def __aenter__(self) -> CatalogClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- public API ----------------------------------------------------------------------

    async def list_models(self, filters: ModelFilters = ModelFilters()) -> ModelListing:
        """The listing of every model matching `filters`; see ModelListing for `complete`."""
        counter = _RequestCounter()
        collected = await self._collect(
            "/models",
            filters.to_params(),
            MODEL_PAGES,
            not_found=NotFound,
            counter=counter,
            remember=True,
        )
        for skipped in collected.skipped:
            logger.debug("skipped model %s: %s", skipped.id, skipped.reason)
        if collected.problem:
            logger.info("inconsistent listing of %s/models: %s", self._api_path, collected.problem)
        return ModelListing(
            models=collected.items,
            skipped=collected.skipped,
            total=collected.total,
            pages=collected.pages,
            requests=counter.requests,
            complete=not collected.problem,
            inconsistency=collected.problem,
            restarts=collected.restarts,
        )

    async def list_model_versions(self, model_id: str) -> list[VersionRecord]:
        """Every version of a model; versions that fail validation are logged and left out.

        Raises VersionsEndpointUnsupported when the catalog has no such endpoint (404), and
        InvalidResponse when the version pages are inconsistent (a partial list of versions
        could name the wrong newest one).
        """
        collected = await self._collect(
            "/model-versions",
            {"model_id": model_id},
            VERSION_PAGES,
            not_found=VersionsEndpointUnsupported,
            counter=_RequestCounter(),
        )
        if collected.problem:
            raise InvalidResponse(
                f"GET {self._endpoint.origin}{self._api_path}/model-versions for model "
                f"{model_id}: inconsistent listing: {collected.problem}"
            )
        for skipped in collected.skipped:
            logger.warning(
                "skipped version %s of model %s: %s", skipped.id, model_id, skipped.reason
            )
        return list(collected.items)

    # --- paging --------------------------------------------------------------------------

    async def _collect(
        self,
        path: str,
        params: Mapping[str, str],
        kind: PageKind[RecordT],
        *,
        not_found: type[NotFound],
        counter: _RequestCounter,
        remember: bool = False,
    ) -> _Collected[RecordT]:
        """Page through a listing, starting over (at most `max_listing_restarts` times) when
        `pagination.total` moves; `problem` is empty only for a consistent listing.

        Once the first page of a pass gives the total, the pages after it are requested
        ahead, up to `page_concurrency` at a time (see _PagesAhead); ListingCheck still
        judges them one by one in offset order, so the verdict, the models and their order
        are those of a sequential pass.
        """

        sharing = RecordSharing()
        listing = (path, repr(sorted(params.items())))
        memo = _PageMemo(self._last_pages.pop(listing, {})) if remember else None

        async def fetch(offset: int) -> tuple[ParsedPage[RecordT], str]:
            page_params: dict[str, str | int] = {
                **params,
                "offset": offset,
                "limit": self._page_size,
            }
            return await self._fetch_page(
                path,
                page_params,
                kind,
                sharing,
                not_found=not_found,
                counter=counter,
                memo=(memo, offset) if memo is not None else None,
            )

        try:
            return await self._page_through(path, fetch)
        finally:
            if memo is not None:
                self._last_pages[listing] = memo.fresh
                while len(self._last_pages) > _LISTINGS_REMEMBERED:
                    del self._last_pages[next(iter(self._last_pages))]

    async def _page_through(self, path: str, fetch: _PageFetch[RecordT]) -> _Collected[RecordT]:
        pages = restarts = 0
        while True:
            unique: dict[str, RecordT] = {}
            skipped: list[SkippedModel] = []
            skipped_ids: set[str] = set()
            check = ListingCheck()
            total = 0
            ahead = _PagesAhead(fetch, self._page_concurrency)
            try:
                while True:
                    offset = check.next_offset
                    if pages >= self._max_pages:
                        raise InvalidResponse(
                            f"GET {self._endpoint.origin}{self._api_path}{path}: runaway "
                            "paging: still not done after "
                            f"{pages} pages (offset {offset}, reported total {total})"
                        )
                    page, target = await ahead.take(offset, self._max_pages - pages - 1)
                    pages += 1
                    total = page.pagination.total
                    for item in page.items:
                        unique.setdefault(item.id, item)
                    for bad in page.skipped:
                        if bad.id is None or (bad.id not in skipped_ids and bad.id not in unique):
                            skipped.append(bad)
                            if bad.id is not None:
                                skipped_ids.add(bad.id)
                    step = check.observe(
                        PageReport(
                            offset=offset,
                            limit=self._page_size,
                            total=total,
                            entry_ids=page.entry_ids,
                            reported_offset=page.pagination.offset,
                            reported_limit=page.pagination.limit,
                        )
                    )
                    if not isinstance(step, FetchPage):
                        break
                    if offset == 0:
                        ahead.plan(step.offset, page.size, total)
                    del page
            finally:
                await ahead.close()
            if isinstance(step, ListingEnd):
                problem = step.problem
            elif restarts < self._max_listing_restarts:
                restarts += 1
                logger.info("%s: %s; listing again from the start", target, step.problem)
                continue
            else:
                problem = (
                    f"{step.problem}, and it kept moving: listed {restarts + 1} times "
                    "without a consistent pass"
                )
            return _Collected(
                tuple(unique.values()), tuple(skipped), total, pages, problem, restarts
            )

    # --- one GET with retries ------------------------------------------------------------

    async def _fetch_page(
        self,
        path: str,
        params: Mapping[str, str | int],
        kind: PageKind[RecordT],
        sharing: RecordSharing,
        *,
        not_found: type[NotFound],
        counter: _RequestCounter,
        memo: tuple[_PageMemo, int] | None = None,
    ) -> tuple[ParsedPage[RecordT], str]:
        """One page, decoded as soon as its body is in (the body is dropped then), with the
        retries of a GET; a 2xx whose body is not JSON is retried once."""
        attempts = self._retry.attempts
        bad_body_retries = 1
        target = ""
        for attempt in range(1, attempts + 1):
            request = self._http.build_request("GET", self._api_path + path, params=params)
            path_and_query = request.url.raw_path.decode("ascii", "replace")
            target = f"GET {self._endpoint.origin}{path_and_query}"
            counter.requests += 1
            retry_after: float | None = None
            try:
                answer = await self._exchange(request)
            except TimeoutError:
                self._report(None)
                error: CatalogError = TransportFailure(
                    f"{target}: no complete response within {self._timeout:g}s; is the "
                    "catalog up and reachable from here?"
                )
            except DestinationRefused as exc:
                self._report(None)
                raise DestinationRefused(self._redact(f"{target}: {exc}")) from None
            except httpx.TransportError as exc:
                self._report(None)
                judged = judge_transport_failure(exc, self._endpoint)
                error = TransportFailure(self._redact(f"{target}: {judged.message}"))
                if not judged.retryable:
                    raise error from exc
            except _TooLarge as exc:
                self._report(exc.status)
                raise ResponseTooLarge(
                    self._redact(f"{target}: {exc}"), status_code=exc.status
                ) from None
            except _Undecodable as exc:
                self._report(exc.status)
                error = InvalidResponse(self._redact(f"{target}: {exc}"), status_code=exc.status)
                if bad_body_retries == 0:
                    raise error from None
                bad_body_retries -= 1
            else:
                status = answer.status
                logger.debug("%s -> %d", target, status)
                self._report(status)
                if 200 <= status <= 299:
                    content = answer.content or b""
                    del answer
                    known = memo[0].known(memo[1], content) if memo is not None else None
                    if known is not None:
                        return known, target  # the last listing's page, checked then
                    self._check_json_size(content, target, status)
                    try:
                        page = decode_page(content, kind, sharing)
                        if memo is not None:
                            memo[0].keep(memo[1], page)
                        return page, target
                    except NotJson:
                        error = InvalidResponse(
                            self._redact(
                                f"{target}: HTTP {status} with a body that is not valid JSON "
                                f"({len(content)} bytes)"
                            ),
                            status_code=status,
                        )
                    except NotAPage as exc:
                        raise InvalidResponse(
                            self._redact(f"{target}: not a page of {kind.item_name} items: {exc}")
                        ) from None
                    finally:
                        del content
                    if bad_body_retries == 0:
                        raise error
                    bad_body_retries -= 1
                else:
                    error = self._status_error(answer, target, not_found)
                    if not _retryable_status(status):
                        raise error
                    retry_after = error.retry_after
            if attempt == attempts:
                if attempts > 1:
                    error.message = f"{error.message} (gave up after {attempts} attempts)"
                    error.args = (error.message,)
                raise error
            delay = self._delay(attempt, retry_after)
            logger.info(
                "%s; retrying in %.2fs (attempt %d of %d)", error, delay, attempt + 1, attempts
            )
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns/raises

    async def _exchange(self, request: httpx.Request) -> _Answer:
        """Send `request` and read what its status needs of the body, all within `timeout`.

        Raises TimeoutError at the deadline, _TooLarge / _Undecodable for bodies the client
        refuses, httpx.TransportError and DestinationRefused.
        """
        async with asyncio.timeout(self._timeout):
            response = await self._http.send(request, stream=True)
            try:
                status = response.status_code
                if 200 <= status <= 299:
                    limit: int | None = self._max_response_bytes
                elif status == 422:
                    limit = _MAX_ERROR_BODY_BYTES
                else:
                    limit = None
                content: bytearray | None = None
                if limit is not None:
                    content = await self._read_body(response, status, limit)
                return _Answer(status, response.reason_phrase, response.headers, content)
            finally:
                await response.aclose()

    async def _read_body(self, response: httpx.Response, status: int, limit: int) -> bytearray:
        try:
            return await read_capped_body(
                response.aiter_raw(),
                limit=limit,
                content_encoding=response.headers.get("Content-Encoding"),
                content_length=response.headers.get("Content-Length"),
            )
        except BodyTooLarge as exc:
            if status == 422:
                return bytearray()  # the detail is optional; the status says enough
            raise _TooLarge(status, exc) from None
        except UndecodableBody as exc:
            if status == 422:
                return bytearray()
            raise _Undecodable(status, str(exc)) from None

    def _check_json_size(self, content: bytes | bytearray, target: str, status: int) -> None:
        allowed = self._max_response_bytes // _BYTES_PER_JSON_VALUE
        values = json_values_bound(content)
        if values > allowed:
            raise ResponseTooLarge(
                self._redact(
                    f"{target}: HTTP {status}: response refused: its {len(content)} bytes hold "
                    f"up to {values} JSON values, more than the {allowed} allowed (one per "
                    f"{_BYTES_PER_JSON_VALUE} bytes of the limit of {self._max_response_bytes} "
                    "bytes); raise --max-response-bytes if the catalog really serves pages "
                    "this large"
                ),
                status_code=status,
            )

    def _report(self, status: int | None) -> None:
        if self._on_response is not None:
            self._on_response(status)  # None: no status, counted as a transport error

    def _delay(self, failed_attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self._retry.max_delay, retry_after)
        return backoff_delay(self._retry, failed_attempts, jitter_unit())

    def _status_error(
        self, response: _Answer, target: str, not_found: type[NotFound]
    ) -> CatalogError:
        status = response.status
        prefix = f"{target}: HTTP {status} {response.reason_phrase}".rstrip()
        error: CatalogError
        if status == 401:
            why = (
                "the catalog rejected the token; put a valid one in the token Secret"
                if self._token
                else "no token was sent"
            )
            error = Unauthorized(f"{prefix}: {why}", status_code=status)
        elif status == 403:
            error = Forbidden(f"{prefix}: the token may not read this catalog", status_code=status)
        elif status == 404:
            if not_found is VersionsEndpointUnsupported:
                error = not_found(
                    f"{prefix}: this catalog does not support listing model versions",
                    status_code=status,
                )
            else:
                error = not_found(
                    f"{prefix}: check the catalog URL and apiPath", status_code=status
                )
        elif status == 422:
            detail = _parse_422(response.content)
            error = RequestInvalid(
                f"{prefix}: the catalog rejected the request: {_summarize_422(detail)}",
                detail=detail.detail,
            )
        elif status == 429:
            error = RateLimited(
                prefix,
                status_code=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        elif 500 <= status <= 599:
            error = ServerError(
                prefix,
                status_code=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        elif 300 <= status <= 399:
            error = UnexpectedStatus(
                f"{prefix}: redirects are not followed; check the catalog URL", status_code=status
            )
        else:
            error = UnexpectedStatus(f"{prefix}: unexpected status", status_code=status)
        error.message = self._redact(error.message)
        error.args = (error.message,)
        return error

    def _redact(self, text: str) -> str:
        return text.replace(self._token, _REDACTED) if self._token else text


def _parse_422(content: bytes | bytearray | None) -> HTTPValidationError:
    try:
        return HTTPValidationError.model_validate_json(content or b"")
    except ValueError:  # pydantic's ValidationError is a ValueError
        return HTTPValidationError()


class _TooLarge(Exception):
    def __init__(self, status: int, cause: BodyTooLarge) -> None:
        how = "its Content-Length is" if cause.declared else "the body grew"
        super().__init__(
            f"HTTP {status}: response refused: {how} larger than the limit of {cause.limit} "
            "bytes (counted after decompression); raise --max-response-bytes if the catalog "
            "really serves pages this large"
        )
        self.status = status


class _Undecodable(Exception):
    def __init__(self, status: int, why: str) -> None:
        super().__init__(f"HTTP {status} with an undecodable body: {why}")
        self.status = status
