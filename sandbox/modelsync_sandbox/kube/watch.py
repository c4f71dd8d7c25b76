"""Watch streams: newline-delimited JSON events, one flush per batch of ready events.

Semantics follow k8s.io/apiserver pkg/storage/cacher (cache_watcher.go):
resourceVersion unset or "0" starts with synthetic ADDED events for the current
state; a resourceVersion replays what happened after it, or answers an ERROR
event with a 410 `Status` when that history is gone; an object that stops
matching the selectors arrives as DELETED, one that starts matching as ADDED.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from modelsync_sandbox.kube import errors
from modelsync_sandbox.kube.errors import JsonObject
from modelsync_sandbox.kube.faults import DROP, FaultInjector, Hit, expired_status
from modelsync_sandbox.kube.listing import Matcher
from modelsync_sandbox.kube.resources import ResourceType
from modelsync_sandbox.kube.store import ADDED, DELETED, MODIFIED, Event, Store

DEFAULT_TIMEOUT = 1800.0
_LIVENESS_CHECK = 5.0  # how often an idle stream checks its client is still there
# The kind of fault that hit a request ("status", "gone", "delay", "drop"), for the request log.
FAULT_KEY = web.RequestKey("fault", str)
# Queued into an open watch by a fault: end it with an ERROR event (obj), or drop it.
_FAULT_ERROR = "fault:ERROR"
_FAULT_DROP = "fault:DROP"


@dataclass(frozen=True)
class WatchRequest:
    rt: ResourceType
    namespace: str | None
    matches: Matcher | None
    resource_version: str
    timeout: float
    bookmarks: bool
    encode: Callable[[JsonObject], JsonObject]
    content_type: str


def parse_timeout(text: str) -> float:
    if not text:
        return DEFAULT_TIMEOUT
    try:
        return max(float(int(text)), 0.0)
    except ValueError:
        raise errors.bad_request(f"invalid timeoutSeconds: {text!r}") from None


# The JSON of objects a write response just carried, by object: the watch events of that
# write reuse it. Only pure-ASCII JSON is kept: the same with or without ensure_ascii.
_ENCODED: dict[int, tuple[JsonObject, bytes]] = {}
_ENCODED_MAX = 256
_EVENT_TYPES = frozenset((ADDED, MODIFIED, DELETED))


def remember_encoded(obj: JsonObject, body: bytes) -> None:
    """`body` is json.dumps(obj, separators=(",", ":"), ensure_ascii=False), encoded."""
    if body.isascii():
        if len(_ENCODED) >= _ENCODED_MAX:
            _ENCODED.clear()
        _ENCODED[id(obj)] = (obj, body)


def _line(event_type: str, obj: JsonObject) -> bytes:
    known = _ENCODED.get(id(obj))
    if known is not None and known[0] is obj and event_type in _EVENT_TYPES:
        return b'{"type":"' + event_type.encode() + b'","object":' + known[1] + b"}\n"
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


class _Filter:
    def __init__(self, wr: WatchRequest) -> None:
        self.namespace = wr.namespace
        self.matches = wr.matches

    def visible(self, obj: JsonObject) -> bool:
        if (
            self.namespace is not None
            and (obj.get("metadata") or {}).get("namespace") != self.namespace
        ):
            return False
        return self.matches is None or self.matches(obj)

    def translate(self, event: Event) -> tuple[str, JsonObject] | None:
        now = self.visible(event.obj)
        if event.type == DELETED:
            return (DELETED, event.obj) if now else None
        before = event.prev is not None and event.type == MODIFIED and self.visible(event.prev)
        if now:
            return (MODIFIED if before else ADDED, event.obj)
        if before and event.prev is not None:
            gone = dict(event.prev)
            gone["metadata"] = {**event.prev["metadata"], "resourceVersion": str(event.rv)}
            return (DELETED, gone)
        return None


def drop_connection(request: web.Request) -> web.Response:
    """Close the client's connection at once, with nothing sent; aiohttp then finds the
    transport closed and gives up on the returned response quietly."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)


async def serve_expired_watch(
    request: web.Request, store: Store, resource_version: str
) -> web.StreamResponse:
    """A watch that starts with an ERROR event carrying a 410 Expired Status, then ends:
    what kube-apiserver answers for a resourceVersion it no longer has."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(_line("ERROR", expired_status(resource_version, store.resource_version)))
    return response


async def serve_watch(
    request: web.Request,
    store: Store,
    wr: WatchRequest,
    *,
    bookmark_interval: float,
    faults: FaultInjector | None = None,
    fault_target: tuple[str, str, str] = ("", "", ""),
) -> web.StreamResponse:
    """`fault_target` is (resource label, namespace, name) for matching faults that hit
    watches already open."""
    skey = wr.rt.storage_key
    initial: list[Event] = []
    expired_message = ""
    rv_text = wr.resource_version
    if rv_text in ("", "0"):
        initial = [Event(ADDED, 0, obj, None) for obj in store.items(skey, wr.namespace)]
    else:
        try:
            since = int(rv_text)
        except ValueError:
            raise errors.bad_request(f"invalid resource version: {rv_text!r}") from None
        replay = store.collection(skey).events_since(since)
        if replay is None:
            oldest = store.collection(skey).window_start
            expired_message = f"too old resource version: {since} ({oldest + 1})"
        else:
            initial = replay
    watcher = store.watch(skey)  # same synchronous step as the snapshot: nothing slips by
    fault_token: int | None = None
    if faults is not None:

        def interrupt(hit: Hit) -> None:
            request[FAULT_KEY] = hit.fault.kind
            if hit.fault.kind == DROP:
                watcher.push(Event(_FAULT_DROP, 0, {}, None))
            else:
                status = expired_status(str(store.resource_version), store.resource_version)
                watcher.push(Event(_FAULT_ERROR, 0, status, None))

        fault_token = faults.open_watch(*fault_target, interrupt)
    response = web.StreamResponse(status=200, headers={"Content-Type": wr.content_type})
    try:
        await response.prepare(request)
        if expired_message:
            await response.write(_line("ERROR", errors.expired(expired_message).to_status()))
            return response
        flt = _Filter(wr)
        batch = bytearray()
        for event in initial:
            translated = flt.translate(event)
            if translated is not None:
                batch += _line(translated[0], wr.encode(translated[1]))
        if batch:
            await response.write(bytes(batch))
        await _pump(request, response, watcher.queue, flt, wr, store, bookmark_interval)
    except ConnectionResetError:
        pass
    finally:
        store.unwatch(skey, watcher)
        if faults is not None and fault_token is not None:
            faults.close_watch(fault_token)
    return response


def _bookmark(wr: WatchRequest, rv: int) -> bytes:
    meta: JsonObject = {"resourceVersion": str(rv), "creationTimestamp": None}
    return _line(
        "BOOKMARK", {"kind": wr.rt.kind, "apiVersion": wr.rt.api_version, "metadata": meta}
    )


async def _pump(
    request: web.Request,
    response: web.StreamResponse,
    queue: asyncio.Queue[Event | None],
    flt: _Filter,
    wr: WatchRequest,
    store: Store,
    bookmark_interval: float,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wr.timeout
    next_bookmark = loop.time() + bookmark_interval
    while True:
        now = loop.time()
        if now >= deadline:
            return
        wait = min(deadline - now, _LIVENESS_CHECK)
        if wr.bookmarks:
            wait = min(wait, max(next_bookmark - now, 0.0))
        try:
            if queue.empty():
                # (asyncio.timeout, not wait_for: no task of its own per wait)
                async with asyncio.timeout(wait):
                    first = await queue.get()
            else:
                first = queue.get_nowait()
        except TimeoutError:
            if request.transport is None or request.transport.is_closing():
                return  # the client went away
            if wr.bookmarks and loop.time() >= next_bookmark:
                await response.write(_bookmark(wr, store.resource_version))
                next_bookmark = loop.time() + bookmark_interval
            continue
        events = [first]
        while not queue.empty():
            events.append(queue.get_nowait())
        batch = bytearray()
        for event in events:
            if event is not None and event.type == _FAULT_DROP:
                drop_connection(request)
                return
            if event is None or event.type == _FAULT_ERROR:
                if event is not None:
                    batch += _line("ERROR", event.obj)
                if batch:
                    await response.write(bytes(batch))
                return
            translated = flt.translate(event)
            if translated is not None:
                batch += _line(translated[0], wr.encode(translated[1]))
        if batch:
            await response.write(bytes(batch))
