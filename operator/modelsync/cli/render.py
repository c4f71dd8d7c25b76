"""`modelsync render`: print the ModelRefs a ModelCatalogSync would produce (no cluster needed).

Import-light: the catalog client and the planner load only in `run`.
"""

from __future__ import annotations

import argparse
import sys

from modelsync.cli.types import positive_int

__all__ = ["add_arguments", "run"]

_TOKEN_ENV = "MODELSYNC_TOKEN"  # noqa: S105 - the name of a variable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "List the catalog a ModelCatalogSync names and print, as multi-document YAML, the "
        "ModelRefs the operator would create for it (same planner, same names and labels). "
        "For GitOps repositories and CI; no cluster is contacted."
    )
    parser.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        required=True,
        metavar="FILE",
        help="YAML with one ModelCatalogSync (and optionally its token/CA Secrets); "
        "repeatable, '-' reads standard input",
    )
    parser.add_argument(
        "--token-env",
        default=_TOKEN_ENV,
        metavar="VAR",
        help=f"environment variable holding the catalog token (default {_TOKEN_ENV}); "
        "when unset, the Secret named by tokenSecretRef is read from the input files",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        metavar="NS",
        help="namespace of the ModelRefs (default: the sync's, else 'default')",
    )
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow a plain-http catalog URL (local sandboxes only)",
    )
    parser.add_argument(
        "--no-status",
        action="store_true",
        help="leave out the status block (steadier diffs in Git)",
    )
    parser.add_argument(
        "--catalog-attempts",
        type=positive_int,
        default=4,
        metavar="N",
        help="tries per catalog request, the first included (default 4)",
    )


def _read(path: str) -> tuple[str, str]:
    if path == "-":
        return "<stdin>", sys.stdin.read()
    with open(path, encoding="utf-8") as handle:
        return path, handle.read()


def run(args: argparse.Namespace) -> int:
    import asyncio
    import os
    from datetime import UTC, datetime

    from modelsync.catalog import CatalogError
    from modelsync.render import (
        RenderError,
        header,
        load_documents,
        render,
        rendered_modelrefs,
        resolve_target,
        to_yaml,
    )
    from modelsync.runtime.hosts import DEFAULT_ALLOWED_HOSTS, AllowedHosts

    def fail(message: str, code: int) -> int:
        print(f"modelsync render: {message}", file=sys.stderr)
        return code

    try:
        sources = [_read(path) for path in args.files]
    except OSError as exc:
        return fail(f"cannot read {exc.filename}: {exc.strerror}", 2)
    now = datetime.now(UTC)
    try:
        target = resolve_target(
            load_documents(sources),
            environ=os.environ,
            token_env=args.token_env,
            namespace=args.namespace,
            allowed_hosts=AllowedHosts.parse(
                DEFAULT_ALLOWED_HOSTS, allow_insecure_http=args.allow_insecure_http
            ),
        )
        for warning in target.warnings:
            print(f"modelsync render: warning: {warning}", file=sys.stderr)
        result = asyncio.run(render(target, now=now, attempts=args.catalog_attempts))
    except RenderError as exc:
        return fail(str(exc), exc.exit_code)
    except CatalogError as exc:
        return fail(f"listing the catalog failed ({exc.reason}): {exc}", 1)
    for skipped in result.listing.skipped:
        print(
            f"modelsync render: warning: skipped invalid model {skipped.id}: {skipped.reason}",
            file=sys.stderr,
        )
    for failure in result.failures:
        print(
            f"modelsync render: warning: {failure.model}: {failure.reason}: {failure.message}",
            file=sys.stderr,
        )
    if target.spec.suspend:
        print(
            "modelsync render: note: spec.suspend is true; the operator writes nothing while "
            "it stays suspended",
            file=sys.stderr,
        )
    docs = rendered_modelrefs(result.plan, with_status=not args.no_status)
    sys.stdout.write(to_yaml(docs, header(target, result, len(docs))))
    return 0
