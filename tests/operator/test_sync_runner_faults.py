"""A sync pass against hostile or broken surroundings, in-process against the real sandbox
servers: Secrets that are not opted in, a token that cannot be sent, destinations that are
not allowed, listings that lie, responses that are too large or too slow, unexpected
exceptions, models held by another sync. Each ends as an honest status and at most one
Warning event, and deletes or marks nothing it cannot justify."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from e2e_harness import condition
from prometheus_client import generate_latest
from runner_world import TOKEN, World

from fixtures_kube import eventually
from modelsync.kube.secrets import secret_version
from modelsync.metrics import OperatorMetrics
from modelsync.runtime.gates import SyncGates
from modelsync.runtime.hosts import AllowedHosts
from modelsync.runtime.worker import SyncWorker
from modelsync_sandbox.catalog_server import CatalogSandbox

CHURN = {"mlRepos": ["churn"]}  # 5 models in the shipped fixtures
WAIT = 10.0  # a bound on every wait in this file


def ready(world: World, name: str = "s") -> dict[str, str]:
    found = condition(world.sync(name))
    assert found is not None
    return found


def stalled(world: World, name: str = "s") -> dict[str, str]:
    found = condition(world.sync(name), "Stalled")
    assert found is not None
    return found


# --- Secrets and tokens ----------------------------------------------------------------------


async def test_a_token_secret_without_the_opt_in_label_stalls_and_calls_no_catalog(
    world: World,
) -> None:
    world.secret("plain", {"token": TOKEN}, opted_in=False)
    body = world.create_sync(catalog={"tokenSecretRef": {"name": "plain", "key": "token"}})
    runner = world.runner()
    outcome = await runner.sync(body, 0)
    assert outcome.kind == "stalled"
    assert "plain" in outcome.secret_versions  # labelling it changes it: a sync follows
    found = stalled(world)
    assert (found["status"], found["reason"]) == ("True", "SecretNotOptedIn")
    assert "kubectl label secret plain" in found["message"]
    assert "modelsync.dev/catalog-credentials=true" in found["message"]
    assert TOKEN not in str(world.sync())
    assert ready(world)["reason"] == "SecretNotOptedIn"
    assert world.warnings() == ["SecretNotOptedIn"]
    assert world.catalog.recorded_requests() == []

    world.ok("label", "secret", "plain", "-n", world.ns, "modelsync.dev/catalog-credentials=true")
    outcome = await runner.sync(world.sync(), 0)
    assert outcome.kind == "success"
    assert ready(world)["reason"] == "Synced"
    await runner.close()


async def test_a_ca_secret_without_the_opt_in_label_stalls_too(world: World) -> None:
    world.secret("corp-ca", {"ca.crt": "-----BEGIN CERTIFICATE-----"}, opted_in=False)
    body = world.create_sync(catalog={"caSecretRef": {"name": "corp-ca", "key": "ca.crt"}})
    runner = world.runner()
    outcome = await runner.sync(body, 0)
    assert outcome.kind == "stalled"
    found = stalled(world)
    assert found["reason"] == "SecretNotOptedIn"
    assert "corp-ca" in found["message"]
    assert world.catalog.recorded_requests() == []
    await runner.close()


async def test_a_token_with_a_space_stalls_with_invalid_token_and_an_event(world: World) -> None:
    spaced = "tok with-a-space-93e1"
    world.secret("tfy", {"token": spaced})
    body = world.create_sync(select=CHURN)
    runner = world.runner()
    for attempt in range(2):
        outcome = await runner.sync(world.sync() if attempt else body, attempt)
        assert outcome.kind == "stalled"
        assert outcome.delay is not None
    found = stalled(world)
    assert (found["status"], found["reason"]) == ("True", "InvalidToken")
    assert 'Secret "tfy" key "token"' in found["message"]
    assert ready(world)["reason"] == "InvalidToken"
    assert world.warnings() == ["InvalidToken"]  # one event, not one per pass
    assert spaced not in str(world.sync())
    assert world.catalog.recorded_requests() == []

    world.secret("tfy", {"token": TOKEN})
    assert (await runner.sync(world.sync(), 0)).kind == "success"
    assert stalled(world)["status"] == "False"
    await runner.close()


# --- destinations ----------------------------------------------------------------------------


async def test_a_loopback_catalog_needs_an_explicit_allowed_hosts_entry(world: World) -> None:
    body = world.create_sync(select=CHURN)
    wildcard = world.runner(allowed_hosts=AllowedHosts.parse(["http://*"]))
    outcome = await wildcard.sync(body, 0)
    assert outcome.kind == "stalled"
    found = stalled(world)
    assert found["reason"] == "CatalogNotAllowed"
    assert "127.0.0.1" in found["message"]
    assert "--allowed-hosts" in found["message"]
    assert world.catalog.recorded_requests() == []  # refused before any request
    assert world.refs() == {}
    await wildcard.close()

    named = world.runner(allowed_hosts=AllowedHosts.parse(["http://127.0.0.1:*"]))
    assert (await named.sync(world.sync(), 0)).kind == "success"
    assert len(world.refs()) == 5
    await named.close()


async def test_the_cloud_metadata_address_is_refused(world: World) -> None:
    body = world.create_sync(catalog={"url": "http://169.254.169.254"})
    runner = world.runner(allowed_hosts=AllowedHosts.parse(["http://*"]))
    outcome = await runner.sync(body, 0)
    assert outcome.kind == "stalled"
    found = stalled(world)
    assert found["reason"] == "CatalogNotAllowed"
    assert "169.254.169.254" in found["message"]
    await runner.close()


# --- listings that lie -----------------------------------------------------------------------


LIES: dict[str, Callable[[CatalogSandbox], None]] = {
    "empty-page-before-total": lambda c: c.faults.empty_page_before_total(from_offset=10),
    "understated-total": lambda c: c.faults.understate_total(2),
    "ignored-offset": lambda c: c.faults.ignore_offset(),
    "repeated-page": lambda c: c.faults.repeat_page(),
}


@pytest.mark.parametrize("lie", list(LIES))
async def test_an_inconsistent_listing_deletes_nothing_and_recovers(world: World, lie: str) -> None:
    body = world.create_sync(select=CHURN, deletionPolicy="Delete", catalog={"pageSize": 10})
    runner = world.runner()
    assert (await runner.sync(body, 0)).kind == "success"
    before = world.versions()
    assert len(before) == 5

    LIES[lie](world.catalog)
    outcome = await runner.sync(world.sync(), 0)
    assert outcome.kind == "failure"  # retried with backoff
    assert outcome.delay is not None
    assert outcome.delay < 60
    found = ready(world)
    assert (found["status"], found["reason"]) == ("False", "InconsistentListing")
    assert found["message"]
    assert world.versions() == before  # nothing deleted, nothing marked
    await runner.sync(world.sync(), 1)
    assert world.warnings() == ["InconsistentListing"]

    world.catalog.faults.clear()
    assert (await runner.sync(world.sync(), 2)).kind == "success"
    assert ready(world)["reason"] == "Synced"
    assert world.versions() == before
    await runner.close()


async def test_an_inconsistent_listing_still_creates_the_models_it_saw(world: World) -> None:
    world.catalog.faults.understate_total(2, path_prefix="/api/ml/v1/models")
    body = world.create_sync(select=CHURN, catalog={"pageSize": 100})
    runner = world.runner()
    outcome = await runner.sync(body, 0)
    assert outcome.kind == "failure"
    assert ready(world)["reason"] == "InconsistentListing"
    assert len(world.refs()) == 5  # every model it saw is there
    await runner.close()


# --- bounds on bytes and time ----------------------------------------------------------------


async def test_a_response_over_the_byte_cap_fails_and_changes_nothing(world: World) -> None:
    body = world.create_sync(select=CHURN, deletionPolicy="Delete")
    runner = world.runner()
    await runner.sync(body, 0)
    before = world.versions()

    world.catalog.faults.oversized_body(2 * 1024 * 1024)
    capped = world.runner(max_response_bytes=1024 * 1024)
    outcome = await capped.sync(world.sync(), 0)
    assert outcome.kind == "failure"
    found = ready(world)
    assert (found["status"], found["reason"]) == ("False", "ResponseTooLarge")
    assert world.versions() == before
    await runner.close()
    await capped.close()


async def test_a_pass_past_its_deadline_times_out_and_deletes_nothing(world: World) -> None:
    body = world.create_sync(select=CHURN, deletionPolicy="Delete", catalog={"timeoutSeconds": 30})
    runner = world.runner()
    await runner.sync(body, 0)
    before = world.versions()
    world.catalog.catalog.remove_model(
        next(m["id"] for m in world.catalog.catalog.models() if m["name"] == "baseline")
    )
    world.catalog.faults.drip(0.2)  # one byte every 0.2 s: a listing takes minutes

    slow = world.runner(sync_timeout=1.0)
    started = time.monotonic()
    outcome = await slow.sync(world.sync(), 0)
    assert time.monotonic() - started < 5
    assert outcome.kind == "failure"
    found = ready(world)
    assert (found["status"], found["reason"]) == ("False", "SyncTimedOut")
    assert "--sync-timeout" in found["message"]
    assert world.versions() == before  # the removed model's ModelRef is still there
    await runner.close()
    await slow.close()


async def test_no_removal_starts_once_the_deadline_passed_during_writes(world: World) -> None:
    body = world.create_sync(select=CHURN, deletionPolicy="Delete")
    runner = world.runner()
    await runner.sync(body, 0)
    baseline = next(m for m in world.catalog.catalog.models() if m["name"] == "baseline")
    world.catalog.catalog.remove_model(baseline["id"])  # a delete is planned
    world.ok(  # and a repair of a hand edit: a write before the delete
        "patch", "modelref", "churn.churn-survival", "-n", world.ns, "--type=merge",
        "-p", '{"spec": {"version": {"version": 99}}}',
    )  # fmt: skip
    fault = world.sandbox.faults.delay(
        2.0, verbs=["patch"], resources=["modelrefs"], namespace=world.ns
    )
    deletes_before = sum(1 for r in world.sandbox.stats.log if r.verb == "delete")
    try:
        slow = world.runner(sync_timeout=1.0)
        outcome = await slow.sync(world.sync(), 0)
    finally:
        world.sandbox.faults.remove(fault)
    assert outcome.kind == "failure"
    found = ready(world)
    assert (found["status"], found["reason"]) == ("False", "SyncTimedOut")
    assert "nothing was deleted or marked removed" in found["message"]
    assert "churn.baseline" in world.refs()
    assert sum(1 for r in world.sandbox.stats.log if r.verb == "delete") == deletes_before
    assert world.refs()["churn.churn-survival"]["spec"]["version"]["version"] != 99

    assert (await slow.sync(world.sync(), 1)).kind == "success"  # in time again
    assert "churn.baseline" not in world.refs()
    await runner.close()
    await slow.close()


async def test_a_dripping_catalog_does_not_hold_back_a_healthy_one(world: World) -> None:
    """--max-concurrent-syncs 1 and two sync loops stuck on a dripping catalog: the loop of a
    sync against a healthy catalog still finishes its pass at once."""
    gates = SyncGates(max_syncs=1, max_per_catalog=2)
    ctx = world.context(gates=gates)

    def worker(name: str, body: dict[str, Any]) -> SyncWorker:
        started = SyncWorker(
            (world.ns, name),
            body,
            runner=world.runner(name, ctx),
            probe_secret=partial(secret_version, world.api),
            secret_check_interval=60.0,
        )
        started.start()
        return started

    with CatalogSandbox.running_in_thread(token=TOKEN) as dripping:
        dripping.faults.drip(1.0)
        stuck = [
            worker(name, world.create_sync(name, catalog={"url": dripping.url}))
            for name in ("slow-a", "slow-b")
        ]
        healthy: SyncWorker | None = None
        try:
            await eventually(lambda: gates.catalog_users(dripping.url) == 2, "both to list", WAIT)
            await asyncio.sleep(0.3)  # well into the drip
            started = time.monotonic()
            healthy = worker("healthy", world.create_sync("healthy", select=CHURN))
            await eventually(
                lambda: healthy is not None and healthy.syncs >= 1, "healthy sync", WAIT
            )
            elapsed = time.monotonic() - started
            assert elapsed < 3, f"the healthy sync waited {elapsed:.1f}s"
            assert ready(world, "healthy")["reason"] == "Synced"
            assert all(w.syncs == 0 for w in stuck)  # still dripping
            assert gates.catalog_users(dripping.url) == 2
        finally:
            for each in (*stuck, *([healthy] if healthy else [])):
                await each.stop()


# --- no silent crashes -----------------------------------------------------------------------


class FailingClock:
    """A clock that raises once, on its `fail_on`-th call: an unexpected exception in the
    middle of a pass."""

    def __init__(self, fail_on: int) -> None:
        self.calls = 0
        self.fail_on = fail_on

    def __call__(self) -> datetime:
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError(f"clock broke; token {TOKEN}")
        return datetime.now(UTC)


async def test_an_unexpected_exception_ends_as_internal_error_with_one_event_and_a_metric(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = OperatorMetrics()
    body = world.create_sync(select=CHURN)
    ctx = world.context(observer=metrics)
    ctx.clock = FailingClock(fail_on=1)
    runner = world.runner(ctx=ctx)
    outcome = await runner.sync(body, 0)
    assert outcome.kind == "failure"
    assert outcome.delay is not None
    assert outcome.delay <= 2  # backoff, not a fixed minute
    found = ready(world)
    assert (found["status"], found["reason"]) == ("False", "InternalError")
    assert "RuntimeError" in found["message"]
    assert TOKEN not in str(world.sync())
    assert world.warnings() == ["InternalError"]
    assert "clock broke" in caplog.text  # the traceback is logged, the token is not
    assert TOKEN not in caplog.text
    exposed = generate_latest(metrics.registry).decode()
    assert 'modelsync_sync_failures_total{namespace="' in exposed
    assert 'reason="InternalError"' in exposed

    assert (await runner.sync(world.sync(), 1)).kind == "success"  # the clock works again
    assert ready(world)["reason"] == "Synced"
    await runner.close()


# --- honest Ready ----------------------------------------------------------------------------


async def test_a_sync_whose_every_model_belongs_to_another_is_not_ready(world: World) -> None:
    first = world.runner("first")
    await first.sync(world.create_sync("first", select=CHURN), 0)
    assert ready(world, "first")["reason"] == "Synced"
    before = world.versions()

    second = world.runner("second")
    outcome = await second.sync(world.create_sync("second", select=CHURN), 0)
    assert outcome.kind == "success"  # nothing to retry sooner than the interval
    status = world.sync("second")["status"]
    found = ready(world, "second")
    assert (found["status"], found["reason"]) == ("False", "ModelsFailed")
    assert "5" in found["message"]
    assert status["modelRefs"]["failed"] == 5
    assert {f["reason"] for f in status["failures"]} == {"OwnedByAnotherSync"}
    assert world.versions() == before
    assert world.warnings("second") == ["ModelsFailed"]
    await first.close()
    await second.close()


@pytest.fixture
def no_versions_endpoint(world: World) -> Iterator[None]:
    world.catalog.faults.fail_next(1000, 500, path_prefix="/api/ml/v1/model-versions")
    yield
    world.catalog.faults.clear()


@pytest.mark.usefixtures("no_versions_endpoint")
async def test_failed_version_lookups_make_the_sync_not_ready(world: World) -> None:
    predictor = "model:acme/churn/churn-predictor"  # latest v6 is not deployable: a lookup
    body = world.create_sync(filters={"fqn": predictor})
    runner = world.runner(catalog_attempts=1)
    outcome = await runner.sync(body, 0)
    assert outcome.kind == "failure"  # a catalog hiccup: retried with backoff
    status = world.sync()["status"]
    found = ready(world)
    assert (found["status"], found["reason"]) == ("False", "ModelsFailed")
    assert [f["reason"] for f in status["failures"]] == ["VersionLookupFailed"]
    await runner.close()


@pytest.mark.parametrize(
    "ca_bundle",
    ["caf\u00e9 -----BEGIN CERTIFICATE-----", "-----BEGIN CERTIFICATE-----\nAAAA\n"],
)
async def test_a_ca_bundle_the_tls_library_refuses_stalls_like_any_bad_bundle(
    world: World, ca_bundle: str
) -> None:
    # A non-ASCII bundle makes the TLS library raise TypeError, not SSLError: still a Stalled
    # status naming the Secret, not an internal error.
    world.secret("corp-ca", {"ca.crt": ca_bundle})
    body = world.create_sync(catalog={"caSecretRef": {"name": "corp-ca", "key": "ca.crt"}})
    runner = world.runner()
    outcome = await runner.sync(body, 0)
    assert outcome.kind == "stalled"
    assert outcome.secret_versions.keys() == {"tfy", "corp-ca"}
    found = stalled(world)
    assert (found["status"], found["reason"]) == ("True", "SecretNotFound")
    assert found["message"] == 'Secret "corp-ca" key "ca.crt" does not hold a valid PEM CA bundle'
    assert world.warnings() == ["SecretNotFound"]
    assert world.catalog.recorded_requests() == []
    await runner.close()
