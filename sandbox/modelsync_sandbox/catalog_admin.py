"""The sandbox catalog's admin API under `/_sandbox/` (JSON in, JSON out).

No bearer token is needed here (the sandbox binds to 127.0.0.1 by default and
holds only fixture data), so a catalog started from the CLI can be driven
with curl:

    GET    /_sandbox/requests                   recorded API requests
    DELETE /_sandbox/requests                   forget them
    GET    /_sandbox/faults                     armed faults
    DELETE /_sandbox/faults                     disarm all
    POST   /_sandbox/faults/fail-next           {"count", "status", "body"?, "retry_after"?,
                                                 "path_prefix"?}
    POST   /_sandbox/faults/delay               {"seconds"}
    POST   /_sandbox/faults/bad-body-next       {"count", "kind", "path_prefix"?}
    POST   /_sandbox/faults/misreport-total     {"delta", "count"?, "path_prefix"?}
    POST   /_sandbox/faults/empty-page-next     {"count", "path_prefix"?}
    POST   /_sandbox/faults/understate-total    {"by", "count"?, "path_prefix"?}
    POST   /_sandbox/faults/overstate-total     {"by", "count"?, "path_prefix"?}
    POST   /_sandbox/faults/moving-total        {"delta", "count"?, "path_prefix"?}
    POST   /_sandbox/faults/ignore-offset       {"count"?, "path_prefix"?}
    POST   /_sandbox/faults/repeat-page         {"count"?, "path_prefix"?}
    POST   /_sandbox/faults/empty-page-before-total
                                                {"count"?, "from_offset"?, "path_prefix"?}
    POST   /_sandbox/faults/duplicate-ids       {"count"?, "across_pages"?, "path_prefix"?}
    POST   /_sandbox/faults/oversized-body      {"size_bytes", "count"?, "declare_length"?,
                                                 "path_prefix"?}
    POST   /_sandbox/faults/gzip-bomb           {"count"?, "inflated_bytes"?, "path_prefix"?}
    POST   /_sandbox/faults/drip                {"interval", "count"?, "path_prefix"?}
    GET    /_sandbox/models                     stored models (fixture form, with versions)
    PUT    /_sandbox/models                     upsert one model (fixture form)
    DELETE /_sandbox/models/{model_id}          remove a model
    POST   /_sandbox/models/{model_id}/versions add a version (see CatalogStore.add_version)
    POST   /_sandbox/models/{model_id}/publish  publish the next version (a copy of the latest's
                                                manifest) with {"tags"?, "version_alias"?,
                                                "metrics"?, "deployable"?}
    PATCH  /_sandbox/models/{model_id}/versions/{number}
                                                change that version's tags, version_alias
                                                (null removes it), metrics or deployable
    POST   /_sandbox/reset                      reload the fixtures, clear faults and requests

Each `/faults/<name>` body holds the keyword arguments of `FaultPlan.<name>`
(dashes for underscores); a `count` left out or null arms the fault until
cleared where the method allows it. Every fault POST answers the armed faults.
Bad input answers 400 `{"detail": ...}`; an unknown model id (or version number) 404.
Publishing and relabelling, e.g.:

    curl -X POST localhost:8181/_sandbox/models/$ID/publish -d '{"tags": ["prod"],
      "version_alias": "v2.2.0", "metrics": [{"key": "auc", "value": 0.93}], "deployable": true}'
    curl -X PATCH localhost:8181/_sandbox/models/$ID/versions/5 -d '{"tags": ["retired"]}'
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelsync_sandbox.catalog_delivery import DEFAULT_BOMB_INFLATED_BYTES
from modelsync_sandbox.catalog_faults import BadBodyKind, FaultPlan, JsonBody
from modelsync_sandbox.catalog_store import CatalogStore, FixtureError

ADMIN_PREFIX = "/_sandbox"


class AdminTarget(Protocol):
    """What the admin API drives (a CatalogSandbox)."""

    @property
    def catalog(self) -> CatalogStore: ...

    @property
    def faults(self) -> FaultPlan: ...

    def recorded_requests(self) -> list[Any]: ...

    def clear_requests(self) -> None: ...

    def reset(self) -> None: ...


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _FailNext(_Body):
    count: int = Field(ge=1)
    status: int = Field(ge=100, le=599)
    body: JsonBody | None = None
    retry_after: float | str | None = None
    path_prefix: str | None = None


class _Delay(_Body):
    seconds: float = Field(ge=0)


class _BadBody(_Body):
    count: int = Field(ge=1)
    kind: BadBodyKind
    path_prefix: str | None = None


class _EmptyPage(_Body):
    count: int = Field(ge=1)
    path_prefix: str | None = None


class _UntilCleared(_Body):
    """`count` null or left out: until cleared."""

    count: int | None = Field(default=None, ge=1)
    path_prefix: str | None = None


class _Delta(_UntilCleared):
    delta: int


class _By(_UntilCleared):
    by: int = Field(ge=1)


class _EmptyBeforeTotal(_UntilCleared):
    from_offset: int = Field(default=1, ge=0)


class _Duplicates(_UntilCleared):
    across_pages: bool = False


class _Oversized(_UntilCleared):
    size_bytes: int = Field(ge=1)
    declare_length: bool = False


class _GzipBomb(_UntilCleared):
    inflated_bytes: int = Field(default=DEFAULT_BOMB_INFLATED_BYTES, ge=1)


class _Drip(_UntilCleared):
    interval: float = Field(gt=0)


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_B = TypeVar("_B", bound=_Body)

# POST /_sandbox/faults/<name>: the body's schema, and how it arms the plan.
_ARMING: list[tuple[str, type[Any], Callable[[FaultPlan, Any], None]]] = []


def _arming(name: str, schema: type[_B], arm: Callable[[FaultPlan, _B], None]) -> None:
    _ARMING.append((name, schema, arm))


_arming(
    "misreport-total",
    _Delta,
    lambda f, b: f.misreport_total(b.delta, b.count, path_prefix=b.path_prefix),
)
_arming(
    "understate-total",
    _By,
    lambda f, b: f.understate_total(b.by, b.count, path_prefix=b.path_prefix),
)
_arming(
    "overstate-total",
    _By,
    lambda f, b: f.overstate_total(b.by, b.count, path_prefix=b.path_prefix),
)
_arming(
    "moving-total",
    _Delta,
    lambda f, b: f.moving_total(b.delta, b.count, path_prefix=b.path_prefix),
)
_arming(
    "ignore-offset",
    _UntilCleared,
    lambda f, b: f.ignore_offset(b.count, path_prefix=b.path_prefix),
)
_arming(
    "repeat-page",
    _UntilCleared,
    lambda f, b: f.repeat_page(b.count, path_prefix=b.path_prefix),
)
_arming(
    "empty-page-before-total",
    _EmptyBeforeTotal,
    lambda f, b: f.empty_page_before_total(
        b.count, from_offset=b.from_offset, path_prefix=b.path_prefix
    ),
)
_arming(
    "duplicate-ids",
    _Duplicates,
    lambda f, b: f.duplicate_ids(b.count, across_pages=b.across_pages, path_prefix=b.path_prefix),
)
_arming(
    "oversized-body",
    _Oversized,
    lambda f, b: f.oversized_body(
        b.size_bytes, b.count, declare_length=b.declare_length, path_prefix=b.path_prefix
    ),
)
_arming(
    "gzip-bomb",
    _GzipBomb,
    lambda f, b: f.gzip_bomb(b.count, inflated_bytes=b.inflated_bytes, path_prefix=b.path_prefix),
)
_arming("drip", _Drip, lambda f, b: f.drip(b.interval, b.count, path_prefix=b.path_prefix))


def add_admin_routes(app: web.Application, target: AdminTarget) -> None:
    """Register the `/_sandbox/...` routes on `app`."""

    async def get_requests(_: web.Request) -> web.Response:
        return web.json_response({"requests": [asdict(r) for r in target.recorded_requests()]})

    async def delete_requests(_: web.Request) -> web.Response:
        target.clear_requests()
        return web.Response(status=204)

    async def get_faults(_: web.Request) -> web.Response:
        return web.json_response(target.faults.snapshot())

    async def delete_faults(_: web.Request) -> web.Response:
        target.faults.clear()
        return web.Response(status=204)

    async def fail_next(request: web.Request) -> web.Response:
        body = _FailNext.model_validate(await _json(request))
        target.faults.fail_next(
            body.count,
            body.status,
            body=body.body,
            retry_after=body.retry_after,
            path_prefix=body.path_prefix,
        )
        return _faults(target)

    async def delay(request: web.Request) -> web.Response:
        target.faults.delay(_Delay.model_validate(await _json(request)).seconds)
        return _faults(target)

    async def bad_body(request: web.Request) -> web.Response:
        body = _BadBody.model_validate(await _json(request))
        target.faults.bad_body_next(body.count, body.kind, path_prefix=body.path_prefix)
        return _faults(target)

    def arming_handler(schema: type[_Body], arm: Callable[[FaultPlan, Any], None]) -> _Handler:
        async def handler(request: web.Request) -> web.Response:
            arm(target.faults, schema.model_validate(await _json(request)))
            return _faults(target)

        return handler

    async def empty_page(request: web.Request) -> web.Response:
        body = _EmptyPage.model_validate(await _json(request))
        target.faults.empty_page_next(body.count, path_prefix=body.path_prefix)
        return _faults(target)

    async def get_models(_: web.Request) -> web.Response:
        return web.json_response({"models": target.catalog.models()})

    async def put_model(request: web.Request) -> web.Response:
        return web.json_response(target.catalog.upsert_model(await _json_object(request)))

    async def delete_model(request: web.Request) -> web.Response:
        if not target.catalog.remove_model(request.match_info["model_id"]):
            return _detail(404, "no such model")
        return web.Response(status=204)

    async def add_version(request: web.Request) -> web.Response:
        version = await _json_object(request)
        try:
            stored = target.catalog.add_version(request.match_info["model_id"], version)
        except KeyError:
            return _detail(404, "no such model")
        return web.json_response(stored, status=201)

    async def publish_version(request: web.Request) -> web.Response:
        labels = await _json_object(request)
        try:
            stored = target.catalog.publish_version(request.match_info["model_id"], labels)
        except KeyError:
            return _detail(404, "no such model")
        return web.json_response(stored, status=201)

    async def relabel_version(request: web.Request) -> web.Response:
        labels = await _json_object(request)
        number = request.match_info["number"]
        if not number.isdigit():
            return _detail(404, "no such version")
        try:
            stored = target.catalog.relabel_version(
                request.match_info["model_id"], int(number), labels
            )
        except KeyError:
            return _detail(404, "no such model version")
        return web.json_response(stored)

    async def reset(_: web.Request) -> web.Response:
        target.reset()
        return web.Response(status=204)

    routes: list[tuple[str, str, _Handler]] = [
        ("GET", "/requests", get_requests),
        ("DELETE", "/requests", delete_requests),
        ("GET", "/faults", get_faults),
        ("DELETE", "/faults", delete_faults),
        ("POST", "/faults/fail-next", fail_next),
        ("POST", "/faults/delay", delay),
        ("POST", "/faults/bad-body-next", bad_body),
        ("POST", "/faults/empty-page-next", empty_page),
        *(
            ("POST", f"/faults/{name}", arming_handler(schema, arm))
            for name, schema, arm in _ARMING
        ),
        ("GET", "/models", get_models),
        ("PUT", "/models", put_model),
        ("DELETE", "/models/{model_id}", delete_model),
        ("POST", "/models/{model_id}/versions", add_version),
        ("POST", "/models/{model_id}/publish", publish_version),
        ("PATCH", "/models/{model_id}/versions/{number}", relabel_version),
        ("POST", "/reset", reset),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, ADMIN_PREFIX + path, _bad_input_as_400(handler))


def _bad_input_as_400(handler: _Handler) -> _Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ValidationError as exc:
            return _detail(400, exc.errors(include_url=False, include_context=False))
        except (FixtureError, ValueError) as exc:
            return _detail(400, str(exc))

    return wrapped


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise ValueError("request body must be JSON") from None


async def _json_object(request: web.Request) -> dict[str, Any]:
    body = await _json(request)
    if not isinstance(body, dict):
        raise ValueError("request body must be a JSON object")
    return body


def _faults(target: AdminTarget) -> web.Response:
    return web.json_response(target.faults.snapshot())


def _detail(status: int, detail: Any) -> web.Response:
    return web.json_response({"detail": detail}, status=status)
