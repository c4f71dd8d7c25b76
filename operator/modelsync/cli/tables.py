"""Tables and ages as kubectl prints them, for `modelsync get` and the sandbox's demo and API
server (which import them from here: the operator never imports the sandbox)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["format_table", "human_duration"]


def human_duration(seconds_elapsed: float) -> str:
    """An age as kubectl prints it (apimachinery's duration.HumanDuration): 45s, 5m3s, 2h,
    3d4h, 2y."""
    seconds = int(seconds_elapsed)
    if seconds < -1:  # a clock skew of up to a second reads as now
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return _two(minutes, "m", seconds % 60, "s")
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return _two(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return _two(days, "d", hours % 24, "h")
    if days < 365 * 2:
        return f"{days}d"
    if days < 365 * 8:
        return _two(days // 365, "y", days % 365, "d")
    return f"{days // 365}y"


def _two(big: int, big_unit: str, small: int, small_unit: str) -> str:
    return f"{big}{big_unit}" if small == 0 else f"{big}{big_unit}{small}{small_unit}"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns as kubectl's tabwriter lays them out: each as wide as its widest cell plus 3,
    at least 6; the last column not padded, and no trailing blanks."""
    table = [list(header), *(list(row) for row in rows)]
    widths = [max(6, max(len(row[i]) for row in table) + 3) for i in range(len(header) - 1)]
    lines = []
    for row in table:
        padded = "".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        lines.append((padded + row[-1]).rstrip())
    return "\n".join(lines) + "\n"
