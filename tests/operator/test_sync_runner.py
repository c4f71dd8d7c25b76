"""One sync pass (runtime.runner.SyncRunner) in-process, against the sandbox API server and the
sandbox catalog: the cases the shared end-to-end operator cannot reach (operator flags, a
catalog without the model-versions endpoint, status heartbeat, logs)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from e2e_harness import condition
from runner_world import TOKEN, World

from modelsync.runtime.hosts import AllowedHosts


async def test_plain_http_catalog_is_refused_without_the_flag(world: World) -> None:
    body = world.create_sync()
    runner = world.runner(allowed_hosts=AllowedHosts.parse(["https://*"]))
    outcome = await runner.sync(body, 0)
    assert outcome.kind == "stalled"
    stalled = condition(world.sync(), "Stalled")
    assert stalled is not None
    assert (stalled["status"], stalled["reason"]) == ("True", "CatalogNotAllowed")
    assert "--allow-insecure-http" in stalled["message"]
    assert world.catalog.recorded_requests() == []
    await runner.close()


async def test_a_bad_ca_bundle_stalls_with_a_clear_message(world: World) -> None:
    body = world.create_sync(catalog={"caSecretRef": {"name": "tfy", "key": "ca.crt"}})
    runner = world.runner()
    outcome = await runner.sync(body, 0)
    assert outcome.kind == "stalled"
    assert outcome.secret_versions.keys() == {"tfy"}
    stalled = condition(world.sync(), "Stalled")
    assert stalled is not None
    assert stalled["reason"] == "SecretNotFound"
    assert "PEM CA bundle" in stalled["message"]
    await runner.close()


async def test_steady_state_and_status_heartbeat(world: World) -> None:
    body = world.create_sync(select={"mlRepos": ["churn"]})
    runner = world.runner()
    first = await runner.sync(body, 0)
    assert first.kind == "success"
    assert first.delay is not None
    assert 300 <= first.delay <= 315  # 5m plus jitter
    assert len(world.refs()) == 5
    before = world.writes()
    status = world.sync()["status"]
    await runner.sync(world.sync(), 0)  # the second sync, nothing changed
    await runner.sync(world.sync(), 0)
    assert world.writes() == before
    assert world.sync()["status"] == status  # not even timestamps
    await runner.close()

    eager = world.runner(status_heartbeat=0.001)
    await asyncio.sleep(1.1)  # timestamps have one-second resolution
    await eager.sync(world.sync(), 0)
    assert world.writes() == before + 1  # only the heartbeat: timestamps refreshed
    assert world.sync()["status"]["lastSyncTime"] > status["lastSyncTime"]
    await eager.close()


async def test_without_a_model_versions_endpoint_deployable_versions_are_kept(
    world: World,
) -> None:
    predictor = "model:acme/churn/churn-predictor"  # latest v6 is not deployable
    body = world.create_sync(filters={"fqn": predictor})
    runner = world.runner()
    await runner.sync(body, 0)
    assert world.refs()["churn.churn-predictor"]["spec"]["version"]["version"] == 5

    # Another runner (say, after a restart) against a catalog without /model-versions.
    world.catalog.faults.fail_next(1000, 404, path_prefix="/api/ml/v1/model-versions")
    fresh = world.runner()
    await fresh.sync(world.sync(), 0)
    ref = world.refs()["churn.churn-predictor"]
    assert ref["spec"]["version"]["version"] == 5  # the deployable version it already held
    assert condition(ref)["status"] == "True"  # type: ignore[index]
    await runner.close()
    await fresh.close()


async def test_the_token_is_never_logged(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = world.create_sync(select={"mlRepos": ["churn"]})
    runner = world.runner()
    await runner.sync(body, 0)
    world.secret("tfy", {"token": "x" + TOKEN})
    outcome = await runner.sync(world.sync(), 0)
    assert outcome.kind == "failure"
    assert condition(world.sync())["reason"] == "Unauthorized"  # type: ignore[index]
    world.catalog.faults.fail_next(1, 500, body={"detail": f"echo {TOKEN}"})
    await runner.sync(world.sync(), 1)
    await runner.close()
    assert caplog.records
    assert TOKEN not in caplog.text
    assert TOKEN not in json.dumps(world.sync())


async def test_drift_detection_ignores_our_own_writes(world: World) -> None:
    body = world.create_sync(filters={"fqn": "model:acme/churn/baseline"})
    runner = world.runner()
    await runner.sync(body, 0)
    current = world.refs()["churn.baseline"]
    assert not runner.wants_repair("MODIFIED", current)  # our own write
    edited = json.loads(json.dumps(current))
    edited["metadata"]["resourceVersion"] = "someone-else"
    assert not runner.wants_repair("MODIFIED", edited)  # same content: nothing to repair
    edited["spec"]["version"]["version"] = 42
    edited["metadata"]["generation"] += 1  # as the API server does for a spec change
    assert runner.wants_repair("MODIFIED", edited)
    assert runner.wants_repair("DELETED", current)
    assert not runner.wants_repair("DELETED", {"metadata": {"name": "unknown"}})

    world.ok("delete", "modelref", "churn.baseline", "-n", world.ns)
    await runner.repair({"churn.baseline": ("DELETED", current)})
    restored = world.refs()["churn.baseline"]
    assert restored["spec"] == current["spec"]
    assert condition(restored)["status"] == "True"  # type: ignore[index]
    await runner.close()
