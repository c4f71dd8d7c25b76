"""helm, built from its Go module (tools/helm) once per machine for the tests.

    scripts/helm-binary [--quiet]

Builds `helm.sh/helm/v3/cmd/helm` at the version tools/helm/go.mod pins, if this machine has
not yet, into ~/.cache/modelsync/helm/<version>-<hash>/helm (see scripts/gobuild.py), and
prints its path. Standard library only, so a fresh clone runs it with the machine's python3.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from gobuild import BuildError, GoBinary, ensure, required_versions

ROOT = Path(__file__).resolve().parents[1]
MODULE_DIR = ROOT / "tools" / "helm"


def module_versions() -> dict[str, str]:
    """The pinned helm and client-go versions, read from the module's go.mod."""
    return required_versions(
        MODULE_DIR, {"helm": "helm.sh/helm/v3", "client-go": "k8s.io/client-go"}
    )


def version_ldflags() -> str:
    """What helm's own Makefile stamps in: its version, and the Kubernetes version of the
    client-go it links (v0.33.x is Kubernetes 1.33), which `helm template` reports as
    .Capabilities.KubeVersion and `helm lint` checks deprecated APIs against."""
    versions = module_versions()
    minor = versions["client-go"].lstrip("v").split(".")[1]
    stamped = {
        "helm.sh/helm/v3/internal/version.version": versions["helm"],
        "helm.sh/helm/v3/internal/version.gitTreeState": "clean",
        "helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor": "1",
        "helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor": minor,
        "helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor": "1",
        "helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor": minor,
    }
    return " ".join(f"-X {name}={value}" for name, value in stamped.items())


def helm() -> GoBinary:
    version = module_versions()["helm"]
    return GoBinary(
        name="helm",
        module_dir=MODULE_DIR,
        package="helm.sh/helm/v3/cmd/helm",  # go.mod's `tool` directive pins it
        version=version,
        ldflags=version_ldflags(),
        description=f"helm {version}",
        cold_build="about 4 minutes on 2 cores",
        cache_env="MODELSYNC_HELM_CACHE",
        binary_env="MODELSYNC_HELM_BIN",
        build_env={"CGO_ENABLED": "0"},  # as helm's release builds: a static binary
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="helm-binary", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quiet", action="store_true", help="print nothing but the path")
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        if not args.quiet:
            print(f"helm-binary: {message}", file=sys.stderr, flush=True)

    try:
        print(ensure(helm(), say))
    except BuildError as error:
        print(f"helm-binary: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
