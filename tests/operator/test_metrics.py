"""Prometheus metrics: the observer -> metrics mapping (pure), the /metrics server, the
`modelsync run` flags, and a scrape of a running operator after real syncs."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from e2e_harness import Scenario, condition
from hypothesis import given
from hypothesis import strategies as st
from observed_operator import Samples, observed, observed_scene, parse_samples, scrape
from prometheus_client import CollectorRegistry, generate_latest

from modelsync.cli import run as run_command
from modelsync.metrics import OperatorMetrics, serve_metrics
from modelsync.runtime.observers import SYNC_RESULTS, SyncReport

__all__ = ["observed", "observed_scene"]  # fixtures used below

NOW = 1_750_000_000.0


def report(result: str = "success", **changes: object) -> SyncReport:
    values: dict[str, object] = {
        "namespace": "ml",
        "name": "prod",
        "result": result,
        "reason": "Synced" if result == "success" else "CatalogUnavailable",
        "duration": 0.4,
        "ready_refs": 3,
        "not_ready_refs": 1,
        "writes": 5,
    }
    values.update(changes)
    return SyncReport(**values)  # type: ignore[arg-type]


def samples(metrics: OperatorMetrics) -> Samples:
    return parse_samples(generate_latest(metrics.registry).decode())


# --- the mapping, without a server ---------------------------------------------------------


def test_a_successful_sync_sets_every_per_sync_series() -> None:
    metrics = OperatorMetrics(clock=lambda: NOW)
    metrics.sync_started("ml", "prod")
    assert samples(metrics).total("modelsync_sync_in_progress", sync="prod") == 1
    metrics.sync_finished(report())
    got = samples(metrics)
    key = {"namespace": "ml", "sync": "prod"}
    assert got.total("modelsync_syncs_total", **key, result="success") == 1
    for other in ("failure", "stalled", "suspended"):  # present at zero from the first sight
        assert got.has("modelsync_syncs_total", **key, result=other)
        assert got.total("modelsync_syncs_total", **key, result=other) == 0
    assert got.total("modelsync_sync_duration_seconds_count", **key) == 1
    assert got.total("modelsync_sync_duration_seconds_sum", **key) == pytest.approx(0.4)
    assert got.total("modelsync_sync_in_progress", **key) == 0
    assert got.total("modelsync_modelrefs", **key, ready="True") == 3
    assert got.total("modelsync_modelrefs", **key, ready="False") == 1
    assert got.total("modelsync_last_successful_sync_timestamp_seconds", **key) == NOW


def test_a_failed_sync_keeps_the_last_success_time_and_the_modelref_numbers() -> None:
    clock = iter([NOW, NOW + 60])
    metrics = OperatorMetrics(clock=lambda: next(clock))
    metrics.sync_finished(report())
    metrics.sync_finished(report("failure", ready_refs=3, not_ready_refs=1))
    metrics.sync_finished(report("stalled", reason="SecretNotFound"))
    got = samples(metrics)
    assert got.total("modelsync_syncs_total", result="failure") == 1
    assert got.total("modelsync_syncs_total", result="stalled") == 1
    assert got.total("modelsync_last_successful_sync_timestamp_seconds") == NOW
    assert got.total("modelsync_modelrefs", ready="True") == 3


def test_catalog_responses_by_code() -> None:
    metrics = OperatorMetrics()
    for code in (200, 200, 503, None):
        metrics.catalog_response(code)
    got = samples(metrics)
    assert got.total("modelsync_catalog_requests_total", code="200") == 2
    assert got.total("modelsync_catalog_requests_total", code="503") == 1
    assert got.total("modelsync_catalog_requests_total", code="error") == 1


def test_only_successful_writes_count_as_kubernetes_writes() -> None:
    metrics = OperatorMetrics()
    metrics.kube_request("create", "modelrefs", 200)
    metrics.kube_request("create", "modelrefs", 409)
    metrics.kube_request("patch", "modelcatalogsyncs/status", 200)
    metrics.kube_request("delete", "modelrefs", None)
    metrics.kube_request("list", "modelrefs", 200)
    metrics.kube_request("get", "secrets", 404)
    got = samples(metrics)
    writes = "modelsync_kube_writes_total"
    assert got.total(writes, verb="create", resource="modelrefs") == 1
    assert got.total(writes, verb="patch", resource="modelcatalogsyncs/status") == 1
    assert got.total(writes) == 2
    assert got.label_values("verb") >= {"create", "patch", "delete", "list", "get"}
    requests = "modelsync_kube_requests_total"
    assert got.total(requests) == 6
    assert got.total(requests, verb="create", code="409") == 1
    assert got.total(requests, verb="delete", code="error") == 1
    assert got.total(requests, verb="get", resource="secrets", code="404") == 1


def test_passes_that_are_not_ready_are_counted_by_reason() -> None:
    metrics = OperatorMetrics()
    metrics.sync_finished(report())
    metrics.sync_finished(report("failure", reason="InternalError"))
    metrics.sync_finished(report("failure", reason="InternalError"))
    metrics.sync_finished(report("failure", reason="InconsistentListing"))
    metrics.sync_finished(report("stalled", reason="SecretNotOptedIn"))
    metrics.sync_finished(report("suspended", reason="Suspended"))
    got = samples(metrics)
    failures = "modelsync_sync_failures_total"
    assert got.total(failures, sync="prod", reason="InternalError") == 2
    assert got.total(failures, reason="InconsistentListing") == 1
    assert got.total(failures, reason="SecretNotOptedIn") == 1
    assert got.total(failures) == 4  # neither the success nor the suspension
    metrics.sync_forgotten("ml", "prod")
    assert not samples(metrics).has(failures, sync="prod")


def test_a_forgotten_sync_loses_its_series_and_others_keep_theirs() -> None:
    metrics = OperatorMetrics()
    metrics.sync_started("ml", "prod")
    metrics.sync_finished(report())
    metrics.sync_finished(report(name="staging"))
    metrics.sync_forgotten("ml", "prod")
    metrics.sync_forgotten("ml", "never-seen")
    got = samples(metrics)
    assert not got.has("modelsync_syncs_total", sync="prod")
    assert not got.has("modelsync_modelrefs", sync="prod")
    assert not got.has("modelsync_sync_duration_seconds_count", sync="prod")
    assert not got.has("modelsync_last_successful_sync_timestamp_seconds", sync="prod")
    assert not got.has("modelsync_sync_in_progress", sync="prod")
    assert got.total("modelsync_syncs_total", sync="staging", result="success") == 1
    metrics.sync_finished(report())  # seen again: starts from zero
    assert samples(metrics).total("modelsync_syncs_total", sync="prod") == 1


def test_each_instance_has_its_own_registry() -> None:
    first, second = OperatorMetrics(), OperatorMetrics()
    first.sync_finished(report())
    assert samples(second).total("modelsync_syncs_total") == 0
    shared = CollectorRegistry()
    OperatorMetrics(shared)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        OperatorMetrics(shared)


@given(st.lists(st.tuples(st.sampled_from(SYNC_RESULTS), st.sampled_from(["a", "b"]))))
def test_counts_follow_the_reports(items: list[tuple[str, str]]) -> None:
    metrics = OperatorMetrics(clock=lambda: NOW)
    for result, name in items:
        metrics.sync_finished(report(result, name=name))
    got = samples(metrics)
    expected = Counter(items)
    for result in SYNC_RESULTS:
        for name in ("a", "b"):
            value = got.total("modelsync_syncs_total", sync=name, result=result)
            assert value == expected[result, name]
    for name in ("a", "b"):
        runs = sum(1 for _, n in items if n == name)
        assert got.total("modelsync_sync_duration_seconds_count", sync=name) == runs
        succeeded = ("success", name) in expected
        assert got.has("modelsync_last_successful_sync_timestamp_seconds", sync=name) == succeeded


# --- the server and the flags -------------------------------------------------------------


def test_the_server_serves_the_registry_and_stops() -> None:
    metrics = OperatorMetrics()
    metrics.catalog_response(200)
    server = serve_metrics(metrics.registry, "127.0.0.1", 0)
    try:
        response = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
        assert response.status_code == 200
        assert parse_samples(response.text).total("modelsync_catalog_requests_total") == 1
        with pytest.raises(OSError, match="in use"):
            serve_metrics(metrics.registry, "127.0.0.1", server.port)  # taken
    finally:
        server.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=2)


def parse_run(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    run_command.add_arguments(parser)
    return parser.parse_args(argv)


def test_endpoint_defaults_do_not_collide() -> None:
    args = parse_run([])
    assert (args.metrics_port, args.metrics_host) == (8080, "0.0.0.0")  # noqa: S104
    assert args.liveness == "http://0.0.0.0:8081/healthz"
    assert args.log_format == "text"
    assert run_command.endpoint_clash(args.liveness, args.metrics_port) is None


@pytest.mark.parametrize(
    ("liveness", "port", "clash"),
    [
        ("http://0.0.0.0:9000/healthz", 9000, True),
        ("http://127.0.0.1/healthz", 80, True),  # no port in the URL: 80
        ("http://0.0.0.0:9000/healthz", 0, False),  # metrics off
        ("", 8081, False),  # liveness off
    ],
)
def test_endpoint_clash(liveness: str, port: int, clash: bool) -> None:
    assert (run_command.endpoint_clash(liveness, port) is not None) == clash


@pytest.mark.parametrize(
    "argv",
    [
        ["--metrics-port", "-1"],
        ["--metrics-port", "65536"],
        ["--metrics-port", "http"],
        ["--liveness", "https://0.0.0.0:8081/healthz"],
        ["--liveness", "http://0.0.0.0:8081"],
        ["--liveness", "http://0.0.0.0:port/healthz"],
    ],
)
def test_bad_endpoint_flags_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_run(argv)
    assert exited.value.code == 2


def test_off_values() -> None:
    args = parse_run(["--metrics-port", "0", "--liveness", ""])
    assert (args.metrics_port, args.liveness) == (0, "")


# --- a running operator -------------------------------------------------------------------


def scrape_until(scene: Scenario, what: str, ok: Callable[[Samples], bool]) -> Samples:
    url = scene.e2e.metrics_url
    found: list[Samples] = []

    def probe() -> bool:
        got = scrape(url)
        found[:] = [got]
        return ok(got)

    scene.wait(probe, what)
    return found[0]


@pytest.mark.e2e
def test_metrics_after_a_sync(observed_scene: Scenario) -> None:
    scene = observed_scene
    assert scene.e2e.sandbox is not None
    ns, name = scene.namespace, "everything"
    key = {"namespace": ns, "sync": name}
    before = scrape(scene.e2e.metrics_url)
    scene.e2e.sandbox.reset_stats()
    started = time.time()

    scene.create_sync(name)
    sync = scene.wait_condition(name, "True", "Synced")
    after = scrape_until(
        scene,
        "the sync's success in /metrics",
        lambda got: got.total("modelsync_syncs_total", **key, result="success") >= 1,
    )

    refs = scene.modelrefs(name)
    ready = sum(1 for obj in refs.values() if (condition(obj) or {}).get("status") == "True")
    assert refs
    assert ready
    assert after.total("modelsync_syncs_total", **key, result="success") == 1
    assert after.total("modelsync_syncs_total", **key, result="failure") == 0
    assert after.total("modelsync_modelrefs", **key, ready="True") == ready
    assert after.total("modelsync_modelrefs", **key, ready="False") == len(refs) - ready
    assert after.total("modelsync_sync_duration_seconds_count", **key) == 1
    assert after.total("modelsync_sync_in_progress", **key) == 0
    assert after.has("python_info")  # the process's own series come along
    stamp = after.total("modelsync_last_successful_sync_timestamp_seconds", **key)
    assert started - 1 <= stamp <= time.time() + 1

    def delta(name: str, **labels: str) -> float:
        return after.total(name, **labels) - before.total(name, **labels)

    # Only this test's sync ran in this operator meanwhile: deltas are exact.
    answered = len(scene.catalog.recorded_requests())
    assert delta("modelsync_catalog_requests_total", code="200") == answered >= 1
    assert sync["status"]["catalog"]["requests"] == answered
    assert delta("modelsync_catalog_requests_total") == answered
    creates = [
        r
        for r in scene.e2e.sandbox.stats.log
        if r.verb == "create" and r.resource == "modelrefs" and r.namespace == ns
    ]
    assert delta("modelsync_kube_writes_total", verb="create", resource="modelrefs") == len(refs)
    assert len(creates) == len(refs)
    assert delta("modelsync_kube_writes_total", verb="patch", resource="modelrefs") == 0


@pytest.mark.e2e
def test_failures_are_counted_and_a_deleted_sync_drops_its_series(
    observed_scene: Scenario,
) -> None:
    scene = observed_scene
    ns, name = scene.namespace, "flaky"
    key = {"namespace": ns, "sync": name}
    scene.create_sync(name, select={"mlRepos": ["churn"]})
    scene.wait_condition(name, "True", "Synced")
    first = scrape_until(
        scene,
        "the first success",
        lambda got: got.total("modelsync_syncs_total", **key, result="success") == 1,
    )
    stamp = first.total("modelsync_last_successful_sync_timestamp_seconds", **key)

    scene.catalog.faults.fail_next(1, 503)
    scene.trigger(name)
    failed = scrape_until(
        scene,
        "the failure",
        lambda got: got.total("modelsync_syncs_total", **key, result="failure") == 1,
    )
    assert failed.total("modelsync_catalog_requests_total", code="503") >= 1
    assert failed.total("modelsync_last_successful_sync_timestamp_seconds", **key) == stamp
    assert failed.total("modelsync_modelrefs", **key) == len(scene.modelrefs(name))

    scene.e2e.ok("delete", "mcs", name, "-n", ns)
    scrape_until(
        scene,
        "the deleted sync's series to go",
        lambda got: (
            not got.has("modelsync_syncs_total", **key)
            and not got.has("modelsync_modelrefs", **key)
        ),
    )
