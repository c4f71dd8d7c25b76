"""Connection to the Kubernetes API with the official (synchronous) client, used from asyncio.

Configuration follows the usual resolution order (as controller-runtime does): an explicit
kubeconfig path, then `KUBECONFIG`, then the in-cluster service account, then
`~/.kube/config`. Every request runs on a dedicated thread pool, so the event loop never
blocks and the pool size bounds how many requests are in flight.

`KubeApi.send` is the lean path of the frequent requests (ModelRef writes and reads, Events):
it sends what an operation of the generated client would (same method, URL, headers and JSON
body; tests/operator/test_kube_wire.py compares them on the wire), with the body encoded once
and the answer decoded only as far as the caller needs. The generated layer would validate
every argument, walk and re-encode the body and decode the whole answer: at thousands of
writes per sync that costs more CPU than the HTTP exchange itself. With a plain configuration
(no proxy or other pool-only setting) the request goes out on the event loop itself
(kube/loop_http.py: no thread hand-off, a C header parser); otherwise it is handed straight to
the client's connection pool on a thread. Authentication, TLS, timeouts, the write gate,
typed errors and the request observer are those of `call`. `fetch` and `stream` do the same
synchronously, without observer or gate, for a reader on a thread of its own
(kube/modelref_watch.py).
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from string import Formatter
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from modelsync.kube.errors import KubeConfigError, KubeWriteFenced, error_from_status
from modelsync.kube.loop_http import NoResponse, TlsFailure, loop_http_for

__all__ = [
    "ROUTES",
    "WRITE_VERBS",
    "KubeApi",
    "RequestObserver",
    "WriteGate",
    "current_namespace",
    "load_configuration",
    "service_account_namespace",
]

T = TypeVar("T")

# (verb, resource, HTTP status or None when no response came back)
RequestObserver = Callable[[str, str, int | None], None]
# Asked on the request's thread right before a write is sent; False: do not send it.
WriteGate = Callable[[], bool]

_JSON = "application/json"

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})

_IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"
_AUTH_SETTINGS = ["BearerToken"]  # what every generated operation of the client names
_AUTH_TTL = 1.0


@dataclass(frozen=True)
class _Route:
    method: str
    template: str  # the generated client's resource_path

    @functools.cached_property
    def fields(self) -> tuple[str, ...]:
        return tuple(name for _, name, _, _ in Formatter().parse(self.template) if name)

    def path(self, args: tuple[str, ...]) -> str:
        if len(args) != len(self.fields):
            raise TypeError(f"{self.template} takes {len(self.fields)} path arguments")
        # Each argument is one path segment, encoded as the generated client does.
        return self.template.format_map(
            {field: _segment(arg) for field, arg in zip(self.fields, args, strict=True)}
        )


@functools.lru_cache(maxsize=4096)
def _segment(arg: str) -> str:
    """One path segment, percent-encoded; names repeat (namespace, group, each object's name
    written twice), so the encoding is remembered."""
    return quote(str(arg), safe="")


_CUSTOM = "/apis/{group}/{version}/namespaces/{namespace}/{plural}"
# The generated operations `send`, `fetch` and `stream` stand in for, by name: HTTP method and
# URL template as in the client's `_<operation>_serialize` (tests/operator/test_kube_wire.py
# holds them equal). Path arguments come in the operation's own parameter order.
ROUTES: dict[str, _Route] = {
    "create_namespaced_custom_object": _Route("POST", _CUSTOM),
    "list_namespaced_custom_object": _Route("GET", _CUSTOM),
    "get_namespaced_custom_object": _Route("GET", _CUSTOM + "/{name}"),
    "patch_namespaced_custom_object": _Route("PATCH", _CUSTOM + "/{name}"),
    "patch_namespaced_custom_object_status": _Route("PATCH", _CUSTOM + "/{name}/status"),
    "delete_namespaced_custom_object": _Route("DELETE", _CUSTOM + "/{name}"),
    "create_namespaced_event": _Route("POST", "/api/v1/namespaces/{namespace}/events"),
}


def load_configuration(
    kubeconfig: str | None = None, context: str | None = None
) -> k8s.Configuration:
    """A fresh client Configuration; the library's global default is left untouched.
    KubeConfigError: one line naming the file (or the in-cluster account) and the fix."""
    configuration = k8s.Configuration()
    explicit = kubeconfig or os.environ.get("KUBECONFIG")
    home_config = Path("~/.kube/config").expanduser()
    path: str | None = None  # None: the in-cluster service account
    if explicit:
        _require_kubeconfig(explicit, "--kubeconfig" if kubeconfig else "KUBECONFIG")
        path = explicit
    elif os.environ.get(_IN_CLUSTER_ENV) and context is None:
        pass
    elif home_config.exists():
        path = str(home_config)
    else:
        raise KubeConfigError(
            "no Kubernetes configuration: set KUBECONFIG or --kubeconfig, run in a cluster, "
            "or create ~/.kube/config"
        )
    source = path or "the in-cluster service account"
    try:
        if path is None:
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        else:
            _load_kubeconfig(path, context, configuration)
    except (k8s_config.ConfigException, OSError, yaml.YAMLError) as exc:
        detail = " ".join(str(exc).split())
        raise KubeConfigError(
            f"cannot load the Kubernetes configuration from {source}: {detail}; fix it, or "
            "choose another with --kubeconfig or --context"
        ) from None
    except (AttributeError, KeyError, TypeError):  # YAML, but not shaped like a kubeconfig
        raise KubeConfigError(
            f"cannot load the Kubernetes configuration from {source}: not a kubeconfig file; "
            "choose another with --kubeconfig"
        ) from None
    return configuration


def _require_kubeconfig(paths: str, source: str) -> None:
    """The client skips the files of a KUBECONFIG list that do not exist, then reports only
    "No configuration found"; say which file is missing instead."""
    files = [Path(p).expanduser() for p in paths.split(os.pathsep) if p]
    if not any(path.exists() for path in files):
        names = " or ".join(str(path) for path in files) or repr(paths)
        raise KubeConfigError(
            f"kubeconfig {names} (from {source}): no such file; point {source} at an existing "
            "kubeconfig file"
        )


def _load_kubeconfig(path: str, context: str | None, configuration: k8s.Configuration) -> None:
    k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=path,
        context=context,
        client_configuration=configuration,
        persist_config=False,
    )


class KubeApi:
    """Async facade over the official client: typed errors, bounded threads, a request hook."""

    def __init__(
        self,
        configuration: k8s.Configuration,
        *,
        max_workers: int = 16,
        request_timeout: float = 30.0,
        on_request: RequestObserver | None = None,
        may_write: WriteGate | None = None,
    ) -> None:
        # One pooled connection per worker thread, plus slack for the occasional read.
        configuration.connection_pool_maxsize = max(max_workers + 4, 8)
        self.configuration = configuration
        self._api_client = k8s.ApiClient(configuration)
        self._api_client.user_agent = "modelsync"
        self.custom = k8s.CustomObjectsApi(self._api_client)
        self.core = k8s.CoreV1Api(self._api_client)
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="kube")
        self._request_timeout = request_timeout
        self._on_request = on_request
        self._may_write = may_write
        self._auth: tuple[float, dict[str, str]] = (0.0, {})
        self._pool: tuple[str, urllib3.HTTPConnectionPool, str] | None = None
        self._loop_http = loop_http_for(configuration, limit=max_workers + 4)

    async def call(
        self,
        verb: str,
        resource: str,
        action: str,
        fn: Callable[..., T],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """Run `fn(*args, **kwargs)` on the pool; raise a KubeApiError subclass on failure.

        `verb`/`resource` feed the request observer (metrics); `action` prefixes error messages,
        e.g. "create modelrefs ns/name". A write that the `may_write` gate refuses (checked
        just before sending, also for calls that waited for a thread) raises KubeWriteFenced
        and is not sent.
        """
        kwargs.setdefault("_request_timeout", self._request_timeout)
        loop = asyncio.get_running_loop()
        gate = self._may_write if verb in WRITE_VERBS else None
        status: int | None = None
        sent = True
        try:
            result = await loop.run_in_executor(
                self._executor, functools.partial(_send, gate, fn, args, kwargs)
            )
            status = 200
            return result
        except _Fenced:
            sent = False
            raise KubeWriteFenced(f"{action}: not sent: writes are fenced off") from None
        except k8s.ApiException as exc:
            status = int(exc.status) if exc.status is not None else None
            raise error_from_status(action, status, exc.body) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise error_from_status(action, None, None) from exc
        finally:
            if self._on_request is not None and sent:
                self._on_request(verb, resource, status)

    async def send(
        self,
        verb: str,
        resource: str,
        action: str,
        operation: Callable[..., object],
        *path: str,
        decode: Callable[[bytes], T],
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> T:
        """The request `operation` (a method of `self.custom`/`self.core`, see ROUTES) makes
        for the path arguments `path`, with `body` (JSON, already encoded) as its body and
        `content_type` where the operation sets one (the patches); returns `decode(answer
        body)`, decoded on the request's thread.

        `verb`, `resource`, `action`, failures and the write gate as for `call`."""
        route = ROUTES[operation.__name__]
        if self._loop_http is not None:
            return await self._send_on_loop(
                verb, resource, action, route.method, route.path(path), decode, body, content_type
            )
        return await self.call(
            verb,
            resource,
            action,
            self._exchange,
            route.method,
            route.path(path),
            decode,
            body,
            content_type,
        )

    async def _send_on_loop(
        self,
        verb: str,
        resource: str,
        action: str,
        method: str,
        path: str,
        decode: Callable[[bytes], T],
        body: bytes | None,
        content_type: str | None,
    ) -> T:
        http = self._loop_http
        assert http is not None
        expires, base = self._auth
        if time.monotonic() >= expires:
            # A credential refresh may run an exec plugin: never on the loop.
            base = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._base_headers
            )
        # The headers http.client and the generated client send, no more.
        headers = {**base, "Accept": _JSON, "Accept-Encoding": "identity"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if verb in WRITE_VERBS and self._may_write is not None and not self._may_write():
            raise KubeWriteFenced(f"{action}: not sent: writes are fenced off")
        status: int | None = None
        try:
            answer_status, data = await http.request(
                method, path, body, headers, time_limit=self._request_timeout
            )
        except TlsFailure as exc:
            status = 0  # as the generated client reports it
            raise error_from_status(action, status, None) from exc
        except NoResponse as exc:
            raise error_from_status(action, None, None) from exc
        else:
            if not 200 <= answer_status <= 299:
                status = answer_status
                raise error_from_status(action, status, data.decode("utf-8", "replace"))
            status = 200
            return decode(data)
        finally:
            if self._on_request is not None:
                self._on_request(verb, resource, status)

    def fetch(
        self,
        action: str,
        operation: Callable[..., object],
        *path: str,
        query: Mapping[str, str],
    ) -> bytes:
        """GET `operation`'s URL with `query`, on the caller's thread: the answer's body.
        Raises as `call` does. No observer, no gate (a read), and no retry: the caller has
        its own pace."""
        route = ROUTES[operation.__name__]
        if route.method != "GET":
            raise ValueError(f"{operation.__name__} is not a read")
        url = f"{route.path(path)}?{urlencode(query)}"

        def get() -> bytes:
            response = self._request(
                "GET",
                url,
                None,
                None,
                timeout=urllib3.Timeout(total=self._request_timeout),
                preload_content=True,
                retries=False,
            )
            if not 200 <= response.status <= 299:
                raise _status_error(response.status, response.reason, response.data)
            return response.data

        return _typed(action, get)

    def stream(
        self,
        action: str,
        operation: Callable[..., object],
        *path: str,
        query: Mapping[str, str],
        read_timeout: float,
    ) -> urllib3.BaseHTTPResponse:
        """Open a GET of `operation`'s URL with `query` whose body is read as it arrives (a
        watch): the response, to read and then release. Raises as `call` does; as `fetch`,
        no retry."""
        route = ROUTES[operation.__name__]
        if route.method != "GET":
            raise ValueError(f"{operation.__name__} is not a read")
        url = f"{route.path(path)}?{urlencode(query)}"

        def open_stream() -> urllib3.BaseHTTPResponse:
            response = self._request(
                "GET",
                url,
                None,
                None,
                timeout=urllib3.Timeout(connect=self._request_timeout, read=read_timeout),
                preload_content=False,
                retries=False,
            )
            if not 200 <= response.status <= 299:
                data = response.read()
                response.release_conn()
                raise _status_error(response.status, response.reason, data)
            return response

        return _typed(action, open_stream)

    def _exchange(
        self,
        method: str,
        path: str,
        decode: Callable[[bytes], T],
        body: bytes | None,
        content_type: str | None,
        *,
        _request_timeout: float,
    ) -> T:
        response = self._request(
            method,
            path,
            body,
            content_type,
            timeout=urllib3.Timeout(total=_request_timeout),
            preload_content=True,
        )
        if not 200 <= response.status <= 299:
            raise _status_error(response.status, response.reason, response.data)
        return decode(response.data)

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        content_type: str | None,
        *,
        timeout: urllib3.Timeout,
        preload_content: bool,
        retries: bool | None = None,
    ) -> urllib3.BaseHTTPResponse:
        """`retries`: None, the pool's (as the generated client); False, none."""
        headers = {**self._base_headers(), "Accept": _JSON}
        if content_type is not None:
            headers["Content-Type"] = content_type
        extra: dict[str, Any] = {} if retries is None else {"retries": retries}
        try:
            direct = self._direct_pool()
            if direct is not None:
                pool, prefix = direct
                # What PoolManager.request does for this URL, without parsing it again and
                # looking the pool up per request (a tenth of a write's CPU).
                return pool.urlopen(
                    method,
                    prefix + path,
                    body=body,
                    headers=headers,
                    timeout=timeout,
                    preload_content=preload_content,
                    redirect=False,
                    assert_same_host=False,
                    **extra,
                )
            return self._api_client.rest_client.pool_manager.request(
                method,
                self.configuration.host + path,
                body=body,
                headers=headers,
                timeout=timeout,
                preload_content=preload_content,
                **extra,
            )
        except urllib3.exceptions.SSLError as exc:  # the generated client's mapping
            raise k8s.ApiException(status=0, reason=f"{type(exc).__name__}\n{exc}") from None

    def _direct_pool(self) -> tuple[urllib3.HTTPConnectionPool, str] | None:
        """The API server's connection pool and the host's path prefix; None through a
        proxy (ProxyManager routes each request itself)."""
        manager = self._api_client.rest_client.pool_manager
        if isinstance(manager, urllib3.ProxyManager) or manager.headers:
            return None
        host = self.configuration.host
        known = self._pool
        if known is None or known[0] != host:
            pool = manager.connection_from_url(host)
            known = self._pool = (host, pool, urllib3.util.parse_url(host).path or "")
        return known[1], known[2].rstrip("/")

    def _base_headers(self) -> dict[str, str]:
        """User-Agent and credentials. The generated client asks the configuration for the
        credentials per request, which runs its refresh hook (a kubeconfig's re-applies the
        whole kubeconfig and re-reads the proxy environment: about 0.1 ms); here that
        happens at most every `_AUTH_TTL` seconds. Refreshed tokens are renewed minutes
        before they expire, so a second changes nothing."""
        now = time.monotonic()
        expires, headers = self._auth
        if now >= expires:
            headers = dict(self._api_client.default_headers)
            self._api_client.update_params_for_auth(headers, [], _AUTH_SETTINGS, "", "", None)
            self._auth = (now + _AUTH_TTL, headers)
        return headers

    def close(self) -> None:
        """Release threads and connections; from a coroutine, prefer `aclose`."""
        if self._loop_http is not None:
            self._loop_http.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._api_client.close()  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        """`close`, waiting for the event loop's connections to be closed."""
        if self._loop_http is not None:
            await self._loop_http.aclose()
        self.close()


class _Fenced(Exception):
    pass


def _status_error(status: int, reason: str | None, data: bytes) -> k8s.ApiException:
    return k8s.ApiException(status=status, reason=reason, body=data.decode("utf-8", "replace"))


def _typed(action: str, fn: Callable[[], T]) -> T:
    """`fn()`, its failures as KubeApiError (as `call` maps them)."""
    try:
        return fn()
    except k8s.ApiException as exc:
        status = int(exc.status) if exc.status is not None else None
        raise error_from_status(action, status, exc.body) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise error_from_status(action, None, None) from exc


def _send(gate: WriteGate | None, fn: Callable[..., T], args: Any, kwargs: Any) -> T:
    if gate is not None and not gate():
        raise _Fenced
    return fn(*args, **kwargs)


_SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def service_account_namespace() -> str | None:
    """In a pod: its namespace, from the mounted service account; elsewhere None."""
    try:
        return _SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or None
    except OSError:
        return None


def current_namespace(kubeconfig: str | None = None, context: str | None = None) -> str:
    """The namespace kubectl would use: the kubeconfig context's, in-cluster the pod's, or
    "default"."""
    explicit = kubeconfig or os.environ.get("KUBECONFIG")
    home_config = Path("~/.kube/config").expanduser()
    path = explicit or (None if os.environ.get(_IN_CLUSTER_ENV) else str(home_config))
    if path is None or (not explicit and not home_config.exists()):
        return service_account_namespace() or "default"
    try:
        contexts, active = k8s_config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=path
        )
    except (k8s_config.ConfigException, OSError):
        return "default"
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return namespace if isinstance(namespace, str) and namespace else "default"
