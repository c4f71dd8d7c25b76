"""The `modelsync` command: built-in and plugin commands, lazy loading, the install hint for
the sandbox commands when modelsync-sandbox is missing, `--version` and `modelsync version`."""

from __future__ import annotations

import json
import os
import re
import subprocess
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

from cli_process import python_process
from modelsync.cli import (
    BUILTIN_COMMANDS,
    ENTRY_POINT_GROUP,
    SANDBOX_COMMANDS,
    Command,
    build_parser,
    commands,
    dispatch,
    missing_command_hint,
)

OPERATOR_SOURCE = Path(__file__).resolve().parents[2] / "operator"
PLUGIN = "cli_plugin"  # tests/operator/cli_plugin.py
PLUGIN_HELP = "echo a word (a plugin command)"
INSTALL = "install it from a source checkout with `pip install ./sandbox`"


def plugin(name: str, value: str = PLUGIN) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def python(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return python_process(*args, cwd=cwd, env=env)


def one_line(text: str) -> str:
    return " ".join(text.split())


# -- commands and plugins (in process) -------------------------------------------------


def test_without_plugins_only_the_built_in_commands_exist() -> None:
    assert commands([]) == BUILTIN_COMMANDS
    assert {("run",), ("reconcile",), ("render",), ("version",)} <= {
        c.words for c in BUILTIN_COMMANDS
    }


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["demo"], "demo"),
        (["demo", "--once", "--timeout", "5"], "demo"),
        (["demo", "--help"], "demo"),
        (["sandbox", "catalog", "--port", "0"], "sandbox catalog"),
        (["sandbox", "kube"], "sandbox kube"),
        (["sandbox"], "sandbox"),
        (["sandbox", "--help"], "sandbox"),
        (["sandbox", "elsewhere"], "sandbox"),
    ],
)
def test_a_sandbox_command_without_the_sandbox_says_how_to_install_it(
    argv: list[str], name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dispatch(argv, commands([])) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n")
    assert err.count("\n") == 1
    assert err.startswith(f"modelsync {name}: this command comes with the modelsync-sandbox ")
    assert INSTALL in err


def test_the_install_hint_names_what_the_sandbox_distribution_provides() -> None:
    provided = entry_points(group=ENTRY_POINT_GROUP)
    assert {tuple(e.name.split(".")) for e in provided} == set(SANDBOX_COMMANDS)
    assert {e.dist.name for e in provided if e.dist} == {"modelsync-sandbox"}


def test_a_partly_installed_sandbox_hints_only_at_what_is_missing() -> None:
    partial = commands([plugin("sandbox.catalog")])
    hint = missing_command_hint(["sandbox", "kube", "--port", "0"], partial) or ""
    assert hint.startswith("modelsync sandbox kube: ")
    assert missing_command_hint(["sandbox", "catalog"], partial) is None
    assert missing_command_hint(["demo"], partial) is not None


@pytest.mark.parametrize("argv", [[], ["run"], ["render", "-f", "demo"], ["--version"]])
def test_no_hint_for_other_commands(argv: list[str]) -> None:
    assert missing_command_hint(argv, commands([])) is None


def test_an_unknown_command_is_a_usage_error_not_an_install_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        dispatch(["deploy"], commands([]))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'deploy'" in err
    assert "modelsync-sandbox" not in err.splitlines()[-1]


def test_a_plugin_command_runs_from_its_entry_point(capsys: pytest.CaptureFixture[str]) -> None:
    available = commands([plugin("sandbox.catalog")])
    assert available == (*BUILTIN_COMMANDS, Command(("sandbox", "catalog"), PLUGIN))
    argv = ["sandbox", "catalog", "--word", "hi", "--exit-code", "3"]
    assert dispatch(argv, available) == 3
    assert capsys.readouterr().out == "plugin says hi\n"


def test_help_lists_the_built_in_and_the_plugin_commands() -> None:
    text = build_parser(commands([plugin("demo")]), ["--help"]).format_help()
    for command in ("run", "reconcile", "render", "demo"):
        assert re.search(rf"^\s+{command}\b", text, re.MULTILINE), command
    assert PLUGIN_HELP in text
    assert "sandbox catalog, sandbox kube: install the modelsync-sandbox" in one_line(text)
    assert "demo," not in one_line(text)


def test_help_without_plugins_names_the_sandbox_commands_and_how_to_get_them() -> None:
    text = one_line(build_parser(commands([]), ["--help"]).format_help())
    assert (
        "demo, sandbox catalog, sandbox kube: install the modelsync-sandbox distribution "
        "(pip install ./sandbox)"
    ) in text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("run", PLUGIN),  # a built-in is never replaced
        ("render.extra", PLUGIN),  # nor turned into a group
        ("sandbox..kube", PLUGIN),
        ("-x", PLUGIN),
        ("", PLUGIN),
        ("demo", f"{PLUGIN}:run"),  # a plugin names a module, not an object in one
    ],
)
def test_plugins_cannot_replace_shadow_or_break_commands(name: str, value: str) -> None:
    assert commands([plugin(name, value)]) == BUILTIN_COMMANDS


def test_a_plugin_cannot_be_both_a_command_and_a_group() -> None:
    found = commands([plugin("sandbox.kube"), plugin("sandbox"), plugin("sandbox.catalog")])
    assert [c.words for c in found[len(BUILTIN_COMMANDS) :]] == [("sandbox",)]
    build_parser(found, ["sandbox", "--help"])  # the command tree builds


def test_a_plugin_that_cannot_be_imported_fails_with_a_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    available = commands([plugin("demo", "no_such_module_for_modelsync_tests")])
    assert "unavailable" in build_parser(available, ["--help"]).format_help()
    assert dispatch(["demo"], available) == 1
    err = capsys.readouterr().err
    assert err.startswith("modelsync demo: cannot import no_such_module_for_modelsync_tests ")
    assert err.rstrip().endswith("reinstall the distribution that provides it")


# -- the real command (subprocesses) ---------------------------------------------------

_LOADED = (
    "import sys\n"
    "from modelsync.cli import build_parser, installed_commands\n"
    "build_parser(installed_commands(), sys.argv[1:])\n"
    "print('\\n'.join(sorted(sys.modules)))\n"
)


def loaded_after_parsing(argv: list[str], cwd: Path) -> set[str]:
    result = python("-c", _LOADED, *argv, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_run_loads_no_other_command_no_sandbox_and_no_kopf(tmp_path: Path) -> None:
    loaded = loaded_after_parsing(["run", "--no-leader-elect"], tmp_path)
    assert "modelsync.cli.run" in loaded
    others = (
        "modelsync_sandbox",
        "kopf",
        "modelsync.cli.render",
        "modelsync.cli.reconcile",
        "modelsync.cli.version",
    )
    assert not {m for m in loaded if m.startswith(others)}


def test_listing_the_commands_loads_no_built_in_command(tmp_path: Path) -> None:
    loaded = loaded_after_parsing(["--help"], tmp_path)
    heavy = ("modelsync.cli.run", "modelsync.cli.render", "modelsync.runtime", "kopf")
    assert not {m for m in loaded if m.startswith(heavy)}


def test_version(tmp_path: Path) -> None:
    result = python("-m", "modelsync", "--version", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "modelsync 0.1.0\n", "")


def test_help_lists_the_operator_commands(tmp_path: Path) -> None:
    result = python("-m", "modelsync", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in ("run", "reconcile", "render"):
        assert re.search(rf"^\s+{command}\b", result.stdout, re.MULTILINE), command


def test_an_operator_only_install_says_how_to_get_the_demo(tmp_path: Path) -> None:
    """Only the operator's package importable: no site-packages (-S), so no modelsync-sandbox
    and no plugin entry point, as after `pip install .` of the root alone."""
    env = {"PYTHONPATH": str(OPERATOR_SOURCE), "PATH": os.environ.get("PATH", "")}
    demo = python("-S", "-m", "modelsync", "demo", "--once", cwd=tmp_path, env=env)
    assert (demo.returncode, demo.stdout) == (2, "")
    assert demo.stderr == (
        "modelsync demo: this command comes with the modelsync-sandbox distribution, which is "
        f"not installed; {INSTALL}\n"
    )
    version = python("-S", "-m", "modelsync", "--version", cwd=tmp_path, env=env)
    assert (version.returncode, version.stdout) == (0, "modelsync 0.1.0\n")
    listing = python("-S", "-m", "modelsync", "--help", cwd=tmp_path, env=env)
    assert "install the modelsync-sandbox distribution" in one_line(listing.stdout)


def test_reconcile_refuses_a_bad_model_name_before_contacting_anything(tmp_path: Path) -> None:
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "missing-kubeconfig")}
    result = python(
        "-m", "modelsync", "reconcile", "prod", "--model", "fraud", cwd=tmp_path, env=env
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-1] == (
        "modelsync reconcile: error: argument --model: 'fraud' is not a model name: expected "
        "REPO/NAME (e.g. churn/churn-survival) or a model fqn model:TENANT/REPO/NAME"
    )
    usage = python("-m", "modelsync", "reconcile", "--help", cwd=tmp_path, env=env)
    assert "--model REPO/NAME" in usage.stdout


# -- modelsync version -------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


def test_version_command_prints_the_apis_it_speaks(tmp_path: Path) -> None:
    from importlib.metadata import version as distribution_version

    result = python("-m", "modelsync", "version", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "modelsync 0.1.0",
        "Kubernetes APIs: modelsync.dev/v1alpha1 (ModelCatalogSync, ModelRef), "
        "coordination.k8s.io/v1 (Lease), v1 (Secret, Event)",
        "Kubernetes server: 1.25 or newer (CRD validation rules); tested with v1.33.13",
        f"Kubernetes client: kubernetes {distribution_version('kubernetes')}, "
        f"kopf {distribution_version('kopf')} (Python)",
        "Catalog API: TrueFoundry List Models API 0.1.0 (GET /api/ml/v1/models)",
    ]
    as_json = python("-m", "modelsync", "version", "-o", "json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["modelsync"] == "0.1.0"
    assert data["kubernetes"]["apiVersions"][0] == {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kinds": ["ModelCatalogSync", "ModelRef"],
    }
    assert data["catalog"] == {
        "api": "TrueFoundry List Models API",
        "version": "0.1.0",
        "path": "/api/ml/v1/models",
    }


def test_the_versions_it_prints_are_those_of_the_crds_the_spec_and_the_tests() -> None:
    import inspect

    import yaml

    from modelsync.catalog.client import CatalogClient
    from modelsync.cli import version as version_command

    spec = yaml.safe_load((REPO / "tests/data/list-models.openapi.yaml").read_text())
    assert spec["info"]["version"] == version_command.CATALOG_API_VERSION
    assert version_command.CATALOG_API_PATH in spec["paths"]
    api_path = inspect.signature(CatalogClient).parameters["api_path"].default
    assert f"{api_path}/models" == version_command.CATALOG_API_PATH
    served = set()
    for crd in (REPO / "crds").glob("*.yaml"):
        document = yaml.safe_load(crd.read_text())
        for version in document["spec"]["versions"]:
            served.add((f"{document['spec']['group']}/{version['name']}",
                        document["spec"]["names"]["kind"]))  # fmt: skip
    ours = {(api, kind) for api, kinds in version_command.KUBERNETES_APIS[:1] for kind in kinds}
    assert ours == served
    go_mod = (REPO / "tools/control-plane/go.mod").read_text()
    assert f"k8s.io/kubernetes {version_command.TESTED_KUBERNETES}\n" in go_mod


def test_version_and_the_version_option_agree(tmp_path: Path) -> None:
    option = python("-m", "modelsync", "--version", cwd=tmp_path).stdout
    command = python("-m", "modelsync", "version", cwd=tmp_path).stdout
    assert command.splitlines()[0] == option.strip()
