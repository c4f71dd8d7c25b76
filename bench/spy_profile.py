"""Optional: sample the operator with py-spy during one sync and summarize where CPU went.

py-spy is not a project dependency; pass its path with --py-spy. Samples are taken without
pausing the operator (--nonblocking), so the measured CPU is barely disturbed.
"""

from __future__ import annotations

import re
import signal
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Component", "SpyRecording", "Summary", "summarize"]

_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^()]*?)(?::\d+)?\)$")


class SpyRecording:
    def __init__(self, py_spy: str, pid: int, output: Path, rate: int = 200) -> None:
        self.output = output
        self._proc = subprocess.Popen(
            [
                py_spy,
                "record",
                "-p",
                str(pid),
                "-o",
                str(output),
                "--format",
                "raw",
                "-r",
                str(rate),
                "--nonblocking",
                "--threads",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self, timeout: float = 30.0) -> Path:
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout)
        return self.output


@dataclass(frozen=True)
class Component:
    """A share of the samples: those taken in a thread whose name starts with `thread`, or
    whose stack holds `function` (or a function nested in it, as in `function.<locals>.x`),
    or a frame from a file whose path holds `path`."""

    label: str
    function: str | None = None
    thread: str | None = None
    path: str | None = None

    def matches(self, thread: str, frames: list[tuple[str, str]]) -> bool:
        if self.thread is not None:
            return thread.startswith(self.thread)
        if self.function is not None:
            nested = self.function + "."
            return any(f == self.function or f.startswith(nested) for f, _ in frames)
        return self.path is not None and any(self.path in p for _, p in frames)


@dataclass(frozen=True)
class Summary:
    samples: int
    # (component label, samples, its hottest frames on top of the stack with their samples)
    components: list[tuple[str, int, list[tuple[str, int]]]]


def _frame(raw: str) -> tuple[str, str]:
    """(function, shortened file path) of a py-spy frame `func (path:line)`."""
    match = _FRAME.match(raw.strip())
    if match is None:
        return raw.strip(), ""
    path = match["file"]
    for marker in ("site-packages/", "operator/", "lib/python3.11/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return match["func"], path


def _component(thread: str, frames: list[tuple[str, str]], components: list[Component]) -> str:
    for component in components:
        if component.matches(thread, frames):
            return component.label
    return "other (event loop, deallocation, ...)"


def summarize(raw_file: Path, components: list[Component], top: int = 3) -> Summary:
    """Collapsed stacks (`thread (id): name;frame;... count`) -> samples per component, and
    the frames each component spends most samples in."""
    counts: Counter[str] = Counter()
    leaves: dict[str, Counter[str]] = {}
    total = 0
    for line in raw_file.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        parts = stack.split(";")
        thread = parts[0].partition(": ")[2] if parts[0].startswith("thread ") else ""
        frames = [_frame(f) for f in parts if not f.startswith(("thread ", "process "))]
        if not frames:
            continue
        total += count
        label = _component(thread, frames, components)
        counts[label] += count
        function, path = frames[-1]
        leaves.setdefault(label, Counter())[f"{function} ({path})"] += count
    return Summary(
        total,
        [(label, n, leaves[label].most_common(top)) for label, n in counts.most_common()],
    )
