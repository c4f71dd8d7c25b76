"""The CRDs' CEL validation rules (`x-kubernetes-validations`), run as kube-apiserver runs them
on a create, for the part of CEL that those rules use.

No kept-up CEL library exists for Python, and the rules are few and fixed; so this module
recognises a small grammar and refuses (`UnknownRule`) every rule outside it, so that a rule
added to a CRD fails the tests (tests/demo/test_render_validation.py) instead of being skipped:

    RULE := CONJ | "self.all(" VAR "," CONJ ")"
    CONJ := ATOM ("&&" ATOM)*
    ATOM := X ".matches(" STR ")"                       RE2, searched (CEL's matches)
          | X ".indexOf(" STR ")" CMP INT               in code points, -1 when absent
          | "size(" X ")" CMP INT                       code points, items or entries
          | "duration(" X ")" CMP "duration(" STR ")"   Go's time.ParseDuration
    X    := self, or VAR inside all()      CMP := < <= > >= == !=

with CEL's error semantics (`false && error` is false; all() is false when one element is
false, else an error when one element errs). Rules with `messageExpression`, `reason` or
`fieldPath` are refused too. The rule's outcome is reported in the API server's words
(apiextensions-apiserver pkg/apiserver/schema/cel/validation.go, Kubernetes 1.33): a false
rule as `Invalid value: "<type>": <message>`, an evaluation error as
`Invalid value: "<type>": <error> evaluating rule: <message>`, at the field the rule is on
(a map entry as `path[key]`).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from modelsync.api.duration import parse_duration_ns
from modelsync.api.patterns import InvalidPattern, compile_name_pattern
from modelsync.crds.apimachinery import Cause, invalid

__all__ = ["CompiledRules", "UnknownRule", "compile_rule", "compile_rules"]

_RULE_KEYS: Final = frozenset({"rule", "message"})
_DURATION_ERROR: Final = "type conversion error from 'string' to 'google.protobuf.Duration'"
_NO_OVERLOAD: Final = "no such overload"
_COMPARISONS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
# Raw strings as they are; other strings without escapes (a backslash is refused).
_STRING_LITERAL = r"[rR]'[^'\n]*'" r'|[rR]"[^"\n]*"' r"|'[^'\\\n]*'" r'|"[^"\\\n]*"'
_STRING = re.compile(_STRING_LITERAL)
_TOKEN = re.compile(
    r"\s*(?:"
    rf"(?P<str>{_STRING_LITERAL})"
    r"|(?P<int>-?[0-9]+)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>&&|<=|>=|==|!=|<|>|[(),.])"
    r")"
)


class UnknownRule(ValueError):
    """A rule outside the grammar this module runs (see the module docstring)."""


class _EvalError(Exception):
    """CEL evaluation error; its text is what cel-go's error prints."""


Predicate = Callable[[Any], bool]  # raises _EvalError


def _tokens(text: str) -> list[str]:
    found: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise UnknownRule(f"cannot read {text[pos:]!r}")
        found.append(match.group(match.lastgroup or "op"))
        pos = match.end()
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, *expected: str) -> str:
        token = self.peek()
        if token is None or (expected and token not in expected):
            want = " or ".join(repr(e) for e in expected) or "more"
            raise UnknownRule(f"expected {want}, found {token!r}")
        self.pos += 1
        return token

    def string(self) -> str:
        token = self.take()
        if _STRING.fullmatch(token) is None:
            raise UnknownRule(f"expected a string, found {token!r}")
        return token[2:-1] if token[0] in "rR" else token[1:-1]

    def integer(self) -> int:
        token = self.take()
        if not re.fullmatch(r"-?[0-9]+", token):
            raise UnknownRule(f"expected an integer, found {token!r}")
        return int(token)

    def comparison(self) -> Callable[[Any, Any], bool]:
        return _COMPARISONS[self.take(*_COMPARISONS)]

    def rule(self) -> Predicate:
        if self.tokens[:4] == ["self", ".", "all", "("]:
            self.pos = 4
            var = self.take()
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var) or var == "self":
                raise UnknownRule(f"expected a variable, found {var!r}")
            self.take(",")
            body = self.conjunction(var)
            self.take(")")
            predicate = _all(body)
        else:
            predicate = self.conjunction("self")
        if self.peek() is not None:
            raise UnknownRule(f"unexpected {self.peek()!r}")
        return predicate

    def conjunction(self, var: str) -> Predicate:
        atoms = [self.atom(var)]
        while self.peek() == "&&":
            self.take()
            atoms.append(self.atom(var))
        return atoms[0] if len(atoms) == 1 else _and(atoms)

    def atom(self, var: str) -> Predicate:
        head = self.take()
        if head == "size":
            self.take("(")
            self.take(var)
            self.take(")")
            return _size(self.comparison(), self.integer())
        if head == "duration":
            self.take("(")
            self.take(var)
            self.take(")")
            compare = self.comparison()
            self.take("duration")
            self.take("(")
            literal = self.string()
            self.take(")")
            try:
                bound = parse_duration_ns(literal)
            except ValueError:
                raise UnknownRule(f"duration({literal!r}) is not a duration") from None
            return _duration(compare, bound)
        if head != var:
            raise UnknownRule(f"expected {var!r}, size(...) or duration(...), found {head!r}")
        self.take(".")
        method = self.take("matches", "indexOf")
        self.take("(")
        argument = self.string()
        self.take(")")
        if method == "matches":
            try:
                pattern = compile_name_pattern(argument)
            except InvalidPattern as exc:
                raise UnknownRule(f"matches({argument!r}): {exc}") from None
            return _string_predicate(pattern.search)
        compare, bound = self.comparison(), self.integer()
        return _string_predicate(lambda text: compare(text.find(argument), bound))


def _string_predicate(test: Callable[[str], bool]) -> Predicate:
    def check(value: Any) -> bool:
        if not isinstance(value, str):
            raise _EvalError(_NO_OVERLOAD)
        return test(value)

    return check


def _size(compare: Callable[[Any, Any], bool], bound: int) -> Predicate:
    def check(value: Any) -> bool:
        if not isinstance(value, str | list | dict):
            raise _EvalError(_NO_OVERLOAD)
        return compare(len(value), bound)

    return check


def _duration(compare: Callable[[Any, Any], bool], bound_ns: int) -> Predicate:
    def check(value: Any) -> bool:
        if not isinstance(value, str):
            raise _EvalError(_NO_OVERLOAD)
        try:
            return compare(parse_duration_ns(value), bound_ns)
        except ValueError:
            raise _EvalError(_DURATION_ERROR) from None

    return check


def _all_true(checks: Iterable[tuple[Predicate, Any]]) -> bool:
    """CEL's commutative AND of `predicate(value)` terms: a false one wins over an error."""
    error: _EvalError | None = None
    for predicate, value in checks:
        try:
            if not predicate(value):
                return False
        except _EvalError as exc:
            error = error or exc
    if error is not None:
        raise error
    return True


def _and(atoms: list[Predicate]) -> Predicate:
    return lambda value: _all_true((atom, value) for atom in atoms)


def _all(body: Predicate) -> Predicate:
    def check(value: Any) -> bool:
        if isinstance(value, dict):
            elements: list[Any] = list(value)  # all() over a map ranges over its keys
        elif isinstance(value, list):
            elements = value
        else:
            raise _EvalError(_NO_OVERLOAD)
        return _all_true((body, element) for element in elements)

    return check


@dataclass(frozen=True)
class _Rule:
    text: str
    message: str  # what a false rule says (ruleMessageOrDefault)
    named: str  # how errors name the rule (ruleErrorString)
    check: Predicate


def compile_rule(rule: Mapping[str, Any]) -> _Rule:
    """One `x-kubernetes-validations` entry; raises UnknownRule outside the grammar."""
    extra = set(rule) - _RULE_KEYS
    if extra:
        raise UnknownRule(f"rule fields {sorted(extra)} are not supported")
    text, message = rule.get("rule"), rule.get("message")
    if not isinstance(text, str) or not (message is None or isinstance(message, str)):
        raise UnknownRule("rule and message must be strings")
    try:
        check = _Parser(text).rule()
    except UnknownRule as exc:
        raise UnknownRule(f"{text.strip()!r}: {exc}") from None
    named = (message or text).strip()
    shown = message.strip() if message else f"failed rule: {named}"
    return _Rule(text.strip(), shown, named, check)


@dataclass(frozen=True)
class _RuleNode:
    """The rules of one schema node and the children that have rules below them."""

    type_name: str
    rules: tuple[_Rule, ...]
    props: Mapping[str, _RuleNode]
    extra: _RuleNode | None
    items: _RuleNode | None

    def validate(self, value: Any, path: str, causes: list[Cause]) -> None:
        if value is None:
            return
        for rule in self.rules:
            try:
                passed = rule.check(value)
            except _EvalError as exc:
                detail = str(exc)
                if detail.startswith(_NO_OVERLOAD):
                    text = (
                        f"'{detail}': call arguments did not match a supported operator, "
                        f"function or macro signature for rule: {rule.named}"
                    )
                else:
                    text = f"{detail} evaluating rule: {rule.named}"
                causes.append(invalid(path, self.type_name, text))
                continue
            if not passed:
                causes.append(invalid(path, self.type_name, rule.message))
        # The server walks maps in Go's random order; sorted here, for steady output.
        if isinstance(value, dict):
            if self.extra is not None:
                for key in sorted(value):
                    self.extra.validate(value[key], f"{path}[{key}]", causes)
            for key in sorted(value):
                child = self.props.get(key)
                if child is not None:
                    child.validate(value[key], f"{path}.{key}" if path else key, causes)
        elif isinstance(value, list) and self.items is not None:
            for i, item in enumerate(value):
                self.items.validate(item, f"{path}[{i}]", causes)


_COMPOSITIONS: Final = ("allOf", "anyOf", "oneOf", "not")


def _compile_node(schema: Mapping[str, Any], path: str) -> _RuleNode | None:
    for keyword in _COMPOSITIONS:
        if keyword in schema and "x-kubernetes-validations" in str(schema[keyword]):
            raise UnknownRule(f"{path}: rules under {keyword} are not supported")
    rules = tuple(
        compile_rule(rule) for rule in schema.get("x-kubernetes-validations") or () if rule
    )
    props: dict[str, _RuleNode] = {}
    for key, sub in (schema.get("properties") or {}).items():
        node = (
            _compile_node(sub, f"{path}.{key}" if path else key)
            if isinstance(sub, Mapping)
            else None
        )
        if node is not None:
            props[key] = node
    extra_schema = schema.get("additionalProperties")
    extra = _compile_node(extra_schema, f"{path}.*") if isinstance(extra_schema, Mapping) else None
    items_schema = schema.get("items")
    items = _compile_node(items_schema, f"{path}[*]") if isinstance(items_schema, Mapping) else None
    if not (rules or props or extra or items):
        return None
    type_name = schema.get("type")
    return _RuleNode(str(type_name) if type_name else "", rules, props, extra, items)


class CompiledRules:
    """Every CEL rule of an openAPIV3Schema, ready to run on objects of that schema."""

    __slots__ = ("_root",)

    def __init__(self, root: _RuleNode | None) -> None:
        self._root = root

    def validate(self, obj: Any, path: str = "") -> list[Cause]:
        """The causes the rules refuse `obj` with (an object already valid by the schema)."""
        causes: list[Cause] = []
        if self._root is not None:
            self._root.validate(obj, path, causes)
        return causes


def compile_rules(schema: Mapping[str, Any]) -> CompiledRules:
    """Compile every rule in `schema`; raises UnknownRule, naming the rule's path, for a rule
    this module cannot run."""
    return CompiledRules(_compile_node(schema, ""))
