"""A local TrueFoundry catalog for the demo and the tests (aiohttp).

Serves, from fixture data (format: `catalog_store`):

- `GET /api/ml/v1/models` as the List Models spec says: filters `fqn`,
  `ml_repo_id`, `name`, `run_id` (a model matches when any of its versions has
  that `manifest.run_id`), `include_empty_models` (default true), paging with
  `offset` (default 0) and `limit` (default: everything), sorted by fqn then id;
  each model's `latest_version` is its highest-numbered version.
- `GET /api/ml/v1/model-versions?model_id=...` (not in the spec; the shape the
  vendor SDK expects): `{data: [ModelVersion], pagination}`, newest first,
  also filterable by `fqn`, `ml_repo_id`, `name`, `version`, `tag`.
- The same two under `/api/svc/v1/`, the prefix the `truefoundry-sdk` uses.

Bearer auth when a token is configured: 401 `{"detail": ...}` without or
with a wrong token. Bad parameters: 422 in the spec's HTTPValidationError
shape (see `catalog_params`). Unknown `/api/` paths: 404 `{"detail": "Not Found"}`.
Faults (`catalog_faults`: failures, delays, broken bodies, paging lies from
`catalog_lies`, hostile deliveries from `catalog_delivery`) and the admin API
(`catalog_admin`) drive it at runtime; `requests` records every API request
with the labels of the faults it suffered.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from modelsync_sandbox.catalog_admin import add_admin_routes
from modelsync_sandbox.catalog_delivery import deliver
from modelsync_sandbox.catalog_faults import BodyFaults, FaultPlan, InjectedFailure
from modelsync_sandbox.catalog_lies import PageFacts
from modelsync_sandbox.catalog_params import (
    ListModelsQuery,
    ListVersionsQuery,
    QueryError,
    injected_validation_error,
    parse_query,
)
from modelsync_sandbox.catalog_query import JsonObject, paginate
from modelsync_sandbox.catalog_store import (
    CatalogStore,
    FixtureSource,
    load_fixture_data,
)

API_PREFIXES = ("/api/ml/v1", "/api/svc/v1")
DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 - the public sandbox token, not a secret
_JSON = "application/json; charset=utf-8"
_MAX_REQUEST_LINE = 256 * 1024
_REMEMBERED_LISTINGS = 64
_HTML = "text/html; charset=utf-8"

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class RecordedRequest:
    """One API request the sandbox answered (admin requests are not recorded)."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    faults: list[str] = field(default_factory=list)
    at: float = 0.0


class CatalogSandbox:
    """The sandbox catalog server; `async with`, or `running_in_thread()` from sync code."""

    def __init__(
        self,
        fixtures: FixtureSource = None,
        token: str | None = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._fixtures = fixtures
        self.token = token
        self.host = host
        self.port = port
        self.catalog = CatalogStore(load_fixture_data(fixtures))
        self.faults = FaultPlan()
        self.requests: list[RecordedRequest] = []
        # The data of the page last served per listing (path and query without
        # offset), for the `repeat-page` lie; the most recent listings only.
        self._previous_data: OrderedDict[tuple[str, str], list[JsonObject]] = OrderedDict()
        # The JSON of plain (unfaulted) pages by (offset, limit), of the listing they were cut
        # from, and of that listing's items by item (see _plain_body; served listings and
        # their items are never mutated).
        self._bodies_of: Sequence[JsonObject] | None = None
        self._bodies: dict[tuple[int, int | None], bytes] = {}
        self._item_bodies: dict[int, tuple[JsonObject, bytes]] = {}
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        """`http://HOST:PORT` of the running server."""
        if self._runner is None:
            raise RuntimeError("the catalog sandbox is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        """`url` plus the spec's API path, `/api/ml/v1`."""
        return self.url + API_PREFIXES[0]

    @property
    def auth_headers(self) -> dict[str, str]:
        """The Authorization header a client needs (empty when auth is off)."""
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}

    # ---- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Bind and serve (port 0 picks a free port; `url` tells which)."""
        if self._runner is not None:
            raise RuntimeError("already started")
        runner = web.AppRunner(
            self.make_app(),
            access_log=None,
            shutdown_timeout=1.0,
            # aiohttp answers an undocumented 400 to request lines over 8190 bytes;
            # long generated query strings must reach the spec's 422 instead.
            max_line_size=_MAX_REQUEST_LINE,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving; idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def start_in_thread(self, timeout: float = 10.0) -> None:
        """Serve from a daemon thread with its own event loop; returns once listening."""
        if self._thread is not None:
            raise RuntimeError("already running in a thread")
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        thread = threading.Thread(target=serve, name="catalog-sandbox", daemon=True)
        thread.start()
        if not started.wait(timeout):
            raise TimeoutError("the catalog sandbox did not start in time")
        if failure:
            thread.join(timeout)
            raise failure[0]
        self._thread, self._loop = thread, loop

    def stop_in_thread(self, timeout: float = 10.0) -> None:
        """Stop a server started with `start_in_thread`; idempotent."""
        thread, loop = self._thread, self._loop
        self._thread = self._loop = None
        if thread is None or loop is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    @classmethod
    @contextmanager
    def running_in_thread(
        cls,
        fixtures: FixtureSource = None,
        token: str | None = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> Iterator[CatalogSandbox]:
        """`with CatalogSandbox.running_in_thread() as catalog: ...` for synchronous code."""
        sandbox = cls(fixtures, token=token, host=host, port=port)
        sandbox.start_in_thread()
        try:
            yield sandbox
        finally:
            sandbox.stop_in_thread()

    # ---- state -----------------------------------------------------------------

    def reset(self) -> None:
        """Reload the fixtures, disarm faults, forget recorded requests."""
        self.catalog.replace(load_fixture_data(self._fixtures))
        self.faults.clear()
        self.clear_requests()
        self._previous_data.clear()
        self._bodies_of, self._bodies, self._item_bodies = None, {}, {}

    def recorded_requests(self) -> list[RecordedRequest]:
        return list(self.requests)

    def clear_requests(self) -> None:
        self.requests.clear()

    # ---- HTTP ------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """The aiohttp application (API, alias paths and admin routes)."""
        app = web.Application(middlewares=[self._api_middleware])
        for prefix in API_PREFIXES:
            app.router.add_get(prefix + "/models", self._list_models)
            app.router.add_get(prefix + "/model-versions", self._list_versions)
        add_admin_routes(app, self)
        return app

    @web.middleware
    async def _api_middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        labels: list[str] = []
        delay = self.faults.current_delay()
        if delay > 0:
            labels.append(f"delay:{delay:g}")
            await asyncio.sleep(delay)
        failure = self.faults.take_failure(request.path)
        if failure is not None:
            labels.append(f"fail:{failure.status}")
            response: web.StreamResponse = _failure_response(failure)
        elif not self._authorized(request):
            response = _unauthorized(request)
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = _json_response({"detail": exc.reason}, exc.status)
            if isinstance(response, _Listing):
                response = await self._serve_listing(request, response, labels)
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=_last_values(request),
                status=response.status,
                faults=labels,
                at=time.time(),
            )
        )
        return response

    async def _serve_listing(
        self, request: web.Request, listing: _Listing, labels: list[str]
    ) -> web.StreamResponse:
        key = (request.path, _query_without_offset(request))
        facts = PageFacts(
            listing.listed_items,
            listing.page_offset,
            listing.page_limit,
            self._previous_data.get(key),
        )
        page, lies = self.faults.tell_lies(request.path, listing.page, facts)
        labels.extend(lies)
        faults = self.faults.take_body_faults(request.path)
        labels.extend(faults.labels)
        page = _apply_body_faults(page, faults)
        self._previous_data[key] = list(page["data"])
        self._previous_data.move_to_end(key)
        if len(self._previous_data) > _REMEMBERED_LISTINGS:
            self._previous_data.popitem(last=False)
        if page is listing.page and not faults.bad_body:
            body, content_type = self._plain_body(listing), _JSON
        else:
            body, content_type = _listing_body(page, faults)
        clears = self.faults.clears
        delivery = self.faults.take_delivery(request.path)
        if delivery is None:
            return web.Response(body=body, headers={"Content-Type": content_type})
        labels.append(delivery.label)

        def cleared() -> bool:
            return self.faults.clears != clears

        return await deliver(request, delivery, body, content_type, cleared)

    def _plain_body(self, listing: _Listing) -> bytes:
        """The body of an unfaulted page (what `_listing_body` makes of it): pages are kept
        per listing object, and the JSON of each item per item object, so a store that
        memoizes its listings (and reuses unchanged items in a new one) encodes each page once
        and, after a change, only the items it has not encoded before."""
        items = listing.listed_items
        if items is not self._bodies_of:
            known = self._item_bodies
            self._item_bodies = {
                id(item): known[id(item)]
                for item in items
                if id(item) in known and known[id(item)][0] is item
            }
            self._bodies_of, self._bodies = items, {}
        key = (listing.page_offset, listing.page_limit)
        body = self._bodies.get(key)
        if body is None:
            body = self._bodies[key] = self._page_body(listing.page)
        return body

    def _page_body(self, page: JsonObject) -> bytes:
        """json.dumps(page).encode(), from the items' cached JSON."""
        encoded = self._item_bodies
        parts = []
        for item in page["data"]:
            known = encoded.get(id(item))
            if known is None or known[0] is not item:
                known = encoded[id(item)] = (item, json.dumps(item).encode())
            parts.append(known[1])
        pagination = json.dumps(page["pagination"]).encode()
        return b'{"data": [' + b", ".join(parts) + b'], "pagination": ' + pagination + b"}"

    def _authorized(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), self.token.encode()
        )

    async def _list_models(self, request: web.Request) -> web.Response:
        try:
            query = parse_query(ListModelsQuery, _last_values(request))
        except QueryError as exc:
            return _json_response(exc.body, 422)
        models = self.catalog.list_models(query.to_filter())
        return _Listing(models, query.offset, query.limit)

    async def _list_versions(self, request: web.Request) -> web.Response:
        try:
            query = parse_query(ListVersionsQuery, _last_values(request))
        except QueryError as exc:
            return _json_response(exc.body, 422)
        versions = self.catalog.list_versions(query.to_filter())
        return _Listing(versions, query.offset, query.limit)


class _Listing(web.Response):
    """A 200 listing whose body the middleware builds, with any body faults."""

    def __init__(self, items: Sequence[JsonObject], offset: int, limit: int | None) -> None:
        super().__init__()
        self.listed_items = items
        self.page_offset = offset
        self.page_limit = limit
        self.page = paginate(items, offset, limit)


def _apply_body_faults(page: JsonObject, faults: BodyFaults) -> JsonObject:
    if faults.empty_page:
        page = {**page, "data": []}
    if faults.total_delta:
        total = max(0, page["pagination"]["total"] + faults.total_delta)
        page = {**page, "pagination": {**page["pagination"], "total": total}}
    return page


def _listing_body(page: JsonObject, faults: BodyFaults) -> tuple[bytes, str]:
    """The body bytes and content type of a listing, broken as `faults.bad_body` says."""
    if faults.bad_body == "not-json":
        return b"<html><body><h1>502 Bad Gateway</h1></body></html>", _HTML
    if faults.bad_body == "wrong-shape":
        page = {"items": page["data"], "count": page["pagination"]["total"]}
    text = json.dumps(page)
    if faults.bad_body == "truncated":
        text = text[: len(text) // 2]
    return text.encode(), _JSON


def _query_without_offset(request: web.Request) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(_last_values(request).items()) if k != "offset")


def _failure_response(failure: InjectedFailure) -> web.Response:
    headers = {} if failure.retry_after is None else {"Retry-After": failure.retry_after}
    body = failure.body
    if isinstance(body, str):
        return web.Response(text=body, status=failure.status, headers=headers)
    if body is None:
        body = (
            injected_validation_error()
            if failure.status == 422
            else {"detail": f"injected fault: {_reason(failure.status)}"}
        )
    return _json_response(body, failure.status, headers)


def _unauthorized(request: web.Request) -> web.Response:
    detail = "Invalid token" if "Authorization" in request.headers else "Not authenticated"
    return _json_response({"detail": detail}, 401, {"WWW-Authenticate": "Bearer"})


def _json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _last_values(request: web.Request) -> dict[str, str]:
    return dict(request.query.items())


def _reason(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)
