"""The Kubernetes JSONPath subset that printer columns use (k8s.io/client-go/util/jsonpath).

Supported: an optional `{...}` wrapper and `$`; `.field` (with `\\.` escaping a dot in the
name, as in `.metadata.labels.modelsync\\.dev/sync`); `['quoted']` / `["quoted"]` and unions
of them; `[n]` (negative counts from the end); `[start:end:step]`; `[*]` and `.*`; `..field`
(recursive descent); filters `[?(@.a.b == "x")]` with ==, !=, <, >, <=, >= against a quoted
string, a number, true/false, or another `@` path, and `[?(@.a)]` for existence.
Missing keys yield no result (the API server evaluates printer columns with
AllowMissingKeys(true)). Not supported: `range`/`end`, text templates, several expressions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


class JsonPathError(ValueError):
    """An expression outside the supported subset, or malformed."""


Step = Callable[[Any], Iterator[Any]]


@dataclass(frozen=True)
class JsonPath:
    expression: str
    steps: tuple[Step, ...]

    def find(self, obj: Any) -> list[Any]:
        current = [obj]
        for step in self.steps:
            current = [found for node in current for found in step(node)]
        return current


def evaluate_jsonpath(obj: Any, path: str) -> list[Any]:
    """Every value `path` selects in `obj`, in document order (empty if none)."""
    return compile_jsonpath(path).find(obj)


def compile_jsonpath(path: str) -> JsonPath:
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    return JsonPath(path, tuple(_Parser(text).steps()))


# -- steps --------------------------------------------------------------------------------------


def _field(name: str) -> Step:
    def step(node: Any) -> Iterator[Any]:
        if isinstance(node, Mapping) and name in node:
            yield node[name]

    return step


def _wildcard(node: Any) -> Iterator[Any]:
    if isinstance(node, Mapping):
        yield from node.values()
    elif isinstance(node, list):
        yield from node


def _descendants(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, Mapping):
        for value in node.values():
            yield from _descendants(value)
    elif isinstance(node, list):
        for value in node:
            yield from _descendants(value)


def _recursive(name: str | None) -> Step:
    def step(node: Any) -> Iterator[Any]:
        for found in _descendants(node):
            if name is None:
                yield from _wildcard(found)
            elif isinstance(found, Mapping) and name in found:
                yield found[name]

    return step


def _index(position: int) -> Step:
    def step(node: Any) -> Iterator[Any]:
        if isinstance(node, list):
            i = position + len(node) if position < 0 else position
            if 0 <= i < len(node):
                yield node[i]

    return step


def _slice(start: int | None, end: int | None, stride: int | None) -> Step:
    def step(node: Any) -> Iterator[Any]:
        if isinstance(node, list):
            yield from node[start:end:stride]

    return step


def _union(steps: list[Step]) -> Step:
    def step(node: Any) -> Iterator[Any]:
        for inner in steps:
            yield from inner(node)

    return step


def _filter(predicate: Callable[[Any], bool]) -> Step:
    def step(node: Any) -> Iterator[Any]:
        items = node if isinstance(node, list) else [node]
        for item in items:
            if predicate(item):
                yield item

    return step


# -- parsing ------------------------------------------------------------------------------------

_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> JsonPathError:
        return JsonPathError(f"{message} at position {self.pos} in {self.text!r}")

    def steps(self) -> list[Step]:
        found: list[Step] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if self.text.startswith("..", self.pos):
                self.pos += 2
                if self.text.startswith("*", self.pos):
                    self.pos += 1
                    found.append(_recursive(None))
                else:
                    found.append(_recursive(self.name()))
            elif char == ".":
                self.pos += 1
                if self.text.startswith("*", self.pos):
                    self.pos += 1
                    found.append(_wildcard)
                elif self.pos < len(self.text) and self.text[self.pos] not in ".[":
                    found.append(_field(self.name()))
            elif char == "[":
                found.append(self.bracket())
            elif self.pos == 0:
                found.append(_field(self.name()))  # "metadata.name" without the leading dot
            else:
                raise self.error(f"unexpected {char!r}")
        return found

    def name(self) -> str:
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char in ".[":
                break
            out.append(char)
            self.pos += 1
        if not out:
            raise self.error("empty field name")
        return "".join(out)

    def bracket(self) -> Step:
        end = self._closing(self.pos)
        inner = self.text[self.pos + 1 : end].strip()
        self.pos = end + 1
        if inner == "*":
            return _wildcard
        if inner.startswith("?"):
            return _filter(self._predicate(inner[1:].strip()))
        parts = _split_top_level(inner, ",")
        if len(parts) > 1:
            return _union([self._selector(p.strip()) for p in parts])
        return self._selector(inner)

    def _closing(self, start: int) -> int:
        depth, quote = 0, ""
        for i in range(start, len(self.text)):
            char = self.text[i]
            if quote:
                if char == "\\":
                    continue
                if char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char == "[":
                depth += 1
            elif char == "]":
                depth -= 1
                if depth == 0:
                    return i
        raise self.error("unclosed '['")

    def _selector(self, text: str) -> Step:
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return _field(text[1:-1])
        if ":" in text:
            bounds = [b.strip() for b in text.split(":")]
            if len(bounds) > 3:
                raise self.error(f"bad slice {text!r}")
            try:
                values = [int(b) if b else None for b in bounds] + [None] * (3 - len(bounds))
            except ValueError:
                raise self.error(f"bad slice {text!r}") from None
            return _slice(values[0], values[1], values[2])
        try:
            return _index(int(text))
        except ValueError:
            raise self.error(f"bad array index {text!r}") from None

    def _predicate(self, text: str) -> Callable[[Any], bool]:
        if not (text.startswith("(") and text.endswith(")")):
            raise self.error(f"bad filter {text!r}")
        body = text[1:-1].strip()
        for operator in _OPERATORS:
            split = _split_top_level(body, operator)
            if len(split) == 2:
                left, right = (_operand(part.strip(), self) for part in split)
                return _comparison(left, operator, right)
        if not body.startswith("@") or any(c.isspace() for c in body):
            raise self.error(f"bad filter {text!r}")
        exists = _operand(body, self)
        return lambda item: exists(item) is not _ABSENT


def _comparison(
    left: Callable[[Any], Any], operator: str, right: Callable[[Any], Any]
) -> Callable[[Any], bool]:
    return lambda item: _compare(left(item), operator, right(item))


class _Absent:
    """What an `@` path evaluates to when the item lacks it."""


_ABSENT = _Absent()


def _operand(text: str, parser: _Parser) -> Callable[[Any], Any]:
    if text.startswith("@"):
        inner = compile_jsonpath(text[1:] or ".")

        def lookup(item: Any) -> Any:
            found = inner.find(item) if text[1:] else [item]
            return found[0] if found else _ABSENT

        return lookup
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        literal: Any = text[1:-1]
    elif text in ("true", "false"):
        literal = text == "true"
    elif text == "nil" or text == "null":
        literal = None
    elif _NUMBER.fullmatch(text):
        literal = float(text) if any(c in text for c in ".eE") else int(text)
    else:
        raise parser.error(f"bad filter operand {text!r}")
    return lambda _item: literal


def _compare(left: Any, operator: str, right: Any) -> bool:
    if left is _ABSENT or right is _ABSENT:
        return False
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    if operator == "==":
        return bool(left == right) and (numeric or type(left) is type(right))
    if operator == "!=":
        return not (left == right and (numeric or type(left) is type(right)))
    if not numeric and not (isinstance(left, str) and isinstance(right, str)):
        return False
    if operator == "<":
        return bool(left < right)
    if operator == ">":
        return bool(left > right)
    if operator == "<=":
        return bool(left <= right)
    return bool(left >= right)


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split on `separator` outside quotes and brackets."""
    parts: list[str] = []
    depth, quote, start, i = 0, "", 0, 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif depth == 0 and text.startswith(separator, i):
            # "<" must not split "<=", and "=" alone is not an operator.
            if separator in ("<", ">") and text.startswith(separator + "=", i):
                i += 2
                continue
            if separator in ("==",) and i > 0 and text[i - 1] in "!<>":
                i += 1
                continue
            parts.append(text[start:i])
            i += len(separator)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts
