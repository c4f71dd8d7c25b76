"""The two distributions: the operator (`modelsync`, root pyproject.toml) carries the CRDs and
none of the sandbox; `modelsync-sandbox` (sandbox/pyproject.toml) carries the test world and
plugs its commands into the `modelsync` CLI."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from deploy.manifests import CRD_DIR, ROOT
from modelsync.crds import CRD_FILES, crd_documents

PACKAGED_CRDS = ROOT / "operator" / "modelsync" / "crds"
COPY_FIX = "edit crds/ and copy it: cp crds/*.yaml operator/modelsync/crds/"
SANDBOX_ONLY = {"trustme", "cryptography", "cffi", "pycparser"}


def _toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


OPERATOR = _toml(ROOT / "pyproject.toml")
SANDBOX = _toml(ROOT / "sandbox" / "pyproject.toml")


# --- the CRDs: crds/ is the source, the package carries copies ---------------------------


def test_the_package_carries_every_crd_in_crds() -> None:
    assert sorted(CRD_FILES) == sorted(p.name for p in CRD_DIR.glob("*.yaml")), (
        "crds/*.yaml and modelsync.crds.CRD_FILES list different files; " + COPY_FIX
    )
    assert sorted(CRD_FILES) == sorted(p.name for p in PACKAGED_CRDS.glob("*.yaml")), (
        "operator/modelsync/crds/ holds other files than CRD_FILES; " + COPY_FIX
    )


@pytest.mark.parametrize("name", CRD_FILES)
def test_the_packaged_copy_is_byte_identical_to_crds(name: str) -> None:
    source = (CRD_DIR / name).read_bytes()
    copy = (PACKAGED_CRDS / name).read_bytes()
    assert copy == source, f"operator/modelsync/crds/{name} differs from crds/{name}; {COPY_FIX}"


def test_crd_documents_are_the_crds_in_crds() -> None:
    want = [
        doc
        for name in CRD_FILES
        for doc in yaml.safe_load_all((CRD_DIR / name).read_text(encoding="utf-8"))
    ]
    documents = crd_documents()
    assert documents == want
    assert [d["metadata"]["name"] for d in documents] == [
        "modelcatalogsyncs.modelsync.dev",
        "modelrefs.modelsync.dev",
    ]
    documents[0]["spec"] = "changed by a caller"
    assert crd_documents() == want, "crd_documents() must hand out fresh objects"


def test_the_wheel_declares_the_crds_as_package_data() -> None:
    package_data = OPERATOR["tool"]["setuptools"]["package-data"]["modelsync"]
    assert "crds/*.yaml" in package_data


# --- the operator distribution holds no sandbox ------------------------------------------


def test_the_operator_package_has_no_sandbox_or_demo_module() -> None:
    package = ROOT / "operator" / "modelsync"
    stray = sorted(
        str(p.relative_to(package))
        for p in package.rglob("*")
        if "__pycache__" not in p.parts
        and any(part.startswith(("sandbox", "demo")) for part in p.relative_to(package).parts)
    )
    assert not stray, f"sandbox or demo code in the operator package (move it to sandbox/): {stray}"


def test_the_operator_runtime_requirements_hold_no_sandbox_or_test_package() -> None:
    runtime = _names(OPERATOR["project"]["dependencies"])
    assert not runtime & SANDBOX_ONLY
    test_tools = _names(OPERATOR["project"]["optional-dependencies"]["test"])
    assert not runtime & test_tools
    sandbox_only = _names(SANDBOX["project"]["dependencies"]) - runtime - {"modelsync"}
    assert "trustme" in sandbox_only


def test_the_image_lock_holds_no_sandbox_only_package() -> None:
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pinned = {
        canonicalize_name(line.split("==", 1)[0])
        for line in lock.splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }
    assert "httpx" in pinned
    assert not pinned & SANDBOX_ONLY, "regenerate requirements.lock: deploy/lock-requirements.sh"


# --- the sandbox distribution ------------------------------------------------------------


def test_the_sandbox_depends_on_the_operator_it_tests() -> None:
    requirements = [Requirement(r) for r in SANDBOX["project"]["dependencies"]]
    operator = next(r for r in requirements if canonicalize_name(r.name) == "modelsync")
    assert operator.specifier.contains(OPERATOR["project"]["version"])
    assert SANDBOX["project"]["version"] == OPERATOR["project"]["version"]


def test_the_sandbox_commands_are_declared_and_installed_as_plugins() -> None:
    declared = SANDBOX["project"]["entry-points"]["modelsync.commands"]
    assert declared == {
        "demo": "modelsync_sandbox.demo_cli",
        "sandbox.catalog": "modelsync_sandbox.catalog_cli",
        "sandbox.kube": "modelsync_sandbox.kube.cli",
    }
    installed = {
        e.name: e.value for e in importlib.metadata.entry_points(group="modelsync.commands")
    }
    assert installed == declared, "reinstall the sandbox: pip install -e ./sandbox"


@pytest.mark.parametrize("module_name", ["demo_cli", "catalog_cli", "kube.cli"])
def test_each_plugin_module_has_help_arguments_and_run(module_name: str) -> None:
    module = importlib.import_module(f"modelsync_sandbox.{module_name}")
    assert isinstance(module.HELP, str)
    assert module.HELP.strip()
    assert "\n" not in module.HELP
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    assert parser.parse_args([]) is not None
    assert callable(module.run)


def test_the_sandbox_ships_its_fixtures_and_type_marker() -> None:
    package_data = SANDBOX["tool"]["setuptools"]["package-data"]["modelsync_sandbox"]
    assert "fixtures/*.json" in package_data
    assert "py.typed" in package_data
    package = ROOT / "sandbox" / "modelsync_sandbox"
    assert (package / "py.typed").is_file()
    assert (package / "fixtures" / "catalog.json").is_file()
