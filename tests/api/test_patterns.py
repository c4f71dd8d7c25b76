"""namePattern: RE2 syntax, re.search semantics, linear time on hostile names."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsync.api.modelcatalogsync import parse_spec
from modelsync.api.patterns import RE2_SYNTAX_REQUIRED, InvalidPattern, compile_name_pattern

CATASTROPHIC = "^(a+)+$"  # exponential for a backtracking engine on "aaa...a_"


def _spec(pattern: str) -> dict[str, Any]:
    return {
        "catalog": {"url": "https://x", "tokenSecretRef": {"name": "t", "key": "k"}},
        "select": {"namePattern": pattern},
    }


@pytest.mark.timeout(10)
@pytest.mark.parametrize("length", [30, 1_000, 100_000])
def test_catastrophic_pattern_finishes_on_hostile_names(length: int) -> None:
    pattern = compile_name_pattern(CATASTROPHIC)
    assert not pattern.search("a" * length + "_")
    assert pattern.search("a" * length)


@pytest.mark.timeout(10)
def test_nested_quantifiers_on_a_long_name_finish() -> None:
    pattern = compile_name_pattern(r"(x+x+)+y|(\w|\w\w)*z$")
    assert not pattern.search("x" * 100_000)


@pytest.mark.parametrize(
    ("pattern", "name", "found"),
    [
        ("fraud", "xfraud-b", True),  # a search, not an anchored match
        ("^fraud-", "xfraud-b", False),
        ("d-b$", "xfraud-b", True),
        ("^(fraud|churn)-", "churn-v2", True),
        ("(?i)FRAUD", "fraud", True),
        ("é", "café", True),
        ("^.{4}$", "café", True),  # characters, not UTF-8 bytes
        ("", "anything", True),
        ("^a.b$", "a\ud800b", True),  # a lone surrogate neither raises nor splits in two
        ("b$", "a\ud800b", True),
    ],
)
def test_search_semantics(pattern: str, name: str, found: bool) -> None:
    assert compile_name_pattern(pattern).search(name) is found


_SAFE_PATTERNS = ["^a", "b$", "a|c", "[ab]+_", "^(a|b)*$", "a.c", r"\d", "^[a-c]{2,3}$", "_b?"]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(_SAFE_PATTERNS), st.text(alphabet="abc_1", max_size=12))
def test_agrees_with_re_search_on_common_patterns(pattern: str, name: str) -> None:
    assert compile_name_pattern(pattern).search(name) is (re.search(pattern, name) is not None)


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a)\1",  # backreference
        r"fraud(?=-)",  # lookahead
        r"(?<!x)fraud",  # lookbehind
        r"(?!x)",
        "(unclosed",
        "((a{100}){100}){100}",  # a program larger than RE2's memory budget
    ],
)
def test_patterns_re2_cannot_compile_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidPattern) as caught:
        compile_name_pattern(pattern)
    assert RE2_SYNTAX_REQUIRED in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_refused_pattern_is_an_invalid_spec_naming_the_field_and_re2() -> None:
    spec, errors = parse_spec(_spec(r"(?<=fraud)-\d+"))
    assert spec is not None
    [error] = errors
    assert error.startswith("spec.select.namePattern: invalid regular expression")
    assert "RE2 syntax is required" in error
    assert "lookaround" in error


def test_refused_pattern_writes_nothing_to_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InvalidPattern):
        compile_name_pattern(r"(a)\1")
    assert capfd.readouterr().err == ""


def test_catastrophic_pattern_is_a_valid_spec() -> None:
    assert parse_spec(_spec(CATASTROPHIC))[1] == []
