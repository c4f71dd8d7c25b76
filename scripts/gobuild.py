"""Build a binary from a Go module of tools/ once per machine, and cache it outside the clone.

Standard library only: scripts/real_cluster.py (the control plane) and scripts/helm_binary.py
(helm) use it from a fresh clone with the machine's python3. The cache folder is
`~/.cache/modelsync/<name>/<version>-<hash>/<name>`, the hash covering the module's files
(*.go, go.mod, go.sum), the link flags, the build environment and the Go version: a change to
any of them builds anew, and nothing else does. Concurrent callers (pytest workers, make)
build once: the build holds a lock and writes the binary under its final name atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

GO_FALLBACKS = (Path("/usr/local/go/bin/go"),)


class BuildError(Exception):
    """A failure with a message that names what failed and what to do."""


@dataclass(frozen=True)
class GoBinary:
    """One binary of one module under tools/, and how to build it."""

    name: str  # the binary's file name and its cache folder's name
    module_dir: Path
    package: str  # what `go build` builds, relative to module_dir ("." or an import path)
    version: str  # the pinned upstream version: the cache folder's prefix
    ldflags: str
    description: str  # for the build message, e.g. "helm v3.18.6"
    cold_build: str  # for the build message, e.g. "about 4 minutes on 2 cores"
    cache_env: str  # names a cache root that replaces ~/.cache/modelsync/<name>
    binary_env: str  # names a prebuilt binary to use instead of building
    build_env: Mapping[str, str] = field(default_factory=dict)


def required_versions(module_dir: Path, modules: dict[str, str]) -> dict[str, str]:
    """{name: version} of the modules a go.mod requires ({name: module path}); "unknown" for
    one it does not name."""
    by_path = {path: name for name, path in modules.items()}
    versions = dict.fromkeys(modules, "unknown")
    for line in (module_dir / "go.mod").read_text().splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in by_path:
            versions[by_path[words[0]]] = words[1]
    return versions


def find_go() -> Path:
    found = shutil.which("go")
    if found:
        return Path(found)
    for candidate in GO_FALLBACKS:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise BuildError(
        "no Go toolchain: `go` is not on PATH and not in /usr/local/go/bin. "
        "Install Go >= 1.24 (https://go.dev/dl/) or put its bin/ on PATH."
    )


def cache_root(binary: GoBinary) -> Path:
    override = os.environ.get(binary.cache_env)
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modelsync" / binary.name


def build_key(binary: GoBinary, go: Path) -> str:
    """`<version>-<hash>`: the module's own files, the link flags, the build environment and
    the Go version."""
    digest = hashlib.sha256(binary.ldflags.encode())
    for path in sorted(binary.module_dir.glob("*")):
        if path.is_file() and (path.suffix == ".go" or path.name in ("go.mod", "go.sum")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for name, value in sorted(binary.build_env.items()):
        digest.update(f"{name}={value}\0".encode())
    go_version = subprocess.run(  # noqa: S603 -- the machine's Go toolchain, argument list
        [str(go), "env", "GOVERSION"], capture_output=True, text=True, check=True
    ).stdout.strip()
    digest.update(go_version.encode())
    return f"{binary.version}-{digest.hexdigest()[:12]}"


def cached_path(binary: GoBinary) -> Path:
    """Where the binary for this checkout is (or will be) cached on this machine."""
    override = os.environ.get(binary.binary_env)
    if override:
        return Path(override)
    return cache_root(binary) / build_key(binary, find_go()) / binary.name


def ensure(binary: GoBinary, say: Callable[[str], None]) -> Path:
    """The binary for this checkout, built once per machine and cache key."""
    override = os.environ.get(binary.binary_env)
    if override:
        return Path(override)
    go = find_go()
    target_dir = cache_root(binary) / build_key(binary, go)
    built = target_dir / binary.name
    if built.is_file():
        return built
    target_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(cache_root(binary) / ".build.lock"):
        if built.is_file():  # another process built it while we waited
            return built
        say(f"building {binary.description} into {built}; a cold build takes {binary.cold_build}")
        started = time.monotonic()
        partial = target_dir / f".{binary.name}.{os.getpid()}"
        env = {
            **os.environ,
            **binary.build_env,
            "PATH": f"{go.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        # readonly: go.sum pins every module; a clean machine only needs the module proxy.
        env.setdefault("GOFLAGS", "-mod=readonly")
        done = subprocess.run(  # noqa: S603 -- the machine's Go toolchain, argument list
            [
                str(go),
                "build",
                "-trimpath",
                f"-ldflags=-s -w {binary.ldflags}",
                "-o",
                str(partial),
                binary.package,
            ],
            cwd=binary.module_dir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            raise BuildError(
                f"`go build` in {binary.module_dir} failed (exit {done.returncode}):\n"
                f"{tail(done.stderr, 40)}\n"
                f"It needs the Go module proxy (or a filled module cache) to fetch the "
                f"modules go.mod pins."
            )
        os.replace(partial, built)
        say(f"built {built} in {time.monotonic() - started:.0f} s")
    return built


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])
