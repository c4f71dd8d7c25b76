"""What one bench run measured (filled in by operator_bench, turned into rows by bench_report)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from operator_process import SyncLine
from parse_baseline import ParseCost
from process_stats import Memory
from spy_profile import Summary

__all__ = ["NamedSample", "Options", "Results", "SyncSample"]


@dataclass(frozen=True)
class Options:
    models: int = 10_000
    page_size: int = 100
    max_concurrent_writes: int = 8
    non_deployable: float = 0.0
    latency_tries: int = 5
    steady_syncs: int = 2
    py_spy: str | None = None
    workdir: Path | None = None
    json_path: Path | None = None
    # sandbox: the sandbox API server in the bench process; real: a control plane started
    # with scripts/real-cluster, or the cluster `kubeconfig` names (`state_dir`: its state).
    server: Literal["sandbox", "real"] = "sandbox"
    kubeconfig: Path | None = None
    state_dir: Path | None = None


@dataclass(frozen=True)
class SyncSample:
    """One sync as the bench saw it."""

    line: SyncLine
    started: float  # time.monotonic() just before the trigger
    wall: float  # trigger -> the operator's log line
    cpu: float  # operator CPU seconds from the trigger until it was idle again
    catalog_list_requests: int
    catalog_version_requests: int
    catalog_failed: int
    modelref_lists: int  # logical LISTs of this sync's ModelRefs (first page: no continue)
    modelref_list_requests: int
    writes: list[str]  # the operator's writes from the server's log: "verb res status"
    wire_writes: int  # write requests through the relay (only the operator uses it)
    failed_writes: int
    max_in_flight: int
    idle: bool  # the operator went idle afterwards (else `cpu` was cut at the timeout)
    server_cpu: dict[str, float] = field(default_factory=dict)  # the same window, by process


@dataclass(frozen=True)
class NamedSample:
    """One named-model trigger: from the annotation until the operator was idle again."""

    model: str  # the "repo/name" entry of the annotation
    latency: float  # trigger -> the watch event showing the new version
    cpu: float  # operator CPU seconds, trigger -> idle
    model_lookups: int  # catalog requests to /models (a listing filtered to the model)
    version_lookups: int  # catalog requests to /model-versions
    other_requests: int  # any other catalog request (none expected)
    catalog_failed: int
    modelref_list_requests: int
    writes: list[str]  # as SyncSample.writes
    wire_writes: int
    sync_lines: int  # per-sync log lines the operator wrote in the window
    idle: bool


@dataclass
class Results:
    options: Options
    setup_seconds: float = 0.0
    first: SyncSample | None = None
    settle: SyncSample | None = None
    steady: list[SyncSample] = field(default_factory=list)
    annotated: SyncSample | None = None
    memory: Memory | None = None  # after the steady syncs
    peak: Memory | None = None  # at the end of the run, before the operator stops
    server_memory: dict[str, Memory] = field(default_factory=dict)  # when `memory` was taken
    write_log: str = "server log"  # where `SyncSample.writes` came from
    parse: ParseCost | None = None
    latencies: list[float] = field(default_factory=list)
    latency_syncs: list[SyncSample] = field(default_factory=list)  # the syncs they triggered
    latency_writes: list[str] = field(default_factory=list)
    named: list[NamedSample] = field(default_factory=list)
    retry_lines: int = 0
    profiles: dict[str, Summary] = field(default_factory=dict)  # by phase, with --py-spy
