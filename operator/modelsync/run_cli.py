"""`modelsync run`: start the operator. Imports Kopf and the runtime only when it runs."""

from __future__ import annotations

import argparse
import logging
from datetime import timedelta

__all__ = ["add_arguments", "run"]


def _duration(text: str) -> float:
    from modelsync.api.duration import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= timedelta(0):
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value.total_seconds()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cluster = parser.add_argument_group("cluster")
    cluster.add_argument(
        "--kubeconfig",
        help="kubeconfig file (default: $KUBECONFIG, in-cluster service account, ~/.kube/config)",
    )
    cluster.add_argument("--context", help="kubeconfig context to use")
    scope = cluster.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        dest="namespaces",
        action="append",
        default=[],
        metavar="NS",
        help="watch only this namespace (repeatable; globs like 'ml-*' work)",
    )
    scope.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="watch all namespaces (the default)",
    )
    peers = cluster.add_mutually_exclusive_group()
    peers.add_argument(
        "--standalone",
        action="store_true",
        help="run without peering (only one replica may run)",
    )
    peers.add_argument(
        "--peering",
        metavar="NAME",
        help="Kopf peering object shared by replicas: one active at a time (requires the "
        "kopf.dev peering CRDs); default: peer if the 'default' peering object exists",
    )
    cluster.add_argument("--priority", type=int, default=0, help="peering priority")

    ops = parser.add_argument_group("operations")
    ops.add_argument(
        "--liveness",
        metavar="URL",
        help="serve a liveness endpoint, e.g. http://0.0.0.0:8080/healthz",
    )
    ops.add_argument("--log-format", choices=["text", "json"], default="text")
    ops.add_argument("--verbose", action="store_true", help="debug logging")

    policy = parser.add_argument_group("catalog and limits")
    policy.add_argument(
        "--allowed-hosts",
        action="append",
        default=[],
        metavar="PATTERN",
        help="catalog URLs the operator may call, as scheme://host[:port] with * wildcards "
        "(repeatable or comma-separated; default: https://*, any https host)",
    )
    policy.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="also allow plain http to the allowed hosts (local sandboxes only)",
    )
    policy.add_argument("--max-concurrent-syncs", type=_positive_int, default=4)
    policy.add_argument("--max-concurrent-writes", type=_positive_int, default=16)
    policy.add_argument(
        "--default-interval",
        type=_duration,
        default=300.0,
        metavar="DURATION",
        help="sync interval when a spec has none (default 5m)",
    )
    policy.add_argument(
        "--secret-check-interval",
        type=_duration,
        default=10.0,
        metavar="DURATION",
        help="how often referenced Secrets are re-read to notice changes (default 10s)",
    )
    policy.add_argument(
        "--status-heartbeat",
        type=_duration,
        default=1800.0,
        metavar="DURATION",
        help="refresh status timestamps at least this often even when nothing changed "
        "(default 30m)",
    )
    policy.add_argument(
        "--catalog-attempts",
        type=_positive_int,
        default=4,
        help="tries per catalog request, the first included (default 4)",
    )


def run(args: argparse.Namespace) -> int:
    import asyncio

    import kopf

    from modelsync.kube.errors import KubeConfigError
    from modelsync.operator_main import KopfOptions, run_operator
    from modelsync.runtime.config import OperatorConfig
    from modelsync.runtime.hosts import DEFAULT_ALLOWED_HOSTS, AllowedHosts

    kopf.configure(
        verbose=args.verbose,
        log_format=kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.FULL,
    )
    quiet = ["httpx", "httpcore", "urllib3", "kubernetes"]
    if not args.verbose:
        quiet.append("kopf.objects")  # one "Handler ... succeeded" line per watch event
    for noisy in quiet:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    patterns = [p.strip() for raw in args.allowed_hosts for p in raw.split(",") if p.strip()]
    try:
        hosts = AllowedHosts.parse(
            patterns or DEFAULT_ALLOWED_HOSTS, allow_insecure_http=args.allow_insecure_http
        )
        config = OperatorConfig(
            allowed_hosts=hosts,
            max_concurrent_syncs=args.max_concurrent_syncs,
            max_concurrent_writes=args.max_concurrent_writes,
            default_interval=args.default_interval,
            secret_check_interval=args.secret_check_interval,
            status_heartbeat=args.status_heartbeat,
            catalog_attempts=args.catalog_attempts,
        )
    except ValueError as exc:
        print(f"modelsync run: {exc}")
        return 2
    options = KopfOptions(
        namespaces=tuple(args.namespaces),
        standalone=args.standalone,
        peering_name=args.peering,
        priority=args.priority,
        liveness_endpoint=args.liveness,
        kubeconfig=args.kubeconfig,
        context=args.context,
    )
    try:
        asyncio.run(run_operator(config, options))
    except KubeConfigError as exc:
        print(f"modelsync run: {exc}")
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (`python -m modelsync.run_cli`), same as `modelsync run`."""
    parser = argparse.ArgumentParser(prog="modelsync run")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
