"""The watch of the ModelRefs of the syncs (label modelsync.dev/sync), one per namespace that
holds a ModelCatalogSync, each on a thread of its own; it feeds the namespace's cache
(kube/modelref_cache.py), which sync passes plan against instead of a LIST, and drift repair.

Kopf used to watch them. Its processing of one watch event (causes, handler invocation,
progress state, a worker task per object) costs about as much CPU as one of our writes, and
every write of ours comes back as an event: a first sync of N models writes 2N times and
gets 2N events. Here an event costs a msgspec decode and a call of `deliver`.

It watches as Kopf does: the ModelRefs are listed page by page and delivered as events of type
None, then watched from the list's resourceVersion (with bookmarks); a watch that ends (server
timeout, dropped connection) resumes from the last resourceVersion seen, and 410 Gone lists
again. Every failure, and every end of a watch, waits `backoff` before the next request, so an
API server that keeps failing gets one request per `backoff`. Events reach `deliver` on the
event loop, in order, a batch per read from the connection.

Which namespaces: those of the ModelCatalogSyncs seen (`follow`, fed from Kopf's watch of
ModelCatalogSyncs, which honours --namespace), since a ModelRef matters only to a sync in its
own namespace (runtime.app routes it there).

A shard (--sync-selector, `sharded`) watches and keeps only the ModelRefs of its own syncs:
the selector is `modelsync.dev/sync in (<its syncs' label values>)`, checked again on every
event (a value leaves at once); a sync that joins a namespace already watched makes the watch
list again, with the new value, before the cache stands in for a LIST.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import urllib3

from modelsync.api.constants import GROUP, LABEL_SYNC, PLURAL_MODELREF, VERSION
from modelsync.api.labels import sanitize_label_value
from modelsync.kube.client import KubeApi
from modelsync.kube.errors import KubeApiError, error_from_status
from modelsync.kube.modelref_cache import NamespaceCache

__all__ = ["Deliver", "ModelRefWatches", "NamespaceWatch"]

logger = logging.getLogger(__name__)

# (event type: ADDED, MODIFIED, DELETED, or None for a listed object; the object)
Deliver = Callable[[str | None, Mapping[str, Any]], None]

# Every ModelRef a sync's LIST would find (label modelsync.dev/sync=<its name>), so that the
# cache can stand in for that LIST.
SELECTOR = LABEL_SYNC
_READ = 1 << 16
_EVENT_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED"})
_JOIN_TIMEOUT = 5.0  # a thread still in a LIST ends with the request's own timeout


class _ListMeta(msgspec.Struct):
    resourceVersion: str = ""
    continue_: str = msgspec.field(default="", name="continue")


class _List(msgspec.Struct):
    apiVersion: str = ""
    kind: str = ""
    metadata: _ListMeta = msgspec.field(default_factory=_ListMeta)
    items: list[dict[str, Any]] = msgspec.field(default_factory=list)


class _Event(msgspec.Struct):
    type: str
    object: dict[str, Any]


_LIST = msgspec.json.Decoder(_List)
_EVENT = msgspec.json.Decoder(_Event)


class _Gone(Exception):
    """The watch's resourceVersion is too old (410): list again."""


class NamespaceWatch:
    """LIST+WATCH of the managed ModelRefs of one namespace on a daemon thread."""

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        deliver: Deliver,
        loop: asyncio.AbstractEventLoop,
        *,
        backoff: float = 1.0,
        server_timeout: int = 300,
        page_size: int = 500,
        cache: NamespaceCache | None = None,
    ) -> None:
        self.namespace = namespace
        self.cache = cache
        self._page_size = page_size
        self._api = api
        self._deliver = deliver
        self._loop = loop
        self._backoff = backoff
        self._server_timeout = server_timeout
        self._stopping = threading.Event()
        self._relist = threading.Event()  # list again (a sync joined a shard's namespace)
        self._wake = threading.Event()  # ends the pause between two requests
        self._lock = threading.Lock()
        self._response: urllib3.BaseHTTPResponse | None = None
        self._failing = False
        # The last resourceVersion delivered (None: list first); only the thread uses it.
        self._version: str | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"watch modelrefs {namespace}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """No event is delivered after this; the thread ends once its current request does
        (an open watch is cut at once)."""
        self._stopping.set()
        self._wake.set()
        self._cut()

    def relist(self) -> None:
        """List again, soon: the open watch is cut, the pause between requests skipped."""
        self._relist.set()
        self._wake.set()
        self._cut()

    def _cut(self) -> None:
        with self._lock:
            response = self._response
        if response is not None:
            with contextlib.suppress(Exception):  # already closed or released
                response.shutdown()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the thread to end; whether it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the thread ------------------------------------------------------------------------

    def _selector(self) -> str:
        labels = self.cache.labels if self.cache is not None else None
        if labels is None:
            return SELECTOR
        return f"{LABEL_SYNC} in ({','.join(sorted(labels))})"

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._relist.is_set():
                    self._relist.clear()
                    self._version = None
                if self._version is None:
                    self._version = self._list()
                self._watch(self._version)
            except _Gone:
                logger.debug("ModelRefs in namespace %s: 410 Gone, listing again", self.namespace)
                self._version = None
            except (KubeApiError, msgspec.DecodeError) as exc:
                if self._stopping.is_set():
                    break
                if self._relist.is_set():
                    continue  # the watch was cut on purpose
                if isinstance(exc, msgspec.DecodeError):
                    self._version = None  # an answer we cannot read: start over
                self._control(NamespaceCache.watch_failed)
                (logger.debug if self._failing else logger.warning)(
                    "watch of ModelRefs in namespace %s: %s (retrying every %ss)",
                    self.namespace,
                    exc,
                    self._backoff,
                )
                self._failing = True
            if not self._relist.is_set():
                self._wake.wait(self._backoff)
                self._wake.clear()

    def _list(self) -> str:
        """Deliver every managed ModelRef as a type-None event; the list's resourceVersion."""
        token = ""
        self._control(NamespaceCache.relist_started)
        while True:
            query = {"labelSelector": self._selector(), "limit": str(self._page_size)}
            if token:
                query["continue"] = token
            try:
                data = self._api.fetch(
                    f'list ModelRefs in namespace "{self.namespace}"',
                    self._api.custom.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self.namespace,
                    PLURAL_MODELREF,
                    query=query,
                )
            except KubeApiError as exc:
                if exc.status == 410:  # the continue token expired
                    raise _Gone from None
                raise
            page = _LIST.decode(data)
            kind = page.kind.removesuffix("List")
            for item in page.items:
                item.setdefault("apiVersion", page.apiVersion)
                item.setdefault("kind", kind)
            self._post([(None, item) for item in page.items])
            token = page.metadata.continue_
            if not token:
                self._control(NamespaceCache.relist_done)
                return page.metadata.resourceVersion

    def _watch(self, version: str) -> None:
        """Deliver events from `version` until the watch ends, moving `_version` along.
        Raises _Gone when the server no longer has `version`."""
        action = f'watch ModelRefs in namespace "{self.namespace}"'
        query = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "labelSelector": self._selector(),
            "resourceVersion": version,
            "timeoutSeconds": str(self._server_timeout),
        }
        try:
            response = self._api.stream(
                action,
                self._api.custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                PLURAL_MODELREF,
                query=query,
                read_timeout=self._server_timeout + 30,
            )
        except KubeApiError as exc:
            if exc.status == 410:
                raise _Gone from None
            raise
        with self._lock:
            self._response = response
        if self._failing:
            logger.info("watch of ModelRefs in namespace %s resumed", self.namespace)
            self._failing = False
            self._control(NamespaceCache.watch_resumed)
        ended = False
        try:
            rest = b""
            while not (self._stopping.is_set() or self._relist.is_set()):
                try:
                    data = response.read1(_READ)
                except (urllib3.exceptions.HTTPError, OSError) as exc:
                    raise error_from_status(action, None, None) from exc
                if not data:
                    ended = True
                    return
                lines = (rest + data).split(b"\n")
                rest = lines.pop()
                batch: list[tuple[str | None, Mapping[str, Any]]] = []
                try:
                    for line in lines:
                        if line.strip():
                            self._event(action, _EVENT.decode(line), batch)
                finally:  # what came before a failure is delivered, as `_version` says
                    self._post(batch)
        finally:
            with self._lock:
                self._response = None
            if not ended:
                response.close()  # never back to the pool half read
            response.release_conn()

    def _event(
        self, action: str, event: _Event, batch: list[tuple[str | None, Mapping[str, Any]]]
    ) -> None:
        obj = event.object
        if event.type == "ERROR":
            code = obj.get("code")
            if code == 410:
                raise _Gone
            raise error_from_status(
                action, code if isinstance(code, int) else None, msgspec.json.encode(obj)
            )
        if event.type in _EVENT_TYPES:
            batch.append((event.type, obj))
        # BOOKMARK (and any type we do not know) moves the version only.
        meta = obj.get("metadata")
        seen = meta.get("resourceVersion") if isinstance(meta, dict) else None
        if isinstance(seen, str) and seen:
            self._version = seen

    def _post(self, batch: list[tuple[str | None, Mapping[str, Any]]]) -> None:
        if not batch or self._stopping.is_set():
            return
        try:
            self._loop.call_soon_threadsafe(self._hand_over, batch)
        except RuntimeError:  # the event loop is closed: nobody to deliver to
            self._stopping.set()

    def _control(self, step: Callable[[NamespaceCache], None]) -> None:
        """Tell the cache (on the loop, in order with the events) how the watch goes."""
        if self.cache is None or self._stopping.is_set():
            return
        try:
            self._loop.call_soon_threadsafe(step, self.cache)
        except RuntimeError:
            self._stopping.set()

    # -- the event loop ---------------------------------------------------------------------

    def _hand_over(self, batch: list[tuple[str | None, Mapping[str, Any]]]) -> None:
        for event_type, obj in batch:
            if self._stopping.is_set():
                return
            try:
                if self.cache is None or self.cache.put(event_type, obj):
                    self._deliver(event_type, obj)
            except Exception:  # one bad event must not cost the others
                logger.exception("handling a ModelRef watch event failed")


class ModelRefWatches:
    """A NamespaceWatch for every namespace that holds a ModelCatalogSync. Used on the event
    loop."""

    def __init__(
        self,
        api: KubeApi,
        deliver: Deliver,
        *,
        backoff: float = 1.0,
        server_timeout: int = 300,
        sharded: bool = False,
    ) -> None:
        self._api = api
        self._deliver = deliver
        self._backoff = backoff
        self._server_timeout = server_timeout
        self._sharded = sharded
        # namespace -> {uid of a sync: its modelsync.dev/sync label value}
        self._syncs: dict[str, dict[str, str]] = {}
        self._watches: dict[str, NamespaceWatch] = {}

    @property
    def namespaces(self) -> frozenset[str]:
        return frozenset(self._watches)

    def cache(self, namespace: str) -> NamespaceCache | None:
        """The ModelRefs of `namespace` as its watch delivered them; None: not watched."""
        watch = self._watches.get(namespace)
        return watch.cache if watch is not None else None

    def follow(self, event_type: str | None, sync: Mapping[str, Any]) -> None:
        """A ModelCatalogSync watch event: start or stop its namespace's watch."""
        meta = sync.get("metadata")
        if not isinstance(meta, Mapping):
            return
        namespace, uid = meta.get("namespace"), meta.get("uid")
        if not isinstance(namespace, str) or not namespace or not isinstance(uid, str):
            return
        label = sanitize_label_value(str(meta.get("name", "")))
        if event_type == "DELETED":
            syncs = self._syncs.get(namespace)
            if syncs is None or syncs.pop(uid, None) is None:
                return
            watch = self._watches.get(namespace)
            if not syncs:
                del self._syncs[namespace]
                self._watches.pop(namespace, None)
                if watch is not None:
                    watch.stop()
            elif watch is not None and watch.cache is not None and label not in syncs.values():
                watch.cache.release(label)
            return
        syncs = self._syncs.setdefault(namespace, {})
        syncs[uid] = label
        watch = self._watches.get(namespace)
        if watch is not None and watch.cache is not None and watch.cache.labels is not None:
            if label not in watch.cache.labels:
                watch.cache.take(label)
                watch.relist()
        elif watch is None:
            watch = NamespaceWatch(
                self._api,
                namespace,
                self._deliver,
                asyncio.get_running_loop(),
                backoff=self._backoff,
                server_timeout=self._server_timeout,
                cache=NamespaceCache(namespace, frozenset({label}) if self._sharded else None),
            )
            self._watches[namespace] = watch
            watch.start()

    async def close(self) -> None:
        """Stop every watch and wait (a bounded time) for their threads."""
        watches = list(self._watches.values())
        self._watches.clear()
        self._syncs.clear()
        for watch in watches:
            watch.stop()
        for watch in watches:
            if not await asyncio.to_thread(watch.join, _JOIN_TIMEOUT):
                logger.warning("the ModelRef watch of namespace %s did not stop", watch.namespace)
