"""HTTP handlers for resource requests: verbs, parameters, representations."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from modelsync_sandbox.kube import causes, errors, kinds, negotiation
from modelsync_sandbox.kube.errors import JsonObject
from modelsync_sandbox.kube.faults import DELAY, DROP, GONE, STATUS, FaultInjector, status_error
from modelsync_sandbox.kube.listing import build_matcher, parse_list_query, run_list
from modelsync_sandbox.kube.negotiation import PARTIAL, TABLE, TABLE_CONTENT_TYPE
from modelsync_sandbox.kube.operations import (
    APPLY_PATCH,
    FIELD_VALIDATION,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    DeleteOptions,
    Operations,
    WriteResult,
)
from modelsync_sandbox.kube.protobuf import PROTOBUF
from modelsync_sandbox.kube.resources import ResourceType
from modelsync_sandbox.kube.routing import Target
from modelsync_sandbox.kube.store import Store, object_key
from modelsync_sandbox.kube.table import render_builtin_table, render_table
from modelsync_sandbox.kube.watch import (
    FAULT_KEY,
    WatchRequest,
    drop_connection,
    parse_timeout,
    remember_encoded,
    serve_expired_watch,
    serve_watch,
)

_BODY_TYPES = ("application/json", "application/yaml", PROTOBUF)
_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)
_TRUE = ("1", "true", "True")
# (verb, resource label, namespace) of the request, for the request log.
VERB_KEY = web.RequestKey("verb", tuple[str, str, str])


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def encoded(store: Store, rt: ResourceType, wire: JsonObject, stored: JsonObject) -> bytes:
    """dumps(wire) of a stored object as served: kept with the stored object when `wire` is
    that object (stored objects never change), so repeated reads (GET, LIST) of an unchanged
    object encode it once. Writes do not keep theirs: most objects are written more often
    than read."""
    if wire is not stored:
        return dumps(wire)
    coll = store.collections.get(rt.storage_key)
    if coll is None:
        return dumps(wire)
    key = object_key(stored)
    known = coll.encoded.get(key)
    if known is None or known[0] is not stored:
        if coll.objects.get(key) is not stored:
            return dumps(wire)  # not (or no longer) the stored object: nothing to keep
        known = coll.encoded[key] = (stored, dumps(wire))
    return known[1]


def json_response(
    obj: Any,
    status: int = 200,
    *,
    content_type: str = "application/json",
    warnings: Sequence[str] = (),
    body: bytes | None = None,
) -> web.Response:
    """`body`: dumps(obj), if the caller has it already."""
    headers: CIMultiDict[str] = CIMultiDict()
    headers["Content-Type"] = content_type
    for warning in warnings:
        escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
        headers.add("Warning", f'299 - "{escaped}"')
    return web.Response(body=dumps(obj) if body is None else body, status=status, headers=headers)


def field_manager(request: web.Request) -> str:
    """Who a write is recorded for: the fieldManager parameter, else the User-Agent's
    product name (managerOrUserAgent), else "unknown"."""
    named = request.query.get("fieldManager", "")
    if named:
        return named
    agent = request.headers.get("User-Agent", "").split("/", 1)[0]
    return agent or "unknown"


def verb_of(method: str, target: Target, query: Mapping[str, str]) -> str:
    collection = not target.name
    if method == "GET":
        if query.get("watch") in _TRUE:
            return "watch"
        return "list" if collection else "get"
    if method == "POST" and collection and not target.subresource:
        return "create"
    if method == "PUT" and not collection:
        return "update"
    if method == "PATCH" and not collection:
        return "patch"
    if method == "DELETE" and not target.subresource:
        return "deletecollection" if collection else "delete"
    raise errors.method_not_allowed()


def watched_name(target: Target, query: Mapping[str, str]) -> str:
    """The one object a list or watch asks for (by path or `metadata.name=` selector), or ""."""
    if target.name:
        return target.name
    for term in query.get("fieldSelector", "").split(","):
        key, sep, value = term.partition("=")
        if sep and key.strip() == "metadata.name":
            return value.lstrip("=").strip()
    return ""


async def _request_name(request: web.Request, verb: str, target: Target) -> str:
    """The name of the object a request is about, for fault matching ("" when unknown)."""
    if verb in ("list", "watch"):
        return watched_name(target, request.query)
    if verb == "create":
        try:
            body = json.loads(await request.read())
        except ValueError:  # protobuf or junk: the handler reports it
            return ""
        meta = body.get("metadata") if isinstance(body, dict) else None
        name = meta.get("name") if isinstance(meta, dict) else None
        return name if isinstance(name, str) else ""
    return target.name


class ResourceHandlers:
    def __init__(
        self,
        store: Store,
        ops: Operations,
        *,
        bookmark_interval: float,
        faults: FaultInjector | None = None,
    ) -> None:
        self.store = store
        self.ops = ops
        self.bookmark_interval = bookmark_interval
        self.faults = faults or FaultInjector()

    async def handle(self, request: web.Request, target: Target) -> web.StreamResponse:
        query = request.query
        verb = verb_of(request.method, target, query)
        request[VERB_KEY] = (verb, target.label, target.namespace or "")
        rt = target.rt
        all_namespaces = rt.namespaced and target.namespace is None
        if verb not in rt.verbs and not (target.subresource and verb in ("get", "update", "patch")):
            raise errors.method_not_allowed()
        if all_namespaces and verb not in ("list", "watch"):
            raise errors.method_not_allowed()
        namespace = target.namespace or ""
        dry_run = query.get("dryRun") == "All"
        if "dryRun" in query and not dry_run:
            raise errors.bad_request(f"unsupported dry run value: {query.get('dryRun')!r}")
        field_validation = query.get("fieldValidation", "")
        if field_validation not in FIELD_VALIDATION:
            raise errors.bad_request(f"fieldValidation parameter unsupported: {field_validation!r}")

        if self.faults.any_armed():
            faulted = await self._fault(request, verb, target)
            if faulted is not None:
                return faulted

        if verb == "get":
            fmt = negotiation.response_format(request.headers.get("Accept", ""))
            obj = self.ops.get(rt, namespace, target.name)
            return self._present_one(rt, obj, fmt, query)
        if verb == "list":
            return self._list(request, target)
        if verb == "watch":
            return await self._watch(request, target)
        manager = field_manager(request)
        if verb == "create":
            body = await self._body(request)
            result = self.ops.create(
                rt,
                namespace,
                body,
                manager=manager,
                dry_run=dry_run,
                field_validation=field_validation,
            )
            return self._written(rt, result, 201)
        if verb == "update":
            body = await self._body(request)
            result = self.ops.update(
                rt,
                namespace,
                target.name,
                body,
                subresource=target.subresource,
                manager=manager,
                dry_run=dry_run,
                field_validation=field_validation,
            )
            return self._written(rt, result, 200)
        if verb == "patch":
            content_type = negotiation.bare_content_type(request.headers.get("Content-Type", ""))
            if content_type not in _PATCH_TYPES:
                raise errors.unsupported_media_type(self.ops.patch_types(rt))
            if content_type == APPLY_PATCH:
                config = negotiation.decode_body(
                    await request.read(),
                    APPLY_PATCH,
                    allowed=(APPLY_PATCH,),
                    error_prefix="error decoding YAML: ",
                )
                result = self.ops.apply(
                    rt,
                    namespace,
                    target.name,
                    config,
                    manager=query.get("fieldManager", ""),
                    force=query.get("force") in _TRUE,
                    subresource=target.subresource,
                    dry_run=dry_run,
                    field_validation=field_validation,
                )
                return self._written(rt, result, 201)
            if content_type == STRATEGIC_PATCH and rt.custom:
                raise errors.unsupported_media_type(self.ops.patch_types(rt))
            patch = negotiation.decode_body(
                await request.read(),
                "application/json",
                allowed=("application/json",),
                error_prefix="error decoding patch: ",
            )
            result = self.ops.patch(
                rt,
                namespace,
                target.name,
                patch,
                content_type,
                subresource=target.subresource,
                manager=manager,
                dry_run=dry_run,
                field_validation=field_validation,
            )
            return self._written(rt, result, 200)
        if verb == "delete":
            options = await self._delete_options(request)
            result = self.ops.delete(rt, namespace, target.name, options, dry_run=dry_run)
            return self._deleted(rt, result, options)
        return await self._delete_collection(request, target, dry_run)

    async def _fault(
        self, request: web.Request, verb: str, target: Target
    ) -> web.StreamResponse | None:
        """Apply the armed fault that matches this request, if any: a response to send
        instead of serving it, or None to serve it (after a delay fault's wait)."""
        name = await _request_name(request, verb, target)
        hit = self.faults.take(verb, target.label, target.namespace or "", name)
        if hit is None:
            return None
        fault = hit.fault
        request[FAULT_KEY] = fault.kind
        if fault.kind == STATUS:
            raise status_error(fault)
        if fault.kind == DROP:
            return drop_connection(request)
        if fault.kind == GONE:
            return await serve_expired_watch(
                request, self.store, request.query.get("resourceVersion", "")
            )
        if fault.kind == DELAY:
            await asyncio.sleep(fault.seconds)
        return None

    # -- reads ---------------------------------------------------------------------------

    def _present_one(
        self, rt: ResourceType, obj: JsonObject, fmt: str, query: Mapping[str, str]
    ) -> web.Response:
        wire = kinds.to_wire(rt, obj)
        if fmt == TABLE:
            table = self._table(rt, [wire], query.get("includeObject", "Metadata"), None)
            return json_response(table, content_type=TABLE_CONTENT_TYPE)
        if fmt == PARTIAL:
            return json_response(
                {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": wire.get("metadata", {}),
                }
            )
        return json_response(wire, body=encoded(self.store, rt, wire, obj))

    def _list(self, request: web.Request, target: Target) -> web.Response:
        rt = target.rt
        fmt = negotiation.response_format(request.headers.get("Accept", ""))
        q = parse_list_query(rt, request.query)
        result = run_list(self.store, rt, target.namespace, q)
        list_meta: JsonObject = {"resourceVersion": result.resource_version}
        if rt.custom:  # an unstructured list writes its continue token even when empty
            list_meta["continue"] = result.continue_token
        if result.continue_token:
            list_meta["continue"] = result.continue_token
            if result.remaining is not None:
                list_meta["remainingItemCount"] = result.remaining
        wire = [kinds.to_wire(rt, obj) for obj in result.items]
        if fmt == TABLE:
            include = request.query.get("includeObject", "Metadata")
            table = self._table(rt, wire, include, list_meta)
            return json_response(table, content_type=TABLE_CONTENT_TYPE)
        if fmt == PARTIAL:
            items = [
                {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": o.get("metadata", {}),
                }
                for o in wire
            ]
            return json_response(
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": list_meta,
                    "items": items,
                }
            )
        if rt.custom:
            # The list's JSON with each item's from encoded(): what dumps(list) would give.
            head = dumps(
                {
                    "kind": rt.list_kind,
                    "apiVersion": rt.api_version,
                    "metadata": list_meta,
                    "items": [],
                }
            )
            joined = b",".join(
                encoded(self.store, rt, w, o) for w, o in zip(wire, result.items, strict=True)
            )
            return json_response(None, body=head[:-3] + b"[" + joined + b"]}")
        # Built-in lists carry kind/apiVersion on the list only, as kube-apiserver's do.
        wire = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in wire]
        return json_response(
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": list_meta,
                "items": wire,
            }
        )

    @staticmethod
    def _table(
        rt: ResourceType,
        objects: list[JsonObject],
        include_object: str,
        list_meta: JsonObject | None,
    ) -> JsonObject:
        if include_object not in ("None", "Metadata", "Object"):
            raise errors.bad_request(f"includeObject: unsupported value {include_object!r}")
        if rt.custom:
            return render_table(
                objects,
                list(rt.printer_columns),
                include_object=include_object,
                list_metadata=list_meta,
            )
        return render_builtin_table(
            rt.kind, objects, include_object=include_object, list_metadata=list_meta
        )

    async def _watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        rt = target.rt
        query = dict(request.query)
        if target.name:
            # The deprecated per-object watch: same as a fieldSelector on the name.
            selector = f"metadata.name={target.name}"
            query["fieldSelector"] = ",".join(
                s for s in (query.get("fieldSelector", ""), selector) if s
            )
        fmt = negotiation.response_format(request.headers.get("Accept", ""))
        include = query.get("includeObject", "Metadata")

        def encode(obj: JsonObject) -> JsonObject:
            wire = kinds.to_wire(rt, obj)
            if fmt == TABLE:
                return self._table(rt, [wire], include, None)
            if fmt == PARTIAL:
                return {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": wire.get("metadata", {}),
                }
            return wire

        if "sendInitialEvents" in query:
            # The WatchList feature gate is off in kube-apiserver v1.33 by default.
            raise errors.invalid(
                "meta.k8s.io",
                "ListOptions",
                "",
                [
                    causes.forbidden(
                        "sendInitialEvents",
                        "sendInitialEvents is forbidden for watch unless the WatchList feature "
                        "gate is enabled",
                    )
                ],
            )
        wr = WatchRequest(
            rt=rt,
            namespace=target.namespace,
            matches=build_matcher(rt, query),
            resource_version=query.get("resourceVersion", ""),
            timeout=parse_timeout(query.get("timeoutSeconds", "")),
            bookmarks=query.get("allowWatchBookmarks") in _TRUE,
            encode=encode,
            content_type=TABLE_CONTENT_TYPE if fmt == TABLE else "application/json",
        )
        return await serve_watch(
            request,
            self.store,
            wr,
            bookmark_interval=self.bookmark_interval,
            faults=self.faults,
            fault_target=(target.label, target.namespace or "", watched_name(target, query)),
        )

    # -- writes --------------------------------------------------------------------------

    @staticmethod
    async def _body(request: web.Request) -> Any:
        return negotiation.decode_body(
            await request.read(), request.headers.get("Content-Type", ""), allowed=_BODY_TYPES
        )

    def _written(self, rt: ResourceType, result: WriteResult, created_code: int) -> web.Response:
        code = created_code if result.created else 200
        wire = kinds.to_wire(rt, result.obj)
        body = dumps(wire)
        remember_encoded(wire, body)
        return json_response(wire, code, warnings=result.warnings, body=body)

    def _deleted(
        self, rt: ResourceType, result: WriteResult, options: DeleteOptions
    ) -> web.Response:
        if result.exists:
            code = 202 if options.orphan_dependents is False else 200
            return json_response(kinds.to_wire(rt, result.obj), code)
        meta = result.obj.get("metadata") or {}
        details: JsonObject = {"name": meta.get("name", "")}
        if rt.group:
            details["group"] = rt.group
        details["kind"] = rt.plural
        details["uid"] = meta.get("uid", "")
        return json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            }
        )

    @staticmethod
    async def _delete_options(request: web.Request) -> DeleteOptions:
        raw = await request.read()
        body: Any = {}
        if raw.strip():
            body = negotiation.decode_body(
                raw, request.headers.get("Content-Type", ""), allowed=_BODY_TYPES
            )
            if not isinstance(body, dict):
                raise errors.bad_request("DeleteOptions must be an object")
        query = request.query
        pre = body.get("preconditions") or {}
        orphan = body.get("orphanDependents")
        if "orphanDependents" in query:
            orphan = query["orphanDependents"] in _TRUE
        return DeleteOptions(
            propagation=str(query.get("propagationPolicy") or body.get("propagationPolicy") or ""),
            uid=pre.get("uid"),
            resource_version=pre.get("resourceVersion"),
            orphan_dependents=orphan if isinstance(orphan, bool) else None,
        )

    async def _delete_collection(
        self, request: web.Request, target: Target, dry_run: bool
    ) -> web.Response:
        rt = target.rt
        options = await self._delete_options(request)
        q = parse_list_query(rt, request.query)
        selected = run_list(self.store, rt, target.namespace, q).items
        deleted = []
        for obj in selected:
            meta = obj["metadata"]
            try:
                result = self.ops.delete(
                    rt, meta.get("namespace", ""), meta["name"], options, dry_run=dry_run
                )
            except errors.ApiError as exc:
                if exc.code == 404:
                    continue
                raise
            deleted.append(kinds.to_wire(rt, result.obj))
        return json_response(
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": deleted,
            }
        )
