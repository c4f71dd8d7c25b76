"""Label and field selectors: grammar, matching and the parser's own error texts.

Sources: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/
("Label selectors": equality- and set-based requirements, comma is AND),
https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/,
k8s.io/apimachinery/pkg/labels/selector.go and pkg/fields/selector.go.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsync_sandbox.kube.selectors import (
    DEFAULT_FIELD_LABELS,
    DOES_NOT_EXIST,
    EQUALS,
    EXISTS,
    IN,
    NOT_EQUALS,
    NOT_IN,
    FieldRequirement,
    LabelSelector,
    Requirement,
    SelectorError,
    escape_field_value,
    label_selector_from_dict,
    new_requirement,
    parse_field_selector,
    parse_label_selector,
)

LABELS = {"app": "catalog", "tier": "backend", "modelsync.dev/sync": "s1", "empty": ""}


class TestLabelSelectorMatching:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("", True),
            ("app=catalog", True),
            ("app==catalog", True),
            ("app!=catalog", False),
            ("app!=other", True),
            ("missing!=x", True),
            ("app in (catalog, web)", True),
            ("app notin (catalog)", False),
            ("missing notin (x)", True),
            ("missing in (x)", False),
            ("tier", True),
            ("!tier", False),
            ("!missing", True),
            ("modelsync.dev/sync=s1,tier=backend", True),
            ("modelsync.dev/sync=s1,tier=frontend", False),
            ("empty=", True),
            ("empty in ()", True),
            ("  app  =  catalog ,  tier  ", True),
        ],
    )
    def test_matches(self, text: str, expected: bool) -> None:
        assert parse_label_selector(text).matches(LABELS) is expected

    def test_greater_and_less_than(self) -> None:
        assert parse_label_selector("n>3").matches({"n": "4"})
        assert not parse_label_selector("n>3").matches({"n": "3"})
        assert parse_label_selector("n<3").matches({"n": "-1"})
        assert not parse_label_selector("n<3").matches({"n": "x"})
        assert not parse_label_selector("n<3").matches({})

    def test_keywords_are_values_in_value_position(self) -> None:
        selector = parse_label_selector("x in (in,notin)")
        assert selector.requirements == (Requirement("x", IN, ("in", "notin")),)

    def test_requirements_are_sorted_by_key_and_values_deduplicated(self) -> None:
        selector = parse_label_selector("b in (z,y,z),a")
        assert selector.requirements == (Requirement("a", EXISTS), Requirement("b", IN, ("y", "z")))
        assert str(selector) == "a,b in (y,z)"

    def test_none_labels_match_like_empty(self) -> None:
        assert parse_label_selector("!x").matches(None)


class TestLabelSelectorErrors:
    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
            ("a in b", "unable to parse requirement: found 'b' expected: '('"),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            (
                "a b",
                "unable to parse requirement: found 'b', expected: '=', '!=', '==', 'in', notin'",
            ),
            ("a=b,", "found '', expected: identifier after ','"),
            (",a", "found ',', expected: !, identifier, or 'end of string'"),
            ("a=(", "unable to parse requirement: found '(', expected: identifier"),
            ("!", "unable to parse requirement: found '', expected: identifier"),
            ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
            (
                "a foo b",
                "unable to parse requirement: found 'foo', expected: '=', '!=', '==', 'in', notin'",
            ),
            (
                "n>x",
                "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' "
                "operators, the value must be an integer",
            ),
        ],
    )
    def test_syntax_errors(self, text: str, message: str) -> None:
        with pytest.raises(SelectorError) as caught:
            parse_label_selector(text)
        assert str(caught.value) == message

    def test_invalid_key(self) -> None:
        with pytest.raises(SelectorError) as caught:
            parse_label_selector("-ltier=postgres")
        assert str(caught.value) == (
            'unable to parse requirement: <nil>: Invalid value: "-ltier": name part must '
            "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
            "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )

    def test_invalid_value(self) -> None:
        with pytest.raises(SelectorError) as caught:
            parse_label_selector("app=a$b")
        assert str(caught.value).startswith(
            'unable to parse requirement: values[0][app]: Invalid value: "a$b": a valid label '
            "must be an empty string or consist of"
        )

    def test_selector_error_is_a_value_error(self) -> None:
        assert issubclass(SelectorError, ValueError)


class TestLabelSelectorFromDict:
    def test_match_labels_and_expressions(self) -> None:
        selector = label_selector_from_dict(
            {
                "matchLabels": {"app": "catalog"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["backend", "web"]},
                    {"key": "gone", "operator": "DoesNotExist"},
                    {"key": "modelsync.dev/sync", "operator": "Exists"},
                    {"key": "app", "operator": "NotIn", "values": ["other"]},
                ],
            }
        )
        assert selector.matches(LABELS)
        assert not selector.matches({**LABELS, "gone": "x"})

    def test_nil_selects_nothing_and_empty_selects_everything(self) -> None:
        assert not label_selector_from_dict(None).matches(LABELS)
        assert label_selector_from_dict({}).matches({})
        assert label_selector_from_dict({}).empty

    def test_bad_operator(self) -> None:
        with pytest.raises(SelectorError, match='"Has" is not a valid label selector operator'):
            label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "Has"}]})

    def test_in_needs_values(self) -> None:
        with pytest.raises(SelectorError) as caught:
            label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "In"}]})
        assert str(caught.value) == (
            "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't "
            "be empty"
        )

    def test_exists_takes_no_values(self) -> None:
        with pytest.raises(SelectorError, match="values set must be empty"):
            new_requirement("a", EXISTS, ["x"])


class TestFieldSelectors:
    OBJ: ClassVar[dict[str, Any]] = {"metadata": {"name": "a", "namespace": "ns"}, "type": "Opaque"}

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("metadata.name=a", True),
            ("metadata.name==a", True),
            ("metadata.name!=a", False),
            ("metadata.namespace=ns,metadata.name=a", True),
            ("metadata.namespace=other,metadata.name=a", False),
            ("", True),
            (",metadata.name=a,", True),
        ],
    )
    def test_matches(self, text: str, expected: bool) -> None:
        assert parse_field_selector(text, DEFAULT_FIELD_LABELS).matches(self.OBJ) is expected

    def test_unsupported_label(self) -> None:
        with pytest.raises(SelectorError, match=r"^field label not supported: spec\.x$"):
            parse_field_selector("spec.x=1", DEFAULT_FIELD_LABELS)

    def test_no_whitespace_trimming(self) -> None:
        # fields.ParseSelector keeps the spaces, so the label is "metadata.name ".
        with pytest.raises(SelectorError, match=r"field label not supported: metadata\.name $"):
            parse_field_selector("metadata.name = a", DEFAULT_FIELD_LABELS)

    def test_other_labels_when_allowed(self) -> None:
        selector = parse_field_selector("type=Opaque", allowed=("type",))
        assert selector.matches(self.OBJ)
        assert parse_field_selector("anything.at.all=", allowed=None).matches(self.OBJ)

    def test_term_without_operator(self) -> None:
        with pytest.raises(SelectorError) as caught:
            parse_field_selector("metadata.name=a,oops")
        assert (
            str(caught.value) == "invalid selector: 'metadata.name=a,oops'; can't understand 'oops'"
        )

    def test_escapes(self) -> None:
        selector = parse_field_selector(r"metadata.name=a\,b\=c\\d")
        assert selector.requirements == (FieldRequirement("metadata.name", EQUALS, "a,b=c\\d"),)
        assert selector.matches({"metadata": {"name": "a,b=c\\d"}})

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            (r"metadata.name=a\q", r"invalid field selector: invalid escape sequence: \q"),
            ("metadata.name=a\\", "invalid field selector: invalid escape sequence: \\"),
            ("metadata.name=a=b", "invalid field selector: unescaped character in value: 61"),
        ],
    )
    def test_bad_values(self, text: str, message: str) -> None:
        with pytest.raises(SelectorError) as caught:
            parse_field_selector(text)
        assert str(caught.value) == message

    def test_not_equals_on_missing_field(self) -> None:
        assert parse_field_selector("metadata.namespace!=x").matches({"metadata": {"name": "a"}})


# -- properties -------------------------------------------------------------------------------

keys = st.from_regex(
    r"\A([a-z]{1,5}(\.[a-z]{1,5})?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,6}[A-Za-z0-9])?\Z"
)
values = st.from_regex(r"\A([A-Za-z0-9]([-A-Za-z0-9_.]{0,6}[A-Za-z0-9])?)?\Z")


@st.composite
def requirements(draw: st.DrawFn) -> Requirement:
    operator = draw(st.sampled_from([IN, NOT_IN, EQUALS, "==", NOT_EQUALS, EXISTS, DOES_NOT_EXIST]))
    if operator in (EXISTS, DOES_NOT_EXIST):
        vals: list[str] = []
    elif operator in (IN, NOT_IN):
        vals = sorted(draw(st.sets(values, min_size=1, max_size=3)))
    else:
        vals = [draw(values)]
    return new_requirement(draw(keys), operator, vals)


selectors = st.lists(requirements(), max_size=4).map(
    lambda reqs: LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))
)
label_sets = st.dictionaries(keys, values, max_size=4)


@settings(max_examples=50, deadline=None)
@given(selectors)
def test_format_then_parse_is_stable(selector: LabelSelector) -> None:
    assert parse_label_selector(str(selector)) == selector


@settings(max_examples=50, deadline=None)
@given(selectors, label_sets)
def test_matching_survives_formatting(selector: LabelSelector, labels: dict[str, str]) -> None:
    assert parse_label_selector(str(selector)).matches(labels) is selector.matches(labels)


@settings(max_examples=50, deadline=None)
@given(label_sets)
def test_equality_selector_of_a_label_set_matches_it(labels: dict[str, str]) -> None:
    text = ",".join(f"{k}={v}" for k, v in labels.items())
    assert parse_label_selector(text).matches(labels)
    assert label_selector_from_dict({"matchLabels": labels}).matches(labels)


@settings(max_examples=50, deadline=None)
@given(label_sets, keys)
def test_exists_and_does_not_exist_are_complements(labels: dict[str, str], key: str) -> None:
    assert parse_label_selector(key).matches(labels) is (key in labels)
    assert parse_label_selector(f"!{key}").matches(labels) is (key not in labels)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=12))
def test_field_value_escaping_round_trips(value: str) -> None:
    selector = parse_field_selector(f"metadata.name={escape_field_value(value)}")
    assert selector.requirements[0].value == value
    assert parse_field_selector(str(selector)) == selector


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=20))
def test_label_parser_never_fails_unexpectedly(text: str) -> None:
    with contextlib.suppress(SelectorError):
        parse_label_selector(text)
