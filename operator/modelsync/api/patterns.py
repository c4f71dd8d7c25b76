"""`select.namePattern`: RE2 regular expressions, searched in time linear in the input.

Python's `re` backtracks, so a pattern like `^(a+)+$` can take exponential time on a model
name chosen by whoever writes to the catalog; RE2 (google-re2) guarantees linear time and
therefore refuses the features that need backtracking (backreferences, lookaround).
"""

from __future__ import annotations

from typing import Any, Final

import re2

RE2_SYNTAX_REQUIRED: Final = "RE2 syntax is required (no backreferences or lookaround)"


class InvalidPattern(ValueError):
    """A pattern RE2 cannot compile; the message says why and that RE2 syntax is required."""


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the error is reported in the sync's status instead of stderr
    options.never_capture = True  # only "does it match" is asked
    return options


class NamePattern:
    """A compiled pattern; `search` behaves like `re.search(pattern, text) is not None`."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str) -> None:
        try:
            compiled = re2.compile(pattern, _options())
        except re2.error as exc:
            raise InvalidPattern(f"{_describe(exc)}; {RE2_SYNTAX_REQUIRED}") from None
        self.pattern = pattern
        self._compiled = compiled

    def search(self, text: str) -> bool:
        # Searching bytes skips the wrapper's byte-to-character offset bookkeeping (half the
        # cost); "surrogatepass" keeps a lone surrogate in a hostile name from raising.
        return self._compiled.search(text.encode("utf-8", "surrogatepass")) is not None

    def __repr__(self) -> str:
        return f"NamePattern({self.pattern!r})"


def _describe(exc: BaseException) -> str:
    detail = exc.args[0] if exc.args else ""
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", errors="replace")
    return str(detail) or "not a valid regular expression"


def compile_name_pattern(pattern: str) -> NamePattern:
    """The compiled pattern; raises InvalidPattern when RE2 cannot compile it."""
    return NamePattern(pattern)
