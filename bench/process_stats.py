"""CPU time and memory of another process, from /proc (Linux)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Memory", "cpu_seconds", "memory", "wait_idle"]

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of `pid` so far (exited threads included), in
    seconds; resolution 1/SC_CLK_TCK (10 ms)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; everything after its ")" splits cleanly.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / _TICKS


@dataclass(frozen=True)
class Memory:
    rss: int  # bytes resident now (VmRSS)
    hwm: int  # peak resident bytes (VmHWM)


def memory(pid: int) -> Memory:
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024  # reported in kB
    return Memory(rss=values.get("VmRSS", 0), hwm=values.get("VmHWM", 0))


def wait_idle(
    pid: int, *, window: float = 0.25, budget: float = 0.01, timeout: float = 60.0
) -> bool:
    """Wait until `pid` uses at most `budget` CPU seconds during `window` seconds; False
    when it is still busy after `timeout`."""
    deadline = time.monotonic() + timeout
    before = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(window)
        now = cpu_seconds(pid)
        if now - before <= budget:
            return True
        before = now
    return False
