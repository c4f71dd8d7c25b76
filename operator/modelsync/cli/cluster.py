"""What the commands that act on ModelCatalogSyncs with the user's credentials (reconcile,
get, suspend, resume) share: kubectl's `--kubeconfig`, `--context` and `-n` flags, the
connection, and each failure worded as one line naming the API server, the kubeconfig and
context used, and the fix.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelsync.kube.client import KubeApi
    from modelsync.kube.errors import KubeApiError

__all__ = [
    "Cluster",
    "CommandFailed",
    "add_cluster_arguments",
    "config_source",
    "describe_failure",
    "is_missing_object",
    "not_found_line",
    "run_on_cluster",
]

_IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"
# What an API server answers for a resource type it does not serve (the CRD is missing).
_NO_SUCH_RESOURCE = "the server could not find the requested resource"
_SYNCS = "ModelCatalogSyncs (modelsync.dev/v1alpha1)"


class CommandFailed(Exception):
    """A command's failure, worded as its one line (without the `modelsync CMD: ` prefix)."""


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-n",
        "--namespace",
        help=(
            "namespace (default: the kubeconfig context's namespace; in a pod, the pod's; "
            'else "default")'
        ),
    )
    parser.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help=(
            "kubeconfig file (default: $KUBECONFIG; in a pod, its service account; else "
            "~/.kube/config)"
        ),
    )
    parser.add_argument(
        "--context", help="kubeconfig context to use (default: the kubeconfig's current-context)"
    )


def config_source(kubeconfig: str | None, context: str | None) -> str:
    """Which credentials `load_configuration` picks for these flags, for error messages:
    `kubeconfig PATH, context NAME` or `the pod's service account`."""
    explicit = kubeconfig or os.environ.get("KUBECONFIG")
    if not explicit and os.environ.get(_IN_CLUSTER_ENV) and context is None:
        return "the pod's service account"
    path = explicit or str(Path("~/.kube/config").expanduser())
    name = context or _current_context(path)
    return f"kubeconfig {path}, context {name}" if name else f"kubeconfig {path}"


def _current_context(path: str) -> str | None:
    from kubernetes import config as k8s_config

    try:
        _, active = k8s_config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=path
        )
    except (k8s_config.ConfigException, OSError, ValueError):
        return None
    name = (active or {}).get("name")
    return name if isinstance(name, str) and name else None


def describe_failure(exc: KubeApiError, server: str, source: str) -> str:
    """One line for a failed request of a command: what failed, where, and what to do."""
    if exc.status is None:
        return (
            f"{exc} from the Kubernetes API server {server}: is it running and reachable? "
            f"({source}; --kubeconfig or --context picks another cluster)"
        )
    if exc.status == 0:  # the client's status for a failed TLS handshake
        return (
            f"{exc}: TLS with the Kubernetes API server {server} failed; check the server's "
            f"address and certificate authority in the kubeconfig ({source})"
        )
    if exc.status == 401:
        return (
            f"{exc}: the Kubernetes API server {server} refused the credentials of {source}; "
            "log in again or pick another --context"
        )
    if exc.status == 403:
        return f"{exc}: ask an administrator for that permission ({source})"
    if exc.status == 404 and _NO_SUCH_RESOURCE in str(exc):
        return (
            f"the Kubernetes API server {server} does not serve {_SYNCS}: install the "
            f"CRDs (kubectl apply -f crds/) or pick the cluster that has them ({source})"
        )
    return f"{exc} (Kubernetes API server {server}, {source})"


def not_found_line(kind: str, name: str, namespace: str) -> str:
    return (
        f'{kind} "{name}" not found in namespace "{namespace}": check the name and -n '
        "(`modelsync get -A` lists the syncs of every namespace)"
    )


@dataclass(frozen=True)
class Cluster:
    """A connection to the API server the flags chose, and what its failures name."""

    api: KubeApi
    namespace: str
    server: str
    source: str

    def failure(self, exc: KubeApiError) -> str:
        return describe_failure(exc, self.server, self.source)

    def sync_failure(self, exc: KubeApiError, name: str) -> str:
        """`failure`, but a 404 for the sync itself says which sync is missing where."""
        if is_missing_object(exc):
            return not_found_line("ModelCatalogSync", name, self.namespace)
        return self.failure(exc)


def is_missing_object(exc: KubeApiError) -> bool:
    """A 404 for the object itself, not for its type (a CRD that is not installed)."""
    from modelsync.kube.errors import KubeNotFound

    return isinstance(exc, KubeNotFound) and _NO_SUCH_RESOURCE not in str(exc)


def _connect(args: argparse.Namespace) -> Cluster:
    from modelsync.kube.client import KubeApi, current_namespace, load_configuration
    from modelsync.kube.errors import KubeConfigError

    try:
        configuration = load_configuration(args.kubeconfig, args.context)
    except KubeConfigError as exc:
        raise CommandFailed(str(exc)) from None
    # One attempt per request, as kubectl: a command's failure is one line, not a line per
    # retry (urllib3 logs a warning before each of its retries).
    configuration.retries = False
    namespace = args.namespace or current_namespace(args.kubeconfig, args.context)
    api = KubeApi(configuration, max_workers=2)
    return Cluster(
        api, namespace, str(configuration.host), config_source(args.kubeconfig, args.context)
    )


def run_on_cluster(
    command: str, args: argparse.Namespace, work: Callable[[Cluster], Awaitable[int]]
) -> int:
    """Connect as the flags say, run `work`, close; a failure is one line on stderr, exit 1."""
    import asyncio
    import sys

    from modelsync.kube.errors import KubeApiError

    def failed(line: str) -> int:
        print(f"modelsync {command}: {line}", file=sys.stderr)
        return 1

    try:
        cluster = _connect(args)
    except CommandFailed as exc:
        return failed(str(exc))

    async def main() -> int:
        try:
            return await work(cluster)
        finally:
            await cluster.api.aclose()

    try:
        return asyncio.run(main())
    except CommandFailed as exc:
        return failed(str(exc))
    except KubeApiError as exc:
        return failed(cluster.failure(exc))
