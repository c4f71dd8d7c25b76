"""The aiohttp application: authentication, error bodies, request log, and routing."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from modelsync_sandbox.kube import discovery, errors, negotiation
from modelsync_sandbox.kube.admin import PREFIX as ADMIN_PREFIX
from modelsync_sandbox.kube.admin import handle_admin
from modelsync_sandbox.kube.cluster import Cluster
from modelsync_sandbox.kube.errors import ApiError, JsonObject
from modelsync_sandbox.kube.faults import DROP, FaultInjector
from modelsync_sandbox.kube.handlers import VERB_KEY, ResourceHandlers, json_response
from modelsync_sandbox.kube.routing import resolve, split_api_path
from modelsync_sandbox.kube.stats import RequestRecord, SandboxStats
from modelsync_sandbox.kube.watch import FAULT_KEY

log = logging.getLogger(__name__)

# kube-apiserver accepts request bodies up to 3 MiB.
MAX_BODY = 3 * 1024 * 1024 + 64 * 1024
PUBLIC_PATHS = frozenset(("/healthz", "/livez", "/readyz", "/version"))


class ServerAddress:
    """host:port clients reach the server at (known once bound); shown by /api."""

    def __init__(self) -> None:
        self.value = ""


ADDRESS_KEY = web.AppKey("server_address", ServerAddress)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(
    cluster: Cluster,
    *,
    token: str | None,
    stats: SandboxStats,
    bookmark_interval: float,
    faults: FaultInjector | None = None,
) -> web.Application:
    faults = faults or FaultInjector()
    handlers = ResourceHandlers(
        cluster.store, cluster.ops, bookmark_interval=bookmark_interval, faults=faults
    )

    @web.middleware
    async def status_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.monotonic()
        try:
            response = await handler(request)
        except ApiError as exc:
            response = json_response(exc.to_status(), exc.code)
            for key, value in exc.headers.items():
                response.headers[key] = value
        except web.HTTPException as exc:
            response = json_response(
                errors.status_body(exc.status, exc.reason.replace(" ", ""), exc.text or exc.reason),
                exc.status,
            )
        except Exception:
            log.exception("internal error serving %s %s", request.method, request.path)
            response = json_response(
                errors.internal(
                    "an error on the server has prevented the request from succeeding"
                ).to_status(),
                500,
            )
        if request.path.startswith(ADMIN_PREFIX):
            return response  # the sandbox's own endpoints are not API traffic
        verb, resource, namespace = request.get(VERB_KEY, ("", "", ""))
        fault = request.get(FAULT_KEY, "")
        stats.record(
            RequestRecord(
                method=request.method,
                path=request.path,
                query=request.query_string,
                verb=verb,
                resource=resource,
                namespace=namespace,
                status=0 if fault == DROP else response.status,
                fault=fault,
                started=started,
            )
        )
        return response

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token is not None:
            header = request.headers.get("Authorization", "")
            scheme, _, value = header.partition(" ")
            if header:
                if scheme.lower() != "bearer" or not hmac.compare_digest(
                    value.strip().encode(), token.encode()
                ):
                    raise errors.unauthorized()
            elif request.path not in PUBLIC_PATHS:
                raise errors.unauthorized()
        return await handler(request)

    async def dispatch(request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path.startswith(ADMIN_PREFIX):
            return await handle_admin(request, path, faults, stats)
        api = split_api_path(path)
        if api is not None:
            group, version, rest = api
            target = resolve(cluster.registry, group, version, rest)
            return await handlers.handle(request, target)
        if request.method != "GET":
            raise errors.method_not_allowed()
        return _non_resource(request, path, cluster, request.app[ADDRESS_KEY].value)

    app = web.Application(middlewares=[status_errors, authenticate], client_max_size=MAX_BODY)
    app[ADDRESS_KEY] = ServerAddress()
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


def _non_resource(request: web.Request, path: str, cluster: Cluster, address: str) -> web.Response:
    registry = cluster.registry
    accept = request.headers.get("Accept", "")
    if path in ("/healthz", "/livez", "/readyz"):
        return web.Response(text="ok", content_type="text/plain")
    if path == "/version":
        return json_response(discovery.KUBERNETES_VERSION)
    if path in ("/api", "/apis"):
        version = negotiation.aggregated_discovery_version(accept)
        if version is not None:
            body = discovery.aggregated(registry, core=path == "/api", api_version=version)
            content_type = (
                discovery.AGGREGATED_V2 if version == "v2" else discovery.AGGREGATED_V2BETA1
            )
            response = json_response(body, content_type=content_type)
        elif path == "/api":
            response = json_response(discovery.api_versions(address))
        else:
            response = json_response(discovery.api_group_list(registry))
        response.headers["Vary"] = "Accept"
        return response
    if path == "/openapi/v3":
        return json_response(discovery.openapi_index(registry))
    if path == "/openapi/v2":
        # An empty document: kubectl's client-side validation then knows no schema and skips
        # (it validates server-side wherever the v3 index says the server can).
        if "protobuf" in accept:
            return web.Response(body=b"", content_type="application/octet-stream")
        return json_response(discovery.OPENAPI_V2_EMPTY)
    parts = [p for p in path.split("/") if p]
    doc: JsonObject | None = None
    if parts[:2] == ["openapi", "v3"]:
        if len(parts) == 4 and parts[2] == "api":
            doc = discovery.openapi_group_version(registry, "", parts[3])
        elif len(parts) == 5 and parts[2] == "apis":
            doc = discovery.openapi_group_version(registry, parts[3], parts[4])
    elif len(parts) == 2 and parts[0] == "api":
        doc = discovery.api_resource_list(registry, "", parts[1])
    elif len(parts) == 2 and parts[0] == "apis":
        doc = discovery.api_group(registry, parts[1])
    elif len(parts) == 3 and parts[0] == "apis":
        doc = discovery.api_resource_list(registry, parts[1], parts[2])
    if doc is None:
        raise errors.route_not_found()
    return json_response(doc)
