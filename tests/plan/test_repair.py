"""Drift repair of one ModelRef from its last desired state."""

from __future__ import annotations

from modelsync.api.constants import LABEL_SYNC
from modelsync.plan import CreateRef, DesiredRef, UpdateRef, foreign_owner, plan_sync, repair_plan
from plan import factories as f
from plan.cluster import Cluster


def _setup() -> tuple[Cluster, dict[str, DesiredRef]]:
    plan = plan_sync(
        [f.model()],
        f.spec(modelRefTemplate={"labels": {"team": "risk"}}),
        [],
        sync=f.SYNC,
        now=f.NOW,
        listing_complete=True,
    )
    cluster = Cluster()
    cluster.apply(plan)
    return cluster, dict(plan.desired)


def test_deleted_ref_is_recreated() -> None:
    cluster, desired = _setup()
    want = desired["fraud.detector"]
    action = repair_plan(want, None, now=f.NOW)
    assert isinstance(action, CreateRef)
    assert action.body["metadata"]["labels"]["team"] == "risk"
    assert action.body["spec"] == cluster.objects["fraud.detector"]["spec"]


def test_untouched_or_status_only_change_needs_nothing() -> None:
    cluster, desired = _setup()
    obj = cluster.listed()[0]
    assert repair_plan(desired["fraud.detector"], obj, now=f.NOW) is None
    obj["metadata"]["labels"]["added/by-someone"] = "x"
    obj["metadata"]["resourceVersion"] = "77"
    assert repair_plan(desired["fraud.detector"], obj, now=f.NOW) is None


def test_edited_spec_and_owned_label_are_restored() -> None:
    cluster, desired = _setup()
    obj = cluster.listed()[0]
    obj["spec"]["version"]["deployable"] = False
    obj["metadata"]["labels"][LABEL_SYNC] = "nope"
    obj["metadata"]["labels"]["added/by-someone"] = "x"
    obj["metadata"]["generation"] = 2
    action = repair_plan(desired["fraud.detector"], obj, now=f.NOW)
    assert isinstance(action, UpdateRef)
    assert action.patch == {
        "metadata": {"labels": {LABEL_SYNC: "prod-models"}},
        "spec": {"version": {"deployable": True}},
    }
    assert action.status is not None
    assert action.status["status"]["observedGeneration"] == 3


def test_foreign_or_terminating_objects_are_left_alone() -> None:
    cluster, desired = _setup()
    want = desired["fraud.detector"]
    obj = cluster.listed()[0]
    obj["spec"] = {}
    obj["metadata"]["deletionTimestamp"] = "2024-06-01T12:00:00Z"
    assert repair_plan(want, obj, now=f.NOW) is None
    foreign = cluster.listed()[0]
    foreign["spec"] = {}
    foreign["metadata"]["ownerReferences"][0]["uid"] = "someone-else"
    assert repair_plan(want, foreign, now=f.NOW) is None
    failure = foreign_owner(want, foreign)
    assert failure is not None
    assert failure.reason == "OwnedByAnotherSync"
    assert foreign_owner(want, cluster.listed()[0]) is None
