"""Connection to the Kubernetes API with the official (synchronous) client, used from asyncio.

Configuration follows the usual resolution order (as controller-runtime does): an explicit
kubeconfig path, then `KUBECONFIG`, then the in-cluster service account, then
`~/.kube/config`. Every request runs on a dedicated thread pool, so the event loop never
blocks and the pool size bounds how many requests are in flight.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from modelsync.kube.errors import KubeConfigError, KubeWriteFenced, error_from_status

__all__ = [
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

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})

_IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"


def load_configuration(
    kubeconfig: str | None = None, context: str | None = None
) -> k8s.Configuration:
    """A fresh client Configuration; the library's global default is left untouched."""
    configuration = k8s.Configuration()
    explicit = kubeconfig or os.environ.get("KUBECONFIG")
    home_config = Path("~/.kube/config").expanduser()
    try:
        if explicit:
            _load_kubeconfig(explicit, context, configuration)
        elif os.environ.get(_IN_CLUSTER_ENV) and context is None:
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        elif home_config.exists():
            _load_kubeconfig(str(home_config), context, configuration)
        else:
            raise KubeConfigError(
                "no Kubernetes configuration: set KUBECONFIG, run in a cluster, "
                "or create ~/.kube/config"
            )
    except k8s_config.ConfigException as exc:
        raise KubeConfigError(f"cannot load the Kubernetes configuration: {exc}") from None
    return configuration


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

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._api_client.close()  # type: ignore[no-untyped-call]


class _Fenced(Exception):
    pass


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
