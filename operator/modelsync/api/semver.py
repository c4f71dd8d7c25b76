"""`versionSelector.aliasSemver`: npm (node-semver) range syntax over version aliases.

The range is read by semantic-version's NpmSpec (`>=1.2.0 <2.0.0`, `^1.2`, `~1.2.3`, `1.x`,
`1.2.3 - 2.0.0`, `||`); an alias qualifies when it reads as a semantic version, a leading
`v` or `V` allowed (`v2.1.0`). As in npm, a prerelease (`2.0.0-rc.1`) only matches a range
that names a prerelease of the same major.minor.patch.
"""

from __future__ import annotations

from typing import Final

import semantic_version

__all__ = ["InvalidRange", "SemverRange", "parse_alias", "parse_range"]

RANGE_SYNTAX: Final = "npm range syntax is required, e.g. >=1.2.0 <2.0.0, ^1.2, ~1.2.3 or 1.x"


class InvalidRange(ValueError):
    """A range NpmSpec cannot read; the message says why and what syntax is expected."""


def parse_alias(alias: str | None) -> semantic_version.Version | None:
    """The alias as a semantic version (leading v allowed); None when it is not one."""
    if not alias:
        return None
    text = alias[1:] if alias[0] in "vV" else alias
    try:
        return semantic_version.Version(text)
    except ValueError:
        return None


class SemverRange:
    """A compiled range; `matches(alias)` is False for an alias that is not semver."""

    __slots__ = ("_spec", "text")

    def __init__(self, text: str) -> None:
        if not text.strip():
            raise InvalidRange(f"an empty range matches everything; {RANGE_SYNTAX}")
        try:
            self._spec = semantic_version.NpmSpec(text)
        except ValueError as exc:
            raise InvalidRange(f"{exc}; {RANGE_SYNTAX}") from None
        self.text = text

    def matches(self, alias: str | None) -> bool:
        version = parse_alias(alias)
        return version is not None and self._spec.match(version)

    def __repr__(self) -> str:
        return f"SemverRange({self.text!r})"


def parse_range(text: str) -> SemverRange:
    """The compiled range; raises InvalidRange when it is not npm range syntax."""
    return SemverRange(text)
