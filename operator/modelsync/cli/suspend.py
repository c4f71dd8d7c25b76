"""`modelsync suspend NAME` / `modelsync resume NAME`: set or clear a ModelCatalogSync's
spec.suspend (a merge patch). A suspended sync makes no catalog request and leaves its
ModelRefs as they are (Ready=False, reason Suspended); resuming syncs it at once.
`resume.py` runs `run_resume`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelsync.cli.cluster import Cluster

__all__ = ["add_arguments", "run", "run_resume"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from modelsync.cli.cluster import add_cluster_arguments

    parser.add_argument("name", help="ModelCatalogSync name")
    add_cluster_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return _set(args, suspend=True)


def run_resume(args: argparse.Namespace) -> int:
    return _set(args, suspend=False)


def _set(args: argparse.Namespace, *, suspend: bool) -> int:
    from modelsync.cli.cluster import run_on_cluster

    command = "suspend" if suspend else "resume"

    async def work(cluster: Cluster) -> int:
        from modelsync.cli.cluster import CommandFailed
        from modelsync.kube.errors import KubeApiError

        try:
            print(await set_suspended(cluster, args.name, suspend=suspend))
        except KubeApiError as exc:
            raise CommandFailed(cluster.sync_failure(exc, args.name)) from None
        return 0

    return run_on_cluster(command, args, work)


async def set_suspended(cluster: Cluster, name: str, *, suspend: bool) -> str:
    """Patch spec.suspend to `suspend` unless it already is; the line saying what was done."""
    from modelsync.kube.modelcatalogsyncs import get_sync, set_suspend

    where = f"modelcatalogsync {cluster.namespace}/{name}"
    current = await get_sync(cluster.api, cluster.namespace, name)
    if bool((current.get("spec") or {}).get("suspend")) == suspend:
        state = "already suspended" if suspend else "not suspended"
        return f"{where} is {state}; nothing changed"
    await set_suspend(cluster.api, cluster.namespace, name, suspend)
    if suspend:
        return (
            f"{where} suspended: the operator stops syncing it and leaves its ModelRefs as "
            f"they are (`modelsync resume {name} -n {cluster.namespace}` resumes it)"
        )
    return f"{where} resumed: the operator syncs it now"
