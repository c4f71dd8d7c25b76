"""`modelsync render`: check ModelCatalogSyncs as the API server and the operator would, then
print the ModelRefs they would produce (no cluster needed).

Exit status: 0 rendered; 1 the input is invalid (every problem printed, one line each, and
nothing rendered); 2 a usage error (bad flags, an unreadable file, no token, a flag the
catalog URL needs); 3 a catalog could not be listed as the render needs.

Import-light: the validation, the catalog client and the planner load only in `run`.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from modelsync.cli.types import positive_int

if TYPE_CHECKING:
    from modelsync.render import RenderResult, RenderTarget

__all__ = ["add_arguments", "run"]

_TOKEN_ENV = "MODELSYNC_TOKEN"  # noqa: S105 - the name of a variable
_STDIN = "-"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check ModelCatalogSyncs as the API server would (the CRD's schema and CEL rules, "
        "unknown fields refused) and as the operator would, then list the catalog each one "
        "names and print the ModelRefs the operator would create for it (same planner, same "
        "names and labels). For GitOps repositories and CI; no cluster is contacted."
    )
    parser.epilog = (
        "exit status: 0 rendered; 1 invalid input (every problem printed, one line each); "
        "2 usage error (unreadable file, no token, a missing flag); 3 a catalog could not "
        "be listed"
    )
    parser.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        required=True,
        metavar="FILE",
        help="YAML or JSON with ModelCatalogSyncs (any number, and optionally their "
        "token/CA Secrets; other kinds are ignored); repeatable, '-' reads standard input",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("yaml", "json"),
        default="yaml",
        help="yaml: multi-document YAML with a comment header per sync; json: one kind: List "
        "(default yaml)",
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
        help="namespace of the ModelRefs (default: each sync's own, else 'default')",
    )
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow a plain-http catalog URL (local sandboxes only; default off)",
    )
    parser.add_argument(
        "--no-status",
        action="store_true",
        help="leave out the status block (byte-for-byte stable output while the catalog "
        "does not change; default: status included)",
    )
    parser.add_argument(
        "--catalog-attempts",
        type=positive_int,
        default=4,
        metavar="N",
        help="tries per catalog request, the first included (default 4)",
    )


def _read(path: str) -> tuple[str, str]:
    if path == _STDIN:
        return "<stdin>", sys.stdin.read()
    with open(path, encoding="utf-8") as handle:
        return path, handle.read()


def _say(line: str) -> None:
    print(f"modelsync render: {line}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import os
    from datetime import UTC, datetime

    from modelsync.catalog import CatalogError
    from modelsync.render import (
        EXIT_CATALOG,
        EXIT_INVALID,
        EXIT_USAGE,
        RenderError,
        claimed_twice,
        header,
        load_documents,
        render,
        rendered_modelrefs,
        resolve_target,
        to_json,
        to_yaml,
        validate_syncs,
    )
    from modelsync.runtime.hosts import DEFAULT_ALLOWED_HOSTS, AllowedHosts

    if args.files.count(_STDIN) > 1:
        _say("'-' (standard input) can be given only once")
        return EXIT_USAGE
    try:
        sources = [_read(path) for path in args.files]
    except OSError as exc:
        reason = exc.strerror or str(exc)
        _say(f"cannot read {exc.filename}: {reason}")
        return EXIT_USAGE
    except UnicodeDecodeError as exc:
        _say(f"cannot read the input: not UTF-8 text ({exc.reason})")
        return EXIT_INVALID
    given = load_documents(sources)
    syncs, problems = validate_syncs(given, namespace=args.namespace)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        count = len(problems)
        _say(f"{count} problem{'s' if count != 1 else ''} found; nothing rendered")
        return EXIT_INVALID

    hosts = AllowedHosts.parse(DEFAULT_ALLOWED_HOSTS, allow_insecure_http=args.allow_insecure_http)
    now = datetime.now(UTC)
    rendered: list[tuple[RenderTarget, RenderResult, list[dict[str, Any]]]] = []
    try:
        targets = [
            resolve_target(
                sync,
                given.secrets,
                environ=os.environ,
                token_env=args.token_env,
                allowed_hosts=hosts,
            )
            for sync in sorted(syncs, key=lambda s: (s.namespace, s.name))
        ]
        for target in targets:
            for warning in target.warnings:
                _say(f"warning: {warning}")
        for target in targets:
            what = f"ModelCatalogSync {target.namespace}/{target.name}"
            try:
                result = asyncio.run(render(target, now=now, attempts=args.catalog_attempts))
            except CatalogError as exc:
                _say(f"{what}: listing the catalog failed ({exc.reason}): {exc}")
                return EXIT_CATALOG
            _report(what, target, result)
            docs = rendered_modelrefs(result.plan, with_status=not args.no_status)
            rendered.append((target, result, docs))
    except RenderError as exc:
        _say(str(exc))
        return exc.exit_code
    conflicts = claimed_twice([(target, docs) for target, _, docs in rendered])
    if conflicts:
        for line in conflicts:
            _say(line)
        return EXIT_INVALID
    if args.output == "json":
        sys.stdout.write(to_json([doc for _, _, docs in rendered for doc in docs]))
    else:
        for target, result, docs in rendered:
            sys.stdout.write(to_yaml(docs, header(target, result, len(docs))))
    return 0


def _report(what: str, target: RenderTarget, result: RenderResult) -> None:
    """Warnings about one sync's render: skipped models, models that failed, suspension."""
    for skipped in result.listing.skipped:
        _say(f"warning: {what}: skipped invalid model {skipped.id}: {skipped.reason}")
    for failure in result.failures:
        _say(f"warning: {what}: {failure.model}: {failure.reason}: {failure.message}")
    if target.spec.suspend:
        _say(
            f"note: {what}: spec.suspend is true; the operator writes nothing while it stays "
            "suspended"
        )
