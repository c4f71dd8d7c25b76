"""The `modelsync` command (or any Python module) run as a subprocess, as a user runs it:
bounded, output captured as text, the exit code left to the test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["modelsync_process", "python_process"]

_TIMEOUT = 60.0


def python_process(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = _TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
        check=False,
        cwd=cwd,
        env=env,
    )


def modelsync_process(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = _TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """`python -m modelsync ARGS`."""
    return python_process("-m", "modelsync", *args, cwd=cwd, env=env, stdin=stdin, timeout=timeout)
