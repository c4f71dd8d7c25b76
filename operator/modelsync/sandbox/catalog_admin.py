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
    POST   /_sandbox/faults/misreport-total     {"delta", "count", "path_prefix"?}
    POST   /_sandbox/faults/empty-page-next     {"count", "path_prefix"?}
    GET    /_sandbox/models                     stored models (fixture form, with versions)
    PUT    /_sandbox/models                     upsert one model (fixture form)
    DELETE /_sandbox/models/{model_id}          remove a model
    POST   /_sandbox/models/{model_id}/versions add a version (see CatalogStore.add_version)
    POST   /_sandbox/reset                      reload the fixtures, clear faults and requests

Bad input answers 400 `{"detail": ...}`; an unknown model id 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any, Protocol

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelsync.sandbox.catalog_faults import BadBodyKind, FaultPlan, JsonBody
from modelsync.sandbox.catalog_store import CatalogStore, FixtureError

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


class _Misreport(_Body):
    delta: int
    count: int = Field(ge=1)
    path_prefix: str | None = None


class _EmptyPage(_Body):
    count: int = Field(ge=1)
    path_prefix: str | None = None


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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

    async def misreport(request: web.Request) -> web.Response:
        body = _Misreport.model_validate(await _json(request))
        target.faults.misreport_total(body.delta, body.count, path_prefix=body.path_prefix)
        return _faults(target)

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
        ("POST", "/faults/misreport-total", misreport),
        ("POST", "/faults/empty-page-next", empty_page),
        ("GET", "/models", get_models),
        ("PUT", "/models", put_model),
        ("DELETE", "/models/{model_id}", delete_model),
        ("POST", "/models/{model_id}/versions", add_version),
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
