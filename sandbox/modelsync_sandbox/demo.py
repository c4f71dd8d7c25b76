"""`modelsync demo`: the sandbox catalog, the sandbox Kubernetes API and the operator in one
process, with an example ModelCatalogSync; prints the ModelRefs and how to look again.

Threads: each sandbox serves from its own thread and event loop, the operator (Kopf) runs on
a third; the main thread drives the demo with the official Kubernetes client and owns the
signals (SIGINT/SIGTERM set a flag that every wait checks).
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO, cast

import yaml

from modelsync.api.constants import (
    API_VERSION,
    CATALOG_CREDENTIALS_VALUE,
    CONDITION_READY,
    GROUP,
    KIND_SYNC,
    LABEL_CATALOG_CREDENTIALS,
    LABEL_SYNC,
    PLURAL_MODELREF,
    PLURAL_SYNC,
    VERSION,
)
from modelsync.cli.tables import format_table, human_duration
from modelsync.crds import crd_documents
from modelsync_sandbox.catalog_server import DEFAULT_TOKEN, CatalogSandbox
from modelsync_sandbox.kube.table import parse_timestamp

if TYPE_CHECKING:  # both load slowly; imported when used
    from kubernetes.client import ApiClient

    from modelsync_sandbox.kube import KubeSandbox

__all__ = [
    "DEMO_NAMESPACE",
    "DEMO_SYNC",
    "MODELREF_COLUMNS",
    "DemoOptions",
    "demo_crds",
    "demo_manifests",
    "format_table",
    "kubectl_hint",
    "load_crds",
    "modelref_rows",
    "run_demo",
    "sync_state",
]

DEMO_NAMESPACE = "demo"
DEMO_SYNC = "sandbox-models"
DEMO_SECRET = "tfy-api"  # noqa: S105 - a Secret's name
MODELREF_COLUMNS = ("NAME", "MODEL", "VERSION", "ALIAS", "FRAMEWORK", "PINNED", "READY", "AGE")
_CRD_API = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")
_POLL = 0.2
_OPERATOR_STOP_WAIT = 3.0

JsonDict = dict[str, Any]


class DemoFailed(Exception):
    """The demo cannot go on; the message says why and what to look at."""


@dataclass(frozen=True)
class DemoOptions:
    once: bool = False
    catalog_port: int = 0
    kube_port: int = 0
    workdir: Path | None = None  # None: a fresh temporary directory, removed at exit
    crds: Path | None = None  # None: the CRDs the modelsync package carries
    timeout: float = 60.0


# --- pure parts ----------------------------------------------------------------------------


def demo_manifests(
    catalog_url: str, *, namespace: str = DEMO_NAMESPACE, token: str = DEFAULT_TOKEN
) -> list[JsonDict]:
    """Namespace, token Secret and ModelCatalogSync; the sync's spec is the one in
    examples/modelcatalogsync.yaml with the catalog URL filled in."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": DEMO_SECRET,
                "namespace": namespace,
                "labels": {LABEL_CATALOG_CREDENTIALS: CATALOG_CREDENTIALS_VALUE},
            },
            "type": "Opaque",
            "stringData": {"token": token},
        },
        {
            "apiVersion": API_VERSION,
            "kind": KIND_SYNC,
            "metadata": {"name": DEMO_SYNC, "namespace": namespace},
            "spec": {
                "catalog": {
                    "url": catalog_url,
                    "apiPath": "/api/ml/v1",
                    "tokenSecretRef": {"name": DEMO_SECRET, "key": "token"},
                    "timeoutSeconds": 30,
                    "pageSize": 100,
                },
                "filters": {"includeEmptyModels": False},
                "select": {"namePattern": "^(fraud|churn)-", "mlRepos": ["fraud", "churn"]},
                "versionPolicy": "LatestDeployable",
                "interval": "1m",
                "suspend": False,
                "deletionPolicy": "Retain",
                "maxDeletions": 10,
                "modelRefTemplate": {"labels": {"team": "risk"}, "annotations": {}},
            },
        },
    ]


def demo_crds(override: Path | None = None) -> list[JsonDict]:
    """The CRDs in `override`/*.yaml, else the ones the modelsync package carries (present in
    every install, no source checkout needed)."""
    return load_crds(override) if override is not None else crd_documents()


def load_crds(directory: Path) -> list[JsonDict]:
    """Every CustomResourceDefinition in directory/*.yaml (other kinds are skipped)."""
    crds: list[JsonDict] = []
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                crds.append(doc)
    return crds


def _condition(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    status = obj.get("status")
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    for item in conditions if isinstance(conditions, list) else ():
        if isinstance(item, Mapping) and item.get("type") == type_:
            return item
    return None


def sync_state(obj: Mapping[str, Any]) -> tuple[bool, str]:
    """(Ready for the current generation?, a one-line description of the sync's state)."""
    ready = _condition(obj, CONDITION_READY)
    if ready is None:
        return False, "waiting for the operator to pick it up"
    meta = obj.get("metadata")
    generation = meta.get("generation") if isinstance(meta, Mapping) else None
    observed = ready.get("observedGeneration")
    current = generation is None or observed == generation
    text = f"Ready={ready.get('status')} {ready.get('reason', '')}"
    if ready.get("message"):
        text += f": {ready['message']}"
    return ready.get("status") == "True" and current, text


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # kubectl prints a boolean column as JSON does
    return "" if value is None else str(value)  # kubectl leaves a missing value blank


def modelref_rows(items: Sequence[Mapping[str, Any]], now: datetime) -> list[list[str]]:
    """The cells of `kubectl get modelrefs` (the CRD's printer columns), sorted by name."""
    rows = []
    for item in items:
        meta = item.get("metadata") or {}
        spec = item.get("spec") or {}
        version = spec.get("version") or {}
        ready = _condition(item, CONDITION_READY) or {}
        created = parse_timestamp(meta.get("creationTimestamp"))
        age = human_duration((now - created).total_seconds()) if created else "<unknown>"
        rows.append(
            [
                str(meta.get("name", "")),
                _cell((spec.get("model") or {}).get("fqn")),
                _cell(version.get("version")),
                _cell(version.get("versionAlias")),
                _cell((version.get("framework") or {}).get("type")),
                _cell(spec.get("pinned")),
                _cell(ready.get("status")),
                age,
            ]
        )
    return sorted(rows, key=lambda row: row[0])


def kubectl_hint(kubeconfig: Path, namespace: str) -> str:
    return f"KUBECONFIG={shlex.quote(str(kubeconfig))} kubectl get modelrefs -n {namespace}"


# --- the imperative shell ------------------------------------------------------------------


def _object(found: object) -> Mapping[str, Any]:
    """A custom-objects API answer (a JSON object)."""
    if not isinstance(found, Mapping):
        raise DemoFailed(f"the API server answered {type(found).__name__}, not an object")
    return found


class _Stopping(Exception):
    """Ctrl-C (or SIGTERM) arrived: shut down and exit 0."""


class _Progress:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def step(self, label: str, text: str) -> None:
        print(f"  {label:<9} {text}", file=self.out, flush=True)

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)


@contextmanager
def _signals_set(flag: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set `flag` instead of interrupting (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        flag.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _log_to_file(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "httpcore", "urllib3", "kubernetes", "aiohttp.access", "kopf.objects"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler


class _Demo:
    def __init__(self, options: DemoOptions, out: TextIO, stopping: threading.Event) -> None:
        self.options = options
        self.progress = _Progress(out)
        self.stopping = stopping
        self.catalog: CatalogSandbox | None = None
        self.kube: KubeSandbox | None = None
        self.api: ApiClient | None = None
        self.operator_thread: threading.Thread | None = None
        self.operator_stop = threading.Event()
        self.operator_failure: list[BaseException] = []

    # --- waiting ---------------------------------------------------------------------------

    def _wait(self, probe: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not probe():
            self.check()
            if time.monotonic() > deadline:
                raise DemoFailed(f"timed out after {timeout:.0f}s waiting for {what}")
            if self.stopping.wait(_POLL):
                raise _Stopping

    def check(self) -> None:
        """Raise _Stopping after Ctrl-C, DemoFailed when the operator thread died."""
        if self.stopping.is_set():
            raise _Stopping
        thread = self.operator_thread
        if thread is not None and not thread.is_alive():
            cause = self.operator_failure[0] if self.operator_failure else None
            detail = f": {type(cause).__name__}: {cause}" if cause else ""
            raise DemoFailed(f"the operator stopped unexpectedly{detail}")

    # --- phases ----------------------------------------------------------------------------

    def start_catalog(self) -> str:
        catalog = CatalogSandbox(port=self.options.catalog_port)
        try:
            catalog.start_in_thread()
        except OSError as exc:
            raise DemoFailed(f"cannot start the sandbox catalog: {exc.strerror or exc}") from None
        self.catalog = catalog
        count = len(catalog.catalog.models())
        self.progress.step("catalog", f"sandbox catalog with {count} models at {catalog.url}")
        return catalog.url

    def start_cluster(self, workdir: Path) -> Path:
        from kubernetes import config

        from modelsync_sandbox.kube import KubeSandbox

        kube = KubeSandbox(port=self.options.kube_port, kubeconfig_path=workdir / "kubeconfig")
        try:
            kube.start_in_thread()
        except OSError as exc:
            raise DemoFailed(
                f"cannot start the sandbox Kubernetes API: {exc.strerror or exc}"
            ) from None
        self.kube = kube
        self.api = config.new_client_from_config(config_file=str(kube.kubeconfig_path))  # type: ignore[no-untyped-call]
        self.progress.step("cluster", f"sandbox Kubernetes API at {kube.url}")
        return Path(kube.kubeconfig_path)

    def apply_crds(self) -> None:
        from kubernetes import client

        crds = demo_crds(self.options.crds)
        if not crds:
            where = self.options.crds or "the installed modelsync package"
            raise DemoFailed(
                f"no CustomResourceDefinitions found in {where}; pass --crds DIR with the CRD "
                "YAML files, or leave --crds out to use the ones modelsync carries"
            )
        custom = client.CustomObjectsApi(self.api)
        names = [crd["metadata"]["name"] for crd in crds]
        for crd in crds:
            custom.create_cluster_custom_object(*_CRD_API, crd)

        def established() -> bool:
            for name in names:
                found = _object(custom.get_cluster_custom_object(*_CRD_API, name))
                cond = _condition(found, "Established")
                if cond is None or cond.get("status") != "True":
                    return False
            return True

        self._wait(established, 30.0, "the CRDs to be established")
        self.progress.step("crds", ", ".join(names) + " established")

    def apply_example(self, catalog_url: str) -> None:
        from kubernetes import client

        namespace, secret, sync = demo_manifests(catalog_url)
        core = client.CoreV1Api(self.api)
        # The client takes plain dicts as bodies; its annotations name only its model classes.
        core.create_namespace(cast(Any, namespace))
        core.create_namespaced_secret(DEMO_NAMESPACE, cast(Any, secret))
        client.CustomObjectsApi(self.api).create_namespaced_custom_object(
            GROUP, VERSION, DEMO_NAMESPACE, PLURAL_SYNC, sync
        )
        self.progress.step(
            "apply",
            f"namespace {DEMO_NAMESPACE}, Secret {DEMO_SECRET}, {KIND_SYNC} {DEMO_SYNC} "
            "(as in examples/)",
        )

    def start_operator(self, kubeconfig: Path, catalog_url: str, log_path: Path) -> None:
        from modelsync.cli.kopf_main import KopfOptions, run_operator
        from modelsync.runtime.config import OperatorConfig
        from modelsync.runtime.hosts import AllowedHosts

        # Only the sandbox catalog, over plain http, may be called.
        config = OperatorConfig(allowed_hosts=AllowedHosts.parse([catalog_url]))
        options = KopfOptions(namespaces=(DEMO_NAMESPACE,), kubeconfig=str(kubeconfig))

        def main() -> None:
            try:
                asyncio.run(run_operator(config, options, stop_flag=self.operator_stop))
            except BaseException as exc:  # reported by check()
                self.operator_failure.append(exc)

        thread = threading.Thread(target=main, name="modelsync-operator", daemon=True)
        thread.start()
        self.operator_thread = thread
        self.progress.step("operator", f"running (log: {log_path})")

    def wait_until_synced(self) -> Mapping[str, Any]:
        from kubernetes import client

        custom = client.CustomObjectsApi(self.api)
        started = time.monotonic()
        seen: list[str] = []
        found: list[Mapping[str, Any]] = []

        def synced() -> bool:
            obj = _object(
                custom.get_namespaced_custom_object(
                    GROUP, VERSION, DEMO_NAMESPACE, PLURAL_SYNC, DEMO_SYNC
                )
            )
            ok, text = sync_state(obj)
            if not seen or seen[-1] != text:
                seen.append(text)
                self.progress.step("sync", f"{DEMO_NAMESPACE}/{DEMO_SYNC}: {text}")
            found[:] = [obj]
            return ok

        what = f"{KIND_SYNC} {DEMO_NAMESPACE}/{DEMO_SYNC} to become Ready"
        try:
            self._wait(synced, self.options.timeout, what)
        except DemoFailed as exc:
            last = f" (last state: {seen[-1]})" if seen else ""
            raise DemoFailed(f"{exc}{last}") from None
        self.progress.step(
            "ready", f"first sync done {time.monotonic() - started:.1f}s after start"
        )
        return found[0]

    def modelrefs(self) -> list[Mapping[str, Any]]:
        from kubernetes import client

        listing = _object(
            client.CustomObjectsApi(self.api).list_namespaced_custom_object(
                GROUP,
                VERSION,
                DEMO_NAMESPACE,
                PLURAL_MODELREF,
                label_selector=f"{LABEL_SYNC}={DEMO_SYNC}",
            )
        )
        items = listing.get("items")
        return (
            [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []
        )

    def wait_for_ctrl_c(self) -> None:
        while not self.stopping.wait(0.5):
            self.check()

    # --- shutdown --------------------------------------------------------------------------

    def shutdown(self) -> None:
        thread, self.operator_thread = self.operator_thread, None
        if thread is not None:
            self.operator_stop.set()
            # Kopf stops within a second once running; stopped while still discovering the
            # API it retries for several seconds. Do not wait for that: the thread is a daemon.
            thread.join(_OPERATOR_STOP_WAIT)
        if self.api is not None:
            self.api.close()  # type: ignore[no-untyped-call]
            self.api = None
        if self.kube is not None:
            self.kube.stop_in_thread()
            self.kube = None
        if self.catalog is not None:
            self.catalog.stop_in_thread()
            self.catalog = None


def run_demo(options: DemoOptions, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run the demo; 0 on success or Ctrl-C, 1 when something failed (said on `err`)."""
    stopping = threading.Event()
    temporary = options.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="modelsync-demo-")) if temporary else options.workdir
    assert workdir is not None
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "operator.log"
    handler = _log_to_file(log_path)
    demo = _Demo(options, out, stopping)
    failed = False
    with _signals_set(stopping):
        try:
            _run_phases(demo, workdir, log_path)
        except _Stopping:
            demo.progress.line("stopping ...")
        except DemoFailed as exc:
            failed = True
            print(f"modelsync demo: {exc}", file=err, flush=True)
        except Exception as exc:  # an API error while setting up: report it, do not trace
            failed = True
            print(f"modelsync demo: {type(exc).__name__}: {exc}", file=err, flush=True)
        finally:
            demo.shutdown()
            logging.getLogger().removeHandler(handler)
            handler.close()
    if failed:
        print(f"modelsync demo: the operator log is kept at {log_path}", file=err, flush=True)
    elif temporary:
        shutil.rmtree(workdir, ignore_errors=True)
    if stopping.is_set() and not failed:
        demo.progress.line("stopped")
    return 1 if failed else 0


def _run_phases(demo: _Demo, workdir: Path, log_path: Path) -> None:
    demo.progress.line(f"modelsync demo: everything runs locally; files in {workdir}")
    catalog_url = demo.start_catalog()
    demo.check()
    kubeconfig = demo.start_cluster(workdir)
    demo.check()
    demo.apply_crds()
    demo.check()
    demo.apply_example(catalog_url)
    demo.check()
    demo.start_operator(kubeconfig, catalog_url, log_path)
    demo.wait_until_synced()
    rows = modelref_rows(demo.modelrefs(), datetime.now(UTC))
    demo.progress.line()
    demo.progress.line(format_table(MODELREF_COLUMNS, rows).rstrip("\n"))
    demo.progress.line()
    if demo.options.once:
        return
    demo.progress.line("Look again (from another terminal, while this runs):")
    demo.progress.line(f"  {kubectl_hint(kubeconfig, DEMO_NAMESPACE)}")
    demo.progress.line("Press Ctrl-C to stop.")
    demo.wait_for_ctrl_c()
