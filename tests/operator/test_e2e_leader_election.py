"""Two `modelsync run --leader-elect` processes against one sandbox cluster (short durations):
one leads and alone writes; SIGKILL of the leader hands over once its Lease expires; SIGTERM
releases the Lease and hands over at the standby's next try.

A cluster of its own: the session operator of e2e_harness would sync these objects too.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_harness import (
    CATALOG_TOKEN,
    CRDS,
    E2E,
    OPERATOR_FLAGS,
    OperatorProcess,
    Scenario,
    free_port,
    metrics_flags,
)
from observed_operator import Samples, scrape

from fixtures_kube import E2E_KUBECONFIG_ENV, start_sandbox, unique_name, wait_for
from modelsync_sandbox.catalog_server import CatalogSandbox
from modelsync_sandbox.kube import KubeSandbox

LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 2.0, 1.5, 0.3
ELECTION_FLAGS = (
    "--leader-elect",
    f"--leader-election-lease-duration={LEASE_DURATION}s",
    f"--leader-election-renew-deadline={RENEW_DEADLINE}s",
    f"--leader-election-retry-period={int(RETRY_PERIOD * 1000)}ms",
)
LEADER_LINE = re.compile(r"leader election: (\S+) is now the leader")


@dataclass
class Replica:
    name: str
    process: OperatorProcess
    metrics_url: str

    def leader_lines(self) -> list[str]:
        return LEADER_LINE.findall(self.process.log())

    def metrics(self) -> Samples:
        return scrape(self.metrics_url)


@dataclass
class Cluster:
    sandbox: KubeSandbox
    scene: Scenario
    lease_namespace: str
    tmp: Path

    def replica(self, name: str) -> Replica:
        port = free_port()
        flags = (
            *(f for f in OPERATOR_FLAGS if f != "--no-leader-elect"),
            *ELECTION_FLAGS,
            f"--leader-election-namespace={self.lease_namespace}",
            f"--liveness=http://127.0.0.1:{free_port()}/healthz",
            *metrics_flags(port),
        )
        log = self.tmp / f"{name}.log"
        process = OperatorProcess(self.sandbox.kubeconfig_path, log, flags, env={"POD_NAME": name})
        return Replica(name, process, f"http://127.0.0.1:{port}/metrics")

    def holder(self) -> str | None:
        lease = json.loads(
            self.scene.e2e.ok(
                "get", "lease", "modelsync-leader", "-n", self.lease_namespace, "-o", "json"
            )
        )
        holder = lease["spec"].get("holderIdentity")
        return holder if isinstance(holder, str) else None

    def writes(self) -> list[str]:
        """Writes of the operators in the scenario's namespace (Secrets are the test's)."""
        return self.scene.writes()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    if os.environ.get(E2E_KUBECONFIG_ENV):
        pytest.skip("runs operators of its own, so it needs a sandbox cluster of its own")
    sandbox = start_sandbox(tmp_path / "kube")
    catalog = CatalogSandbox(token=CATALOG_TOKEN)
    catalog.start_in_thread()
    try:
        e2e = E2E(sandbox.kubeconfig_path, sandbox, None, "")  # type: ignore[arg-type]
        e2e.ok("apply", "-f", str(CRDS))
        e2e.ok("wait", "--for=condition=Established", "--timeout=30s", "crd", "--all")
        namespace = unique_name("leader")
        e2e.ok("create", "namespace", namespace)
        scene = Scenario(e2e, namespace, catalog)
        scene.set_token(CATALOG_TOKEN)
        yield Cluster(sandbox, scene, namespace, tmp_path)
    finally:
        catalog.stop_in_thread()
        sandbox.stop_in_thread()


def wait_logged(probe: Callable[[], object], what: str, within: float, *replicas: Replica) -> None:
    """wait_for, with the replicas' logs in the failure message."""
    try:
        wait_for(probe, timeout=within, interval=0.02, what=what)
    except pytest.fail.Exception:
        logs = "\n".join(f"--- {r.name}\n{r.process.log()[-3000:]}" for r in replicas)
        pytest.fail(f"timed out after {within}s waiting for {what}\n{logs}")


def wait_leader(replica: Replica, within: float) -> None:
    wait_logged(replica.leader_lines, f"{replica.name} to lead", within, replica)


def wait_campaigning(replica: Replica) -> None:
    log = replica.process.log
    wait_logged(
        lambda: "leader election: candidate" in log(), f"{replica.name} to run", 15, replica
    )


def test_one_leader_writes_and_the_standby_takes_over(cluster: Cluster) -> None:
    scene = cluster.scene
    started = (cluster.replica("op-a"), cluster.replica("op-b"))
    replicas = started
    try:
        for replica in started:
            replica.process.start()
        wait_logged(lambda: any(r.leader_lines() for r in started), "a leader", 20, *started)
        a, b = started if started[0].leader_lines() else started[::-1]  # a leads
        wait_campaigning(b)
        time.sleep(2 * RETRY_PERIOD)  # it has read the Lease by now
        assert b.leader_lines() == []
        assert cluster.holder() == a.leader_lines()[0]

        # Only the leader syncs and writes; the standby follows the watch and waits.
        scene.create_sync("models", select={"mlRepos": ["churn"]})
        synced = scene.wait_condition("models", "True", "Synced")
        assert synced["status"]["modelRefs"]["created"] > 0
        scene.wait(lambda: b.metrics().total("modelsync_leader") == 0.0, "b's gauge")
        a_metrics, b_metrics = a.metrics(), b.metrics()
        assert a_metrics.total("modelsync_leader") == 1.0
        written = cluster.writes()
        assert written
        assert a_metrics.total("modelsync_kube_writes_total", resource="modelrefs") == len(
            [w for w in written if w.split()[1] == "modelrefs"]
        )
        assert b_metrics.total("modelsync_kube_writes_total", resource="modelrefs") == 0
        assert not b.process.sync_lines(scene.namespace, "models")

        # SIGKILL: no release; the standby takes over once the Lease has expired.
        a.process.kill()
        killed = time.monotonic()
        wait_leader(b, within=LEASE_DURATION + 5)
        took = time.monotonic() - killed
        assert took <= LEASE_DURATION + 2 * RETRY_PERIOD + 1.5, took
        assert cluster.holder() == b.leader_lines()[0]
        scene.wait(lambda: b.process.sync_lines(scene.namespace, "models"), "b to sync")
        handled = scene.trigger("models")
        scene.wait_handled("models", handled)  # the new leader serves requests

        # SIGTERM: the leader releases its Lease; the standby takes it at its next try.
        a = cluster.replica("op-a2")
        replicas = (a, b)
        a.process.start()
        wait_campaigning(a)
        time.sleep(2 * RETRY_PERIOD)  # it has read the Lease: b holds it
        assert a.leader_lines() == []
        before = len(cluster.writes())
        assert b.process.stop() == 0
        stopped = time.monotonic()
        assert "released the Lease" in b.process.log()
        wait_leader(a, within=5)
        assert time.monotonic() - stopped <= 1.0 + 2 * RETRY_PERIOD
        handled = scene.trigger("models")
        scene.wait_handled("models", handled)
        assert len(cluster.writes()) > before
        lease = json.loads(
            scene.e2e.ok(
                "get", "lease", "modelsync-leader", "-n", cluster.lease_namespace, "-o", "json"
            )
        )
        assert lease["spec"]["holderIdentity"] == a.leader_lines()[0]
        assert lease["spec"]["leaseTransitions"] == 2  # a -> b -> a2
    finally:
        for replica in replicas:
            replica.process.stop()
