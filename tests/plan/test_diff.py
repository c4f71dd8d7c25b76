"""Desired vs existing ModelRefs: creates, updates, deletes, removal marks, guard, owners."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from modelsync.api.constants import (
    LABEL_FRAMEWORK,
    LABEL_MANAGED_BY,
    LABEL_ML_REPO,
    LABEL_SYNC,
)
from modelsync.catalog.records import ModelRecord
from modelsync.plan import (
    REASON_VERSION_LOOKUP_PENDING,
    UNSUPPORTED,
    DeleteRef,
    DeletionGuard,
    SyncPlan,
    VersionResolution,
    plan_sync,
)
from plan import factories as f
from plan.cluster import Cluster


def _plan(
    models: list[ModelRecord],
    cluster: Cluster | None = None,
    *,
    resolutions: dict[str, VersionResolution] | None = None,
    now_offset: int = 0,
    **kwargs: Any,
) -> SyncPlan:
    spec_fields = kwargs.pop("spec", {})
    return plan_sync(
        models,
        f.spec(**spec_fields),
        cluster.listed() if cluster else [],
        sync=kwargs.pop("sync", f.SYNC),
        now=f.NOW + timedelta(minutes=now_offset),
        resolutions=resolutions,
        listing_complete=kwargs.pop("listing_complete", True),
        **kwargs,
    )


def _synced(models: list[ModelRecord], **kwargs: Any) -> Cluster:
    cluster = Cluster()
    cluster.apply(_plan(models, **kwargs))
    return cluster


def _ready(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


def test_create_body_status_and_owner() -> None:
    plan = _plan(
        [f.model(number=7, alias="v1.2")],
        spec={
            "modelRefTemplate": {
                "labels": {"team": "risk", LABEL_SYNC: "hijack"},
                "annotations": {"note": "x"},
            }
        },
    )
    assert plan.write_count == 2
    [create] = plan.creates
    meta = create.body["metadata"]
    assert create.body["apiVersion"] == "modelsync.dev/v1alpha1"
    assert create.body["kind"] == "ModelRef"
    assert meta["name"] == "fraud.detector"
    assert meta["namespace"] == "ml-serving"
    assert meta["labels"] == {
        LABEL_MANAGED_BY: "modelsync",
        LABEL_SYNC: "prod-models",
        LABEL_ML_REPO: "fraud",
        LABEL_FRAMEWORK: "sklearn",
        "team": "risk",
    }
    assert meta["annotations"] == {
        "modelsync.dev/model-fqn": "model:acme/fraud/detector",
        "modelsync.dev/spec-digest": plan.desired["fraud.detector"].spec_digest,
        "note": "x",
    }
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "modelsync.dev/v1alpha1",
            "kind": "ModelCatalogSync",
            "name": "prod-models",
            "uid": "sync-uid-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert create.body["spec"]["version"]["version"] == 7
    status = create.status["status"]
    assert status["observedGeneration"] == 1
    assert status["conditions"] == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "DeployableVersionResolved",
            "message": "version 7 (v1.2) is deployable",
            "lastTransitionTime": "2024-06-01T12:00:00Z",
            "observedGeneration": 1,
        }
    ]
    assert plan.ref_counts().model_dump() == {
        "selected": 1,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "retained": 0,
        "failed": 0,
    }


def test_no_deployable_version_is_created_not_ready() -> None:
    m = f.model(number=3, deployable=False)
    cluster = _synced([m], resolutions={m.id: None})
    obj = cluster.objects["fraud.detector"]
    assert obj["spec"]["version"]["version"] == 3
    assert _ready(obj)["status"] == "False"
    assert _ready(obj)["reason"] == "NoDeployableVersion"


def test_models_without_versions_get_no_modelref() -> None:
    assert _plan([f.model(empty=True)]).creates == ()


def test_steady_state_makes_no_writes_even_later() -> None:
    models = [f.model(f"m{i}") for i in range(20)]
    cluster = _synced(models)
    plan = _plan(models, cluster, now_offset=60)
    assert plan.write_count == 0
    assert plan.unchanged == 20
    assert plan.ref_counts().selected == 20


def test_new_deployable_version_updates_spec_and_status() -> None:
    cluster = _synced([f.model(number=6)])
    plan = _plan([f.model(number=7)], cluster, now_offset=5)
    [update] = plan.updates
    assert update.patch is not None
    # Labels and annotations unchanged but for the spec digest.
    assert update.patch["metadata"] == {
        "annotations": {"modelsync.dev/spec-digest": plan.desired["fraud.detector"].spec_digest}
    }
    assert update.patch["spec"]["version"]["version"] == 7
    assert update.version_change is not None
    assert (update.version_change.old_version, update.version_change.new_version) == (6, 7)
    assert update.version_change.message == "model:acme/fraud/detector: version 6 -> 7"
    assert update.status is not None
    status = update.status["status"]
    assert status["previousVersion"] == 6
    assert status["versionChangedAt"] == "2024-06-01T12:05:00Z"
    assert status["observedGeneration"] == 2
    # Ready stayed True: its lastTransitionTime does not move.
    assert status["conditions"][0]["lastTransitionTime"] == "2024-06-01T12:00:00Z"
    cluster.apply(plan)
    assert _plan([f.model(number=7)], cluster, now_offset=10).write_count == 0


def test_new_non_deployable_version_changes_nothing() -> None:
    cluster = _synced([f.model(number=6)])
    newer = f.model(latest=f.version(number=7, deployable=False))
    plan = _plan([newer], cluster, resolutions={newer.id: f.version(number=6)})
    assert plan.write_count == 0


def test_unsupported_lookup_keeps_the_held_version() -> None:
    cluster = _synced([f.model(number=6)])
    newer = f.model(latest=f.version(number=7, deployable=False))
    plan = _plan([newer], cluster, resolutions={newer.id: UNSUPPORTED})
    assert plan.write_count == 0
    assert plan.desired["fraud.detector"].spec["version"]["version"] == 6


def test_unsupported_lookup_without_a_held_version_points_at_latest() -> None:
    m = f.model(latest=f.version(number=7, deployable=False))
    cluster = _synced([m], resolutions={m.id: UNSUPPORTED})
    obj = cluster.objects["fraud.detector"]
    assert obj["spec"]["version"]["version"] == 7
    assert _ready(obj)["reason"] == "NoDeployableVersion"


def test_missing_lookup_leaves_the_ref_alone_and_reports_it() -> None:
    cluster = _synced([f.model(number=6)])
    newer = f.model(latest=f.version(number=7, deployable=False))
    plan = _plan([newer], cluster, spec={"deletionPolicy": "Delete"})
    assert plan.write_count == 0
    assert [x.reason for x in plan.failures] == [REASON_VERSION_LOOKUP_PENDING]


def test_timestamps_alone_never_cause_a_write() -> None:
    cluster = _synced([f.model()])
    obj = cluster.objects["fraud.detector"]
    _ready(obj)["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    obj["metadata"]["creationTimestamp"] = "2020-01-01T00:00:00Z"
    obj["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    assert _plan([f.model()], cluster, now_offset=99).write_count == 0


def test_hand_edits_are_repaired_and_foreign_metadata_kept() -> None:
    cluster = _synced([f.model()], spec={"modelRefTemplate": {"labels": {"team": "risk"}}})
    obj = cluster.objects["fraud.detector"]
    obj["spec"]["version"]["version"] = 99
    obj["spec"]["version"]["extra"] = "junk"
    obj["metadata"]["labels"][LABEL_ML_REPO] = "tampered"
    del obj["metadata"]["labels"]["team"]
    obj["metadata"]["labels"]["someone/else"] = "keep-me"
    obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied"] = "{}"
    obj["metadata"]["annotations"]["modelsync.dev/model-fqn"] = "tampered"
    obj["metadata"]["generation"] = 2
    plan = _plan([f.model()], cluster, spec={"modelRefTemplate": {"labels": {"team": "risk"}}})
    [update] = plan.updates
    assert update.patch == {
        "metadata": {
            "labels": {LABEL_ML_REPO: "fraud", "team": "risk"},
            "annotations": {"modelsync.dev/model-fqn": "model:acme/fraud/detector"},
        },
        "spec": {"version": {"version": 1, "extra": None}},
    }
    assert update.version_change is None  # same version id: a repair, not a new version
    cluster.apply(plan)
    fixed = cluster.objects["fraud.detector"]
    assert fixed["metadata"]["labels"]["someone/else"] == "keep-me"
    assert "kubectl.kubernetes.io/last-applied" in fixed["metadata"]["annotations"]
    assert fixed["status"]["observedGeneration"] == 3
    assert (
        _plan(
            [f.model()], cluster, spec={"modelRefTemplate": {"labels": {"team": "risk"}}}
        ).write_count
        == 0
    )


def test_framework_label_is_removed_when_the_version_has_none() -> None:
    cluster = _synced([f.model(number=1, framework="sklearn")])
    plan = _plan([f.model(number=2, framework=None)], cluster)
    [update] = plan.updates
    assert update.patch is not None
    assert update.patch["metadata"]["labels"] == {LABEL_FRAMEWORK: None}


def test_retain_marks_removed_models_once() -> None:
    a, b = f.model("a"), f.model("b")
    cluster = _synced([a, b])
    plan = _plan([a], cluster, now_offset=1)
    [mark] = plan.retained
    assert mark.name == "fraud.b"
    assert mark.model_fqn == "model:acme/fraud/b"
    cond = mark.status["status"]["conditions"][0]
    assert (cond["status"], cond["reason"]) == ("False", "RemovedFromCatalog")
    assert cond["lastTransitionTime"] == "2024-06-01T12:01:00Z"
    assert plan.deletes == ()
    assert plan.ref_counts().retained == 1
    cluster.apply(plan)
    again = _plan([a], cluster, now_offset=2)
    assert again.write_count == 0
    assert again.retained_total == 1
    # The model comes back: Ready=True again.
    back = _plan([a, b], cluster, now_offset=3)
    [update] = back.updates
    assert update.patch is None
    assert update.status is not None
    assert update.status["status"]["conditions"][0]["reason"] == "DeployableVersionResolved"
    cluster.apply(back)
    assert _plan([a, b], cluster, now_offset=4).write_count == 0


def test_delete_policy_deletes_with_uid_precondition() -> None:
    a, b = f.model("a"), f.model("b")
    cluster = _synced([a, b])
    plan = _plan([a], cluster, spec={"deletionPolicy": "Delete"})
    [delete] = plan.deletes
    assert delete.name == "fraud.b"
    uid = cluster.objects["fraud.b"]["metadata"]["uid"]
    assert delete.uid == uid  # the kube layer deletes with this uid as its precondition
    assert plan.retained == ()
    assert plan.ref_counts().deleted == 1


@pytest.mark.parametrize("policy", ["Delete", "Retain"])
def test_incomplete_listing_never_removes(policy: str) -> None:
    cluster = _synced([f.model("a"), f.model("b")])
    plan = _plan([], cluster, spec={"deletionPolicy": policy}, listing_complete=False)
    assert plan.deletes == ()
    assert plan.retained == ()
    assert plan.retained_total == 2


def test_skipped_models_are_not_removed() -> None:
    a, b = f.model("a"), f.model("b")
    cluster = _synced([a, b])
    plan = _plan([a], cluster, spec={"deletionPolicy": "Delete"}, skipped_model_ids=[b.id])
    assert plan.deletes == ()


def test_deletion_guard() -> None:
    models = [f.model(f"m{i}") for i in range(5)]
    cluster = _synced(models)
    at_limit = _plan(models[3:], cluster, spec={"deletionPolicy": "Delete", "maxDeletions": 3})
    assert len(at_limit.deletes) == 3
    assert at_limit.guard is None
    over = _plan(models[4:], cluster, spec={"deletionPolicy": "Delete", "maxDeletions": 3})
    assert over.deletes == ()
    assert over.guard is not None
    assert (over.guard.would_remove, over.guard.max_deletions) == (4, 3)
    assert "maxDeletions" in over.guard.message
    assert over.retained_total == 4


def test_foreign_owned_ref_is_never_written() -> None:
    cluster = _synced([f.model()], sync=f.OTHER_SYNC)
    obj = cluster.objects["fraud.detector"]
    obj["metadata"]["labels"][LABEL_SYNC] = "prod-models"  # even if it carries our label
    plan = _plan([f.model(number=2)], cluster, spec={"deletionPolicy": "Delete"})
    assert plan.write_count == 0
    [failure] = plan.failures
    assert failure.reason == "OwnedByAnotherSync"
    assert failure.model == "model:acme/fraud/detector"
    assert "other-models" in failure.message
    assert plan.ref_counts().failed == 1
    assert "fraud.detector" not in plan.desired
    # Not desired any more: still never deleted nor marked.
    assert _plan([], cluster, spec={"deletionPolicy": "Delete"}).write_count == 0
    assert _plan([], cluster).write_count == 0


def test_orphan_is_adopted() -> None:
    cluster = _synced([f.model()])
    obj = cluster.objects["fraud.detector"]
    obj["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "cm-1"}
    ]
    plan = _plan([f.model()], cluster)
    [update] = plan.updates
    assert update.patch is not None
    owners = update.patch["metadata"]["ownerReferences"]
    assert [o["uid"] for o in owners] == ["cm-1", "sync-uid-1"]
    assert owners[1]["controller"] is True


def test_unowned_object_without_our_label_is_foreign() -> None:
    cluster = _synced([f.model()])
    obj = cluster.objects["fraud.detector"]
    obj["metadata"]["ownerReferences"] = []
    del obj["metadata"]["labels"][LABEL_MANAGED_BY]
    plan = _plan([f.model()], cluster)
    assert plan.write_count == 0
    assert plan.failures[0].reason == "OwnedByAnotherSync"


def test_template_label_change_is_applied() -> None:
    cluster = _synced([f.model()], spec={"modelRefTemplate": {"labels": {"team": "risk"}}})
    plan = _plan([f.model()], cluster, spec={"modelRefTemplate": {"labels": {"team": "ops"}}})
    [update] = plan.updates
    assert update.patch == {"metadata": {"labels": {"team": "ops"}}}
    assert update.status is None


def test_output_is_sorted_by_name() -> None:
    models = [f.model(n) for n in ("c", "a", "b")]
    assert [c.name for c in _plan(models).creates] == ["fraud.a", "fraud.b", "fraud.c"]


def test_duplicate_model_ids_resolve_the_same_way_in_any_order() -> None:
    old, new = f.model(number=1), f.model(number=2)
    for models in ([old, new], [new, old]):
        [create] = _plan(models).creates
        assert create.body["spec"]["version"]["version"] == 2


@pytest.mark.parametrize("text", ["a", "\ud800"])  # JSON's "\ud800" reaches the records too
def test_duplicate_model_ids_of_one_version_resolve_the_same_way_in_any_order(text: str) -> None:
    plain = f.model(number=2, metadata={"note": "plain"})
    odd = f.model(number=2, metadata={"note": text})
    one, other = (_plan(models).creates for models in ([plain, odd], [odd, plain]))
    assert one == other
    assert len(one) == 1


def test_two_models_with_one_name_report_a_conflict() -> None:
    first = f.model("detector", model_id="id-1")
    second = f.model("detector", model_id="id-2")
    plan = _plan([second, first])
    assert [c.body["spec"]["model"]["id"] for c in plan.creates] == ["id-1"]
    [failure] = plan.failures
    assert failure.reason == "NameConflict"
    assert plan.selected == 2


def test_failed_int64_fields_fail_only_that_model() -> None:
    big = f.model("big", latest=f.version("big", 2**63))
    plan = _plan([big, f.model("ok")])
    assert [c.name for c in plan.creates] == ["fraud.ok"]
    assert [x.reason for x in plan.failures] == ["InvalidModel"]


def test_listing_complete_is_required() -> None:
    with pytest.raises(TypeError, match="listing_complete"):
        plan_sync([], f.spec(), [], sync=f.SYNC, now=f.NOW)  # type: ignore[call-arg]


def test_incomplete_listing_still_creates_and_updates_what_it_saw() -> None:
    a, b, c = f.model("a", number=1), f.model("b"), f.model("c")
    cluster = _synced([a, b], spec={"deletionPolicy": "Delete"})
    plan = _plan(
        [f.model("a", number=2), c],
        cluster,
        spec={"deletionPolicy": "Delete", "maxDeletions": 0},
        listing_complete=False,
        listing_problem="page at offset 100 was empty before the reported total 250",
    )
    assert [x.name for x in plan.creates] == ["fraud.c"]
    assert [x.name for x in plan.updates] == ["fraud.a"]
    assert (plan.deletes, plan.retained, plan.guard) == ((), (), None)
    assert plan.listing_complete is False
    assert plan.listing_problem == "page at offset 100 was empty before the reported total 250"
    cluster.apply(plan)
    assert set(cluster.objects) == {"fraud.a", "fraud.b", "fraud.c"}


def test_incomplete_listing_brings_a_returning_model_back_but_marks_nothing() -> None:
    a, b = f.model("a"), f.model("b")
    cluster = _synced([a, b])
    cluster.apply(_plan([a], cluster))  # b marked RemovedFromCatalog
    assert _ready(cluster.objects["fraud.b"])["reason"] == "RemovedFromCatalog"
    plan = _plan([b], cluster, listing_complete=False)
    assert plan.retained == ()
    [update] = plan.updates
    assert update.name == "fraud.b"
    cluster.apply(plan)
    assert _ready(cluster.objects["fraud.b"])["reason"] == "DeployableVersionResolved"
    assert _ready(cluster.objects["fraud.a"])["reason"] == "DeployableVersionResolved"


def test_a_complete_plan_carries_no_listing_problem() -> None:
    plan = _plan([f.model()], listing_problem="ignored when complete")
    assert plan.listing_complete is True
    assert plan.listing_problem == ""


def test_sync_plan_refuses_removals_over_an_incomplete_listing() -> None:
    with pytest.raises(ValueError, match="incomplete listing"):
        SyncPlan(deletes=(DeleteRef("fraud.a", "uid-1", None),), listing_complete=False)
    with pytest.raises(ValueError, match="incomplete listing"):
        SyncPlan(guard=DeletionGuard(5, 1, "x"), listing_complete=False)


def test_failed_lookup_leaves_the_ref_alone_and_reports_why() -> None:
    kept, gone = f.model("kept", number=6), f.model("gone")
    cluster = _synced([kept, gone])
    before = copy.deepcopy(cluster.objects["fraud.kept"])
    newer = f.model("kept", latest=f.version("kept", 7, deployable=False))
    plan = _plan(
        [newer],
        cluster,
        spec={"deletionPolicy": "Delete"},
        resolutions={newer.id: f.version("kept", 5)},  # a stale answer does not win
        failed_lookups={newer.id: "GET /model-versions: 503 Service Unavailable"},
    )
    assert [d.name for d in plan.deletes] == ["fraud.gone"]
    assert "fraud.kept" not in {u.name for u in plan.updates}
    [failure] = plan.failures
    assert (failure.model, failure.reason, failure.name) == (
        "model:acme/fraud/kept",
        "VersionLookupFailed",
        "fraud.kept",
    )
    assert "503 Service Unavailable" in failure.message
    assert "left as it is" in failure.message
    assert plan.selected == 1
    assert plan.ref_counts().failed == 1
    cluster.apply(plan)
    assert cluster.objects["fraud.kept"] == before


def test_failed_lookup_of_a_new_model_creates_nothing() -> None:
    m = f.model(latest=f.version(number=2, deployable=False))
    plan = _plan([m], failed_lookups={m.id: "timed out"})
    assert plan.write_count == 0
    assert [x.reason for x in plan.failures] == ["VersionLookupFailed"]


def test_failed_lookup_does_not_matter_when_no_lookup_is_needed() -> None:
    deployable = f.model("a")
    latest_policy = f.model("b", latest=f.version("b", 2, deployable=False))
    plan = _plan(
        [deployable],
        failed_lookups={deployable.id: "x"},
    )
    assert [c.name for c in plan.creates] == ["fraud.a"]
    assert plan.failures == ()
    plan = _plan(
        [latest_policy], spec={"versionPolicy": "Latest"}, failed_lookups={latest_policy.id: "x"}
    )
    assert [c.name for c in plan.creates] == ["fraud.b"]
    assert plan.failures == ()
