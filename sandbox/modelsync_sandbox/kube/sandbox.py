"""`KubeSandbox`: start and stop the in-memory API server, in a loop or in its own thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from aiohttp import web

from modelsync_sandbox.kube.cluster import Cluster
from modelsync_sandbox.kube.faults import FaultInjector
from modelsync_sandbox.kube.kubeconfig import write_kubeconfig
from modelsync_sandbox.kube.persistence import read_state, write_state
from modelsync_sandbox.kube.server import ADDRESS_KEY, build_app
from modelsync_sandbox.kube.stats import SandboxStats
from modelsync_sandbox.kube.store import DEFAULT_HISTORY
from modelsync_sandbox.kube.tls import server_tls

log = logging.getLogger(__name__)
T = TypeVar("T")


class KubeSandbox:
    """A local Kubernetes API server over HTTP, with a kubeconfig for clients.

    `watch_history` bounds the events kept per resource for watch resumption (older
    resourceVersions get 410 Gone); `bookmark_interval` is how often watches that allow
    bookmarks get one; `persist_interval` is how often a changed state is written to
    `state_file` (it is also written on stop). `faults` arms injected faults (429, 5xx,
    expired watches, delays, dropped connections) at runtime; `stats` counts requests.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = "sandbox-token",  # noqa: S107 - a local test server's fixed token
        state_file: Path | None = None,
        kubeconfig_path: Path | None = None,
        watch_history: int = DEFAULT_HISTORY,
        bookmark_interval: float = 10.0,
        persist_interval: float = 0.5,
        tls: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.state_file = state_file
        self._kubeconfig_path = kubeconfig_path
        self._tmpdir: str | None = None
        self.watch_history = watch_history
        self.bookmark_interval = bookmark_interval
        self.persist_interval = persist_interval
        self.tls = tls
        self.ca_pem: bytes | None = None
        self.stats = SandboxStats()
        self.faults = FaultInjector()
        self.url = ""
        self.cluster = Cluster(history_size=watch_history)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._dirty = False
        self._write_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def kubeconfig_path(self) -> Path:
        if self._kubeconfig_path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="kube-sandbox-")
            self._kubeconfig_path = Path(self._tmpdir) / "kubeconfig"
        return self._kubeconfig_path

    def reset_stats(self) -> None:
        self.stats.reset()

    # -- lifecycle in the caller's event loop -------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.faults.loop = self._loop
        if self.state_file is not None:
            state = read_state(self.state_file)
            if state is not None:
                self.cluster.restore(state)
        self.cluster.bootstrap()
        self.cluster.store.listeners.append(self._mark_dirty)
        app = build_app(
            self.cluster,
            token=self.token,
            stats=self.stats,
            bookmark_interval=self.bookmark_interval,
            faults=self.faults,
        )
        ssl_context = None
        if self.tls:
            ca_file = None
            if self.state_file is not None:
                ca_file = self.state_file.with_name(self.state_file.name + ".ca.pem")
            certificates = server_tls(self.host, ca_file)
            ssl_context, self.ca_pem = certificates.context, certificates.ca_pem
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        self.port = int(self._runner.addresses[0][1])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"{'https' if self.tls else 'http'}://{host}:{self.port}"
        app[ADDRESS_KEY].value = f"{host}:{self.port}"
        write_kubeconfig(self.kubeconfig_path, self.url, self.token, self.ca_pem)
        self._tasks.append(asyncio.create_task(self.cluster.controllers.run()))
        if self.state_file is not None:
            self._tasks.append(asyncio.create_task(self._persist_periodically()))
            self.persist()

    async def stop(self) -> None:
        self.cluster.store.close_watchers()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.persist()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    async def __aenter__(self) -> KubeSandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- persistence ---------------------------------------------------------------------

    def _mark_dirty(self, _skey: str, _event: object) -> None:
        self._dirty = True

    def persist(self) -> None:
        """Write the state file now (no-op without one)."""
        if self.state_file is not None:
            self._dirty = False
            self._write(self.state_file, self.cluster.store.snapshot())

    def _write(self, path: Path, snapshot: dict[str, object]) -> None:
        with self._write_lock:  # the periodic writer may still be busy in its thread
            write_state(path, snapshot)

    async def _persist_periodically(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.persist_interval)
            if self._dirty and self.state_file is not None:
                self._dirty = False
                snapshot = self.cluster.store.snapshot()
                await loop.run_in_executor(None, self._write, self.state_file, snapshot)

    # -- lifecycle in a thread of its own ------------------------------------------------

    def start_in_thread(self) -> None:
        """Run the server on its own event loop in a daemon thread; returns once it serves."""
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def main() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=main, name="kube-sandbox", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]

    def stop_in_thread(self, timeout: float = 10.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run `fn` on the server's loop (from another thread) and return its result."""
        loop = self._loop
        assert loop is not None, "the sandbox is not running"

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def compact(self) -> None:
        """Forget watch history, as an etcd compaction does: older resourceVersions get 410."""
        self.call(self.cluster.store.compact)
