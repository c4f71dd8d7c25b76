"""Turn a bench run's Results into the benchmark rows and their detail lines."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from bench_results import NamedSample, Results, SyncSample
from figures import Figure
from generated_catalog import non_deployable_indices
from parse_baseline import ParseCost

__all__ = ["comparison", "details", "figures"]

MIB = 1024 * 1024
MODELREF_PAGE = 500  # kube.modelrefs lists in pages of this size (limit/continue)

# The targets hold at this catalog size; a smaller catalog must meet them too.
# Above it they are shown as "(at 10,000)" without a verdict, except those that hold at any
# N (the counts, the named-model trigger) and the peak RSS, whose target there is LARGE_N's.
TARGET_N = 10_000
LARGE_N = 50_000
PEAK_RSS_MIB = 256
LARGE_PEAK_RSS_MIB = 800
CPU_PER_MODEL_GROWTH = 1.3  # steady CPU per model at LARGE_N within this factor of TARGET_N's


# A complete listing's requests: one per page, plus one that confirms a full last page is the
# last (the client's completeness rule; an empty catalog still costs one request).
LISTING_TARGET = "ceil(N/pageSize) (+1 if the last page is full)"


def listing_requests(models: int, page_size: int) -> int:
    pages = math.ceil(models / page_size)
    return pages + 1 if models % page_size == 0 else pages


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


def _parse_seconds(value: float) -> str:
    return f"{value:.3f} s"  # a small catalog parses in milliseconds


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.1f}x" if base > 0 else "n/a"


def _at_target_n(models: int, target: str, ok: bool) -> tuple[str, bool | None]:
    """A target stated for TARGET_N models: judged up to that size, merely named above it."""
    if models <= TARGET_N:
        return target, ok
    return f"{target} (at {TARGET_N:,})", None


def _peak_rss(models: int, mib: float) -> tuple[str, bool | None]:
    if models <= TARGET_N:
        return f"< {PEAK_RSS_MIB} MiB", mib < PEAK_RSS_MIB
    target = f"< {LARGE_PEAK_RSS_MIB} MiB"
    if models <= LARGE_N:
        return target, mib < LARGE_PEAK_RSS_MIB
    return f"{target} (at {LARGE_N:,})", None


def _writes(sample: SyncSample, log: str) -> str:
    if sample.wire_writes == len(sample.writes):
        return str(sample.wire_writes)
    return f"{sample.wire_writes} ({log}: {len(sample.writes)})"


def _slug(process: str) -> str:
    return process.split()[0]


def _requests(sample: SyncSample) -> str:
    text = str(sample.catalog_list_requests)
    if sample.catalog_version_requests:
        text += f" + {sample.catalog_version_requests} version lookups"
    return text


def _first_sync(results: Results, first: SyncSample, pages: int) -> list[Figure]:
    opts = results.options
    n = opts.models
    lookups = len(non_deployable_indices(n, opts.non_deployable))
    created = first.line.modelrefs.get("created", 0)
    retries = first.catalog_failed + first.failed_writes + results.retry_lines
    target = f"{LISTING_TARGET} = {pages}" + (f" + {lookups}" if lookups else "")
    limit = opts.max_concurrent_writes
    wall_target = f"< 45 s (at {TARGET_N:,})"
    return [
        Figure(
            "first.creates",
            "first sync: ModelRefs created",
            str(created),
            f"N = {n}",
            created == n,
            created,
        ),
        Figure(
            "first.catalog_requests",
            "first sync: catalog requests",
            _requests(first),
            target,
            first.catalog_list_requests == pages and first.catalog_version_requests == lookups,
            first.catalog_list_requests + first.catalog_version_requests,
        ),
        Figure(
            "first.retries",
            "first sync: retries and failed requests",
            str(retries),
            "0",
            retries == 0,
            retries,
        ),
        Figure(
            "first.max_in_flight",
            "first sync: max writes in flight",
            str(first.max_in_flight),
            f"<= {limit} (--max-concurrent-writes)",
            first.max_in_flight <= limit,
            first.max_in_flight,
        ),
        Figure(
            "first.writes",
            "first sync: Kubernetes writes",
            _writes(first, results.write_log),
            "",
            None,
            first.wire_writes,
        ),
        Figure(
            "first.wall",
            "first sync: wall time (create -> sync done)",
            _seconds(first.wall),
            wall_target,
            first.wall < 45.0 if n <= TARGET_N else None,
            first.wall,
        ),
        Figure("first.cpu", "first sync: operator CPU", _seconds(first.cpu), "", None, first.cpu),
    ]


def _steady(results: Results, steady: Sequence[SyncSample], pages: int) -> list[Figure]:
    lists = max(s.modelref_lists for s in steady)
    list_requests = max(s.modelref_list_requests for s in steady)
    catalog = max(s.catalog_list_requests + s.catalog_version_requests for s in steady)
    writes = max(s.wire_writes for s in steady)
    logged = max(len(s.writes) for s in steady)
    cpu = statistics.median(s.cpu for s in steady)
    wall = statistics.median(s.wall for s in steady)
    count = len(steady)
    rows = [
        Figure(
            "steady.catalog_requests",
            f"steady sync: catalog requests (max of {count})",
            str(catalog),
            f"{LISTING_TARGET} = {pages}",
            catalog == pages,
            catalog,
        ),
        Figure(
            "steady.modelref_lists",
            "steady sync: ModelRef LISTs",
            f"{lists} ({list_requests} pages of <= {MODELREF_PAGE})" if lists else "0",
            "<= 1 (0: planned against the watch-fed cache)",
            lists <= 1,
            lists,
        ),
        Figure(
            "steady.writes",
            f"steady sync: Kubernetes writes (max of {count})",
            str(writes) if writes == logged else f"{writes} ({results.write_log}: {logged})",
            "0",
            writes == 0 and logged == 0,
            writes,
        ),
        Figure(
            "steady.wall",
            "steady sync: wall time, trigger -> done (median)",
            _seconds(wall),
            "",
            None,
            wall,
        ),
        Figure("steady.cpu", "steady sync: operator CPU (median)", _seconds(cpu), "", None, cpu),
    ]
    parse = results.parse
    if parse is not None:
        rows += _parse_rows(results.options.models, cpu, parse)
    return rows


def _parse_rows(models: int, cpu: float, parse: ParseCost) -> list[Figure]:
    """The parse baseline and the steady sync's CPU over it."""
    loads, fast, base = parse.json_loads, parse.validate_json, parse.operator_parser
    loads_target, loads_ok = _at_target_n(models, "<= 4x", loads > 0 and cpu / loads <= 4.0)
    fast_target, fast_ok = _at_target_n(models, "<= 3x", fast > 0 and cpu / fast <= 3.0)
    return [
        Figure(
            "parse.json_loads",
            "parse the pages: json.loads",
            _parse_seconds(loads),
            "",
            None,
            loads,
        ),
        Figure(
            "parse.validate_json",
            "parse+validate the pages: model_validate_json",
            _parse_seconds(fast),
            "",
            None,
            fast,
        ),
        Figure(
            "parse.operator_parser",
            "parse+validate the pages: json.loads+parse_page",
            _parse_seconds(base),
            "",
            None,
            base,
        ),
        Figure(
            "steady.cpu_ratio_json_loads",
            "steady sync CPU / json.loads of the page bytes",
            _ratio(cpu, loads),
            loads_target,
            loads_ok,
            cpu / loads if loads > 0 else None,
        ),
        Figure(
            "steady.cpu_ratio_validate_json",
            "steady sync CPU / ListModelsResponse.model_validate_json",
            _ratio(cpu, fast),
            fast_target,
            fast_ok,
            cpu / fast if fast > 0 else None,
        ),
        Figure(
            "steady.cpu_ratio_parse_page",
            "steady sync CPU / json.loads+parse_page",
            _ratio(cpu, base),
            "",
            None,
            cpu / base if base > 0 else None,
        ),
    ]


def _named(results: Results) -> list[Figure]:
    """The named-model trigger: latency (any N) and the catalog requests it costs."""
    named = results.named
    median = statistics.median(s.latency for s in named)
    cpu = statistics.median(s.cpu for s in named)
    worst = max(named, key=lambda s: s.model_lookups + s.version_lookups + s.other_requests)
    measured = str(worst.model_lookups)
    if worst.version_lookups:
        measured += f" + {worst.version_lookups} version lookups"
    if worst.other_requests:
        measured += f" + {worst.other_requests} other"
    # Each try publishes a deployable latest version: no version lookup is needed.
    exact = all(
        s.model_lookups == 1 and s.version_lookups == 0 and s.other_requests == 0 for s in named
    )
    return [
        Figure(
            "named.median",
            f"named-model trigger -> updated ModelRef (median of {len(named)})",
            f"{median:.3f} s",  # its target is half a second: one more digit
            "< 0.5 s",
            median < 0.5,
            median,
        ),
        Figure(
            "named.catalog_requests",
            f"named-model trigger: catalog requests (max of {len(named)})",
            measured,
            "1 per model (+1 version lookup when needed) = 1",
            exact,
            worst.model_lookups + worst.version_lookups + worst.other_requests,
        ),
        Figure(
            "named.cpu",
            "named-model trigger: operator CPU (median)",
            _seconds(cpu),
            "",
            None,
            cpu,
        ),
    ]


def _server(results: Results) -> list[Figure]:
    """The API server's processes: CPU in the operator's windows, memory after the steady
    syncs (with the sandbox, the bench process: the sandbox serves from it)."""
    rows = []
    first, steady = results.first, results.steady
    names = list(first.server_cpu) if first is not None else []
    names += [name for name in results.server_memory if name not in names]
    for name in names:
        slug = _slug(name)
        if first is not None and name in first.server_cpu:
            cpu = first.server_cpu[name]
            rows.append(
                Figure(
                    f"server.{slug}.first_cpu",
                    f"first sync: {name} CPU",
                    _seconds(cpu),
                    "",
                    None,
                    cpu,
                )
            )
        if steady and all(name in s.server_cpu for s in steady):
            cpu = statistics.median(s.server_cpu[name] for s in steady)
            rows.append(
                Figure(
                    f"server.{slug}.steady_cpu",
                    f"steady sync: {name} CPU (median)",
                    _seconds(cpu),
                    "",
                    None,
                    cpu,
                )
            )
        used = results.server_memory.get(name)
        if used is not None:
            rss, hwm = used.rss / MIB, used.hwm / MIB
            rows.append(
                Figure(
                    f"server.{slug}.rss",
                    f"{name} RSS (peak)",
                    f"{rss:.0f} MiB ({hwm:.0f} MiB)",
                    "",
                    None,
                    rss,
                )
            )
    return rows


def figures(results: Results) -> list[Figure]:
    opts = results.options
    pages = listing_requests(opts.models, opts.page_size)
    rows: list[Figure] = []
    if results.first is not None:
        rows += _first_sync(results, results.first, pages)
    if results.steady:
        rows += _steady(results, results.steady, pages)
    if results.memory is not None:
        rss = results.memory.rss / MIB
        rows.append(
            Figure(
                "memory.rss",
                f"operator RSS with {opts.models} ModelRefs",
                f"{rss:.0f} MiB",
                "",
                None,
                rss,
            )
        )
    peak = results.peak or results.memory
    if peak is not None:
        hwm = peak.hwm / MIB
        target, ok = _peak_rss(opts.models, hwm)
        rows.append(
            Figure(
                "memory.hwm",
                "operator peak RSS (VmHWM, first sync included)",
                f"{hwm:.0f} MiB",
                target,
                ok,
                hwm,
            )
        )
    if results.annotated is not None:
        annotated = results.annotated
        rows.append(
            Figure(
                "annotated.writes",
                "steady sync by annotation: writes",
                _writes(annotated, results.write_log),
                "1 (status.lastHandledReconcileAt)",
                annotated.wire_writes == 1,
                annotated.wire_writes,
            )
        )
    if results.latencies:
        median = statistics.median(results.latencies)
        target, ok = _at_target_n(opts.models, "< 2 s", median < 2.0)
        rows.append(
            Figure(
                "latency.median",
                f"trigger annotation -> updated ModelRef (median of {len(results.latencies)})",
                _seconds(median),
                target,
                ok,
                median,
            )
        )
    if results.named:
        rows += _named(results)
    return rows + _server(results)


def _sample_line(label: str, sample: SyncSample) -> str:
    kinds = sorted(set(sample.writes))
    line = (
        f"{label}: operator log says {sample.line.result} in {sample.line.duration_ms} ms, "
        f"{sample.line.writes} writes; bench saw {sample.wire_writes} writes {kinds[:6]}, "
        f"{sample.catalog_list_requests}+{sample.catalog_version_requests} catalog requests, "
        f"CPU {sample.cpu:.2f} s, wall {sample.wall:.2f} s"
    )
    return line if sample.idle else line + " (operator still busy at the timeout)"


def _share(frame: str, samples: int, total: int) -> str:
    return f"    {100 * samples / total:5.1f}%  {frame}"


def _named_lines(named: Sequence[NamedSample]) -> list[str]:
    lines = [
        "named-model trigger latencies: "
        + ", ".join(f"{s.latency:.3f} s ({s.model})" for s in named),
        "their catalog requests (models + version lookups + other, failed): "
        + ", ".join(
            f"{s.model_lookups}+{s.version_lookups}+{s.other_requests}, {s.catalog_failed}"
            for s in named
        ),
        "their operator CPU: " + ", ".join(f"{s.cpu:.2f} s" for s in named),
        "their ModelRef LIST requests: "
        + ", ".join(str(s.modelref_list_requests) for s in named)
        + "; sync lines logged: "
        + ", ".join(str(s.sync_lines) for s in named),
        f"writes of a named-model trigger: {sorted(named[0].writes)}"
        + ("" if all(s.idle for s in named) else " (operator still busy at a timeout)"),
    ]
    return lines


def _per_model(results: Results) -> float | None:
    """Median steady-sync operator CPU per model, in seconds."""
    if not results.steady or results.options.models <= 0:
        return None
    return statistics.median(s.cpu for s in results.steady) / results.options.models


def comparison(runs: Sequence[Results]) -> list[Figure]:
    """Rows comparing runs of several catalog sizes; the first run is the reference."""
    if not runs:
        return []
    base = runs[0]
    base_n, base_cpu = base.options.models, _per_model(base)
    rows: list[Figure] = []
    for results in runs:
        n = results.options.models
        per_model = _per_model(results)
        if per_model is not None:
            rows.append(
                Figure(
                    f"compare.{n}.cpu_per_model",
                    f"N={n}: steady sync operator CPU per model",
                    f"{per_model * 1000:.3f} ms",
                    "",
                    None,
                    per_model,
                )
            )
        peak = results.peak or results.memory
        if peak is not None:
            hwm = peak.hwm / MIB
            target, ok = _peak_rss(n, hwm)
            rows.append(
                Figure(
                    f"compare.{n}.peak_rss",
                    f"N={n}: operator peak RSS (VmHWM)",
                    f"{hwm:.0f} MiB",
                    target,
                    ok,
                    hwm,
                )
            )
        if results is base or per_model is None or not base_cpu:
            continue
        growth = per_model / base_cpu
        rows.append(
            Figure(
                f"compare.{n}.cpu_per_model_growth",
                f"N={n}: steady CPU per model vs N={base_n}",
                f"{growth:.2f}x",
                f"within {CPU_PER_MODEL_GROWTH}x",
                growth <= CPU_PER_MODEL_GROWTH,
                growth,
            )
        )
    return rows


def details(results: Results) -> list[str]:
    lines = [f"setup (catalog, cluster, CRDs, operator start): {_seconds(results.setup_seconds)}"]
    samples: list[tuple[str, SyncSample]] = []
    if results.first is not None:
        samples.append(("sync 1, ModelCatalogSync created", results.first))
    if results.settle is not None:
        samples.append(("sync 2, Secret touched (settles status counts)", results.settle))
    samples += [(f"sync {i + 3}, Secret touched (steady)", s) for i, s in enumerate(results.steady)]
    if results.annotated is not None:
        samples.append(("next sync, trigger annotation (steady)", results.annotated))
    lines += [_sample_line(label, sample) for label, sample in samples]
    if results.latencies:
        lines.append("trigger latencies: " + ", ".join(f"{x:.2f} s" for x in results.latencies))
        lines.append(
            "their syncs, trigger -> the operator's sync line: "
            + ", ".join(f"{s.wall:.2f} s" for s in results.latency_syncs)
        )
        lines.append(
            f"writes of a trigger that changes one model: {sorted(results.latency_writes)}"
        )
    if results.named:
        lines += _named_lines(results.named)
    for phase, profile in results.profiles.items():
        if not profile.samples:
            continue
        lines.append(
            f"where the {phase}'s CPU went (py-spy, {profile.samples} samples, all threads; "
            "share, then its hottest frames):"
        )
        for label, n, leaves in profile.components:
            lines.append(_share(label, n, profile.samples))
            lines += ["      " + _share(frame, k, profile.samples) for frame, k in leaves]
    return lines
