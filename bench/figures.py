"""The bench's result rows and their table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Figure", "as_json", "render_table"]

_HEADER = ("figure", "measured", "target", "verdict")


@dataclass(frozen=True)
class Figure:
    """One row. `ok` None: information only, no target."""

    key: str
    label: str
    measured: str
    target: str
    ok: bool | None
    value: float | None = None  # the measured number, for --json

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("ok" if self.ok else "NOT OK")


def render_table(figures: Sequence[Figure]) -> str:
    rows = [_HEADER, *((f.label, f.measured, f.target, f.verdict) for f in figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def as_json(figures: Sequence[Figure]) -> dict[str, Any]:
    return {f.key: {k: v for k, v in asdict(f).items() if k != "key"} for f in figures}
