"""The Events sync passes post (plan/events.py), in-process against the sandbox API server and
the sandbox catalog: VersionChanged on a ModelRef and on its sync, one summary on the sync
when many models move at once, one Synced on a recovery, none in a steady sync, and the
write counts that include them."""

from __future__ import annotations

import json
from typing import Any

from e2e_harness import condition
from runner_world import TOKEN, World

from fixtures_kube import kubectl
from modelsync.api.constants import ANNOTATION_MODEL_FQN
from modelsync.kube.events import post_event
from modelsync.plan.events import MAX_EVENT_MESSAGE, MAX_SYNC_VERSION_EVENTS
from modelsync.runtime.observers import NullObserver, SyncReport

SURVIVAL = "model:acme/churn/churn-survival"
DETECTOR = "model:acme/fraud/fraud-detector"  # latest: version 5, alias v2.1.0
CHURN = {"mlRepos": ["churn"]}


class Reports(NullObserver):
    """The reports of finished passes."""

    def __init__(self) -> None:
        self.reports: list[SyncReport] = []

    def sync_finished(self, report: SyncReport) -> None:
        self.reports.append(report)


def events(world: World, name: str | None = None) -> list[dict[str, Any]]:
    """The namespace's Events (about `name` only, if given), in no particular order (their
    timestamps have one-second resolution)."""
    items = json.loads(world.ok("get", "events", "-n", world.ns, "-o", "json"))["items"]
    return [e for e in items if name is None or e["involvedObject"].get("name") == name]


def reasons(world: World, name: str) -> list[str]:
    return sorted(e["reason"] for e in events(world, name))


def add_version(world: World, fqn: str, *, alias: str | None = None) -> int:
    """Publish a deployable copy of the model's latest version; its number."""
    model = next(m for m in world.catalog.catalog.models() if m["fqn"] == fqn)
    latest = max(model["versions"], key=lambda v: v["manifest"]["version"])
    manifest = {k: v for k, v in latest["manifest"].items() if k != "version"}
    if alias is not None:
        manifest["version_alias"] = alias
    added = world.catalog.catalog.add_version(
        model["id"], {"manifest": manifest, "deployable": True, "tags": []}
    )
    number: int = added["manifest"]["version"]
    return number


async def test_a_version_change_posts_on_the_modelref_and_on_its_sync(world: World) -> None:
    reports = Reports()
    runner = world.runner(ctx=world.context(observer=reports))
    await runner.sync(world.create_sync(filters={"fqn": DETECTOR}), 0)
    name = "fraud.fraud-detector"
    assert world.refs()[name]["spec"]["version"]["versionAlias"] == "v2.1.0"
    assert events(world) == []  # a first sync only creates: nothing changed, no Event

    assert add_version(world, DETECTOR, alias="v2.2.0") == 6
    writes = world.writes()
    await runner.sync(world.sync(), 0)
    after = world.refs()[name]
    assert after["spec"]["version"]["version"] == 6

    message = f"{DETECTOR}: version 5 -> 6, alias v2.1.0 -> v2.2.0"
    [on_ref] = events(world, name)
    assert (on_ref["type"], on_ref["reason"], on_ref["message"]) == (
        "Normal",
        "VersionChanged",
        message,
    )
    assert on_ref["involvedObject"]["kind"] == "ModelRef"
    assert on_ref["involvedObject"]["uid"] == after["metadata"]["uid"]
    assert on_ref["source"] == {"component": "modelsync"}
    assert on_ref["reportingComponent"] == "modelsync"
    assert on_ref["count"] == 1

    sync = world.sync()
    [on_sync] = events(world, "s")
    assert (on_sync["type"], on_sync["reason"]) == ("Normal", "VersionChanged")
    assert on_sync["message"] == f"{message} (modelref/{name})"
    assert on_sync["involvedObject"] == {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelCatalogSync",
        "name": "s",
        "namespace": world.ns,
        "uid": sync["metadata"]["uid"],
    }

    # spec patch, status patch, the two Events, the sync's status (modelRefs.updated moved)
    assert world.writes() - writes == reports.reports[-1].writes == 5
    await runner.close()


async def test_a_first_sync_and_a_steady_sync_post_nothing(world: World) -> None:
    runner = world.runner()
    await runner.sync(world.create_sync(select={"mlRepos": ["churn", "fraud"]}), 0)
    writes = world.writes()
    for _ in range(2):
        await runner.sync(world.sync(), 0)
    assert world.writes() == writes
    assert events(world) == []
    await runner.close()


async def test_many_moves_at_once_post_one_summary_on_the_sync(world: World) -> None:
    runner = world.runner()
    await runner.sync(world.create_sync(), 0)  # every model of the catalog
    refs = world.refs()
    assert len(refs) > MAX_SYNC_VERSION_EVENTS
    moving = sorted(refs)[: MAX_SYNC_VERSION_EVENTS + 1]
    for name in moving:
        add_version(world, refs[name]["metadata"]["annotations"][ANNOTATION_MODEL_FQN])
    await runner.sync(world.sync(), 0)

    on_refs = [e for e in events(world) if e["involvedObject"]["kind"] == "ModelRef"]
    assert sorted(e["involvedObject"]["name"] for e in on_refs) == moving
    [summary] = events(world, "s")
    assert summary["reason"] == "VersionChanged"
    assert summary["message"].startswith(f"{len(moving)} ModelRefs moved to another version: ")
    assert len(summary["message"]) <= MAX_EVENT_MESSAGE
    for name in moving:
        assert name in summary["message"]
    await runner.close()


async def test_a_failure_then_a_success_posts_one_warning_and_one_synced(world: World) -> None:
    runner = world.runner()
    await runner.sync(world.create_sync(select=CHURN), 0)
    world.secret("tfy", {"token": "x" + TOKEN})
    for failures in range(2):  # a retry with the same reason posts nothing more
        assert (await runner.sync(world.sync(), failures)).kind == "failure"
    failed = condition(world.sync())
    assert failed is not None
    world.secret("tfy", {"token": TOKEN})
    assert (await runner.sync(world.sync(), 2)).kind == "success"
    writes = world.writes()
    for _ in range(2):  # steady again: no Event, no write
        await runner.sync(world.sync(), 0)
    assert world.writes() == writes

    found = sorted((e["type"], e["reason"]) for e in events(world, "s"))
    assert found == [("Normal", "Synced"), ("Warning", "Unauthorized")]
    [synced] = [e for e in events(world, "s") if e["reason"] == "Synced"]
    ready = condition(world.sync())
    assert ready is not None
    assert synced["message"] == (
        f"Ready again after Unauthorized (not ready since {failed['lastTransitionTime']}): "
        f"{ready['message']}"
    )
    await runner.close()


async def test_a_transition_whose_status_write_failed_is_announced_once_later(
    world: World,
) -> None:
    runner = world.runner()
    await runner.sync(world.create_sync(select=CHURN), 0)
    world.secret("tfy", {"token": "x" + TOKEN})
    world.sandbox.faults.fail(
        500, verbs=["patch"], resources=["modelcatalogsyncs/status"], namespace=world.ns, count=1
    )
    await runner.sync(world.sync(), 0)
    assert condition(world.sync())["status"] == "True"  # type: ignore[index]  # not written
    assert events(world, "s") == []  # nor announced
    await runner.sync(world.sync(), 1)
    await runner.sync(world.sync(), 2)
    assert reasons(world, "s") == ["Unauthorized"]
    await runner.close()


async def test_a_version_change_is_announced_even_if_its_status_write_fails(
    world: World,
) -> None:
    runner = world.runner()
    await runner.sync(world.create_sync(filters={"fqn": SURVIVAL}), 0)
    add_version(world, SURVIVAL)
    world.sandbox.faults.fail(
        500, verbs=["patch"], resources=["modelrefs/status"], namespace=world.ns, count=1
    )
    await runner.sync(world.sync(), 0)
    assert reasons(world, "churn.churn-survival") == ["VersionChanged"]
    # The failed write makes the sync not ready: its Warning comes with the change.
    assert reasons(world, "s") == ["ModelsFailed", "VersionChanged"]
    await runner.sync(world.sync(), 1)  # the status is repaired, the move not announced again
    assert reasons(world, "churn.churn-survival") == ["VersionChanged"]
    assert reasons(world, "s") == ["ModelsFailed", "Synced", "VersionChanged"]
    await runner.close()


async def test_kubectl_events_for_a_modelref(world: World) -> None:
    runner = world.runner()
    await runner.sync(world.create_sync(filters={"fqn": SURVIVAL}), 0)
    add_version(world, SURVIVAL)
    await runner.sync(world.sync(), 0)
    await runner.close()
    done = kubectl(
        world.sandbox.kubeconfig_path,
        "events",
        "-n",
        world.ns,
        "--for",
        "modelref/churn.churn-survival",
    )
    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    [line] = lines
    assert line.split()[1:4] == ["Normal", "VersionChanged", "ModelRef/churn.churn-survival"]
    assert f"{SURVIVAL}: version 3 -> 4" in line


async def test_an_event_about_an_object_with_a_long_name_is_accepted(world: World) -> None:
    name = "a" * 235 + "-b" + "c" * 16  # the event name is cut right after the "-"
    involved = {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelRef",
        "metadata": {"name": name, "namespace": world.ns, "uid": "u-1"},
    }
    assert await post_event(world.api, involved, event_type="Normal", reason="R", message="m")
    [event] = events(world, name)
    assert event["metadata"]["name"].startswith("a" * 235 + ".")
    assert "resourceVersion" not in event["involvedObject"]  # none given: none sent
