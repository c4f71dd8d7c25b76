"""The pure parts of a named refresh: which catalog request a named model needs under the
sync's filters, and which tenant stands in for a REPO/NAME (runtime/named_refresh.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from modelsync.api.model_names import ModelName, parse_model_name
from modelsync.catalog import ModelFilters
from modelsync.runtime.named_refresh import (
    ModelRefresh,
    RefreshOutcome,
    RefreshReport,
    catalog_query,
    tenants_for,
)
from plan.factories import model

SHORT = ModelName("fraud", "detector")
FULL = ModelName("fraud", "detector", "acme")
FQN = "model:acme/fraud/detector"


def test_a_full_fqn_is_asked_for_with_the_fqn_filter_and_the_syncs_other_filters() -> None:
    filters = ModelFilters(ml_repo_id="repo-fraud", run_id="r1", include_empty_models=False)
    query = catalog_query(FULL, filters)
    assert query is not None
    assert query.filters.to_params() == {
        "fqn": FQN,
        "ml_repo_id": "repo-fraud",
        "run_id": "r1",
        "include_empty_models": "false",
    }
    assert query.matches(model("detector", repo="fraud"))
    assert not query.matches(model("detector-2", repo="fraud"))


def test_a_repo_name_uses_the_tenant_given_for_it() -> None:
    query = catalog_query(SHORT, ModelFilters(), "acme")
    assert query is not None
    assert query.filters.to_params() == {"fqn": FQN}
    # Its own tenant wins over the stand-in.
    own = catalog_query(FULL, ModelFilters(), "beta")
    assert own is not None
    assert own.fqn == FQN


def test_without_a_tenant_the_name_filter_and_the_repo_decide() -> None:
    query = catalog_query(SHORT, ModelFilters(ml_repo_id="repo-fraud"))
    assert query is not None
    assert query.fqn is None
    assert query.filters.to_params() == {"name": "detector", "ml_repo_id": "repo-fraud"}
    assert query.matches(model("detector", repo="fraud"))
    assert not query.matches(model("detector", repo="churn"))  # same name, other repo


def test_a_sync_pinned_to_one_fqn_asks_only_for_that_model() -> None:
    pinned = ModelFilters(fqn=FQN)
    for named in (SHORT, FULL):
        query = catalog_query(named, pinned, "other-tenant")
        assert query is not None
        assert query.filters == pinned
    assert catalog_query(ModelName("fraud", "other"), pinned) is None
    assert catalog_query(ModelName("fraud", "detector", "beta"), pinned) is None


def test_a_sync_filtered_by_another_name_needs_no_request() -> None:
    assert catalog_query(SHORT, ModelFilters(name="other")) is None
    kept = catalog_query(SHORT, ModelFilters(name="detector"))
    assert kept is not None
    assert kept.filters.to_params() == {"name": "detector"}
    # With an fqn the catalog applies both filters, as in a full listing.
    both = catalog_query(FULL, ModelFilters(name="other"))
    assert both is not None
    assert both.filters.to_params() == {"fqn": FQN, "name": "other"}


def test_tenants_come_from_the_last_plans_models() -> None:
    fqns = ["model:acme/churn/a", "model:acme/fraud/detector", "model:acme/fraud/b"]
    found = tenants_for([SHORT, ModelName("churn", "new"), FULL], fqns)
    assert found == {SHORT: "acme", ModelName("churn", "new"): "acme", FULL: "acme"}


def test_an_ambiguous_or_unknown_tenant_is_none() -> None:
    two = ["model:acme/churn/a", "model:beta/churn/b"]
    assert tenants_for([SHORT], two) == {SHORT: None}
    assert tenants_for([ModelName("churn", "a")], two) == {ModelName("churn", "a"): "acme"}
    both = ["model:acme/fraud/detector", "model:beta/fraud/detector"]
    assert tenants_for([SHORT], both) == {SHORT: None}
    assert tenants_for([SHORT], []) == {SHORT: None}
    assert tenants_for([SHORT], [], seen={"acme"}) == {SHORT: "acme"}
    assert tenants_for([SHORT], ["not an fqn"]) == {SHORT: None}


@given(st.lists(st.sampled_from(["acme", "beta"]), max_size=4))
def test_a_names_own_tenant_always_wins(tenants: list[str]) -> None:
    fqns = [f"model:{t}/fraud/detector" for t in tenants]
    assert tenants_for([FULL], fqns) == {FULL: "acme"}


def test_the_report_line_names_every_model() -> None:
    report = RefreshReport(
        "ml",
        "prod",
        models=(
            ModelRefresh("fraud/detector", RefreshOutcome.UPDATED, "fraud.detector"),
            ModelRefresh("churn/gone", RefreshOutcome.NOT_FOUND, detail="not in the catalog"),
        ),
        catalog_requests=2,
        writes=3,
        duration=0.04,
    )
    assert report.summary() == (
        "named refresh of ml/prod: fraud/detector (fraud.detector) updated; "
        "churn/gone not found: not in the catalog; 2 catalog request(s), 3 write(s) in 0.04s"
    )
    assert report.outcome_of("churn/gone") is RefreshOutcome.NOT_FOUND
    assert report.outcome_of("other/x") is None
    reported = {o for o in RefreshOutcome if o.reported}
    assert reported == {
        RefreshOutcome.NOT_FOUND,
        RefreshOutcome.NOT_SELECTED,
        RefreshOutcome.INVALID,
    }


def test_a_query_is_keyed_by_what_was_named() -> None:
    assert catalog_query(parse_model_name(FQN), ModelFilters()) == catalog_query(
        FULL, ModelFilters()
    )
