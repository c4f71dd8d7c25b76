"""`modelsync sandbox kube`: serve the in-memory Kubernetes API until interrupted.

Import-light on purpose: `modelsync --help` imports this module.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["HELP", "add_arguments", "run"]

HELP = "serve a local Kubernetes API"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=6443, help="port to bind, 0 for any free one (default 6443)"
    )
    parser.add_argument(
        "--kubeconfig-out",
        type=Path,
        default=Path("sandbox.kubeconfig"),
        metavar="FILE",
        help="where to write a kubeconfig for clients (default ./sandbox.kubeconfig)",
    )
    parser.add_argument(
        "--token",
        default="sandbox-token",
        help="bearer token clients must send (default sandbox-token); empty for no authentication",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="load objects from FILE at start and keep saving them there",
    )


def run(args: argparse.Namespace) -> int:
    import asyncio
    import signal
    import sys

    from modelsync_sandbox.kube.sandbox import KubeSandbox

    async def serve() -> int:
        sandbox = KubeSandbox(
            host=args.host,
            port=args.port,
            token=args.token or None,
            state_file=args.state_file,
            kubeconfig_path=args.kubeconfig_out,
        )
        try:
            await sandbox.start()
        except OSError as exc:
            print(
                f"modelsync sandbox kube: cannot serve on {args.host}:{args.port}: "
                f"{exc.strerror or exc}",
                file=sys.stderr,
            )
            await sandbox.stop()
            return 1
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        print(f"Kubernetes API sandbox serving at {sandbox.url}", flush=True)
        print(f"export KUBECONFIG={sandbox.kubeconfig_path.resolve()}", flush=True)
        print(f"inject API faults: POST {sandbox.url}/_sandbox/faults", flush=True)
        try:
            await stopping.wait()
        finally:
            await sandbox.stop()
        print("stopped", flush=True)
        return 0

    return asyncio.run(serve())
