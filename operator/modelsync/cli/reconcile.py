"""`modelsync reconcile NAME [--model REPO/NAME ...] [--wait]`: ask the operator to sync a
ModelCatalogSync now, or to refresh only the named models.

Sets the annotation `modelsync.dev/reconcile-requested-at` to the current time and, in the
same merge patch, `modelsync.dev/reconcile-models` to the named models (removed when none are
named, so the request is a full sync); with `--wait`, waits until the operator echoes the
time in status.lastHandledReconcileAt, then shows the named models' ModelRefs. With `--wait`
the exit status is 0 only when the sync is then `Ready=True`; otherwise 1, with the Ready
condition's reason and message on stderr.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelsync.cli.cluster import Cluster
    from modelsync.kube.client import KubeApi

__all__ = ["add_arguments", "model_argument", "request_and_wait", "run"]


def model_argument(text: str) -> str:
    """`--model`'s value, checked: REPO/NAME or model:TENANT/REPO/NAME."""
    from modelsync.api.model_names import parse_model_name

    try:
        return str(parse_model_name(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from modelsync.cli.cluster import add_cluster_arguments

    parser.add_argument("name", help="ModelCatalogSync name")
    parser.add_argument(
        "--model",
        dest="models",
        action="append",
        default=[],
        type=model_argument,
        metavar="REPO/NAME",
        help=(
            "refresh only this model (repeatable; or its fqn model:TENANT/REPO/NAME) instead "
            "of a full sync; a model the catalog lacks or the sync does not select is named in "
            "a ModelsNotRefreshed Warning Event of the ModelCatalogSync (default: a full sync)"
        ),
    )
    add_cluster_arguments(parser)
    parser.add_argument(
        "--wait",
        action="store_true",
        help=(
            "wait until the operator has handled the request; exit 0 only if the sync is then "
            "Ready=True, else 1 with the Ready condition's reason and message on stderr "
            "(default: return once the request is made)"
        ),
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long --wait waits for the operator (default: 60)",
    )


def run(args: argparse.Namespace) -> int:
    from modelsync.cli.cluster import run_on_cluster

    async def work(cluster: Cluster) -> int:
        from modelsync.cli.cluster import CommandFailed
        from modelsync.kube.errors import KubeApiError

        try:
            return await request_and_wait(
                cluster.api,
                cluster.namespace,
                args.name,
                wait=args.wait,
                wait_seconds=args.timeout,
                models=args.models,
            )
        except KubeApiError as exc:
            raise CommandFailed(cluster.sync_failure(exc, args.name)) from None

    return run_on_cluster("reconcile", args, work)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _ready(status: dict[str, Any]) -> tuple[bool, str]:
    """(Ready=True?, `Ready=STATUS (REASON): MESSAGE`) of a sync's status."""
    from modelsync.api.conditions import raw_condition
    from modelsync.api.constants import CONDITION_READY

    condition = raw_condition(status, CONDITION_READY)
    if condition is None:
        return False, "no Ready condition"
    reason = condition.get("reason", "")
    message = _one_line(str(condition.get("message") or ""))
    text = f"Ready={condition.get('status')} ({reason}){': ' + message if message else ''}"
    return condition.get("status") == "True", text


def _modelref_name(model: str) -> str | None:
    """The ModelRef name of a named model, where the name alone decides it: always for an
    fqn; for REPO/NAME when the name is used verbatim (`REPO.NAME`, see api/naming.py)."""
    from modelsync.api.model_names import parse_model_name
    from modelsync.api.naming import modelref_name

    named = parse_model_name(model)
    if named.fqn is not None:
        return modelref_name(named.repo, named.name, named.fqn)
    verbatim = f"{named.repo}.{named.name}"
    # A hashed name never equals the verbatim one, whatever fqn it hashes.
    return verbatim if modelref_name(named.repo, named.name, "") == verbatim else None


async def _show_modelref(api: KubeApi, namespace: str, model: str) -> None:
    from modelsync.api.conditions import raw_condition
    from modelsync.api.constants import CONDITION_READY
    from modelsync.kube.errors import KubeApiError, KubeNotFound
    from modelsync.kube.modelrefs import get_modelref

    ref = _modelref_name(model)
    if ref is None:
        print(f"{model}: its ModelRef name depends on the tenant; name the model by its fqn")
        return
    try:
        obj = await get_modelref(api, namespace, ref)
    except KubeNotFound:
        print(
            f"modelref {namespace}/{ref}: not found; see the ModelsNotRefreshed Events "
            "of the ModelCatalogSync"
        )
        return
    except KubeApiError as exc:  # e.g. no `get` on modelrefs: the request itself succeeded
        print(f"modelref {namespace}/{ref}: {exc}")
        return
    version = ((obj.get("spec") or {}).get("version") or {}).get("version")
    condition = raw_condition(obj.get("status") or {}, CONDITION_READY) or {}
    ready = f"Ready={condition.get('status', 'Unknown')} ({condition.get('reason', '')})"
    print(f"modelref {namespace}/{ref}: version {version}, {ready}")


async def request_and_wait(
    api: KubeApi,
    namespace: str,
    name: str,
    *,
    wait: bool,
    wait_seconds: float,
    poll: float = 0.25,
    models: Sequence[str] = (),
) -> int:
    """Annotate the sync (naming `models`, if any); with `wait`, poll until the operator
    echoes the value, then show the named models' ModelRefs. Exit code: with `wait`, 0 only
    when the sync is then Ready=True (else 1 and the Ready condition on stderr)."""
    import asyncio
    import sys
    from datetime import UTC, datetime

    from modelsync.api.constants import (
        ANNOTATION_RECONCILE_MODELS,
        ANNOTATION_RECONCILE_REQUESTED_AT,
    )
    from modelsync.api.model_names import format_reconcile_models
    from modelsync.api.timestamps import format_time_precise
    from modelsync.kube.modelcatalogsyncs import get_sync, request_reconcile

    value = format_time_precise(datetime.now(UTC))
    await request_reconcile(api, namespace, name, value, models=models)
    annotated = f"{ANNOTATION_RECONCILE_REQUESTED_AT}={value}"
    if models:
        annotated += f" {ANNOTATION_RECONCILE_MODELS}={format_reconcile_models(models)}"
    print(f"modelcatalogsync {namespace}/{name} annotated {annotated}")
    if not wait:
        return 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while loop.time() < deadline:
        status = (await get_sync(api, namespace, name)).get("status") or {}
        if status.get("lastHandledReconcileAt") == value:
            break
        await asyncio.sleep(poll)
    else:
        print(
            f"modelsync reconcile: timed out after {wait_seconds:g}s waiting for the operator "
            f"to handle the request (status.lastHandledReconcileAt of modelcatalogsync "
            f"{namespace}/{name} is not {value}): is the operator running and watching "
            f"namespace {namespace}? (--timeout waits longer)",
            file=sys.stderr,
        )
        return 1
    ready, condition = _ready(status)
    if models:
        named = sorted(set(models))
        print(f"modelcatalogsync {namespace}/{name} handled the refresh of {', '.join(named)}")
        for model in named:
            await _show_modelref(api, namespace, model)
    elif ready:
        print(f"modelcatalogsync {namespace}/{name} synced: {condition}")
    if ready:
        return 0
    print(
        f"modelsync reconcile: modelcatalogsync {namespace}/{name} handled the request but is "
        f"not Ready: {condition}",
        file=sys.stderr,
    )
    return 1
