"""Named-model refreshes (`modelsync reconcile SYNC --model ...`, runtime/named_refresh.py) run
in-process by SyncRunner.refresh_models against the sandbox API server and sandbox catalog."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest
from e2e_harness import condition
from runner_world import World

from modelsync.cli.reconcile import request_and_wait
from modelsync.kube.modelcatalogsyncs import get_sync, request_reconcile
from modelsync.runtime.bodies import reconcile_models
from modelsync.runtime.gates import SyncGates
from modelsync.runtime.hosts import AllowedHosts
from modelsync.runtime.named_refresh import RefreshOutcome, RefreshReport
from modelsync.runtime.runner import SyncRunner

SURVIVAL = "model:acme/churn/churn-survival"
PREDICTOR = "model:acme/churn/churn-predictor"  # latest v6 is not deployable: v5 is used
_values = itertools.count(1)

Request = tuple[str, dict[str, str]]
# What every listing of a sync with the default spec.filters sends besides its own filter.
DEFAULT_QUERY = {"include_empty_models": "false", "offset": "0", "limit": "100"}


async def annotate(world: World, *models: str, name: str = "s") -> dict[str, Any]:
    """What `modelsync reconcile` does; returns the annotated sync as the operator sees it."""
    value = f"2030-01-01T00:00:{next(_values):02d}.5Z"
    await request_reconcile(world.api, world.ns, name, value, models=models)
    return world.sync(name)


async def refresh(runner: SyncRunner, body: dict[str, Any]) -> RefreshReport:
    return await runner.refresh_models(body, reconcile_models(body))


def catalog_requests(world: World) -> list[Request]:
    """(endpoint, query) of each catalog request since the last call."""
    seen = [(r.path.rsplit("/", 1)[-1], r.query) for r in world.catalog.recorded_requests()]
    world.catalog.clear_requests()
    return seen


def fqn_request(fqn: str) -> Request:
    return ("models", {"fqn": fqn, **DEFAULT_QUERY})


def add_version(world: World, fqn: str, *, deployable: bool) -> int:
    model = next(m for m in world.catalog.catalog.models() if m["fqn"] == fqn)
    latest = max(model["versions"], key=lambda v: v["manifest"]["version"])
    manifest = {k: v for k, v in latest["manifest"].items() if k != "version"}
    added = world.catalog.catalog.add_version(
        model["id"], {"manifest": manifest, "deployable": deployable, "tags": []}
    )
    number: int = added["manifest"]["version"]
    return number


async def synced(world: World, runner: SyncRunner, **spec: Any) -> None:
    """Create the sync and run its first full sync."""
    body = world.create_sync(**spec)
    outcome = await runner.sync(body, 0)
    assert outcome.kind == "success", world.sync()["status"]
    catalog_requests(world)


def events(world: World, reason: str) -> list[dict[str, Any]]:
    items = json.loads(world.ok("get", "events", "-n", world.ns, "-o", "json"))["items"]
    return [e for e in items if e["reason"] == reason]


def ref_version(world: World, name: str) -> int:
    version: int = world.refs()[name]["spec"]["version"]["version"]
    return version


async def test_a_new_version_reaches_its_modelref_with_one_catalog_request(world: World) -> None:
    runner = world.runner()
    await synced(world, runner, select={"mlRepos": ["churn", "fraud"]})
    status = world.sync()["status"]
    others = {n: v for n, v in world.versions().items() if n != "churn.churn-survival"}
    assert add_version(world, SURVIVAL, deployable=True) == 4

    body = await annotate(world, "churn/churn-survival")
    writes = world.writes()
    report = await refresh(runner, body)

    assert report.outcome_of("churn/churn-survival") is RefreshOutcome.UPDATED
    assert catalog_requests(world) == [fqn_request(SURVIVAL)]  # the tenant of the last plan
    assert ref_version(world, "churn.churn-survival") == 4
    assert {n: v for n, v in world.versions().items() if n in others} == others
    # spec patch, status patch, VersionChanged Events on the ModelRef and on the sync, the
    # echo of the trigger
    assert world.writes() - writes == report.writes == 5
    changed = events(world, "VersionChanged")
    assert sorted(e["involvedObject"]["kind"] for e in changed) == ["ModelCatalogSync", "ModelRef"]
    after = world.sync()["status"]
    trigger = body["metadata"]["annotations"]["modelsync.dev/reconcile-requested-at"]
    assert after.pop("lastHandledReconcileAt") == trigger
    status.pop("lastHandledReconcileAt", None)
    assert after == status  # conditions and counters as the full sync left them
    assert runner.desired["churn.churn-survival"].spec["version"]["version"] == 4

    # The next full sync finds everything as it wants it: no write at all.
    writes = world.writes()
    await runner.sync(world.sync(), 0)
    assert world.writes() == writes
    await runner.close()


async def test_a_model_the_sync_has_not_planned_is_created_by_its_fqn(world: World) -> None:
    runner = world.runner()
    await synced(world, runner, filters={"fqn": SURVIVAL})
    # A sync pinned to one fqn refreshes that model only; another needs no request at all.
    body = await annotate(world, "churn/churn-survival", "model:acme/churn/baseline")
    world.ok("delete", "modelref", "churn.churn-survival", "-n", world.ns)
    report = await refresh(runner, body)
    assert report.outcome_of("churn/churn-survival") is RefreshOutcome.CREATED
    assert report.outcome_of("model:acme/churn/baseline") is RefreshOutcome.NOT_FOUND
    assert catalog_requests(world) == [fqn_request(SURVIVAL)]
    assert set(world.refs()) == {"churn.churn-survival"}
    assert condition(world.refs()["churn.churn-survival"])["status"] == "True"  # type: ignore[index]
    await runner.close()


async def test_the_version_look_up_of_a_non_deployable_latest(world: World) -> None:
    runner = world.runner()
    await synced(world, runner, select={"mlRepos": ["churn"]})
    assert ref_version(world, "churn.churn-predictor") == 5
    assert add_version(world, PREDICTOR, deployable=False) == 7

    report = await refresh(runner, await annotate(world, PREDICTOR))
    assert report.outcome_of(PREDICTOR) is RefreshOutcome.UNCHANGED
    requests = catalog_requests(world)
    assert requests[0] == fqn_request(PREDICTOR)
    assert [endpoint for endpoint, _ in requests[1:]] == ["model-versions"]
    assert ref_version(world, "churn.churn-predictor") == 5

    # The answer is cached by the latest version's id: the full sync asks again for nothing.
    await runner.sync(world.sync(), 0)
    assert [e for e, _ in catalog_requests(world)] == ["models"]
    await runner.close()


async def test_without_a_known_tenant_the_name_filter_finds_the_model(world: World) -> None:
    runner = world.runner()
    await synced(world, runner, select={"mlRepos": ["churn"]})
    add_version(world, SURVIVAL, deployable=True)
    fresh = world.runner()  # no plan yet, so no tenant to go by
    report = await refresh(fresh, await annotate(world, "churn/churn-survival"))
    assert report.outcome_of("churn/churn-survival") is RefreshOutcome.UPDATED
    assert catalog_requests(world) == [("models", {"name": "churn-survival", **DEFAULT_QUERY})]
    assert ref_version(world, "churn.churn-survival") == 4
    await runner.close()
    await fresh.close()


async def test_what_cannot_be_refreshed_is_reported_and_nothing_removed(world: World) -> None:
    runner = world.runner()
    await synced(world, runner, select={"mlRepos": ["churn"]}, deletionPolicy="Delete")
    world.catalog.catalog.remove_model(
        next(m["id"] for m in world.catalog.catalog.models() if m["fqn"] == SURVIVAL)
    )
    versions = world.versions()
    body = await annotate(world, "churn/churn-survival", "fraud/fraud-detector", "churn/nope")
    # A hand-written annotation may hold anything.
    body["metadata"]["annotations"]["modelsync.dev/reconcile-models"] += ",not-a-name"
    writes = world.writes()
    report = await refresh(runner, body)

    assert {m.model: m.outcome for m in report.models} == {
        "not-a-name": RefreshOutcome.INVALID,
        "churn/churn-survival": RefreshOutcome.NOT_FOUND,  # gone from the catalog
        "churn/nope": RefreshOutcome.NOT_FOUND,
        "fraud/fraud-detector": RefreshOutcome.NOT_SELECTED,  # select.mlRepos is churn only
    }
    assert world.versions() == versions  # nothing deleted, nothing marked removed
    assert world.writes() - writes == report.writes == 2  # the Event and the echo
    [event] = events(world, "ModelsNotRefreshed")
    assert event["type"] == "Warning"
    assert event["involvedObject"]["kind"] == "ModelCatalogSync"
    for text in ("churn/nope not found", "fraud/fraud-detector", "spec.select", "not-a-name"):
        assert text in event["message"]
    assert "churn.churn-survival" in runner.desired  # the full sync decides about it
    await runner.close()


async def test_a_failed_catalog_request_is_a_log_line_and_the_trigger_is_echoed(
    world: World,
) -> None:
    runner = world.runner(catalog_attempts=1)
    await synced(world, runner, select={"mlRepos": ["churn"]})
    add_version(world, SURVIVAL, deployable=True)
    world.catalog.faults.fail_next(1, 503)
    body = await annotate(world, "churn/churn-survival")
    report = await refresh(runner, body)
    assert report.outcome_of("churn/churn-survival") is RefreshOutcome.FAILED
    assert "CatalogUnavailable" in report.models[0].detail
    assert ref_version(world, "churn.churn-survival") == 3
    status = world.sync()["status"]
    assert status["lastHandledReconcileAt"] == reconcile_value(body)
    assert condition(world.sync())["reason"] == "Synced"  # type: ignore[index]
    assert events(world, "ModelsNotRefreshed") == []
    await runner.close()


def reconcile_value(body: dict[str, Any]) -> str:
    value: str = body["metadata"]["annotations"]["modelsync.dev/reconcile-requested-at"]
    return value


async def test_the_gates_of_a_full_sync_hold_for_a_refresh(world: World) -> None:
    runner = world.runner()
    await synced(world, runner, select={"mlRepos": ["churn"]})
    add_version(world, SURVIVAL, deployable=True)
    versions = world.versions()

    world.ok("patch", "mcs", "s", "-n", world.ns, "--type=merge", "-p", '{"spec":{"suspend":true}}')
    report = await refresh(runner, await annotate(world, "churn/churn-survival"))
    assert report.skipped == "the sync is suspended"
    world.ok(
        "patch", "mcs", "s", "-n", world.ns, "--type=merge", "-p", '{"spec":{"suspend":false}}'
    )

    refused = world.runner(allowed_hosts=AllowedHosts.parse(["https://*"]))
    report = await refresh(refused, await annotate(world, "churn/churn-survival"))
    assert "--allow-insecure-http" in report.skipped
    await refused.close()

    world.secret("tfy", {"token": "anything"}, opted_in=False)
    body = await annotate(world, "churn/churn-survival")
    report = await refresh(runner, body)
    assert "catalog-credentials" in report.skipped
    assert world.sync()["status"]["lastHandledReconcileAt"] == reconcile_value(body)

    assert catalog_requests(world) == []
    assert world.versions() == versions
    await runner.close()


async def test_a_refresh_waits_for_a_slot_of_its_catalog(world: World) -> None:
    gates = SyncGates(4, 1)
    runner = world.runner(ctx=world.context(gates=gates))
    await synced(world, runner, select={"mlRepos": ["churn"]})
    add_version(world, SURVIVAL, deployable=True)
    body = await annotate(world, "churn/churn-survival")
    async with gates.catalog(world.catalog.url):  # another pass reads this catalog
        task = asyncio.create_task(refresh(runner, body))
        await asyncio.sleep(0.2)
        assert not task.done()
        assert catalog_requests(world) == []
    report = await asyncio.wait_for(task, 10)
    assert report.outcome_of("churn/churn-survival") is RefreshOutcome.UPDATED
    await runner.close()


async def test_a_modelref_of_another_sync_is_not_touched(world: World) -> None:
    first = world.runner("a")
    await synced(world, first, name="a", filters={"fqn": SURVIVAL})
    second = world.runner("b")
    await synced(world, second, name="b", select={"mlRepos": ["churn"]})
    add_version(world, SURVIVAL, deployable=True)
    report = await refresh(second, await annotate(world, "churn/churn-survival", name="b"))
    assert report.outcome_of("churn/churn-survival") is RefreshOutcome.FAILED
    assert "OwnedByAnotherSync" in report.models[0].detail
    assert ref_version(world, "churn.churn-survival") == 3
    assert "churn.churn-survival" not in second.desired
    await first.close()
    await second.close()


async def test_the_reconcile_command_names_models_and_shows_their_modelrefs(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = world.runner()
    await synced(world, runner, select={"mlRepos": ["churn"]})
    add_version(world, SURVIVAL, deployable=True)

    async def operator() -> None:
        """The loop's part: refresh once the request shows up."""
        while True:
            body = await get_sync(world.api, world.ns, "s")
            models = reconcile_models(body)
            if models:
                await runner.refresh_models(body, models)
                return
            await asyncio.sleep(0.05)

    task = asyncio.create_task(asyncio.wait_for(operator(), 10))
    named = ["churn/nope", "churn/churn-survival", "churn/nope"]
    code = await request_and_wait(
        world.api, world.ns, "s", wait=True, wait_seconds=10, poll=0.05, models=named
    )
    await task
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    value = world.sync()["status"]["lastHandledReconcileAt"]
    assert lines == [
        f"modelcatalogsync {world.ns}/s annotated modelsync.dev/reconcile-requested-at={value} "
        "modelsync.dev/reconcile-models=churn/churn-survival,churn/nope",
        f"modelcatalogsync {world.ns}/s handled the refresh of churn/churn-survival, churn/nope",
        f"modelref {world.ns}/churn.churn-survival: version 4, "
        "Ready=True (DeployableVersionResolved)",
        f"modelref {world.ns}/churn.nope: not found; see the ModelsNotRefreshed Events of the "
        "ModelCatalogSync",
    ]

    # A request without --model is a full sync again: the models annotation goes.
    assert await request_and_wait(world.api, world.ns, "s", wait=False, wait_seconds=0) == 0
    annotations = world.sync()["metadata"]["annotations"]
    assert "modelsync.dev/reconcile-models" not in annotations
    assert annotations["modelsync.dev/reconcile-requested-at"] != value
    await runner.close()
