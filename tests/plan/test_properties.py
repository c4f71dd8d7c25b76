"""Hypothesis properties of the planner over random catalogs, specs and hand-edited clusters."""

from __future__ import annotations

import copy
import random
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelsync.api.constants import (
    LABEL_FRAMEWORK,
    LABEL_ML_REPO,
    LABEL_SYNC,
    DeletionPolicy,
    VersionPolicy,
)
from modelsync.api.labels import OWNED_ANNOTATION_KEYS, OWNED_LABEL_KEYS
from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec
from modelsync.catalog.records import ModelRecord
from modelsync.plan import UNSUPPORTED, SyncPlan, VersionResolution, plan_sync
from plan import factories as f
from plan.cluster import Cluster

_NAMES = ["a", "b", "c", "d", "e"]
_REPOS = ["fraud", "churn"]
_FRAMEWORKS = ["sklearn", "xgboost", None]
_TAGS = ["prod", "eu"]
# Patterns on which RE2 and Python's re agree, so the oracle below can use re.
_PATTERNS = ["^[ab]", "c|d", "^(a+)+$", "^(?:a|e)$", "b", "^$"]

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Catalog:
    models: list[ModelRecord]
    resolutions: dict[str, VersionResolution]
    failed_lookups: dict[str, str] = field(default_factory=dict)


@st.composite
def catalogs(draw: st.DrawFn) -> Catalog:
    keys = draw(st.sets(st.tuples(st.sampled_from(_REPOS), st.sampled_from(_NAMES)), max_size=8))
    models: list[ModelRecord] = []
    resolutions: dict[str, VersionResolution] = {}
    failed: dict[str, str] = {}
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
            answer = draw(st.sampled_from(["none", "unsupported", "older", "failed", "missing"]))
            if answer == "failed":
                failed[m.id] = "GET /model-versions: 503 Service Unavailable"
            elif answer == "missing":
                pass
            elif answer == "none" or number == 1:
                resolutions[m.id] = None
            elif answer == "unsupported":
                resolutions[m.id] = UNSUPPORTED
            else:
                resolutions[m.id] = f.version(name, number - 1, **common)
    return Catalog(models, resolutions, failed)


@st.composite
def specs(draw: st.DrawFn) -> ModelCatalogSyncSpec:
    select: dict[str, Any] = {}
    if draw(st.booleans()):
        select["frameworks"] = draw(st.lists(st.sampled_from(["sklearn", "xgboost"]), max_size=2))
    if draw(st.booleans()):
        select["tags"] = draw(st.lists(st.sampled_from(_TAGS), max_size=1))
    if draw(st.booleans()):
        select["mlRepos"] = draw(st.lists(st.sampled_from(_REPOS), min_size=1, max_size=1))
    if draw(st.booleans()):
        select["namePattern"] = draw(st.sampled_from(_PATTERNS))
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
        failed_lookups=catalog.failed_lookups,
        listing_complete=kwargs.pop("listing_complete", True),
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
    shuffled = _plan(Catalog(models, after.resolutions, after.failed_lookups), spec, objects)
    assert shuffled == plan


@SETTINGS
@given(
    catalogs(),
    catalogs(),
    specs(),
    st.randoms(use_true_random=False),
    st.booleans(),
)
def test_incomplete_listing_never_removes_but_writes_what_it_saw(
    before: Catalog,
    after: Catalog,
    spec: ModelCatalogSyncSpec,
    rnd: random.Random,
    foreign: bool,
) -> None:
    cluster = Cluster()
    cluster.apply(_plan(before, spec, []))
    _edit(cluster, rnd)
    if foreign and cluster.objects:
        _foreign(cluster, [rnd.choice(sorted(cluster.objects))])
    present = set(cluster.objects)
    seen = [m for m in after.models if rnd.random() < 0.6]
    partial = Catalog(seen, after.resolutions, after.failed_lookups)
    objects = cluster.listed()

    plan = _plan(partial, spec, objects, minutes=5, listing_complete=False, listing_problem="why")
    assert (plan.deletes, plan.retained, plan.guard) == ((), (), None)
    assert (plan.listing_complete, plan.listing_problem) == (False, "why")
    full = _plan(partial, spec, objects, minutes=5)
    assert (plan.creates, plan.updates, plan.failures) == (
        full.creates,
        full.updates,
        full.failures,
    )
    assert (plan.desired, plan.selected, plan.unchanged) == (
        full.desired,
        full.selected,
        full.unchanged,
    )
    cluster.apply(plan)
    assert present <= set(cluster.objects)


def _chosen(
    catalog: Catalog, spec: ModelCatalogSyncSpec, model: ModelRecord, held: dict[str, Any] | None
) -> tuple[int, bool, str | None, list[str]] | None:
    """(version number, deployable, framework, tags) the ModelRef should hold; None when the
    version lookup failed or is missing (the ModelRef must be left alone)."""
    latest = model.latest_version
    assert latest is not None
    manifest = latest.manifest
    facts = (
        manifest.version or 0,
        latest.deployable,
        manifest.framework.type if manifest.framework else None,
        list(latest.tags),
    )
    if latest.deployable or spec.version_policy is VersionPolicy.LATEST:
        return facts
    if model.id in catalog.failed_lookups or model.id not in catalog.resolutions:
        return None
    answer = catalog.resolutions[model.id]
    if answer is UNSUPPORTED:
        kept = (held or {}).get("spec", {}).get("version", {})
        if kept.get("deployable") is True:
            kept_framework = kept.get("framework", {}).get("type")
            return kept["version"], True, kept_framework, list(kept.get("tags", []))
        return facts
    if answer is None:
        return facts
    older = answer.manifest
    return (
        older.version or 0,
        True,
        older.framework.type if older.framework else None,
        list(answer.tags),
    )


def _expected(
    catalog: Catalog, spec: ModelCatalogSyncSpec, held: dict[str, dict[str, Any]]
) -> tuple[dict[str, tuple[int, bool]], set[str]]:
    """An independent oracle: {ModelRef name: (version, Ready)} and the names left alone."""
    select = spec.select
    expected: dict[str, tuple[int, bool]] = {}
    left_alone: set[str] = set()
    for m in catalog.models:
        repo = m.fqn.split("/")[1]
        if m.latest_version is None:
            continue
        if select.name_pattern is not None and re.search(select.name_pattern, m.name) is None:
            continue
        if select.ml_repos and repo not in select.ml_repos:
            continue
        name = f"{repo}.{m.name}"
        chosen = _chosen(catalog, spec, m, held.get(name))
        if chosen is None:
            left_alone.add(name)
            continue
        number, deployable, framework, tags = chosen
        if select.frameworks and framework not in select.frameworks:
            continue
        if not all(tag in tags for tag in select.tags):
            continue
        expected[name] = (number, deployable)
    return expected, left_alone


def _ready_of(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


def _newer_unresolved(catalog: Catalog, rnd: random.Random) -> Catalog:
    """`catalog` where some models got a new non-deployable latest version whose lookup
    failed or never happened (their ModelRefs must then be left exactly as they were)."""
    models: list[ModelRecord] = []
    resolutions = dict(catalog.resolutions)
    failed = dict(catalog.failed_lookups)
    for m in catalog.models:
        latest = m.latest_version
        if latest is None or rnd.random() < 0.4:
            models.append(m)
            continue
        framework = latest.manifest.framework
        newer = f.model(
            m.name,
            repo=m.fqn.split("/")[1],
            latest=f.version(
                m.name,
                (latest.manifest.version or 0) + 1,
                repo=m.fqn.split("/")[1],
                deployable=False,
                framework=framework.type if framework else None,
                tags=tuple(latest.tags),
            ),
        )
        models.append(newer)
        resolutions.pop(m.id, None)
        if rnd.random() < 0.5:
            failed[m.id] = "GET /model-versions: no complete response within 30s"
        else:
            failed.pop(m.id, None)
    return Catalog(models, resolutions, failed)


@SETTINGS
@given(catalogs(), catalogs(), specs(), st.booleans(), st.randoms(use_true_random=False))
def test_a_complete_listing_yields_exactly_the_expected_modelrefs(
    before: Catalog,
    after: Catalog,
    spec: ModelCatalogSyncSpec,
    churn: bool,
    rnd: random.Random,
) -> None:
    if churn:
        after = _newer_unresolved(before, rnd)
        spec = spec.model_copy(update={"version_policy": VersionPolicy.LATEST_DEPLOYABLE})
    cluster = Cluster()
    cluster.apply(_plan(before, spec, []))
    held = copy.deepcopy(cluster.objects)
    plan = _plan(after, spec, cluster.listed(), minutes=5)
    cluster.apply(plan)

    expected, left_alone = _expected(after, spec, held)
    assert {x.name for x in plan.failures} == left_alone
    assert {x.reason for x in plan.failures} <= {"VersionLookupFailed"}
    for name, (number, deployable) in expected.items():
        obj = cluster.objects[name]
        assert obj["spec"]["version"]["version"] == number
        assert (_ready_of(obj)["status"] == "True") is deployable
        assert obj["metadata"]["labels"][LABEL_SYNC] == f.SYNC.name
    for name in left_alone:
        assert cluster.objects.get(name) == held.get(name)
    stale = set(held) - set(expected) - left_alone
    if spec.deletion_policy is DeletionPolicy.RETAIN:
        assert set(cluster.objects) == set(expected) | set(held)
        for name in stale:
            ready = _ready_of(cluster.objects[name])
            assert (ready["status"], ready["reason"]) == ("False", "RemovedFromCatalog")
    elif len(stale) <= spec.max_deletions:
        assert plan.guard is None
        assert set(cluster.objects) == set(expected) | (left_alone & set(held))
    else:
        assert plan.guard is not None
        assert all(cluster.objects[name] == held[name] for name in stale)

    again = _plan(after, spec, cluster.listed(), minutes=60)
    assert again.write_count == 0, again
