"""End-to-end harness (a pytest plugin of tests/conftest.py): per API server one cluster and
one operator process per test session, a namespace and a sandbox catalog per scenario,
kubectl as the observer.

Each test that uses `e2e` runs on the sandbox API server and on the real control plane
(`real_cluster`: ours, or the cluster MODELSYNC_E2E_KUBECONFIG names). Write requests are
counted from the sandbox's request log or the real API server's audit log.
The operator runs as a subprocess (`python -m modelsync run ...`), outside the
cluster, so it reaches the sandbox catalog on 127.0.0.1 either way.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest

from fixtures_kube import E2E_KUBECONFIG_ENV, kubectl, start_sandbox, unique_name, wait_for
from fixtures_real_cluster import XDIST_GROUP, RealCluster
from modelsync_sandbox.catalog_server import CatalogSandbox
from modelsync_sandbox.catalog_store import load_fixture_data

if TYPE_CHECKING:
    from modelsync_sandbox.kube import KubeSandbox

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
DEPLOY_BASE = ROOT / "deploy" / "base"
OPERATOR_NAMESPACE = "modelsync-system"
OPERATOR_SERVICE_ACCOUNT = "modelsync"
# A bound, not a pace: waits poll every 0.1 s and return as soon as the state is there.
WAIT_TIMEOUT = 30.0
OPERATOR_READY_TIMEOUT = 60.0
# Distinctive, so a scan for it cannot hit anything else.
CATALOG_TOKEN = "tok-e2e-7f3c9a1d5b"
SECRET_NAME = "tfy-api"
# The label that opts a Secret in as catalog credentials (the operator ignores others).
CREDENTIALS_LABELS = {"modelsync.dev/catalog-credentials": "true"}
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})

# One operator per cluster: no leader election, so a killed-and-restarted operator syncs at
# once instead of waiting for its old Lease to expire (test_leader_election covers it).
OPERATOR_FLAGS = (
    "--no-leader-elect",
    # The sandbox catalogs are loopback servers: only an explicit entry lets them in.
    "--allowed-hosts=http://127.0.0.1:*",
    "--secret-check-interval=300ms",
    "--catalog-attempts=1",
    "--log-format=text",
)

# The session operator is the shard of the syncs without a shard label, so that
# test_e2e_sharding's shard operators (modelsync.dev/shard=a|b) have theirs to themselves.
SESSION_SHARD = "!modelsync.dev/shard"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def metrics_flags(port: int) -> tuple[str, ...]:
    return (f"--metrics-port={port}", "--metrics-host=127.0.0.1")


class OperatorProcess:
    """`modelsync run` as a subprocess, its output appended to one log file."""

    def __init__(
        self,
        kubeconfig: Path,
        log_path: Path,
        flags: tuple[str, ...],
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.flags = flags
        self.env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        env = {
            **os.environ,
            **self.env,
            "KUBECONFIG": str(self.kubeconfig),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop(E2E_KUBECONFIG_ENV, None)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "modelsync", "run", *self.flags],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
            )
        self.starts += 1

    def stop(self, timeout: float = 15.0) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(timeout)

    def kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.kill()
            proc.wait(10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def sync_lines(self, namespace: str, name: str) -> list[str]:
        marker = f"sync {namespace}/{name}: "
        return [line for line in self.log().splitlines() if marker in line]


@dataclass
class E2E:
    kubeconfig: Path
    sandbox: KubeSandbox | None
    operator: OperatorProcess
    liveness_url: str
    metrics_url: str = ""
    # The real API server's audit log (every write), when we started that server.
    audit_log: Path | None = None
    # The session operator's push-trigger webhook (`--webhook-port`): http://127.0.0.1:PORT
    webhook_url: str = ""

    def kubectl(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        start = time.monotonic()
        done = kubectl(self.kubeconfig, *args, input=input)
        if os.environ.get("MODELSYNC_E2E_TRACE"):
            print(f"[{time.monotonic() - start:.2f}s] kubectl {' '.join(args)[:100]}")
        return done

    def ok(self, *args: str, input: str | None = None) -> str:
        done = self.kubectl(*args, input=input)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout


REAL_SERVER = pytest.param(
    "real", marks=[pytest.mark.real_cluster, pytest.mark.xdist_group(XDIST_GROUP)], id="real"
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Runs each test that uses `e2e` on both servers, or on the one its marker names."""
    if "e2e_server" not in metafunc.fixturenames:
        return
    servers: list[object] = ["sandbox", REAL_SERVER]
    for marker, only in (("sandbox_only", ["sandbox"]), ("real_only", [REAL_SERVER])):
        found = metafunc.definition.get_closest_marker(marker)
        if found is None:
            continue
        if not found.kwargs.get("reason"):
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: {marker} needs a reason=")
        servers = list(only)
    metafunc.parametrize("e2e_server", servers, indirect=True, scope="session")


@pytest.fixture(scope="session")
def e2e_server(request: pytest.FixtureRequest) -> str:
    """Which API server the e2e suite runs on: "sandbox" or "real" (see conftest.py)."""
    server: str = request.param
    return server


@pytest.fixture(scope="session")
def e2e(
    e2e_server: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[E2E]:
    sandbox = None
    audit_log = None
    if e2e_server == "real":
        # The real control plane, or the cluster MODELSYNC_E2E_KUBECONFIG names. The
        # operator runs as deploy/base's ServiceAccount, so a real authorizer checks our RBAC.
        real: RealCluster = request.getfixturevalue("real_cluster")
        kubeconfig = real.kubeconfig
        install_deploy_base(real)
        operator_kubeconfig = real.service_account_kubeconfig(
            OPERATOR_NAMESPACE,
            OPERATOR_SERVICE_ACCOUNT,
            tmp_path_factory.mktemp("operator-sa") / "kubeconfig",
        )
        audit_log = real.audit_log
    else:
        sandbox = start_sandbox(tmp_path_factory.mktemp("kube"))
        kubeconfig = operator_kubeconfig = sandbox.kubeconfig_path
    log_path = tmp_path_factory.mktemp("operator") / "operator.log"
    liveness = f"http://127.0.0.1:{free_port()}/healthz"
    metrics_port = free_port()
    webhook_port = free_port()
    flags = (
        *OPERATOR_FLAGS,
        f"--sync-selector={SESSION_SHARD}",
        f"--liveness={liveness}",
        *metrics_flags(metrics_port),
        f"--webhook-port={webhook_port}",
        "--webhook-host=127.0.0.1",
    )
    operator = OperatorProcess(operator_kubeconfig, log_path, flags)
    env = E2E(
        kubeconfig,
        sandbox,
        operator,
        liveness,
        f"http://127.0.0.1:{metrics_port}/metrics",
        audit_log=audit_log,
        webhook_url=f"http://127.0.0.1:{webhook_port}",
    )
    try:
        env.ok("apply", "-f", str(CRDS))
        env.ok("wait", "--for=condition=Established", "--timeout=30s", "crd", "--all")
        operator.start()
        # The liveness endpoint answers once Kopf runs: no scenario starts before that.
        wait_for(partial(answers, liveness), timeout=OPERATOR_READY_TIMEOUT, interval=0.1)
        yield env
    finally:
        operator.stop()
        if sandbox is not None:
            sandbox.stop_in_thread()


def install_deploy_base(real: RealCluster) -> None:
    """`kubectl apply --server-side -k deploy/base`: CRDs, namespace, ServiceAccount, RBAC
    and a Deployment whose pods never run (the control plane has no scheduler or kubelet).
    Other tests of the session apply crds/ with a client-side apply; taking those fields
    over (--force-conflicts) is what an install over such a cluster does too."""
    real.ok("apply", "--server-side", "--force-conflicts", "-k", str(DEPLOY_BASE))
    real.ok("wait", "--for=condition=Established", "--timeout=30s", "crd", "--all")


@dataclass
class Scenario:
    """One namespace with a token Secret, one sandbox catalog, helpers to drive and look."""

    e2e: E2E
    namespace: str
    catalog: CatalogSandbox
    _trigger_count: int = field(default=0)

    # --- driving -----------------------------------------------------------------------

    def apply(self, obj: Mapping[str, Any]) -> subprocess.CompletedProcess[str]:
        return self.e2e.kubectl("apply", "-n", self.namespace, "-f", "-", input=json.dumps(obj))

    def sync_manifest(self, name: str, **spec: Any) -> dict[str, Any]:
        catalog = {
            "url": self.catalog.url,
            "tokenSecretRef": {"name": SECRET_NAME, "key": "token"},
            **spec.pop("catalog", {}),
        }
        return {
            "apiVersion": "modelsync.dev/v1alpha1",
            "kind": "ModelCatalogSync",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {"catalog": catalog, **spec},
        }

    def create_sync(self, name: str, **spec: Any) -> dict[str, Any]:
        manifest = self.sync_manifest(name, **spec)
        done = self.apply(manifest)
        assert done.returncode == 0, done.stderr
        return manifest

    def patch_sync(self, name: str, patch: Mapping[str, Any]) -> None:
        self.e2e.ok(
            "patch", "mcs", name, "-n", self.namespace, "--type=merge", "-p", json.dumps(patch)
        )

    def trigger(self, name: str) -> str:
        """Set the manual-trigger annotation to a fresh value; returns it."""
        self._trigger_count += 1
        value = f"{datetime.now(UTC).isoformat()}-{self._trigger_count}"
        self.e2e.ok(
            "annotate",
            "mcs",
            name,
            "-n",
            self.namespace,
            "--overwrite",
            f"modelsync.dev/reconcile-requested-at={value}",
        )
        return value

    def set_token(self, token: str) -> None:
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": SECRET_NAME,
                "namespace": self.namespace,
                "labels": CREDENTIALS_LABELS,
            },
            "stringData": {"token": token},
        }
        done = self.apply(secret)
        assert done.returncode == 0, done.stderr

    def catalog_model(self, fqn: str) -> dict[str, Any]:
        return next(m for m in self.catalog.catalog.models() if m["fqn"] == fqn)

    def add_version(self, fqn: str, *, deployable: bool, tags: tuple[str, ...] = ()) -> int:
        """Publish a new version of a catalog model (a copy of its latest); its number."""
        model = self.catalog_model(fqn)
        latest = max(model["versions"], key=lambda v: v["manifest"]["version"])
        manifest = {k: v for k, v in latest["manifest"].items() if k != "version"}
        added = self.catalog.catalog.add_version(
            model["id"], {"manifest": manifest, "deployable": deployable, "tags": list(tags)}
        )
        number: int = added["manifest"]["version"]
        return number

    def remove_model(self, fqn: str) -> None:
        assert self.catalog.catalog.remove_model(self.catalog_model(fqn)["id"])

    # --- looking -----------------------------------------------------------------------

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        done = self.e2e.kubectl("get", kind, name, "-n", self.namespace, "-o", "json")
        if done.returncode != 0:
            assert "NotFound" in done.stderr or "not found" in done.stderr, done.stderr
            return None
        found: dict[str, Any] = json.loads(done.stdout)
        return found

    def sync(self, name: str) -> dict[str, Any]:
        found = self.get("modelcatalogsync", name)
        assert found is not None, f"ModelCatalogSync {name} is gone"
        return found

    def modelrefs(self, sync: str | None = None) -> dict[str, dict[str, Any]]:
        args = ["get", "modelrefs", "-n", self.namespace, "-o", "json"]
        if sync is not None:
            args += ["-l", f"modelsync.dev/sync={sync}"]
        items = json.loads(self.e2e.ok(*args))["items"]
        return {item["metadata"]["name"]: item for item in items}

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        items = json.loads(self.e2e.ok("get", "events", "-n", self.namespace, "-o", "json"))
        return [
            e for e in items["items"] if name is None or e["involvedObject"].get("name") == name
        ]

    def syncs_done(self, name: str) -> int:
        """Sync passes the operator finished for this sync (from its log)."""
        return len(self.e2e.operator.sync_lines(self.namespace, name))

    def writes(self) -> list[str]:
        """Write requests into this namespace (Secrets excluded), from the sandbox's request
        log or the real API server's audit log."""
        if self.e2e.sandbox is not None:
            return [
                f"{r.verb} {r.resource} {r.path}"
                for r in self.e2e.sandbox.stats.log
                if r.namespace == self.namespace
                and r.verb in WRITE_VERBS
                and r.resource != "secrets"
            ]
        assert self.e2e.audit_log is not None, "use the write_log fixture"
        return [
            f"{event['verb']} {event['objectRef']['resource']} {event['requestURI']}"
            for event in audited_writes(self.e2e.audit_log)
            if event["objectRef"].get("namespace") == self.namespace
            and event["objectRef"].get("resource") != "secrets"
            and not is_control_plane(event["user"].get("username", ""))
        ]

    # --- waiting -----------------------------------------------------------------------

    def wait(self, probe: Callable[[], T | None], what: str, timeout: float = WAIT_TIMEOUT) -> T:
        return wait_for(probe, timeout=timeout, interval=0.1, what=what)

    def wait_condition(
        self,
        name: str,
        status: str,
        reason: str | None = None,
        type_: str = "Ready",
        kind: str = "modelcatalogsync",
        timeout: float = WAIT_TIMEOUT,
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            obj = self.get(kind, name)
            if obj is None:
                return None
            cond = condition(obj, type_)
            if cond and cond["status"] == status and (reason is None or cond["reason"] == reason):
                return obj
            return None

        return self.wait(probe, f"{kind} {name} {type_}={status} {reason or ''}", timeout)

    def wait_syncs(self, name: str, count: int, timeout: float = WAIT_TIMEOUT) -> None:
        self.wait(lambda: self.syncs_done(name) >= count, f"{count} syncs of {name}", timeout)

    def wait_handled(self, name: str, value: str, timeout: float = WAIT_TIMEOUT) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            obj = self.sync(name)
            handled = (obj.get("status") or {}).get("lastHandledReconcileAt")
            return obj if handled == value else None

        return self.wait(probe, f"{name} to handle trigger {value}", timeout)


def condition(obj: Mapping[str, Any], type_: str = "Ready") -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == type_:
            found: dict[str, Any] = cond
            return found
    return None


def fixture_data() -> dict[str, Any]:
    return load_fixture_data(None)


@contextlib.contextmanager
def open_scenario(env: E2E, prefix: str, *, delete_namespace: bool) -> Iterator[Scenario]:
    """A fresh namespace with its own sandbox catalog and token Secret, on `env`'s operator."""
    if not env.operator.alive():
        pytest.fail("the operator process is not running:\n" + env.operator.log()[-4000:])
    namespace = unique_name(prefix)
    env.ok("create", "namespace", namespace)
    catalog = CatalogSandbox(token=CATALOG_TOKEN)
    catalog.start_in_thread()
    scene = Scenario(env, namespace, catalog)
    scene.set_token(CATALOG_TOKEN)
    try:
        yield scene
    finally:
        catalog.stop_in_thread()
        if delete_namespace:
            env.kubectl("delete", "namespace", namespace, "--wait=false")


@pytest.fixture
def scenario(e2e: E2E) -> Iterator[Scenario]:
    with open_scenario(e2e, "e2e", delete_namespace=True) as scene:
        yield scene


@pytest.fixture(scope="module")
def crd_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSandbox]:
    """A sandbox API server with the CRDs, for in-process tests of kube/ and the runtime."""
    sandbox = start_sandbox(tmp_path_factory.mktemp("kube-io"))
    try:
        done = kubectl(sandbox.kubeconfig_path, "apply", "-f", str(CRDS))
        assert done.returncode == 0, done.stderr
        done = kubectl(
            sandbox.kubeconfig_path, "wait", "--for", "condition=established", "crd", "--all"
        )
        assert done.returncode == 0, done.stderr
        yield sandbox
    finally:
        sandbox.stop_in_thread()


@pytest.fixture
def write_log(e2e: E2E) -> None:
    """Skips on a cluster whose write requests we cannot see (one we did not start)."""
    if e2e.sandbox is None and e2e.audit_log is None:
        pytest.skip("counts write requests: needs the sandbox or a control plane we started")


def is_control_plane(username: str) -> bool:
    """The real control plane's own writers (e.g. the kube-root-ca.crt ConfigMap in every new
    namespace), which the sandbox does not have."""
    return username in ("system:apiserver", "system:kube-controller-manager") or (
        username.startswith("system:serviceaccount:kube-system:")
    )


def audited_writes(audit_log: Path) -> list[dict[str, Any]]:
    """The write requests the real API server completed, from its audit log (JSON lines)."""
    events = []
    for line in audit_log.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if (
            event.get("stage") == "ResponseComplete"
            and event.get("verb") in WRITE_VERBS
            and "objectRef" in event
        ):
            events.append(event)
    return events


def elapsed(start: float) -> float:
    return time.monotonic() - start


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@contextlib.contextmanager
def operator_of_its_own(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    flags: tuple[str, ...] = OPERATOR_FLAGS,
    *,
    ready_timeout: float,
) -> Iterator[E2E]:
    """A sandbox cluster with the CRDs and an operator (with metrics and liveness) of their own,
    for tests that must not share the session's operator; stopped on exit."""
    sandbox = start_sandbox(tmp_path_factory.mktemp(f"{name}-kube"))
    log_path = tmp_path_factory.mktemp(f"{name}-operator") / "operator.log"
    liveness = f"http://127.0.0.1:{free_port()}/healthz"
    port = free_port()
    operator = OperatorProcess(
        sandbox.kubeconfig_path,
        log_path,
        (*flags, f"--liveness={liveness}", *metrics_flags(port)),
    )
    env = E2E(
        sandbox.kubeconfig_path, sandbox, operator, liveness, f"http://127.0.0.1:{port}/metrics"
    )
    try:
        env.ok("apply", "-f", str(CRDS))
        env.ok("wait", "--for=condition=Established", "--timeout=30s", "crd", "--all")
        operator.start()
        for url in (env.metrics_url, liveness):  # the liveness probe answers once Kopf runs
            wait_for(partial(answers, url), timeout=ready_timeout, interval=0.1, what=url)
        yield env
    finally:
        operator.stop()
        sandbox.stop_in_thread()
