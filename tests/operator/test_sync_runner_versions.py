"""spec.versionSelector and spec.pins in a sync pass (runtime.runner.SyncRunner) against the
sandbox catalog and API server over real sockets: which version a ModelRef gets, how many
model-versions requests that takes, and the look-up cache and its max age."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from e2e_harness import condition
from runner_world import World

from modelsync.plan import VERSION_LOOKUP_MAX_AGE

PREDICTOR = "model:acme/churn/churn-predictor"
PREDICTOR_ID = "de5d5848-e7a8-5fa2-8ba1-c3595f78e623"
REF = "churn.churn-predictor"
# The fixture's churn-predictor: v6 (latest, not deployable, tag candidate), v5 (staging),
# v4 (prod, q3; alias v4), v3 (prod; alias v3), v2 and v1 (no tags), all but v6 deployable.


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _requests(world: World) -> list[str]:
    paths = [r.path.rsplit("/", 1)[-1] for r in world.catalog.recorded_requests()]
    world.catalog.clear_requests()
    return paths


def _version(world: World) -> tuple[Any, ...]:
    ref = world.refs()[REF]
    ready = condition(ref, "Ready")
    assert ready is not None
    spec = ref["spec"]
    return spec["version"]["version"], spec.get("pinned"), ready["status"], ready["reason"]


def _relabel(world: World, number: int, **labels: Any) -> None:
    store = world.catalog.catalog
    entry = store.model(PREDICTOR_ID)
    assert entry is not None
    for version in entry["versions"]:
        if version["manifest"]["version"] == number:
            version.update(labels)
    store.upsert_model(entry)


async def test_a_selector_excluding_the_latest_looks_versions_up_once_then_caches(
    world: World,
) -> None:
    clock = Clock()
    runner = world.runner(ctx=dataclasses.replace(world.context(), clock=clock))
    body = world.create_sync(filters={"fqn": PREDICTOR}, versionSelector={"tags": ["prod"]})
    await runner.sync(body, 0)
    assert _version(world) == (4, None, "True", "DeployableVersionResolved")
    assert _requests(world) == ["models", "model-versions"]

    writes = world.writes()
    await runner.sync(world.sync(), 0)  # the cached answer: no look-up, no write
    assert _requests(world) == ["models"]
    assert world.writes() == writes

    # An older version changes while the latest stays: seen once the answer is too old.
    _relabel(world, 4, tags=["q3"])
    clock.now += timedelta(seconds=VERSION_LOOKUP_MAX_AGE - 1)
    await runner.sync(world.sync(), 0)
    assert _requests(world) == ["models"]
    assert _version(world)[0] == 4
    clock.now += timedelta(seconds=2)
    await runner.sync(world.sync(), 0)
    assert _requests(world) == ["models", "model-versions"]
    assert _version(world) == (3, None, "True", "DeployableVersionResolved")
    await runner.close()


async def test_pins_beat_the_selector_and_say_so(world: World) -> None:
    runner = world.runner()
    body = world.create_sync(
        filters={"fqn": PREDICTOR},
        versionSelector={"tags": ["prod"]},
        pins=[{"model": "churn/churn-predictor", "version": 2}],
    )
    await runner.sync(body, 0)
    assert _version(world) == (2, True, "True", "PinnedVersionResolved")
    assert _requests(world) == ["models", "model-versions"]

    world.create_sync(
        filters={"fqn": PREDICTOR}, pins=[{"model": "churn/churn-predictor", "alias": "v9"}]
    )
    await runner.sync(world.sync(), 0)
    assert _version(world) == (6, None, "False", "PinnedVersionNotFound")
    ready = condition(world.refs()[REF], "Ready")
    assert ready is not None
    assert ready["message"].startswith("pinned alias v9 not found: the catalog has no alias v9")

    # Unpinned and unselected again: the plain LatestDeployable choice, `pinned` gone.
    world.create_sync(filters={"fqn": PREDICTOR})
    await runner.sync(world.sync(), 0)
    assert _version(world) == (5, None, "True", "DeployableVersionResolved")
    await runner.close()


async def test_no_matching_version_points_at_the_latest_and_says_why(world: World) -> None:
    runner = world.runner()
    body = world.create_sync(filters={"fqn": PREDICTOR}, versionSelector={"aliasSemver": ">=5.0.0"})
    await runner.sync(body, 0)
    assert _version(world) == (6, None, "False", "NoMatchingVersion")
    ready = condition(world.refs()[REF], "Ready")
    assert ready is not None
    assert ready["message"] == (
        "no version qualifies: version 6 (v6-rc1) is not marked deployable; version 5 has no "
        "alias; version 4 (v4) alias v4 is not in the semver range >=5.0.0; and 3 more; "
        "pointing at the latest version 6 (v6-rc1)"
    )
    assert world.sync()["status"]["conditions"][0]["status"] == "True"  # the sync is fine
    await runner.close()


VERSIONS_PATH = "/api/ml/v1/model-versions"


def _sync_ready(world: World) -> str:
    ready = condition(world.sync(), "Ready")
    assert ready is not None
    return str(ready["status"])


async def test_a_failing_look_up_writes_nothing_and_a_cached_answer_outlives_it(
    world: World,
) -> None:
    """The model-versions endpoint fails (500 on every try): with no answer yet the ModelRef
    is not created on a guess and the sync says which model failed; once an answer is cached,
    a failed refetch past the max age keeps it (no write, Ready stays True)."""
    clock = Clock()
    ctx = dataclasses.replace(world.context(catalog_attempts=1), clock=clock)
    runner = world.runner(ctx=ctx)
    body = world.create_sync(filters={"fqn": PREDICTOR}, versionSelector={"tags": ["prod"]})
    world.catalog.faults.fail_next(1, 500, path_prefix=VERSIONS_PATH)
    await runner.sync(body, 0)
    assert REF not in world.refs()
    status = world.sync()["status"]
    assert [f["reason"] for f in status["failures"]] == ["VersionLookupFailed"]
    assert _sync_ready(world) == "False"

    await runner.sync(world.sync(), 0)  # the endpoint answers again
    assert _version(world) == (4, None, "True", "DeployableVersionResolved")
    assert _sync_ready(world) == "True"

    clock.now += timedelta(seconds=VERSION_LOOKUP_MAX_AGE + 1)
    world.catalog.faults.fail_next(1, 500, path_prefix=VERSIONS_PATH)
    _requests(world)
    writes = world.writes()
    await runner.sync(world.sync(), 0)
    assert _requests(world) == ["models", "model-versions"]  # it did try again
    assert world.writes() == writes
    assert _version(world) == (4, None, "True", "DeployableVersionResolved")
    assert _sync_ready(world) == "True"
    await runner.close()
