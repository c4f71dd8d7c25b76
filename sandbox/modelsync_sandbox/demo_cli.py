"""`modelsync demo`: sandboxes, operator and an example sync in one command.

Import-light on purpose (`modelsync --help` imports it): the sandboxes, Kopf and the
Kubernetes client load only in `run`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from modelsync.cli.types import port, positive_seconds

__all__ = ["HELP", "add_arguments", "run"]

HELP = "run the sandboxes, the operator and an example sync"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Start the sandbox catalog and the sandbox Kubernetes API on 127.0.0.1, apply the "
        "CRDs and an example ModelCatalogSync, run the operator, and print the ModelRefs it "
        "creates. Runs until Ctrl-C."
    )
    parser.add_argument("--once", action="store_true", help="exit after the first successful sync")
    parser.add_argument(
        "--catalog-port", type=port, default=0, metavar="N", help="default: any free port"
    )
    parser.add_argument(
        "--kube-port", type=port, default=0, metavar="N", help="default: any free port"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="where the kubeconfig and the operator log go (kept); default: a temporary "
        "directory removed at exit",
    )
    parser.add_argument(
        "--crds",
        type=Path,
        metavar="DIR",
        help="directory of the CRD YAML files (default: the CRDs the modelsync package carries)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=60.0,
        metavar="SECONDS",
        help="give up when the sync is not Ready after this long (default 60)",
    )


def run(args: argparse.Namespace) -> int:
    from modelsync_sandbox.demo import DemoOptions, run_demo

    return run_demo(
        DemoOptions(
            once=args.once,
            catalog_port=args.catalog_port,
            kube_port=args.kube_port,
            workdir=args.workdir,
            crds=args.crds,
            timeout=args.timeout,
        )
    )
