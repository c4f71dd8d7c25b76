"""Label selectors of `modelsync run --sync-selector` (api/label_selector.py), checked against
the sandbox API server's port of apimachinery's parser (modelsync_sandbox.kube.selectors), which
the e2e suite holds to the real kube-apiserver: whatever we accept, the API server accepts with
the same meaning; the shard Lease name derived from the normalized selector."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsync.api.label_selector import LabelSelectorError, parse
from modelsync.runtime.leader_decision import shard_lease_name
from modelsync_sandbox.kube.selectors import IN, NOT_IN, SelectorError, parse_label_selector

KEYS = ["a", "b", "env", "modelsync.dev/shard", "x.io/y-z"]
VALUES = ["", "1", "07", "a", "b", "prod", "in", "x_y"]


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("", ""),
        ("  ", ""),
        ("modelsync.dev/shard=a", "modelsync.dev/shard=a"),
        ("modelsync.dev/shard == a", "modelsync.dev/shard=a"),
        (
            "env in (prod, staging), !legacy, tier!=gpu, team",
            "env in (prod,staging),!legacy,team,tier!=gpu",
        ),
        ("env in (b,a,b)", "env in (a,b)"),
        ("env in (a)", "env=a"),
        ("env notin (a)", "env!=a"),
        ("env notin (b,a)", "env notin (a,b)"),
        ("a=b,a=b", "a=b"),
        ("size>007", "size>7"),
        ("a=", "a="),
        ("in in (in)", "in=in"),
    ],
)
def test_parse_normalizes(text: str, normalized: str) -> None:
    assert str(parse(text)) == normalized
    assert str(parse(normalized)) == normalized


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a in (b,)", "found ')', expected a label value"),
        ("a in ()", "found ')', expected a label value"),
        ("a=b,", "found the end, expected a label key"),
        ("!a=b", "found '=', expected ',' or the end"),
        ("a b", "found 'b', expected '='"),
        ("a in b", "expected '(' after 'in' or 'notin'"),
        ("a>x", "must be a whole number"),
        ("a<99999999999999999999", "must be a whole number"),
        ("-a=b", "'-a' is not a valid label key"),
        ("a/b/c", "not a valid label key"),
        ("a=-b", "'-b' is not a valid label value"),
        ("a=" + "v" * 64, "not a valid label value"),
        ("a in (b c)", "expected ',' or ')'"),
    ],
)
def test_parse_refuses_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(LabelSelectorError, match=re.escape(why)):
        parse(text)


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ("", {}, True),
        ("env=prod", {"env": "prod"}, True),
        ("env=prod", {}, False),
        ("env!=prod", {}, True),  # as in Kubernetes: != and notin match a missing key
        ("env notin (a,b)", {"env": "c"}, True),
        ("env notin (a,b)", {"env": "a"}, False),
        ("env in (a,b)", {"env": "b"}, True),
        ("env", {"env": ""}, True),
        ("!env", {"env": ""}, False),
        ("n>5", {"n": "6"}, True),
        ("n>5", {"n": "x"}, False),
        ("n<5", {}, False),
        ("a=1,b=2", {"a": "1"}, False),
    ],
)
def test_matches(text: str, labels: dict[str, str], matches: bool) -> None:
    assert parse(text).matches(labels) is matches


# -- against the API server's grammar ----------------------------------------------------------

# Pieces of selectors: well-formed requirements and the tokens they are made of, so that
# random joins are often valid and often almost valid.
PIECES = [
    *KEYS,
    *[v for v in VALUES if v],
    "=",
    "==",
    "!=",
    "!",
    "(",
    ")",
    ",",
    ">",
    "<",
    "in",
    "notin",
    " ",
    "-",
]


@st.composite
def requirement(draw: st.DrawFn) -> str:
    key = draw(st.sampled_from(KEYS))
    kind = draw(st.sampled_from(["=", "==", "!=", "in", "notin", "exists", "!", ">", "<"]))
    if kind == "exists":
        return key
    if kind == "!":
        return f"!{key}"
    if kind in ("in", "notin"):
        values = draw(st.lists(st.sampled_from([v for v in VALUES if v]), min_size=1, max_size=3))
        return f"{key} {kind} ({', '.join(values)})"
    if kind in (">", "<"):
        return f"{key}{kind}{draw(st.integers(0, 99))}"
    return f"{key}{kind}{draw(st.sampled_from(VALUES))}"


well_formed = st.lists(requirement(), max_size=4).map(", ".join)
almost_formed = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)
label_sets = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=5)


def _kubernetes(text: str) -> object:
    try:
        return parse_label_selector(text)
    except SelectorError:
        return None


@given(well_formed, st.lists(label_sets, max_size=6))
def test_well_formed_selectors_parse_and_match_as_in_kubernetes(
    text: str, labels: list[dict[str, str]]
) -> None:
    ours = parse(text)
    theirs = parse_label_selector(text)
    normalized = parse_label_selector(str(ours))
    for present in labels:
        assert ours.matches(present) == theirs.matches(present) == normalized.matches(present)


@given(almost_formed, st.lists(label_sets, max_size=4))
def test_any_text_we_accept_kubernetes_accepts_alike(
    text: str, labels: list[dict[str, str]]
) -> None:
    theirs = _kubernetes(text)
    try:
        ours = parse(text)
    except LabelSelectorError:
        # The one refusal Kubernetes does not share: an empty value inside a set.
        if theirs is not None:
            assert any(
                r.operator in (IN, NOT_IN) and "" in r.values
                for r in theirs.requirements  # type: ignore[attr-defined]
            ), text
        return
    assert theirs is not None, text
    assert parse(str(ours)) == ours  # normalizing is idempotent
    for present in labels:
        assert ours.matches(present) == theirs.matches(present), (text, present)  # type: ignore[attr-defined]


# -- the shard's Lease -------------------------------------------------------------------------


def test_shard_lease_name_is_derived_from_the_normalized_selector() -> None:
    name = shard_lease_name(parse("modelsync.dev/shard=a"))
    assert re.fullmatch(r"modelsync-shard-[0-9a-f]{10}", name)
    assert shard_lease_name(parse(" modelsync.dev/shard in (a) ")) == name
    assert shard_lease_name(parse("modelsync.dev/shard==a")) == name
    assert shard_lease_name(parse("modelsync.dev/shard=b")) != name


@given(well_formed, well_formed)
def test_shard_lease_names_differ_exactly_when_normalized_selectors_do(a: str, b: str) -> None:
    same = str(parse(a)) == str(parse(b))
    assert (shard_lease_name(parse(a)) == shard_lease_name(parse(b))) is same
