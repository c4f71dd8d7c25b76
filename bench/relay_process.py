"""The in-flight relay in a process of its own, for the sandbox bench.

In the bench process the relay's thread would contend for the GIL with the sandbox API
server's at every request, twice (the request in, the answer out), and add its own CPU to the
one process that paces the operator's writes. Here it runs `InflightRelay` in a child
process, driven over its stdin and stdout, one JSON line per command:

    reset     -> {}                        (start a new observation window)
    stats     -> {"max_in_flight": n, "writes_seen": n}
    requests  -> [[method, target, status], ...]

Run as `python relay_process.py UPSTREAM_HOST UPSTREAM_PORT` it is that child.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from inflight_relay import InflightRelay, RelayedRequest

__all__ = ["RelayProcess"]

_ANSWER_TIMEOUT = 30.0


class RelayProcess:
    """The parent's handle: the same figures as an InflightRelay, asked of the child."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__)), upstream_host, str(upstream_port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parent,
        )
        self._lock = threading.Lock()
        started = self._answer()
        self.port = int(started["port"])
        self.host = str(started["host"])

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def exit_code(self) -> int | None:
        return self._proc.poll()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset_max(self) -> None:
        self._ask("reset")

    @property
    def max_in_flight(self) -> int:
        return int(self._ask("stats")["max_in_flight"])

    @property
    def writes_seen(self) -> int:
        return int(self._ask("stats")["writes_seen"])

    @property
    def requests(self) -> list[RelayedRequest]:
        return [RelayedRequest(m, t, int(s)) for m, t, s in self._ask("requests")]

    def stop(self, timeout: float = 10.0) -> None:
        proc = self._proc
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()  # the child's end of input: it stops
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if proc.stdout is not None:
            proc.stdout.close()

    def _ask(self, command: str) -> Any:
        with self._lock:
            stdin = self._proc.stdin
            assert stdin is not None
            stdin.write(command + "\n")
            stdin.flush()
            return self._answer()

    def _answer(self) -> Any:
        stdout = self._proc.stdout
        assert stdout is not None
        answer: list[str] = []
        reader = threading.Thread(target=lambda: answer.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(_ANSWER_TIMEOUT)
        if not answer or not answer[0]:
            raise RuntimeError(f"the relay process did not answer (exit code {self._proc.poll()})")
        return json.loads(answer[0])


def _serve(upstream_host: str, upstream_port: int, commands: IO[str], answers: IO[str]) -> None:
    relay = InflightRelay(upstream_host, upstream_port)
    relay.start_in_thread()

    def say(value: object) -> None:
        answers.write(json.dumps(value) + "\n")
        answers.flush()

    try:
        say({"host": relay.host, "port": relay.port})
        for line in commands:
            command = line.strip()
            # The counters change on the relay's loop thread; a window is reset and read
            # while no write is in flight, so plain reads and writes suffice.
            if command == "reset":
                relay.reset_max()
                say({})
            elif command == "stats":
                say({"max_in_flight": relay.max_in_flight, "writes_seen": relay.writes_seen})
            elif command == "requests":
                say([[r.method, r.target, r.status] for r in list(relay.requests)])
            else:
                say({"error": f"unknown command {command!r}"})
    finally:
        relay.stop_in_thread()


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]), sys.stdin, sys.stdout)
