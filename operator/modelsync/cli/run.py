"""`modelsync run`: start the operator. Imports Kopf and the runtime only when it runs."""

from __future__ import annotations

import argparse
import logging
import sys
import urllib.parse
from typing import TYPE_CHECKING

from modelsync.cli.environment import ENV_PREFIX, Append, bind_environment
from modelsync.cli.types import byte_size, duration, http_url, object_name, port, positive_int

if TYPE_CHECKING:
    from modelsync.api.label_selector import LabelSelector
    from modelsync.cli.kopf_main import KopfOptions
    from modelsync.runtime.config import OperatorConfig
    from modelsync.runtime.leader_loop import LeaderElectionConfig
    from modelsync.runtime.webhook import WebhookConfig

__all__ = [
    "DEFAULT_LIVENESS",
    "DEFAULT_METRICS_PORT",
    "add_arguments",
    "endpoint_clash",
    "leader_election_config",
    "lease_name",
    "operator_config",
    "run",
    "sync_selector",
]

logger = logging.getLogger(__name__)

DEFAULT_METRICS_PORT = 8080
DEFAULT_LIVENESS = "http://0.0.0.0:8081/healthz"

_EPILOG = (
    "Endpoints: Prometheus metrics at http://HOST:PORT/metrics (--metrics-host, "
    f"--metrics-port; default 0.0.0.0:{DEFAULT_METRICS_PORT}), the liveness probe at "
    f"--liveness (default {DEFAULT_LIVENESS}), and the webhook POST /hooks/NAMESPACE/NAME at "
    "--webhook-port (default off); they must use different ports. "
    f"Environment: every option but -A also reads the variable {ENV_PREFIX}<OPTION> shown "
    f"after its help (--max-concurrent-writes: {ENV_PREFIX}MAX_CONCURRENT_WRITES); an option "
    "on the command line wins over its variable. Booleans take true or false, repeatable "
    "options a comma-separated list."
)
# -A has no variable: all namespaces is what an unset MODELSYNC_NAMESPACE means.
_NO_VARIABLE = ("--all-namespaces",)


def endpoint_clash(liveness: str, metrics_port: int, webhook_port: int = 0) -> str | None:
    """Why the liveness URL, the metrics port and the webhook port cannot all be served, or
    None (port 0 and an empty URL: not served)."""
    served = [
        *(
            [(f"--liveness {liveness}", urllib.parse.urlsplit(liveness).port or 80)]
            if liveness
            else []
        ),
        *([(f"--metrics-port {metrics_port}", metrics_port)] if metrics_port else []),
        *([(f"--webhook-port {webhook_port}", webhook_port)] if webhook_port else []),
    ]
    for index, (first, number) in enumerate(served):
        for second, other in served[index + 1 :]:
            if number == other:
                return f"{first} and {second} use the same port; give them different ports"
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = _EPILOG
    _add_cluster_flags(parser)
    _add_leader_election_flags(parser)
    _add_endpoint_flags(parser)
    _add_catalog_flags(parser)
    _add_limit_flags(parser)
    bind_environment(parser, exclude=_NO_VARIABLE)


def _add_cluster_flags(parser: argparse.ArgumentParser) -> None:
    cluster = parser.add_argument_group("cluster")
    cluster.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="kubeconfig file (default: $KUBECONFIG, in-cluster service account, ~/.kube/config)",
    )
    cluster.add_argument(
        "--context", help="kubeconfig context to use (default: the kubeconfig's current-context)"
    )
    scope = cluster.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        dest="namespaces",
        action=Append,
        default=[],
        metavar="NS",
        help="watch only this namespace (repeatable; globs like 'ml-*' work; default: all "
        "namespaces)",
    )
    scope.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="watch all namespaces (the default; overrides MODELSYNC_NAMESPACE)",
    )
    cluster.add_argument(
        "--sync-selector",
        type=sync_selector,
        metavar="SELECTOR",
        help="shard: take only the ModelCatalogSyncs whose labels match this label selector "
        "(kubectl -l syntax, e.g. 'modelsync.dev/shard=a' or 'team in (risk,fraud)') and only "
        "their ModelRefs; each shard elects its own leader (default: every sync)",
    )


def _add_leader_election_flags(parser: argparse.ArgumentParser) -> None:
    from modelsync.runtime.leader_loop import DEFAULT_LEASE_NAME

    election = parser.add_argument_group(
        "leader election",
        "Replicas elect one leader through a coordination.k8s.io/v1 Lease; only the leader "
        "runs syncs and drift repair, standbys keep watching and take over when its Lease "
        "expires (at once when it shuts down cleanly).",
    )
    election.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="take part in leader election (default on; --no-leader-elect: sync at once, "
        "for a single replica only)",
    )
    election.add_argument(
        "--leader-election-namespace",
        metavar="NS",
        help="namespace of the Lease (default: $POD_NAMESPACE, else the pod's own namespace, "
        "else 'default')",
    )
    election.add_argument(
        "--leader-election-id",
        type=object_name,
        default=DEFAULT_LEASE_NAME,
        metavar="NAME",
        help=f"name of the Lease (default {DEFAULT_LEASE_NAME}; with --sync-selector "
        "modelsync-shard-<10 hex digits of the SHA-256 of the normalized selector>)",
    )
    election.add_argument(
        "--leader-election-lease-duration",
        type=duration,
        default=15.0,
        metavar="DURATION",
        help="how long standbys wait after the last renewal before taking over (default 15s)",
    )
    election.add_argument(
        "--leader-election-renew-deadline",
        type=duration,
        default=10.0,
        metavar="DURATION",
        help="how long the leader keeps trying to renew before it stops syncing (default "
        "10s; shorter than the lease duration)",
    )
    election.add_argument(
        "--leader-election-retry-period",
        type=duration,
        default=2.0,
        metavar="DURATION",
        help="how often the Lease is read and renewed (default 2s)",
    )


def _add_endpoint_flags(parser: argparse.ArgumentParser) -> None:
    ops = parser.add_argument_group("operations")
    ops.add_argument(
        "--liveness",
        metavar="URL",
        type=http_url,
        default=DEFAULT_LIVENESS,
        help=f"serve Kopf's liveness/readiness probe at this URL (default {DEFAULT_LIVENESS}; "
        "an empty value turns it off)",
    )
    ops.add_argument(
        "--metrics-port",
        type=port,
        default=DEFAULT_METRICS_PORT,
        metavar="PORT",
        help=f"serve Prometheus metrics at /metrics on this port (default {DEFAULT_METRICS_PORT}; "
        "0 turns it off)",
    )
    ops.add_argument(
        "--metrics-host",
        default="0.0.0.0",  # noqa: S104 - a pod's metrics are scraped from outside it
        metavar="ADDRESS",
        help="address the metrics endpoint listens on (default 0.0.0.0)",
    )
    ops.add_argument(
        "--webhook-port",
        type=port,
        default=0,
        metavar="PORT",
        help="serve the push-trigger webhook, POST /hooks/NAMESPACE/NAME, on this port, for "
        "syncs that set spec.webhook.secretRef; needs patch on modelcatalogsyncs "
        "(deploy/components/webhook) (default 0: off)",
    )
    ops.add_argument(
        "--webhook-host",
        default="0.0.0.0",  # noqa: S104 - CI systems call it from outside the pod
        metavar="ADDRESS",
        help="address the webhook listens on (default 0.0.0.0)",
    )
    ops.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="text: one human line per record; json: one JSON object per line (time, level, "
        "logger, message and fields) for log pipelines (default text)",
    )
    ops.add_argument("--verbose", action="store_true", help="debug logging (default off)")


def _add_catalog_flags(parser: argparse.ArgumentParser) -> None:
    catalog = parser.add_argument_group("catalog")
    catalog.add_argument(
        "--allowed-hosts",
        action=Append,
        default=[],
        metavar="PATTERN",
        help="catalog URLs the operator may call, as scheme://host[:port] with * wildcards "
        "(repeatable or comma-separated; default: https://*, any https host). A catalog whose "
        "address is loopback, link-local (169.254.x.x), private or otherwise not public is "
        "called only when a pattern names its host or IP without a wildcard, e.g. "
        "http://127.0.0.1:8181 or https://catalog.internal.example",
    )
    catalog.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="also allow plain http to the allowed hosts (local sandboxes only)",
    )
    catalog.add_argument(
        "--max-response-bytes",
        type=byte_size,
        default=32 * 1024 * 1024,
        metavar="SIZE",
        help="largest catalog response body, counted after decompression, e.g. 64Mi "
        "(default 32Mi); a larger one fails the sync with ResponseTooLarge",
    )
    catalog.add_argument(
        "--catalog-attempts",
        type=positive_int,
        default=4,
        metavar="N",
        help="tries per catalog request, the first included (default 4)",
    )


def _add_limit_flags(parser: argparse.ArgumentParser) -> None:
    limits = parser.add_argument_group("limits and intervals")
    limits.add_argument(
        "--max-concurrent-syncs",
        type=positive_int,
        default=4,
        metavar="N",
        help="sync passes that plan and write ModelRefs at once (default 4); a pass waiting on "
        "its catalog does not hold one",
    )
    limits.add_argument(
        "--max-concurrent-syncs-per-host",
        type=positive_int,
        default=2,
        metavar="N",
        help="sync passes that read one catalog (scheme://host:port) at once (default 2), so "
        "a slow catalog holds back only its own syncs",
    )
    limits.add_argument(
        "--max-concurrent-writes",
        type=positive_int,
        default=8,
        metavar="N",
        help="Kubernetes writes in flight at once, over all syncs (default 8)",
    )
    limits.add_argument(
        "--sync-timeout",
        type=duration,
        default=600.0,
        metavar="DURATION",
        help="deadline of one whole sync pass, catalog reads and writes included (default "
        "10m); a pass that runs over ends with SyncTimedOut and deletes or marks nothing",
    )
    limits.add_argument(
        "--default-interval",
        type=duration,
        default=300.0,
        metavar="DURATION",
        help="sync interval when a spec has none (default 5m)",
    )
    limits.add_argument(
        "--secret-check-interval",
        type=duration,
        default=10.0,
        metavar="DURATION",
        help="how often referenced Secrets are re-read to notice changes (default 10s)",
    )
    limits.add_argument(
        "--status-heartbeat",
        type=duration,
        default=1800.0,
        metavar="DURATION",
        help="refresh status timestamps at least this often even when nothing changed "
        "(default 30m)",
    )


def sync_selector(text: str) -> LabelSelector | None:
    """The --sync-selector value: a label selector, or None (every sync) when empty."""
    from modelsync.api.label_selector import SELECTOR_SYNTAX, LabelSelectorError, parse

    try:
        selector = parse(text)
    except LabelSelectorError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a label selector: {exc}; the syntax: {SELECTOR_SYNTAX}"
        ) from None
    return selector if selector.requirements else None


def lease_name(given: str, selector: LabelSelector | None) -> str:
    """The Lease to elect a leader on: --leader-election-id, but a shard's own name in place of
    the default one (modelsync-shard-<hash of the selector>)."""
    from modelsync.runtime.leader_decision import shard_lease_name
    from modelsync.runtime.leader_loop import DEFAULT_LEASE_NAME

    if selector is not None and given == DEFAULT_LEASE_NAME:
        return shard_lease_name(selector)
    return given


def leader_election_config(args: argparse.Namespace) -> LeaderElectionConfig | None:
    """The election settings from the flags (None: --no-leader-elect); ValueError when the
    durations do not fit together."""
    from modelsync.runtime.leader_decision import ElectionTiming
    from modelsync.runtime.leader_loop import LeaderElectionConfig, default_namespace

    if not args.leader_elect:
        return None
    return LeaderElectionConfig(
        namespace=args.leader_election_namespace or default_namespace(),
        name=lease_name(args.leader_election_id, args.sync_selector),
        timing=ElectionTiming(
            lease_duration=args.leader_election_lease_duration,
            renew_deadline=args.leader_election_renew_deadline,
            retry_period=args.leader_election_retry_period,
        ),
    )


def operator_config(args: argparse.Namespace) -> OperatorConfig:
    """The runtime's settings from the flags; ValueError on a bad --allowed-hosts pattern."""
    from modelsync.runtime.config import OperatorConfig
    from modelsync.runtime.hosts import DEFAULT_ALLOWED_HOSTS, AllowedHosts

    patterns = [p.strip() for raw in args.allowed_hosts for p in raw.split(",") if p.strip()]
    return OperatorConfig(
        allowed_hosts=AllowedHosts.parse(
            patterns or DEFAULT_ALLOWED_HOSTS, allow_insecure_http=args.allow_insecure_http
        ),
        max_concurrent_syncs=args.max_concurrent_syncs,
        max_concurrent_syncs_per_host=args.max_concurrent_syncs_per_host,
        max_concurrent_writes=args.max_concurrent_writes,
        max_response_bytes=args.max_response_bytes,
        sync_timeout=args.sync_timeout,
        default_interval=args.default_interval,
        secret_check_interval=args.secret_check_interval,
        status_heartbeat=args.status_heartbeat,
        catalog_attempts=args.catalog_attempts,
    )


def _tune_gc() -> None:
    """A sync of N models allocates O(N) objects at once, which with the default thresholds
    sets off repeated full collections. Freeze what start-up loaded and collect the young
    generation less often: at 3,000 models a steady sync's CPU fell from 1.9 s to 1.1 s with
    the same RSS (bench/operator_bench.py)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def run(args: argparse.Namespace) -> int:
    from modelsync.cli.kopf_main import KopfOptions
    from modelsync.kube.errors import KubeConfigError
    from modelsync.runtime.logs import configure_logging

    configure_logging(args.log_format, verbose=args.verbose)
    clash = endpoint_clash(args.liveness, args.metrics_port, args.webhook_port)
    if clash is not None:
        return _failed(clash, 2)
    try:
        config = operator_config(args)
        election = leader_election_config(args)
    except ValueError as exc:
        return _failed(str(exc), 2)
    options = KopfOptions(
        # -A on the command line wins over MODELSYNC_NAMESPACE.
        namespaces=() if args.all_namespaces else tuple(args.namespaces),
        liveness_endpoint=args.liveness or None,
        kubeconfig=args.kubeconfig,
        context=args.context,
        leader_election=election,
        sync_selector=args.sync_selector,
        webhook=_webhook_config(args),
    )
    try:  # before any server starts or is announced
        api_server = _api_server(options)
    except KubeConfigError as exc:
        return _failed(str(exc), 1)
    taken = _liveness_port_taken(args.liveness) or _webhook_port_taken(options.webhook)
    if taken is not None:
        return _failed(taken, 1)
    return _serve(config, options, args.metrics_host, args.metrics_port, api_server)


def _failed(line: str, code: int) -> int:
    print(f"modelsync run: {line}", file=sys.stderr)
    return code


def _liveness_port_taken(liveness: str) -> str | None:
    """Why Kopf could not serve the liveness probe, or None (Kopf would fail late, with a
    stack, after connecting)."""
    import os
    import socket

    if not liveness:
        return None
    parts = urllib.parse.urlsplit(liveness)
    address = (parts.hostname or "0.0.0.0", parts.port or 80)  # noqa: S104 - as Kopf binds it
    try:
        socket.create_server(address).close()
    except OSError as exc:
        return (
            f"cannot serve the liveness probe on {address[0]}:{address[1]}: "
            f"{os.strerror(exc.errno) if exc.errno else exc}; free the port or choose another "
            "with --liveness (an empty value turns the probe off)"
        )
    return None


def _webhook_config(args: argparse.Namespace) -> WebhookConfig | None:
    from modelsync.runtime.webhook import WebhookConfig

    return WebhookConfig(args.webhook_host, args.webhook_port) if args.webhook_port else None


def _webhook_port_taken(webhook: WebhookConfig | None) -> str | None:
    """Why the webhook could not be served, or None."""
    import os
    import socket

    if webhook is None:
        return None
    try:
        socket.create_server((webhook.host, webhook.port)).close()
    except OSError as exc:
        return (
            f"cannot serve the webhook on {webhook.host}:{webhook.port}: "
            f"{os.strerror(exc.errno) if exc.errno else exc}; free the port or choose another "
            "with --webhook-port (0 turns the webhook off)"
        )
    return None


def _api_server(options: KopfOptions) -> str:
    """The URL of the API server the configuration names; KubeConfigError when it cannot
    be loaded."""
    from modelsync.kube.client import load_configuration

    return str(load_configuration(options.kubeconfig, options.context).host)


def _serve(
    config: OperatorConfig,
    options: KopfOptions,
    metrics_host: str,
    metrics_port: int,
    api_server: str,
) -> int:
    """Serve metrics (port 0: none) and run the operator until it stops; the exit code."""
    import asyncio

    from modelsync.cli.kopf_main import run_operator
    from modelsync.kube.errors import KubeConfigError
    from modelsync.metrics import MetricsServer, OperatorMetrics, serve_metrics
    from modelsync.runtime.logs import connection_failure

    metrics = OperatorMetrics(process_metrics=True)
    server: MetricsServer | None = None
    if metrics_port:
        try:
            server = serve_metrics(metrics.registry, metrics_host, metrics_port)
        except OSError as exc:
            where = f"{metrics_host}:{metrics_port}"
            return _failed(
                f"cannot serve metrics on {where}: {exc.strerror or exc}; free the port or "
                "choose another with --metrics-port (0 turns metrics off)",
                1,
            )
        logger.info("serving metrics at http://%s:%d/metrics", server.host, server.port)
    _tune_gc()
    try:
        asyncio.run(
            run_operator(config, options, observer=metrics, on_webhook=metrics.webhook_request)
        )
    except KubeConfigError as exc:
        return _failed(str(exc), 1)
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # Kopf gave up on the API server after its retries
        failure = connection_failure(exc)
        if failure is None:
            raise
        cause, fix = failure
        return _failed(f"gave up on the Kubernetes API server {api_server}: {cause}; {fix}", 1)
    finally:
        if server is not None:
            server.stop()
    return 0
