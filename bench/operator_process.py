"""`modelsync run` as a subprocess with JSON logs; its per-sync log lines are the reports.

The operator runs in a process of its own so that /proc gives its CPU time and memory alone;
the sandboxes stay in the bench process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["OperatorProcess", "SyncLine", "free_port"]

_LOG_TAIL = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class SyncLine:
    """The operator's one log line per finished sync (runtime.observers.SyncReport fields)."""

    namespace: str
    name: str
    result: str
    reason: str
    duration_ms: int
    writes: int
    catalog: Mapping[str, int]
    modelrefs: Mapping[str, int]
    seen_at: float  # time.monotonic() when the bench read the line

    @classmethod
    def from_record(cls, record: Mapping[str, Any], seen_at: float) -> SyncLine | None:
        if "result" not in record or "modelrefs" not in record:
            return None
        return cls(
            namespace=str(record.get("namespace", "")),
            name=str(record.get("sync", "")),
            result=str(record["result"]),
            reason=str(record.get("reason", "")),
            duration_ms=int(record.get("duration_ms", 0)),
            writes=int(record.get("writes", 0)),
            catalog=dict(record.get("catalog") or {}),
            modelrefs=dict(record["modelrefs"]),
            seen_at=seen_at,
        )


class OperatorProcess:
    def __init__(self, kubeconfig: Path, flags: Sequence[str], log_path: Path) -> None:
        self.kubeconfig = kubeconfig
        self.liveness = f"http://127.0.0.1:{free_port()}/healthz"
        self.flags = (
            "--log-format=json",
            "--metrics-port=0",
            f"--liveness={self.liveness}",
            *flags,
        )
        self.log_path = log_path
        self.syncs: list[SyncLine] = []
        self.retry_lines = 0
        self._changed = threading.Condition()
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None, "the operator is not running"
        return self._proc.pid

    def start(self, timeout: float = 60.0) -> None:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig), PYTHONUNBUFFERED="1")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "modelsync", "run", *self.flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        assert self._proc.stdout is not None
        self._reader = threading.Thread(
            target=self._read, args=(self._proc.stdout,), name="operator-log", daemon=True
        )
        self._reader.start()
        self._wait_live(timeout)

    def _wait_live(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            try:
                with urllib.request.urlopen(self.liveness, timeout=1) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"the operator did not become live in {timeout:g}s\n{self.tail()}")

    def _read(self, stream: IO[bytes]) -> None:
        with self.log_path.open("wb") as log:
            for raw in stream:
                log.write(raw)
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(record, dict):
                    continue
                line = SyncLine.from_record(record, time.monotonic())
                with self._changed:
                    if line is not None:
                        self.syncs.append(line)
                    elif "retrying in" in str(record.get("message", "")):
                        self.retry_lines += 1
                    self._changed.notify_all()

    def check(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(f"the operator exited with {self._proc.returncode}\n{self.tail()}")

    def wait_syncs(self, count: int, timeout: float) -> SyncLine:
        """The `count`-th sync line (1-based), waiting for it up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.syncs) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"waited {timeout:g}s for sync #{count} of the operator\n{self.tail()}"
                    )
                self._changed.wait(min(left, 0.5))
                self.check()
            return self.syncs[count - 1]

    def tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-_LOG_TAIL:])

    def stop(self, timeout: float = 20.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(timeout)
