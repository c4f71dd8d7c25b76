"""The model names `modelsync reconcile --model` takes and the reconcile-models annotation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsync.api.model_names import (
    ModelName,
    format_reconcile_models,
    parse_fqn,
    parse_model_name,
    split_reconcile_models,
)

# Catalog names (list-models.openapi.yaml) and odd but legal ones.
parts = st.one_of(
    st.from_regex(r"\A[a-zA-Z][a-zA-Z0-9\-]{1,30}[a-zA-Z0-9]\Z"),
    st.from_regex(r"\A[A-Za-z0-9_.:\-]{1,40}\Z"),
    st.text(st.characters(blacklist_characters="/,", blacklist_categories=("Z", "C")), min_size=1),
).filter(lambda part: not part.startswith("model:"))  # a repo so named would read as an fqn
names = st.builds(ModelName, parts, parts, st.one_of(st.none(), parts))


def test_the_two_forms() -> None:
    assert parse_model_name("churn/churn-survival") == ModelName("churn", "churn-survival")
    full = parse_model_name("model:acme/churn/churn-survival")
    assert full == ModelName("churn", "churn-survival", "acme")
    assert full.fqn == "model:acme/churn/churn-survival"
    assert str(full) == "model:acme/churn/churn-survival"
    short = ModelName("churn", "x")
    assert (short.fqn, str(short), short.fqn_in("t")) == (None, "churn/x", "model:t/churn/x")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "churn",
        "churn/",
        "/churn",
        "a/b/c",
        "acme/churn/x",  # an fqn without its "model:" prefix
        "model:churn/x",
        "model:acme/churn/x/y",
        "model:/churn/x",
        "churn/x,fraud/y",
        "churn/ x",
        "churn/x\n",
        "churn/x\x00",
    ],
)
def test_anything_else_is_refused_saying_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="is not a model name") as refused:
        parse_model_name(text)
    message = str(refused.value)
    assert message.startswith(f"{text!r} is not a model name: expected REPO/NAME")
    assert "model:TENANT/REPO/NAME" in message


def test_parse_fqn_takes_only_full_fqns() -> None:
    assert parse_fqn("model:acme/fraud/detector") == ModelName("fraud", "detector", "acme")
    assert parse_fqn("fraud/detector") is None
    assert parse_fqn("model:acme/fraud") is None


@given(names)
def test_a_name_reads_back_as_itself(name: ModelName) -> None:
    assert parse_model_name(str(name)) == name


def test_same_model_compares_tenants_only_where_both_know_one() -> None:
    short = ModelName("churn", "x")
    assert short.same_model(ModelName("churn", "x", "acme"))
    assert ModelName("churn", "x", "acme").same_model(short)
    assert not ModelName("churn", "x", "acme").same_model(ModelName("churn", "x", "beta"))
    assert not short.same_model(ModelName("churn", "y"))
    assert not short.same_model(ModelName("fraud", "x"))


def test_the_annotation_value_is_sorted_and_without_duplicates() -> None:
    value = format_reconcile_models(["fraud/b", "churn/a", "fraud/b", "model:acme/churn/a"])
    assert value == "churn/a,fraud/b,model:acme/churn/a"
    assert split_reconcile_models(value) == ("churn/a", "fraud/b", "model:acme/churn/a")
    # Written by hand: blanks and spaces around the separators do not count.
    assert split_reconcile_models(" churn/a , ,fraud/b,") == ("churn/a", "fraud/b")
    assert split_reconcile_models("") == ()


@given(st.lists(names))
def test_formatting_and_splitting_round_trip(found: list[ModelName]) -> None:
    texts = [str(n) for n in found]
    value = format_reconcile_models(texts)
    assert split_reconcile_models(value) == tuple(sorted(set(texts)))
    assert [parse_model_name(t) for t in split_reconcile_models(value)] == sorted(
        set(found), key=str
    )
