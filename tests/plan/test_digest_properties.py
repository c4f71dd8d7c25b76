"""The lean ModelRef listing (specs read only where the spec digest cannot vouch for them)
plans exactly what the full listing plans, over random catalogs, specs and hand edits."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from modelsync.api.constants import ANNOTATION_SPEC_DIGEST
from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec
from modelsync.kube.modelref_states import states_of_page
from modelsync.plan import ExistingRef, SyncPlan, digest_vouches, plan_sync, select_desired
from modelsync.plan.digest import spec_digest
from plan import factories as f
from plan.cluster import Cluster
from plan.test_properties import SETTINGS, Catalog, _edit, _foreign, _plan, catalogs, specs


def _lean_plan(
    catalog: Catalog, spec: ModelCatalogSyncSpec, objects: list[dict[str, Any]], minutes: int
) -> tuple[SyncPlan, list[ExistingRef]]:
    """What the runner does: select first, list the ModelRefs reading only the specs the
    digests cannot vouch for, then plan with that selection."""
    selection = select_desired(
        catalog.models, spec, f.SYNC, catalog.resolutions, {}, catalog.failed_lookups
    )
    expected = selection.expected_digests()

    def spec_needed(name: str, found: object, generation: object, observed: object) -> bool:
        return name in expected and not digest_vouches(expected[name], found, generation, observed)

    page = json.dumps({"kind": "ModelRefList", "items": objects}).encode()
    states, token = states_of_page(page, spec_needed)
    assert token is None
    plan = plan_sync(
        catalog.models,
        spec,
        states,
        sync=f.SYNC,
        now=f.NOW + timedelta(minutes=minutes),
        resolutions=catalog.resolutions,
        failed_lookups=catalog.failed_lookups,
        listing_complete=True,
        preselected=selection,
    )
    return plan, states


@SETTINGS
@given(catalogs(), catalogs(), specs(), st.randoms(use_true_random=False), st.booleans())
def test_the_lean_listing_plans_what_the_full_listing_plans(
    before: Catalog, after: Catalog, spec: ModelCatalogSyncSpec, rnd: random.Random, foreign: bool
) -> None:
    cluster = Cluster()
    cluster.apply(_plan(before, spec, []))
    _edit(cluster, rnd)
    if foreign and cluster.objects:
        _foreign(cluster, [rnd.choice(sorted(cluster.objects))])
    objects = cluster.listed()

    full = _plan(after, spec, objects, minutes=5)
    lean, _ = _lean_plan(after, spec, objects, minutes=5)
    assert lean == full


@SETTINGS
@given(catalogs(), specs())
def test_a_steady_sync_reads_no_spec_and_writes_nothing(
    catalog: Catalog, spec: ModelCatalogSyncSpec
) -> None:
    cluster = Cluster()
    cluster.apply(_plan(catalog, spec, []))
    plan, states = _lean_plan(catalog, spec, cluster.listed(), minutes=60)
    assert plan.write_count == 0
    kept = {
        name
        for name in select_desired(
            catalog.models, spec, f.SYNC, catalog.resolutions, {}, catalog.failed_lookups
        ).depends_on_existing
    }
    read_whole = {s.name for s in states if s.spec_complete}
    # Only a ModelRef that keeps the version it holds needs its spec (the choice reads it).
    assert read_whole <= kept


@SETTINGS
@given(catalogs(), specs(), st.randoms(use_true_random=False))
def test_a_spec_edited_behind_an_intact_digest_is_restored(
    catalog: Catalog, spec: ModelCatalogSyncSpec, rnd: random.Random
) -> None:
    cluster = Cluster()
    cluster.apply(_plan(catalog, spec, []))
    if not cluster.objects:
        return
    name = rnd.choice(sorted(cluster.objects))
    obj = cluster.objects[name]
    assert ANNOTATION_SPEC_DIGEST in obj["metadata"]["annotations"]
    obj["spec"]["model"]["name"] = "edited"
    obj["metadata"]["generation"] += 1  # the API server bumps it for any spec change

    plan, states = _lean_plan(catalog, spec, cluster.listed(), minutes=5)
    assert next(s for s in states if s.name == name).spec_complete
    (update,) = [u for u in plan.updates if u.name == name]
    assert update.patch is not None
    assert update.patch["spec"]["model"]["name"] != "edited"


def test_the_digest_ignores_key_order_and_survives_lone_surrogates() -> None:
    one = f.model(metadata={"a": 1, "b": [1, {"x": 2, "y": 3}]})
    two = f.model(metadata={"b": [1, {"y": 3, "x": 2}], "a": 1})
    assert one.latest_version is not None
    assert two.latest_version is not None
    assert spec_digest(one, "r", one.latest_version) == spec_digest(two, "r", two.latest_version)
    other = f.model(metadata={"a": 2, "b": [1, {"x": 2, "y": 3}]})
    assert other.latest_version is not None
    assert spec_digest(other, "r", other.latest_version) != spec_digest(
        one, "r", one.latest_version
    )
    odd = f.model(metadata={"note": "\ud800"})
    assert odd.latest_version is not None
    assert spec_digest(odd, "r", odd.latest_version) == spec_digest(odd, "r", odd.latest_version)
    assert spec_digest(odd, "r", odd.latest_version) != spec_digest(one, "r", one.latest_version)
