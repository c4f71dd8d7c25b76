"""`modelsync sandbox catalog`: serve the sandbox catalog until SIGINT/SIGTERM.

Import-light on purpose (`modelsync --help` imports it): the server and
aiohttp load only in `run`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["HELP", "add_arguments", "run", "usage_line"]

HELP = "serve a local catalog API"

_SHIPPED_FIXTURES = Path(__file__).parent / "fixtures" / "catalog.json"
_PUBLIC_TOKEN = "sandbox-token"  # noqa: S105 - the documented sandbox token, not a secret
_TOKEN_ENV = "MODELSYNC_SANDBOX_TOKEN"  # noqa: S105 - a variable name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fixtures",
        type=Path,
        default=_SHIPPED_FIXTURES,
        metavar="FILE",
        help="fixture JSON (default: the shipped acme catalog)",
    )
    parser.add_argument("--port", type=int, default=8181, metavar="N", help="default 8181")
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    parser.add_argument(
        "--token",
        default=os.environ.get(_TOKEN_ENV, _PUBLIC_TOKEN),
        metavar="T",
        help=f"bearer token clients must send (default ${_TOKEN_ENV} or {_PUBLIC_TOKEN!r})",
    )
    parser.add_argument("--no-auth", action="store_true", help="accept requests without a token")


def run(args: argparse.Namespace) -> int:
    import asyncio

    from modelsync_sandbox.catalog_store import FixtureError

    try:
        return asyncio.run(_serve(args))
    except FixtureError as exc:
        print(f"modelsync sandbox catalog: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"modelsync sandbox catalog: cannot listen: {exc.strerror or exc}", file=sys.stderr)
        return 1


def usage_line(url: str, token: str | None) -> str:
    """The one line printed at start-up; shows the token only if it is the public default."""
    example = f"'{url}/api/ml/v1/models?limit=2&offset=1'"
    if token is None:
        curl = f"curl {example}"
    elif token == _PUBLIC_TOKEN:
        curl = f"curl -H 'Authorization: Bearer {token}' {example}"
    else:
        curl = f'curl -H "Authorization: Bearer $TOKEN" {example}'
    return f"sandbox catalog serving at {url}  (admin: {url}/_sandbox/...)  try: {curl}"


async def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from modelsync_sandbox.catalog_server import CatalogSandbox

    token: str | None = None if args.no_auth else str(args.token)
    sandbox = CatalogSandbox(Path(args.fixtures), token=token, host=args.host, port=args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with sandbox:
        print(usage_line(sandbox.url, token), flush=True)
        await stop.wait()
    return 0
