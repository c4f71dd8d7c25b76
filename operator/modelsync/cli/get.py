"""`modelsync get [NAME ...] [-n NAMESPACE | -A] [-o json|yaml|name]`: the syncs' state as a
table (NAME, READY, REASON, MODELS, LAST SYNC, MESSAGE; NAMESPACE first with -A), laid out and
aged as kubectl prints its tables.

READY, REASON and MESSAGE are the Ready condition's; MODELS is status.modelRefs.selected;
LAST SYNC is the time since status.lastSuccessfulSyncTime. A value the sync does not have
yet shows as <none>.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from modelsync.cli.tables import format_table, human_duration

if TYPE_CHECKING:
    from modelsync.cli.cluster import Cluster

__all__ = [
    "COLUMNS",
    "add_arguments",
    "format_table",
    "human_duration",
    "run",
    "sync_rows",
]

COLUMNS = ("NAME", "READY", "REASON", "MODELS", "LAST SYNC", "MESSAGE")
_NONE = "<none>"
_OUTPUTS = ("json", "yaml", "name")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from modelsync.cli.cluster import add_cluster_arguments

    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="ModelCatalogSyncs to show (default: all)"
    )
    add_cluster_arguments(parser)
    parser.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="show the syncs of every namespace, with a NAMESPACE column (default: off)",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=_OUTPUTS,
        help="print the objects as json or yaml, or only their names (default: the table)",
    )


def _age(stamp: object, now: datetime) -> str:
    from modelsync.api.timestamps import is_rfc3339, parse_time

    if not isinstance(stamp, str) or not is_rfc3339(stamp):
        return _NONE
    return human_duration((now - parse_time(stamp.upper())).total_seconds())


def _text(value: object) -> str:
    if value is None or value == "":
        return _NONE
    return " ".join(str(value).split())


def sync_rows(
    items: Sequence[Mapping[str, Any]], now: datetime, *, namespaces: bool = False
) -> list[list[str]]:
    """The table's cells (COLUMNS, after NAMESPACE when `namespaces`), sorted by namespace
    and name as kubectl lists them."""
    from modelsync.api.conditions import raw_condition
    from modelsync.api.constants import CONDITION_READY

    rows = []
    for item in items:
        meta = item.get("metadata") or {}
        status = item.get("status") or {}
        ready = raw_condition(status, CONDITION_READY) or {}
        row = [
            str(meta.get("name", "")),
            _text(ready.get("status")),
            _text(ready.get("reason")),
            _text((status.get("modelRefs") or {}).get("selected")),
            _age(status.get("lastSuccessfulSyncTime"), now),
            " ".join(str(ready.get("message") or "").split()),
        ]
        rows.append([str(meta.get("namespace", "")), *row] if namespaces else row)
    return sorted(rows, key=lambda row: row[:2] if namespaces else row[:1])


def _listing(items: list[dict[str, Any]]) -> dict[str, Any]:
    """What kubectl prints for several objects with -o json|yaml."""
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def _print_objects(items: list[dict[str, Any]], output: str, single: bool) -> None:
    import json

    from modelsync.api.constants import GROUP, KIND_SYNC

    if output == "name":
        for item in items:
            print(f"{KIND_SYNC.lower()}.{GROUP}/{(item.get('metadata') or {}).get('name', '')}")
        return
    document = items[0] if single else _listing(items)
    if output == "json":
        print(json.dumps(document, indent=4, sort_keys=True, ensure_ascii=False))
    else:
        import yaml

        print(yaml.safe_dump(document, default_flow_style=False, sort_keys=True), end="")


def run(args: argparse.Namespace) -> int:
    import sys

    if args.all_namespaces and args.names:
        print(
            "modelsync get: a sync cannot be named across all namespaces: drop -A, or drop "
            "the names and pick the namespace with -n",
            file=sys.stderr,
        )
        return 2

    from modelsync.cli.cluster import run_on_cluster

    async def work(cluster: Cluster) -> int:
        return await _get(cluster, args)

    return run_on_cluster("get", args, work)


async def _get(cluster: Cluster, args: argparse.Namespace) -> int:
    import sys
    from datetime import UTC

    from modelsync.cli.cluster import is_missing_object
    from modelsync.kube.errors import KubeApiError
    from modelsync.kube.modelcatalogsyncs import get_sync, list_syncs

    items: list[dict[str, Any]] = []
    code = 0
    if args.names:
        for name in dict.fromkeys(args.names):
            try:
                items.append(await get_sync(cluster.api, cluster.namespace, name))
            except KubeApiError as exc:
                if not is_missing_object(exc):
                    raise  # one line for the whole command, not one per name
                print(f"modelsync get: {cluster.sync_failure(exc, name)}", file=sys.stderr)
                code = 1
    else:
        namespace = None if args.all_namespaces else cluster.namespace
        items = await list_syncs(cluster.api, namespace)
        if not items:
            where = "" if namespace is None else f" in {namespace} namespace"
            print(f"No resources found{where}.", file=sys.stderr)
            return 0
    if not items:
        return code
    if args.output is not None:
        _print_objects(items, args.output, single=len(args.names) == 1)
        return code
    header = ("NAMESPACE", *COLUMNS) if args.all_namespaces else COLUMNS
    rows = sync_rows(items, datetime.now(UTC), namespaces=args.all_namespaces)
    print(format_table(header, rows), end="")
    return code
