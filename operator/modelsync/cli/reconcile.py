"""`modelsync reconcile NAME`: ask the operator to sync a ModelCatalogSync now.

Sets the annotation `modelsync.dev/reconcile-requested-at` to the current time (a merge
patch); with `--wait`, waits until the operator echoes it in status.lastHandledReconcileAt.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelsync.kube.client import KubeApi

__all__ = ["add_arguments", "request_and_wait", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="ModelCatalogSync name")
    parser.add_argument("-n", "--namespace", help="namespace (default: the context's)")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ...)")
    parser.add_argument("--context", help="kubeconfig context to use")
    parser.add_argument(
        "--wait", action="store_true", help="wait until the operator has handled the request"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, metavar="SECONDS", help="for --wait (default 60)"
    )


def run(args: argparse.Namespace) -> int:
    import asyncio

    from modelsync.kube.client import KubeApi, current_namespace, load_configuration
    from modelsync.kube.errors import KubeApiError, KubeConfigError, KubeNotFound

    try:
        configuration = load_configuration(args.kubeconfig, args.context)
    except KubeConfigError as exc:
        print(f"modelsync reconcile: {exc}")
        return 1
    namespace = args.namespace or current_namespace(args.kubeconfig, args.context)
    api = KubeApi(configuration, max_workers=2)
    try:
        return asyncio.run(
            request_and_wait(api, namespace, args.name, wait=args.wait, wait_seconds=args.timeout)
        )
    except KubeNotFound:
        print(f'modelsync reconcile: ModelCatalogSync "{args.name}" not found in "{namespace}"')
        return 1
    except KubeApiError as exc:
        print(f"modelsync reconcile: {exc}")
        return 1
    finally:
        api.close()


def _ready(status: dict[str, Any]) -> str:
    from modelsync.api.conditions import raw_condition
    from modelsync.api.constants import CONDITION_READY

    condition = raw_condition(status, CONDITION_READY)
    if condition is None:
        return "Ready unknown"
    reason = condition.get("reason", "")
    message = condition.get("message", "")
    return f"Ready={condition.get('status')} ({reason}){': ' + message if message else ''}"


async def request_and_wait(
    api: KubeApi, namespace: str, name: str, *, wait: bool, wait_seconds: float, poll: float = 0.25
) -> int:
    """Annotate the sync; with `wait`, poll until the operator echoes the value. Exit code."""
    import asyncio
    from datetime import UTC, datetime

    from modelsync.api.constants import ANNOTATION_RECONCILE_REQUESTED_AT
    from modelsync.api.timestamps import format_time_precise
    from modelsync.kube.modelcatalogsyncs import get_sync, request_reconcile

    value = format_time_precise(datetime.now(UTC))
    await request_reconcile(api, namespace, name, value)
    print(
        f"modelcatalogsync {namespace}/{name} annotated {ANNOTATION_RECONCILE_REQUESTED_AT}={value}"
    )
    if not wait:
        return 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while loop.time() < deadline:
        status = (await get_sync(api, namespace, name)).get("status") or {}
        if status.get("lastHandledReconcileAt") == value:
            print(f"modelcatalogsync {namespace}/{name} synced: {_ready(status)}")
            return 0
        await asyncio.sleep(poll)
    print(f"modelsync reconcile: timed out after {wait_seconds:g}s waiting for the operator")
    return 1
