"""Benchmark the operator against its targets (bench/README.md) and print them as a table.

    .venv/bin/python bench/operator_bench.py [--models 10000[,50000...]] [--page-size 100]
        [--server sandbox|real | --kubeconfig FILE [--state-dir DIR]]

The sandbox catalog (N generated models) and a relay that counts writes in flight run in
this process, and so does the sandbox API server (`--server sandbox`, the default); `--server
real` starts a real control plane (scripts/real-cluster) instead and `--kubeconfig` uses an
existing cluster. The operator runs as `modelsync run` in a subprocess, so /proc tells its
CPU time and memory alone. Phases: first sync (ModelCatalogSync created),
two steady-state syncs (token Secret touched: the operator re-reads Secrets and syncs, the
sync object stays as it is), one steady-state sync by trigger annotation, then trigger
latency (a new deployable version of one model, then the `modelsync reconcile` merge patch,
until the ModelRef shows the version), then the same with a named-model trigger (`modelsync
reconcile --model REPO/NAME`). Several sizes (`--models 10000,50000`) run one after the other,
each in a workdir of its own, and end with a table comparing them. A benchmark, not a test:
exits 0 whatever it measures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from bench_cluster import BenchCluster, VersionWatch, sync_manifest
from bench_report import comparison, details, figures
from bench_results import NamedSample, Options, Results, SyncSample
from figures import Figure, as_json, render_table
from generated_catalog import generate_catalog
from indexed_catalog import IndexedCatalogStore
from operator_process import OperatorProcess
from parse_baseline import fetch_pages, measure_in_subprocess
from process_stats import cpu_seconds, memory, wait_idle
from real_cluster_target import RealCluster
from sandbox_cluster import SandboxCluster
from spy_profile import Component, SpyRecording, summarize

from modelsync_sandbox.catalog_server import CatalogSandbox

# Where a sync's CPU can go, checked in this order (see spy_profile).
PROFILE_COMPONENTS = [
    Component("catalog listing (HTTP, JSON decode, pydantic)", "CatalogClient.list_models"),
    Component("version lookups", "SyncRunner._resolve_versions"),
    Component("Kubernetes client threads (HTTP, JSON: LIST pages)", thread="kube"),
    Component("ModelRef watch (decoding events, the cache)", thread="watch modelrefs"),
    Component("plan_sync (desired ModelRefs, diff)", "plan_sync"),
    Component("Kubernetes writes on the event loop (aiohttp)", "LoopHttp.request"),
    Component("apply_plan (bodies, statuses, waiting for writes)", "apply_plan"),
    Component("status and report", "SyncRunner._finish"),
    Component("rest of the sync pass", "SyncRunner.sync"),
    Component("drift check of ModelRef watch events", "OperatorRuntime.modelref_event"),
    Component("Kopf (watching, event dispatch)", path="kopf/"),
    Component("asyncio event loop", path="asyncio/"),
]

# --- running -------------------------------------------------------------------------------


def make_cluster(options: Options, workdir: Path) -> BenchCluster:
    if options.kubeconfig is not None:
        return RealCluster(workdir, kubeconfig=options.kubeconfig, state_dir=options.state_dir)
    if options.server == "real":
        return RealCluster(workdir, state_dir=options.state_dir)
    return SandboxCluster(workdir)


class Bench:
    def __init__(self, options: Options, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.data = generate_catalog(options.models, non_deployable=options.non_deployable)
        self.catalog = CatalogSandbox({"models": []})
        self.catalog.catalog = IndexedCatalogStore(self.data)
        self.cluster = make_cluster(options, workdir)
        self.operator: OperatorProcess | None = None
        self.results = Results(options, write_log=self.cluster.write_log_name)
        n = max(options.models, 1)
        self.first_timeout = 120.0 + 0.1 * n
        self.sync_timeout = 60.0 + 0.01 * n

    def start(self) -> None:
        started = time.monotonic()
        self.catalog.start_in_thread()
        self.warm_catalog()
        self.cluster.start()
        self.cluster.install(self.catalog.token or "")
        flags = (
            "--no-leader-elect",
            # The sandbox catalog is a loopback server: only an explicit entry lets it in.
            f"--allowed-hosts={self.catalog.url}",
            *self.cluster.operator_scope(),
            f"--max-concurrent-writes={self.options.max_concurrent_writes}",
            "--secret-check-interval=200ms",
        )
        self.operator = OperatorProcess(self.cluster.kubeconfig, flags, self.workdir / "op.log")
        self.operator.start()
        wait_idle(self.operator.pid, timeout=30)
        self.results.setup_seconds = time.monotonic() - started

    def stop(self) -> None:
        try:
            if self.operator is not None:
                self.results.retry_lines = self.operator.retry_lines
                # VmHWM: the peak of the whole run, first sync included (none if it never
                # started or has exited).
                with contextlib.suppress(OSError, AssertionError):
                    self.results.peak = memory(self.operator.pid)
                self.operator.stop()
        finally:
            try:
                self.cluster.stop()  # a control plane the bench started goes down here
            finally:
                self.catalog.stop_in_thread()

    def warm_catalog(self) -> None:
        """Build the sandbox's memoized listing now, not inside a measured sync."""
        params: dict[str, str | int] = {"include_empty_models": "false", "offset": 0, "limit": 1}
        httpx.get(
            f"{self.catalog.api_url}/models",
            params=params,
            headers=self.catalog.auth_headers,
            timeout=300,
        ).raise_for_status()
        self.catalog.clear_requests()

    # --- one measured sync ---------------------------------------------------------------

    def _measure(
        self, trigger: Callable[[], object], timeout: float, *, profile: str | None = None
    ) -> SyncSample:
        """Run `trigger`, wait for the operator's next sync line and for it to be idle."""
        operator, relay = self.operator, self.cluster.relay
        assert operator is not None
        assert relay is not None
        self.cluster.begin_window()
        self.catalog.clear_requests()
        relay.reset_max()
        servers = self.cluster.server_processes()
        spy = None
        if profile is not None and self.options.py_spy:
            raw = self.workdir / f"{profile.replace(' ', '-')}.spy"
            spy = SpyRecording(self.options.py_spy, operator.pid, raw)
            time.sleep(0.5)  # py-spy attaches
        # The next sync line is this sync's (the operator was idle, every earlier line read).
        syncs = len(operator.syncs) + 1
        server_before = {name: cpu_seconds(pid) for name, pid in servers.items()}
        cpu_before = cpu_seconds(operator.pid)
        started = time.monotonic()
        trigger()
        line = operator.wait_syncs(syncs, timeout)
        idle = wait_idle(operator.pid, timeout=timeout)
        cpu = cpu_seconds(operator.pid) - cpu_before
        server_cpu = {name: cpu_seconds(pid) - server_before[name] for name, pid in servers.items()}
        if spy is not None:
            self.results.profiles[profile or ""] = summarize(spy.stop(), PROFILE_COMPONENTS)
        catalog = list(self.catalog.requests)
        lists = self.cluster.sync_list_queries()
        writes = self.cluster.operator_writes()
        return SyncSample(
            line=line,
            started=started,
            wall=line.seen_at - started,
            cpu=cpu,
            catalog_list_requests=sum(1 for r in catalog if r.path.endswith("/models")),
            catalog_version_requests=sum(1 for r in catalog if r.path.endswith("/model-versions")),
            catalog_failed=sum(1 for r in catalog if r.status != 200),
            modelref_lists=sum(1 for query in lists if "continue=" not in query),
            modelref_list_requests=len(lists),
            writes=writes,
            wire_writes=relay.writes_seen,
            failed_writes=sum(1 for w in writes if int(w.rsplit(" ", 1)[1]) >= 400),
            max_in_flight=relay.max_in_flight,
            idle=idle,
            server_cpu=server_cpu,
        )

    # --- phases --------------------------------------------------------------------------

    def first_sync(self) -> None:
        manifest = sync_manifest(self.catalog.url, self.options.page_size, self.cluster.namespace)
        self.results.first = self._measure(
            lambda: self.cluster.create_sync(manifest), self.first_timeout, profile="first sync"
        )

    def steady_syncs(self) -> None:
        """A settling sync (its status counts move from created to unchanged: one status
        write), then the measured ones; each triggered by touching the token Secret."""
        assert self.operator is not None
        self.results.settle = self._measure(
            lambda: self.cluster.touch_secret("settle"), self.sync_timeout
        )
        count = self.options.steady_syncs
        for number in range(count):
            self.results.steady.append(
                self._measure(
                    partial(self.cluster.touch_secret, f"steady-{number}"),
                    self.sync_timeout,
                )
            )
        self.results.memory = memory(self.operator.pid)
        self.results.server_memory = {
            name: memory(pid) for name, pid in self.cluster.server_processes().items()
        }
        if self.options.py_spy:  # one more, not counted: py-spy takes CPU from the operator
            self._measure(
                partial(self.cluster.touch_secret, "profiled"),
                self.sync_timeout,
                profile="steady sync",
            )

    def annotated_sync(self) -> None:
        self.results.annotated = self._measure(self.cluster.request_reconcile, self.sync_timeout)

    def parse_baseline(self) -> None:
        pages = self.workdir / "pages"
        fetch_pages(self.catalog.api_url, self.catalog.token, self.options.page_size, pages)
        self.catalog.clear_requests()
        self.results.parse = measure_in_subprocess(pages)
        shutil.rmtree(pages, ignore_errors=True)

    def trigger_latency(self) -> None:
        models = self.data["models"]
        if not models:
            return
        tries = self.options.latency_tries
        for attempt in range(tries):
            model = models[(attempt * len(models)) // tries]
            name = f"{model['fqn'].split('/')[1]}.{model['name']}"
            since = self.cluster.modelref_watch_start(name)
            number = self._publish_version(model["id"])
            self.warm_catalog()
            watcher = self.cluster.watch_version(name, since, number, self.sync_timeout)
            sample = self._measure(self.cluster.request_reconcile, self.sync_timeout)
            seen = watcher.wait(self.sync_timeout)
            if seen is None:
                raise TimeoutError(f"ModelRef {name} never showed version {number}")
            self.results.latencies.append(seen - sample.started)
            self.results.latency_syncs.append(sample)
            if attempt == 0:
                self.results.latency_writes = sample.writes

    def named_trigger_latency(self) -> None:
        """As trigger_latency, with the model named in the annotation: the operator syncs
        that model alone. A different model each try, none of trigger_latency's."""
        models = self.data["models"]
        tries = self.options.latency_tries
        for attempt in range(tries if models else 0):
            model = models[((2 * attempt + 1) * len(models)) // (2 * tries)]
            repo = model["fqn"].split("/")[1]
            name = f"{repo}.{model['name']}"
            since = self.cluster.modelref_watch_start(name)
            number = self._publish_version(model["id"])
            self.warm_catalog()
            watcher = self.cluster.watch_version(name, since, number, self.sync_timeout)
            sample = self._measure_named(f"{repo}/{model['name']}", watcher)
            self.results.named.append(sample)

    def _measure_named(self, entry: str, watcher: VersionWatch) -> NamedSample:
        """Send the named-model trigger for `entry`; the window ends when the operator is
        idle after `watcher` saw the new version (such a sync need not log a sync line)."""
        operator, relay = self.operator, self.cluster.relay
        assert operator is not None
        assert relay is not None
        self.cluster.begin_window()
        self.catalog.clear_requests()
        relay.reset_max()
        lines = len(operator.syncs)
        cpu_before = cpu_seconds(operator.pid)
        started = time.monotonic()
        self.cluster.request_reconcile([entry])
        seen = watcher.wait(self.sync_timeout)
        if seen is None:
            raise TimeoutError(f"ModelRef of {entry} never showed its new version")
        idle = wait_idle(operator.pid, timeout=self.sync_timeout)
        cpu = cpu_seconds(operator.pid) - cpu_before
        catalog = list(self.catalog.requests)
        writes = self.cluster.operator_writes()
        models = sum(1 for r in catalog if r.path.endswith("/models"))
        versions = sum(1 for r in catalog if r.path.endswith("/model-versions"))
        return NamedSample(
            model=entry,
            latency=seen - started,
            cpu=cpu,
            model_lookups=models,
            version_lookups=versions,
            other_requests=len(catalog) - models - versions,
            catalog_failed=sum(1 for r in catalog if r.status != 200),
            modelref_list_requests=len(self.cluster.sync_list_queries()),
            writes=writes,
            wire_writes=relay.writes_seen,
            sync_lines=len(operator.syncs) - lines,
            idle=idle,
        )

    def _publish_version(self, model_id: str) -> int:
        entry = self.catalog.catalog.model(model_id)
        assert entry is not None
        latest = max(entry["versions"], key=lambda v: v["manifest"]["version"])
        manifest = {k: v for k, v in latest["manifest"].items() if k != "version"}
        added = self.catalog.catalog.add_version(
            model_id, {"manifest": manifest, "deployable": True, "tags": ["bench"]}
        )
        number: int = added["manifest"]["version"]
        return number


# --- entry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One bench run: what it measured, its rows and whether every phase finished."""

    results: Results
    rows: list[Figure]
    complete: bool

    def payload(self) -> dict[str, Any]:
        """The run's --json document."""
        options = self.results.options
        return {
            "options": {
                "models": options.models,
                "page_size": options.page_size,
                "server": _server_name(options),
            },
            "complete": self.complete,
            "figures": as_json(self.rows),
        }


def run(options: Options, out: Any = sys.stdout) -> Run:
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="modelsync-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"modelsync operator bench ({_server_name(options)}): N={options.models} models, "
        f"pageSize={options.page_size}, "
        f"--max-concurrent-writes={options.max_concurrent_writes}, "
        f"non-deployable latest={options.non_deployable:g} (files in {workdir})",
        file=out,
        flush=True,
    )
    bench = Bench(options, workdir)
    failed = False
    interrupted: BaseException | None = None
    try:
        steps = (
            ("start", bench.start),
            ("first sync", bench.first_sync),
            ("steady-state syncs", bench.steady_syncs),
            ("annotation-triggered sync", bench.annotated_sync),
            ("parse baseline", bench.parse_baseline),
            ("trigger latency", bench.trigger_latency),
            ("named-model trigger latency", bench.named_trigger_latency),
        )
        for label, step in steps:
            began = time.monotonic()
            step()
            print(f"  {label}: done in {time.monotonic() - began:.1f} s", file=out, flush=True)
    except Exception as exc:  # a benchmark reports what it got and why it stopped
        failed = True
        traceback.print_exc()
        print(f"bench stopped early: {type(exc).__name__}: {exc}", file=out, flush=True)
    except (KeyboardInterrupt, SystemExit) as stopped:
        failed, interrupted = True, stopped
        print("bench interrupted", file=out, flush=True)
    finally:
        bench.stop()
    done = Run(bench.results, figures(bench.results), complete=not failed)
    print(file=out)
    print(render_table(done.rows), file=out)
    print(file=out)
    for line in details(bench.results):
        print(f"  {line}", file=out)
    if options.json_path is not None:
        options.json_path.write_text(json.dumps(done.payload(), indent=2))
    if failed:
        print(f"  operator log kept at {workdir / 'op.log'}", file=out)
    elif options.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    if interrupted is not None:
        raise interrupted
    return done


def run_sizes(options: Options, sizes: Sequence[int], out: Any = sys.stdout) -> list[Run]:
    """One run per catalog size, one after the other (each in a workdir of its own: a
    subfolder `n<N>` of --workdir when given), then the table comparing them. --json writes
    `{"runs": [each run's document], "comparison": {rows}}`."""
    runs: list[Run] = []
    for size in sizes:
        workdir = options.workdir / f"n{size}" if options.workdir is not None else None
        runs.append(run(replace(options, models=size, workdir=workdir, json_path=None), out))
        print(file=out, flush=True)
    rows = comparison([r.results for r in runs])
    print(f"comparison of N={', '.join(str(size) for size in sizes)}", file=out)
    print(file=out)
    print(render_table(rows), file=out)
    if options.json_path is not None:
        payload = {"runs": [r.payload() for r in runs], "comparison": as_json(rows)}
        options.json_path.write_text(json.dumps(payload, indent=2))
    return runs


def _server_name(options: Options) -> str:
    if options.kubeconfig is not None:
        return f"API server of {options.kubeconfig}"
    if options.server == "real":
        return "real control plane: etcd, kube-apiserver, kube-controller-manager"
    return "sandbox API server"


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size or comma-separated sizes: {text!r}") from None
    if any(size < 0 for size in sizes):
        raise argparse.ArgumentTypeError("sizes are >= 0")
    return sizes


def parse_args(argv: Sequence[str] | None) -> tuple[Options, list[int]]:
    """The options (of the first size) and every catalog size to run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--models",
        type=_sizes,
        default=[10_000],
        metavar="N[,N...]",
        help="catalog size N; several (10000,50000) run one after the other, then a table "
        "compares them (the first is the reference)",
    )
    parser.add_argument("--page-size", type=int, default=100, help="spec.catalog.pageSize")
    parser.add_argument("--max-concurrent-writes", type=int, default=8)
    parser.add_argument(
        "--non-deployable",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="fraction of models whose latest version is not deployable (each costs a "
        "model-versions lookup in the first sync)",
    )
    parser.add_argument(
        "--latency-tries",
        type=int,
        default=5,
        help="tries of the trigger latency, and as many of the named-model trigger latency",
    )
    parser.add_argument(
        "--steady-syncs",
        type=int,
        default=2,
        help="measured steady-state syncs (after one settling sync)",
    )
    parser.add_argument(
        "--py-spy",
        metavar="PATH",
        help="py-spy executable: profile the first sync and an extra (uncounted) steady sync",
    )
    parser.add_argument(
        "--server",
        choices=("sandbox", "real"),
        default="sandbox",
        help="the API server: the sandbox's, in this process (default), or a real control "
        "plane started with scripts/real-cluster up and stopped with down at the end",
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        metavar="FILE",
        help="an existing cluster instead (cluster-admin kubeconfig; implies --server real): "
        "the bench installs deploy/base, works in a namespace of its own and deletes it",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="the control plane's scripts/real-cluster state dir: where --server real keeps "
        "it (default: under the workdir), or that of the --kubeconfig cluster, for its audit "
        "log and processes (without it, writes come from the relay's log and the "
        "control plane's CPU and memory are not shown)",
    )
    parser.add_argument("--workdir", type=Path, help="keep files (operator log) here")
    parser.add_argument("--json", dest="json_path", type=Path, help="also write figures here")
    args = parser.parse_args(argv)
    if args.state_dir is not None and args.server != "real" and args.kubeconfig is None:
        parser.error("--state-dir goes with --server real or --kubeconfig")
    options = Options(
        models=args.models[0],
        page_size=args.page_size,
        max_concurrent_writes=args.max_concurrent_writes,
        non_deployable=args.non_deployable,
        latency_tries=args.latency_tries,
        steady_syncs=max(1, args.steady_syncs),
        py_spy=args.py_spy,
        workdir=args.workdir,
        json_path=args.json_path,
        server="real" if args.kubeconfig is not None else args.server,
        kubeconfig=args.kubeconfig.resolve() if args.kubeconfig else None,
        state_dir=args.state_dir.resolve() if args.state_dir else None,
    )
    return options, args.models


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: the operator and cluster stop


def main(argv: Sequence[str] | None = None) -> int:
    options, sizes = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if len(sizes) == 1:
            run(options)
        else:
            run_sizes(options, sizes)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
