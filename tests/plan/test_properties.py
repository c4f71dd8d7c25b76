"""Hypothesis properties of the planner over random catalogs, specs and hand-edited clusters."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelsync.api.constants import LABEL_FRAMEWORK, LABEL_ML_REPO, LABEL_SYNC
from modelsync.api.labels import OWNED_ANNOTATION_KEYS, OWNED_LABEL_KEYS
from modelsync.api.sync import ModelCatalogSyncSpec
from modelsync.catalog.models import Model
from modelsync.plan import UNSUPPORTED, SyncPlan, VersionResolution, plan_sync
from plan import factories as f
from plan.cluster import Cluster

_NAMES = ["a", "b", "c", "d", "e"]
_REPOS = ["fraud", "churn"]
_FRAMEWORKS = ["sklearn", "xgboost", None]
_TAGS = ["prod", "eu"]

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Catalog:
    models: list[Model]
    resolutions: dict[str, VersionResolution]


@st.composite
def catalogs(draw: st.DrawFn) -> Catalog:
    keys = draw(st.sets(st.tuples(st.sampled_from(_REPOS), st.sampled_from(_NAMES)), max_size=8))
    models: list[Model] = []
    resolutions: dict[str, VersionResolution] = {}
    for repo, name in sorted(keys):
        if draw(st.integers(0, 9)) == 0:
            models.append(f.model(name, repo=repo, empty=True))
            continue
        number = draw(st.integers(1, 4))
        common: dict[str, Any] = {
            "repo": repo,
            "framework": draw(st.sampled_from(_FRAMEWORKS)),
            "tags": tuple(draw(st.sets(st.sampled_from(_TAGS)))),
            "metadata": draw(st.sampled_from([{}, {"k": 1}, {"k": None, "j": [1, None]}])),
        }
        deployable = draw(st.booleans())
        m = f.model(
            name, repo=repo, latest=f.version(name, number, deployable=deployable, **common)
        )
        models.append(m)
        if not deployable:
            answer = draw(st.sampled_from(["none", "unsupported", "older"]))
            if answer == "none" or number == 1:
                resolutions[m.id] = None
            elif answer == "unsupported":
                resolutions[m.id] = UNSUPPORTED
            else:
                resolutions[m.id] = f.version(name, number - 1, **common)
    return Catalog(models, resolutions)


@st.composite
def specs(draw: st.DrawFn) -> ModelCatalogSyncSpec:
    select: dict[str, Any] = {}
    if draw(st.booleans()):
        select["frameworks"] = draw(st.lists(st.sampled_from(["sklearn", "xgboost"]), max_size=2))
    if draw(st.booleans()):
        select["tags"] = draw(st.lists(st.sampled_from(_TAGS), max_size=1))
    if draw(st.booleans()):
        select["mlRepos"] = draw(st.lists(st.sampled_from(_REPOS), min_size=1, max_size=1))
    return f.spec(
        select=select,
        versionPolicy=draw(st.sampled_from(["Latest", "LatestDeployable"])),
        deletionPolicy=draw(st.sampled_from(["Retain", "Delete"])),
        maxDeletions=draw(st.integers(0, 4)),
        modelRefTemplate={
            "labels": draw(st.sampled_from([{}, {"team": "risk"}, {"team": "ops", "x": "y"}])),
            "annotations": draw(st.sampled_from([{}, {"note": "hi"}])),
        },
    )


def _plan(
    catalog: Catalog,
    spec: ModelCatalogSyncSpec,
    objects: list[dict[str, Any]],
    minutes: int = 0,
    **kwargs: Any,
) -> SyncPlan:
    return plan_sync(
        catalog.models,
        spec,
        objects,
        sync=f.SYNC,
        now=f.NOW + timedelta(minutes=minutes),
        resolutions=catalog.resolutions,
        **kwargs,
    )


def _edit(cluster: Cluster, rnd: random.Random) -> None:
    """Hand edits people and other tools make: foreign labels, tampering, timestamps."""
    for obj in cluster.objects.values():
        meta = obj["metadata"]
        choice = rnd.randrange(7)
        if choice == 0:
            meta["labels"]["someone/else"] = "keep"
            meta["annotations"]["other.io/note"] = "keep"
        elif choice == 1:
            meta["labels"][rnd.choice([LABEL_SYNC, LABEL_ML_REPO, LABEL_FRAMEWORK])] = "tampered"
        elif choice == 2:
            obj["spec"]["version"]["version"] = 999
            meta["generation"] += 1
        elif choice == 3:
            for cond in obj["status"]["conditions"]:
                cond["lastTransitionTime"] = "2000-01-01T00:00:00Z"
        elif choice == 4:
            obj["spec"]["model"]["extra"] = {"x": 1}
            meta["generation"] += 1


def _foreign(cluster: Cluster, names: list[str]) -> set[str]:
    """Objects of another sync that carry our sync label, under some desired names."""
    taken = set()
    for name in names:
        body = {
            "apiVersion": "modelsync.dev/v1alpha1",
            "kind": "ModelRef",
            "metadata": {
                "name": name,
                "uid": f"foreign-{name}",
                "generation": 1,
                "labels": {LABEL_SYNC: "prod-models"},
                "ownerReferences": [f.OTHER_SYNC.owner_reference()],
            },
            "spec": {"model": {"id": "x", "name": "x", "fqn": "x"}},
        }
        cluster.objects[name] = body
        taken.add(name)
    return taken


def _written_names(plan: SyncPlan) -> set[str]:
    return (
        {c.name for c in plan.creates}
        | {u.name for u in plan.updates}
        | {d.name for d in plan.deletes}
        | {r.name for r in plan.retained}
    )


@SETTINGS
@given(catalogs(), catalogs(), specs(), st.randoms(use_true_random=False), st.booleans())
def test_applying_a_plan_converges(
    before: Catalog, after: Catalog, spec: ModelCatalogSyncSpec, rnd: random.Random, foreign: bool
) -> None:
    cluster = Cluster()
    cluster.apply(_plan(before, spec, []))
    _edit(cluster, rnd)
    taken = set()
    if foreign and cluster.objects:
        taken = _foreign(cluster, [rnd.choice(sorted(cluster.objects))])
    foreign_before = {
        name: ({**obj["metadata"]["labels"]}, {**obj["metadata"].get("annotations", {})})
        for name, obj in cluster.objects.items()
    }
    untouched = {name: cluster.objects[name] for name in taken}

    plan = _plan(after, spec, cluster.listed(), minutes=5)
    assert not (_written_names(plan) & taken), "a foreign-owned ModelRef was written"
    assert len(plan.deletes) <= spec.max_deletions
    for update in plan.updates:
        for section, owned in (
            ("labels", OWNED_LABEL_KEYS),
            ("annotations", OWNED_ANNOTATION_KEYS),
        ):
            patch = (update.patch or {}).get("metadata", {}).get(section, {})
            template = getattr(spec.model_ref_template, section)
            assert all(k in owned or k in template for k in patch if patch[k] is None)
    cluster.apply(plan)
    assert all(cluster.objects[name] == obj for name, obj in untouched.items())
    for name, obj in cluster.objects.items():
        labels, annotations = foreign_before.get(name, ({}, {}))
        for key in ("someone/else",):
            if key in labels:
                assert obj["metadata"]["labels"][key] == labels[key]
        if "other.io/note" in annotations:
            assert obj["metadata"]["annotations"]["other.io/note"] == "keep"

    again = _plan(after, spec, cluster.listed(), minutes=60)
    assert again.write_count == 0, again
    assert again.failures == plan.failures


@SETTINGS
@given(catalogs(), specs())
def test_timestamps_alone_never_cause_writes(catalog: Catalog, spec: ModelCatalogSyncSpec) -> None:
    cluster = Cluster()
    cluster.apply(_plan(catalog, spec, []))
    for obj in cluster.objects.values():
        obj["metadata"]["creationTimestamp"] = "2001-01-01T00:00:00Z"
        for cond in obj["status"]["conditions"]:
            cond["lastTransitionTime"] = "2001-01-01T00:00:00Z"
    assert _plan(catalog, spec, cluster.listed(), minutes=600).write_count == 0


@SETTINGS
@given(catalogs(), catalogs(), specs())
def test_incomplete_listing_never_removes(
    before: Catalog, after: Catalog, spec: ModelCatalogSyncSpec
) -> None:
    cluster = Cluster()
    cluster.apply(_plan(before, spec, []))
    plan = _plan(after, spec, cluster.listed(), listing_complete=False)
    assert plan.deletes == ()
    assert plan.retained == ()


@SETTINGS
@given(catalogs(), catalogs(), specs(), st.randoms(use_true_random=False))
def test_plans_do_not_depend_on_input_order(
    before: Catalog, after: Catalog, spec: ModelCatalogSyncSpec, rnd: random.Random
) -> None:
    cluster = Cluster()
    cluster.apply(_plan(before, spec, []))
    objects = cluster.listed()
    plan = _plan(after, spec, objects)
    models = list(after.models)
    rnd.shuffle(models)
    rnd.shuffle(objects)
    shuffled = _plan(Catalog(models, after.resolutions), spec, objects)
    assert shuffled == plan
