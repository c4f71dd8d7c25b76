"""Turn a bench run's Results into the benchmark rows and their detail lines."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from bench_results import Results, SyncSample
from figures import Figure
from generated_catalog import non_deployable_indices

__all__ = ["details", "figures"]

MIB = 1024 * 1024
MODELREF_PAGE = 500  # kube.modelrefs lists in pages of this size (limit/continue)


# A complete listing's requests: one per page, plus one that confirms a full last page is the
# last (the client's completeness rule; an empty catalog still costs one request).
LISTING_TARGET = "ceil(N/pageSize) (+1 if the last page is full)"


def listing_requests(models: int, page_size: int) -> int:
    pages = math.ceil(models / page_size)
    return pages + 1 if models % page_size == 0 else pages


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.1f}x" if base > 0 else "n/a"


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
            "",
            None,
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
            f"{lists} ({list_requests} pages of <= {MODELREF_PAGE})",
            "1",
            lists == 1,
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
        base, fast = parse.operator_parser, parse.validate_json
        rows += [
            Figure(
                "parse.operator_parser",
                "parse+validate the pages: json.loads+parse_page",
                _seconds(base),
                "",
                None,
                base,
            ),
            Figure(
                "parse.validate_json",
                "parse+validate the pages: model_validate_json",
                _seconds(fast),
                "",
                None,
                fast,
            ),
            Figure(
                "steady.cpu_ratio",
                "steady sync CPU / parse+validate (parse_page)",
                _ratio(cpu, base),
                "<= 3x",
                base > 0 and cpu / base <= 3.0,
                cpu / base if base > 0 else None,
            ),
            Figure(
                "steady.cpu_ratio_fast",
                "steady sync CPU / model_validate_json",
                _ratio(cpu, fast),
                "",
                None,
                cpu / fast if fast > 0 else None,
            ),
        ]
    return rows


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
        rss, hwm = results.memory.rss / MIB, results.memory.hwm / MIB
        rows += [
            Figure(
                "memory.rss",
                f"operator RSS with {opts.models} ModelRefs",
                f"{rss:.0f} MiB",
                "< 200 MiB",
                rss < 200,
                rss,
            ),
            Figure(
                "memory.hwm",
                "operator peak RSS (VmHWM, first sync included)",
                f"{hwm:.0f} MiB",
                "",
                None,
                hwm,
            ),
        ]
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
        rows.append(
            Figure(
                "latency.median",
                f"trigger -> updated ModelRef (median of {len(results.latencies)})",
                _seconds(median),
                "< 2 s",
                median < 2.0,
                median,
            )
        )
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
