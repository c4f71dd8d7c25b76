"""Label and field selectors with the grammar, semantics and error texts of apimachinery.

Sources: k8s.io/apimachinery/pkg/labels/selector.go (Lexer, Parser, NewRequirement,
Requirement.Matches, Requirement.String), pkg/apis/meta/v1/helpers.go
(LabelSelectorAsSelector) and pkg/fields/selector.go (ParseSelector, splitTerms, splitTerm,
UnescapeValue). A `SelectorError`'s text is exactly the error the real parser returns; the
API server answers 400 BadRequest with it as the message.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from modelsync_sandbox.kube.validation import (
    format_go_value,
    validate_label_value,
    validate_qualified_name,
)


class SelectorError(ValueError):
    """A selector the real API would refuse (400 BadRequest, this text as the message)."""


# selection.Operator values.
IN = "in"
NOT_IN = "notin"
EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
EXISTS = "exists"
DOES_NOT_EXIST = "!"
GREATER_THAN = "gt"
LESS_THAN = "lt"


@dataclass(frozen=True)
class Requirement:
    """One term of a label selector; build it with `new_requirement` to get it validated."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        if self.operator in (IN, EQUALS, DOUBLE_EQUALS):
            return has and labels[self.key] in self.values
        if self.operator in (NOT_IN, NOT_EQUALS):
            return not has or labels[self.key] not in self.values
        if self.operator == EXISTS:
            return has
        if self.operator == DOES_NOT_EXIST:
            return not has
        if self.operator in (GREATER_THAN, LESS_THAN) and has and len(self.values) == 1:
            try:
                actual, bound = int(labels[self.key]), int(self.values[0])
            except ValueError:
                return False
            return actual > bound if self.operator == GREATER_THAN else actual < bound
        return False

    def __str__(self) -> str:
        text = ("!" if self.operator == DOES_NOT_EXIST else "") + self.key
        if self.operator in (EXISTS, DOES_NOT_EXIST):
            return text
        symbol = {IN: " in ", NOT_IN: " notin ", GREATER_THAN: ">", LESS_THAN: "<"}.get(
            self.operator, self.operator
        )
        values = ",".join(sorted(self.values))
        if self.operator in (IN, NOT_IN):
            values = f"({values})"
        return text + symbol + values


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of requirements, sorted by key; `nothing` matches no object at all."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        present = labels or {}
        return all(r.matches(present) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.nothing and not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _path_error(path: str, value: str, messages: list[str]) -> str:
    """A field.Error's Error(): `<path>: Invalid value: "<value>": <messages joined by '; '>`."""
    return f"{path}: Invalid value: {format_go_value(value)}: {'; '.join(messages)}"


def _aggregate(errors: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message bare, several deduplicated in [...]."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def new_requirement(key: str, operator: str, values: list[str] | tuple[str, ...]) -> Requirement:
    """labels.NewRequirement: validates key, operator arity and values; SelectorError if not."""
    errors: list[str] = []
    messages = validate_qualified_name(key)
    if messages:
        errors.append(_path_error("key", key, messages))
    vals = list(values)
    shown = "[]string{" + ", ".join(format_go_value(v) for v in vals) + "}"
    if operator in (IN, NOT_IN):
        if not vals:
            errors.append(
                f"values: Invalid value: {shown}: for 'in', 'notin' operators, values set "
                "can't be empty"
            )
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(vals) != 1:
            errors.append(
                f"values: Invalid value: {shown}: exact-match compatibility requires one "
                "single value"
            )
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if vals:
            errors.append(
                f"values: Invalid value: {shown}: values set must be empty for exists and "
                "does not exist"
            )
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            errors.append(
                f"values: Invalid value: {shown}: for 'Gt', 'Lt' operators, exactly one value "
                "is required"
            )
        for i, value in enumerate(vals):
            try:
                int(value, 10)
            except ValueError:
                errors.append(
                    f"values[{i}]: Invalid value: {format_go_value(value)}: for 'Gt', 'Lt' "
                    "operators, the value must be an integer"
                )
    else:
        supported = ", ".join(
            f'"{op}"'
            for op in (
                IN,
                NOT_IN,
                EQUALS,
                DOUBLE_EQUALS,
                NOT_EQUALS,
                EXISTS,
                DOES_NOT_EXIST,
                GREATER_THAN,
                LESS_THAN,
            )
        )
        errors.append(
            f"operator: Unsupported value: {format_go_value(operator)}: supported values: "
            + supported
        )
    for i, value in enumerate(vals):
        messages = validate_label_value(value)
        if messages:
            errors.append(_path_error(f"values[{i}][{key}]", value, messages))
    if errors:
        raise SelectorError(_aggregate(errors))
    return Requirement(key, operator, tuple(vals))


# -- the label selector lexer and parser (a port of labels/selector.go's state machine) ------


class _Tok(Enum):
    ERROR = 0
    END = 1
    CLOSE_PAR = 2
    COMMA = 3
    NOT = 4
    DOUBLE_EQUALS = 5
    EQUALS = 6
    GREATER = 7
    IDENTIFIER = 8
    IN = 9
    LESS = 10
    NOT_EQUALS = 11
    NOT_IN = 12
    OPEN_PAR = 13


_LITERALS = {
    ")": _Tok.CLOSE_PAR,
    ",": _Tok.COMMA,
    "!": _Tok.NOT,
    "==": _Tok.DOUBLE_EQUALS,
    "=": _Tok.EQUALS,
    ">": _Tok.GREATER,
    "in": _Tok.IN,
    "<": _Tok.LESS,
    "!=": _Tok.NOT_EQUALS,
    "notin": _Tok.NOT_IN,
    "(": _Tok.OPEN_PAR,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")


def _lex(text: str) -> list[tuple[_Tok, str]]:
    items: list[tuple[_Tok, str]] = []
    pos, size = 0, len(text)
    while True:
        while pos < size and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= size:
            items.append((_Tok.END, ""))
            return items
        if text[pos] in _SPECIAL:
            buffer, last = "", None
            while pos < size and text[pos] in _SPECIAL:
                candidate = buffer + text[pos]
                if candidate in _LITERALS:
                    buffer, last = candidate, (_LITERALS[candidate], candidate)
                    pos += 1
                elif last is not None:
                    break
                else:
                    buffer = candidate
                    pos += 1
            items.append(last or (_Tok.ERROR, f"error expected: keyword found '{buffer}'"))
            continue
        start = pos
        while pos < size and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        items.append((_LITERALS.get(word, _Tok.IDENTIFIER), word))


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.position = 0

    def lookahead(self, values: bool = True) -> tuple[_Tok, str]:
        tok, lit = self.items[self.position]
        if values and tok in (_Tok.IN, _Tok.NOT_IN):
            tok = _Tok.IDENTIFIER
        return tok, lit

    def consume(self, values: bool = True) -> tuple[_Tok, str]:
        found = self.lookahead(values)
        self.position += 1
        return found

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok in (_Tok.IDENTIFIER, _Tok.NOT):
                try:
                    requirements.append(self.requirement())
                except SelectorError as exc:
                    raise SelectorError(f"unable to parse requirement: {exc}") from None
                tok, lit = self.consume()
                if tok == _Tok.END:
                    return requirements
                if tok == _Tok.COMMA:
                    tok2, lit2 = self.lookahead()
                    if tok2 not in (_Tok.IDENTIFIER, _Tok.NOT):
                        raise SelectorError(f"found '{lit2}', expected: identifier after ','")
                else:
                    raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            elif tok == _Tok.END:
                return requirements
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        key, operator = self.key_and_inferred_operator()
        if operator in (EXISTS, DOES_NOT_EXIST):
            return new_requirement(key, operator, [])
        operator = self.operator()
        values = self.set_values() if operator in (IN, NOT_IN) else self.exact_value()
        return new_requirement(key, operator, sorted(values))

    def key_and_inferred_operator(self) -> tuple[str, str]:
        operator = ""
        tok, literal = self.consume()
        if tok == _Tok.NOT:
            operator = DOES_NOT_EXIST
            tok, literal = self.consume()
        if tok != _Tok.IDENTIFIER:
            raise SelectorError(f"found '{literal}', expected: identifier")
        messages = validate_qualified_name(literal)
        if messages:
            # The parser validates the key with a nil field path, which prints as "<nil>".
            raise SelectorError(_path_error("<nil>", literal, messages))
        if self.lookahead()[0] in (_Tok.END, _Tok.COMMA) and operator != DOES_NOT_EXIST:
            operator = EXISTS
        return literal, operator

    def operator(self) -> str:
        tok, lit = self.consume(values=False)
        found = {
            _Tok.IN: IN,
            _Tok.EQUALS: EQUALS,
            _Tok.DOUBLE_EQUALS: DOUBLE_EQUALS,
            _Tok.GREATER: GREATER_THAN,
            _Tok.LESS: LESS_THAN,
            _Tok.NOT_IN: NOT_IN,
            _Tok.NOT_EQUALS: NOT_EQUALS,
        }.get(tok)
        if found is None:
            raise SelectorError(f"found '{lit}', expected: '=', '!=', '==', 'in', notin'")
        return found

    def set_values(self) -> set[str]:
        tok, lit = self.consume()
        if tok != _Tok.OPEN_PAR:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in (_Tok.IDENTIFIER, _Tok.COMMA):
            values = self.identifiers()
            if self.consume()[0] != _Tok.CLOSE_PAR:
                raise SelectorError(f"found '{lit}', expected: ')'")
            return values
        if tok == _Tok.CLOSE_PAR:
            self.consume()
            return {""}
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok == _Tok.IDENTIFIER:
                values.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 == _Tok.COMMA:
                    continue
                if tok2 == _Tok.CLOSE_PAR:
                    return values
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _Tok.COMMA:
                # "(,", ",,", ",)" each stand for an empty value.
                if not values:
                    values.add("")
                tok2, _ = self.lookahead()
                if tok2 == _Tok.CLOSE_PAR:
                    values.add("")
                    return values
                if tok2 == _Tok.COMMA:
                    self.consume()
                    values.add("")
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        tok, _ = self.lookahead()
        if tok in (_Tok.END, _Tok.COMMA):
            return {""}
        tok, lit = self.consume()
        if tok == _Tok.IDENTIFIER:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """labels.Parse: `a=b,c!=d,e in (f,g),h notin (i),j,!k,l>1`; SelectorError if malformed."""
    requirements = _Parser(text).parse()
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: nil selects nothing, {} selects everything."""
    if selector is None:
        return LabelSelector(nothing=True)
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    requirements = [new_requirement(str(k), EQUALS, [str(v)]) for k, v in match_labels.items()]
    operators = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}
    for expression in expressions:
        name = expression.get("operator")
        if name not in operators:
            raise SelectorError(f'"{name}" is not a valid label selector operator')
        values = [str(v) for v in expression.get("values") or []]
        requirements.append(
            new_requirement(str(expression.get("key", "")), operators[name], values)
        )
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


# -- field selectors ----------------------------------------------------------------------------

DEFAULT_FIELD_LABELS = ("metadata.name", "metadata.namespace")


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str  # "=", "==" or "!="
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        equal = field_value(obj, self.field) == self.value
        return not equal if self.operator == NOT_EQUALS else equal

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_field_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def field_value(obj: Mapping[str, Any], dotted: str) -> str:
    """The object's value at a dotted field label as the field set holds it ("" if absent)."""
    current: Any = obj
    for part in dotted.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return ""
        current = current[part]
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def escape_field_value(value: str) -> str:
    """fields.EscapeValue: backslash-escape `\\`, `,` and `=`."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_field_value(value: str) -> str:
    """fields.UnescapeValue, with its error texts."""
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for char in value:
        if in_slash:
            if char not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            in_slash = False
        elif char == "\\":
            in_slash = True
        elif char in ",=":
            # UnescapedRune prints the rune with %v, i.e. as its code point.
            raise SelectorError(
                f"invalid field selector: unescaped character in value: {ord(char)}"
            )
        else:
            out.append(char)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    start, in_slash = 0, False
    for i, char in enumerate(text):
        if in_slash:
            in_slash = False
        elif char == "\\":
            in_slash = True
        elif char == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for operator in (NOT_EQUALS, DOUBLE_EQUALS, EQUALS):
            if term.startswith(operator, i):
                return term[:i], operator, term[i + len(operator) :]
    return None


def parse_field_selector(text: str, allowed: Collection[str] | None = None) -> FieldSelector:
    """fields.ParseSelector (no whitespace trimming), then the field-label check.

    `allowed` lists the resource's supported field labels, e.g. DEFAULT_FIELD_LABELS plus the
    kind's extras (None, the default: the caller checks labels itself); an unsupported one
    raises SelectorError("field label not supported: <label>"), the built-in kinds' text.
    """
    requirements: list[FieldRequirement] = []
    if text:
        for part in sorted(_split_terms(text)):
            if not part:
                continue
            split = _split_term(part)
            if split is None:
                raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
            lhs, operator, rhs = split
            requirements.append(FieldRequirement(lhs, operator, _unescape_field_value(rhs)))
    if allowed is not None:
        for requirement in requirements:
            if requirement.field not in allowed:
                raise SelectorError(f"field label not supported: {requirement.field}")
    return FieldSelector(tuple(requirements))
