"""Kubernetes label selectors (`modelsync run --sync-selector`): parse, match, normalize.

The syntax of `kubectl -l` and of the API's `labelSelector` parameter:
`key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key`, `!key`,
`key>N`, `key<N`, joined by commas (all must hold). Every selector accepted here is accepted by
the API server with the same meaning (k8s.io/apimachinery/pkg/labels: `notin` and `!=` also
match objects without the key; `>` and `<` need the label to be an integer). The reverse
does not quite hold: empty values inside a set (`key in (a,)`, `key in ()`), which the API
server reads as the empty string, are refused here as the likely typos they are.

`str()` of a selector is its normalized form (spaces only around `in`/`notin`, `==` written
`=`, a one-value set written `=` or `!=`, set values sorted and deduplicated, requirements
sorted and deduplicated): equal for selectors that differ only in how they are written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from modelsync.api.labels import is_qualified_name, is_valid_label_value

__all__ = ["SELECTOR_SYNTAX", "LabelSelector", "LabelSelectorError", "Requirement", "parse"]

SELECTOR_SYNTAX: Final = (
    "key=value, key!=value, key in (v1,v2), key notin (v1,v2), key (exists), !key "
    "(does not exist), key>N, key<N; comma-separated, all must hold"
)

Operator = Literal["=", "!=", "in", "notin", "exists", "!", ">", "<"]

_MAX_INT64: Final = 2**63 - 1
# One token: an operator or punctuation, or an identifier (the API server's lexer reads a run
# of anything but whitespace and `=!(),<>` as one identifier; it validates it afterwards).
_TOKEN = re.compile(r"[ \t\r\n]*(!=|==|=|!|\(|\)|,|<|>|[^ \t\r\n=!(),<>]+)")
_PUNCTUATION: Final = frozenset({"!=", "==", "=", "!", "(", ")", ",", "<", ">"})
_DIGITS = re.compile(r"[0-9]+")
_END = ""


class LabelSelectorError(ValueError):
    """A selector that cannot be parsed; the text says where and why."""


@dataclass(frozen=True, order=True)
class Requirement:
    key: str
    operator: Operator
    values: tuple[str, ...] = ()  # sorted, distinct; one value for = != > <

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        match self.operator:
            case "=" | "in":
                return value is not None and value in self.values
            case "!=" | "notin":
                return value is None or value not in self.values
            case "exists":
                return value is not None
            case "!":
                return value is None
            case _:  # > and <: an integer label only, as the API server compares them
                if value is None or _DIGITS.fullmatch(value) is None:
                    return False
                actual, bound = int(value), int(self.values[0])
                if actual > _MAX_INT64:  # the API server cannot read it as a number
                    return False
                return actual > bound if self.operator == ">" else actual < bound

    def __str__(self) -> str:
        match self.operator:
            case "exists":
                return self.key
            case "!":
                return f"!{self.key}"
            case "in" | "notin":
                return f"{self.key} {self.operator} ({','.join(self.values)})"
            case _:
                return f"{self.key}{self.operator}{self.values[0]}"


@dataclass(frozen=True)
class LabelSelector:
    """All requirements must hold; no requirement matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        present = labels or {}
        return all(r.matches(present) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def parse(text: str) -> LabelSelector:
    """The selector `text` says; LabelSelectorError when it is not a valid one."""
    return LabelSelector(tuple(sorted(set(_Parser(text).selector()))))


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while True:
        found = _TOKEN.match(text, position)
        if found is None:  # only whitespace is left
            tokens.append(_END)
            return tokens
        tokens.append(found.group(1))
        position = found.end()


def _shown(word: str) -> str:
    return "the end" if word == _END else repr(word)


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _tokens(text)
        self._at = 0

    def _peek(self) -> str:
        return self._tokens[self._at]

    def _next(self) -> str:
        word = self._tokens[self._at]
        self._at += 1
        return word

    def _fail(self, word: str, expected: str) -> LabelSelectorError:
        return LabelSelectorError(f"found {_shown(word)}, expected {expected}")

    def selector(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        if self._peek() == _END:
            return requirements
        while True:
            requirements.append(self._requirement())
            word = self._next()
            if word == _END:
                return requirements
            if word != ",":
                raise self._fail(word, "',' or the end")

    def _requirement(self) -> Requirement:
        if self._peek() == "!":
            self._next()
            return Requirement(self._key(), "!")
        key = self._key()
        word = self._peek()
        if word in (",", _END):
            return Requirement(key, "exists")
        self._next()
        if word in ("=", "==", "!="):
            operator: Operator = "!=" if word == "!=" else "="
            return Requirement(key, operator, (self._value(optional=True),))
        if word in (">", "<"):
            bound = self._value(optional=False)
            if _DIGITS.fullmatch(bound) is None or int(bound) > _MAX_INT64:
                raise LabelSelectorError(
                    f"{key}{word}{bound}: the value of '>' and '<' must be a whole number"
                )
            return Requirement(key, ">" if word == ">" else "<", (str(int(bound)),))
        if word in ("in", "notin"):
            values = self._set()
            if len(values) == 1:  # the same as = and !=, written so
                return Requirement(key, "=" if word == "in" else "!=", values)
            return Requirement(key, "in" if word == "in" else "notin", values)
        raise self._fail(word, "'=', '!=', 'in', 'notin', '>' or '<' after the key")

    def _key(self) -> str:
        word = self._next()
        if word in _PUNCTUATION or word == _END:
            raise self._fail(word, "a label key")
        if not is_qualified_name(word):
            raise LabelSelectorError(
                f"{word!r} is not a valid label key ([prefix/]name: the name at most 63 "
                "letters, digits, '-', '_' or '.', beginning and ending with a letter or "
                "digit; the prefix a DNS subdomain)"
            )
        return word

    def _value(self, *, optional: bool) -> str:
        word = self._peek()
        if optional and word in (",", _END):
            return ""  # `key=` : the label is there and empty
        self._next()
        if word in _PUNCTUATION or word == _END:
            raise self._fail(word, "a label value")
        if not is_valid_label_value(word):
            raise LabelSelectorError(
                f"{word!r} is not a valid label value (at most 63 letters, digits, '-', '_' "
                "or '.', beginning and ending with a letter or digit)"
            )
        return word

    def _set(self) -> tuple[str, ...]:
        word = self._next()
        if word != "(":
            raise self._fail(word, "'(' after 'in' or 'notin'")
        values = {self._value(optional=False)}
        while True:
            word = self._next()
            if word == ")":
                return tuple(sorted(values))
            if word != ",":
                raise self._fail(word, "',' or ')' in the set of values")
            values.add(self._value(optional=False))
