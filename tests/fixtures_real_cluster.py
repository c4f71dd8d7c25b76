"""pytest plugin: a real Kubernetes control plane (etcd, kube-apiserver,
kube-controller-manager) for the tests, started once per test session with
`scripts/real-cluster up` and stopped with `scripts/real-cluster down`.

- `real_cluster`: a `RealCluster`. If MODELSYNC_E2E_KUBECONFIG names a kubeconfig, that
  cluster is used instead and nothing is started (`state_dir` is None, so tests that
  restart the API server skip there, saying so).
- Every test that uses `real_cluster` (directly or through other fixtures) is put in the
  xdist group "real-cluster", so with `--dist loadgroup` one worker runs them all against
  one control plane.
- Deselect them all with `-m "not real_cluster"`.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures_kube import E2E_KUBECONFIG_ENV, kubectl

ROOT = Path(__file__).resolve().parents[1]
REAL_CLUSTER = ROOT / "scripts" / "real-cluster"
XDIST_GROUP = "real-cluster"
# A cold build of the control plane can take a while; `up` itself bounds each wait.
UP_TIMEOUT = 3600.0


@dataclass(frozen=True)
class RealCluster:
    kubeconfig: Path  # cluster-admin
    state_dir: Path | None  # None: a cluster this session did not start

    @property
    def audit_log(self) -> Path | None:
        """Every write request the API server completed (JSON lines), if we started it."""
        return None if self.state_dir is None else self.state_dir / "logs" / "audit.log"

    def kubectl(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return kubectl(self.kubeconfig, *args, input=input)

    def ok(self, *args: str, input: str | None = None) -> str:
        done = self.kubectl(*args, input=input)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    def restart_apiserver(self) -> None:
        if self.state_dir is None:
            pytest.skip("restarts the API server, which only a control plane we started allows")
        run_script("restart-apiserver", f"--state-dir={self.state_dir}", timeout=300)

    def service_account_kubeconfig(
        self, namespace: str, name: str, path: Path, duration: str = "2h"
    ) -> Path:
        """A kubeconfig that authenticates as ServiceAccount namespace/name, with a token
        from the TokenRequest API (`kubectl create token`), as a pod would have."""
        token = self.ok("create", "token", name, "-n", namespace, f"--duration={duration}").strip()
        admin = json.loads(self.ok("config", "view", "--raw", "-o", "json"))
        cluster = admin["clusters"][0]["cluster"]
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "real", "cluster": cluster}],
            "users": [{"name": f"{namespace}/{name}", "user": {"token": token}}],
            "contexts": [
                {"name": "sa", "context": {"cluster": "real", "user": f"{namespace}/{name}"}}
            ],
            "current-context": "sa",
        }
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        return path


def run_script(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "real_cluster.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/real-cluster {args[0]} failed:\n{done.stderr}", pytrace=False)
    return done


@contextlib.contextmanager
def started_real_cluster(base: Path) -> Iterator[RealCluster]:
    """A control plane of its own under `base`, stopped on exit."""
    state_dir, kubeconfig = base / "state", base / "kubeconfig"
    run_script(
        "up", f"--kubeconfig-out={kubeconfig}", f"--state-dir={state_dir}", timeout=UP_TIMEOUT
    )
    try:
        yield RealCluster(kubeconfig, state_dir)
    finally:
        run_script("down", f"--state-dir={state_dir}", timeout=120)


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    given = os.environ.get(E2E_KUBECONFIG_ENV)
    if given:
        yield RealCluster(Path(given), None)
        return
    with started_real_cluster(tmp_path_factory.mktemp("real-cluster")) as cluster:
        yield cluster


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "real_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group(XDIST_GROUP))
            item.add_marker(pytest.mark.real_cluster)
