"""`modelsync render` against the sandbox catalog: output, exit codes, messages, secrecy.

Exit status: 0 rendered, 1 invalid input, 2 usage, 3 the catalog could not be listed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli_process import modelsync_process
from modelsync.cli import main
from modelsync_sandbox.catalog_server import CatalogSandbox

ROOT = Path(__file__).resolve().parents[2]
BAD_TOKEN = "tok-wrong-5e1b0c77d2"


def sync_yaml(url: str, **spec: Any) -> str:
    doc = {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelCatalogSync",
        "metadata": {"name": "render-test", "namespace": "ml"},
        "spec": {"catalog": {"url": url, "tokenSecretRef": {"name": "tfy", "key": "token"}}} | spec,
    }
    return yaml.safe_dump(doc)


@pytest.fixture
def manifest(tmp_path: Path, catalog_server_thread: CatalogSandbox) -> Path:
    path = tmp_path / "sync.yaml"
    path.write_text(sync_yaml(catalog_server_thread.url, select={"mlRepos": ["churn"]}))
    return path


def render(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["render", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_renders_the_selected_models(
    manifest: Path,
    catalog_server_thread: CatalogSandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELSYNC_TOKEN", str(catalog_server_thread.token))
    code, out, err = render(capsys, "-f", str(manifest), "--allow-insecure-http")
    assert code == 0, err
    assert out.startswith("# ModelRefs of ModelCatalogSync ml/render-test")
    docs = list(yaml.safe_load_all(out))
    names = [d["metadata"]["name"] for d in docs]
    assert names == sorted(names)
    assert "churn.churn-predictor" in names
    assert all(d["metadata"]["namespace"] == "ml" for d in docs)
    by_name = {d["metadata"]["name"]: d for d in docs}
    assert by_name["churn.churn-predictor"]["spec"]["version"]["version"] == 5
    # churn_uplift has no deployable version: rendered, Ready=False, as the operator does
    uplift = next(d for d in docs if d["spec"]["model"]["name"] == "churn_uplift")
    assert uplift["status"]["conditions"][0]["reason"] == "NoDeployableVersion"

    code, out, _ = render(
        capsys, "-f", str(manifest), "--allow-insecure-http", "--no-status", "-n", "other"
    )
    assert code == 0
    docs = list(yaml.safe_load_all(out))
    assert all("status" not in d and d["metadata"]["namespace"] == "other" for d in docs)


def test_the_shipped_examples_render_as_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELSYNC_TOKEN", raising=False)
    with CatalogSandbox.running_in_thread() as catalog:
        example = (ROOT / "examples" / "modelcatalogsync.yaml").read_text()
        moved = tmp_path / "sync.yaml"
        moved.write_text(example.replace("http://127.0.0.1:8181", catalog.url))
        secret = str(ROOT / "examples" / "secret.yaml")
        code, out, err = render(capsys, "-f", secret, "-f", str(moved), "--allow-insecure-http")
    assert code == 0, err
    assert "warning" not in err  # the example Secret is opted in
    names = {d["metadata"]["name"] for d in yaml.safe_load_all(out)}
    assert names == {
        "churn.churn-predictor",
        "churn.churn-survival",
        "fraud.fraud-detector",
        "fraud.fraud-model",
    }


def test_a_rejected_token_fails_without_showing_it(
    manifest: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RENDER_TEST_TOKEN", BAD_TOKEN)
    code, out, err = render(
        capsys, "-f", str(manifest), "--allow-insecure-http", "--token-env", "RENDER_TEST_TOKEN"
    )
    assert (code, out) == (3, "")
    assert "ModelCatalogSync ml/render-test: listing the catalog failed (Unauthorized)" in err
    assert BAD_TOKEN not in err


def test_missing_token(
    manifest: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELSYNC_TOKEN", raising=False)
    code, out, err = render(capsys, "-f", str(manifest), "--allow-insecure-http")
    assert (code, out) == (2, "")
    assert "no catalog token: set $MODELSYNC_TOKEN" in err


def test_plain_http_is_refused_by_default(
    manifest: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSYNC_TOKEN", "anything")
    code, _, err = render(capsys, "-f", str(manifest))
    assert code == 2
    assert "plain http needs --allow-insecure-http" in err


def test_invalid_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSYNC_TOKEN", "anything")
    path = tmp_path / "bad.yaml"
    path.write_text(sync_yaml("https://example.com", select={"namePattern": "(["}))
    code, out, err = render(capsys, "-f", str(path))
    assert (code, out) == (1, "")
    assert (
        f'{path}: ModelCatalogSync "render-test": spec.select.namePattern: invalid regular '
        "expression"
    ) in err


def test_unreachable_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MODELSYNC_TOKEN", "anything")
    path = tmp_path / "sync.yaml"
    path.write_text(sync_yaml(f"http://127.0.0.1:{port}"))
    code, out, err = render(
        capsys, "-f", str(path), "--allow-insecure-http", "--catalog-attempts", "1"
    )
    assert (code, out) == (3, "")
    assert "listing the catalog failed (CatalogUnavailable)" in err


def test_unreadable_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = render(capsys, "-f", str(tmp_path / "missing.yaml"))
    assert code == 2
    assert "cannot read" in err
    assert "missing.yaml" in err


def test_an_inconsistent_listing_renders_nothing_and_fails(
    manifest: Path,
    catalog_server_thread: CatalogSandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELSYNC_TOKEN", str(catalog_server_thread.token))
    catalog_server_thread.faults.understate_total(3, path_prefix="/api/ml/v1/models")
    code, out, err = render(capsys, "-f", str(manifest), "--allow-insecure-http")
    assert (code, out) == (3, "")
    assert "listing is inconsistent" in err
    assert "InconsistentListing" in err


def test_a_secret_without_the_opt_in_label_renders_with_a_warning(
    tmp_path: Path,
    catalog_server_thread: CatalogSandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MODELSYNC_TOKEN", raising=False)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tfy", "namespace": "ml"},
        "stringData": {"token": str(catalog_server_thread.token)},
    }
    path = tmp_path / "all.yaml"
    url = catalog_server_thread.url
    sync = sync_yaml(url, select={"mlRepos": ["churn"]})
    path.write_text(yaml.safe_dump(secret) + "---\n" + sync)
    code, out, err = render(capsys, "-f", str(path), "--allow-insecure-http")
    assert code == 0, err
    assert out
    assert 'warning: Secret "tfy" lacks the label modelsync.dev/catalog-credentials' in err
    assert "SecretNotOptedIn" in err
    assert "kubectl label secret tfy modelsync.dev/catalog-credentials=true" in err


# -- the command as CI runs it (subprocesses) ----------------------------------------------


def modelsync(
    *args: str, cwd: Path, token: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MODELSYNC_TOKEN"}
    if token is not None:
        env["MODELSYNC_TOKEN"] = token
    return modelsync_process("render", *args, cwd=cwd, env=env, stdin=stdin)


def test_an_unknown_field_fails_and_names_the_field(tmp_path: Path) -> None:
    """The issue's typo: `select.namepattern` used to render every model, silently."""
    path = tmp_path / "sync.yaml"
    path.write_text(sync_yaml("https://catalog.example.com", select={"namepattern": "^fraud"}))
    done = modelsync("-f", str(path), cwd=tmp_path, token="unused")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [
        f'{path}: ModelCatalogSync "render-test": unknown field "spec.select.namepattern" '
        '(did you mean "spec.select.namePattern"?)',
        "modelsync render: 1 problem found; nothing rendered",
    ]


def test_a_bad_duration_is_explained_by_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "sync.yaml"
    path.write_text(sync_yaml("https://catalog.example.com", interval="5 minutes"))
    done = modelsync("-f", str(path), cwd=tmp_path, token="unused")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0].startswith(
        f'{path}: ModelCatalogSync "render-test": spec.interval: Invalid value: "5 minutes": '
    )
    assert lines[0].endswith(
        "(expected a duration such as 30s, 5m or 1h30m (units h, m, s, ms, us, ns))"
    )
    assert lines[1].endswith(
        "evaluating rule: interval must be a duration of at least 10s, e.g. 30s, 5m or 1h"
    )


def test_several_syncs_from_a_file_and_stdin_render_sorted_and_stable(
    tmp_path: Path, catalog_server_thread: CatalogSandbox
) -> None:
    url = catalog_server_thread.url
    two = tmp_path / "two.yaml"
    docs = [
        yaml.safe_load(sync_yaml(url, select={"mlRepos": [repo]})) for repo in ("fraud", "churn")
    ]
    docs[0]["metadata"]["name"] = "z-fraud"
    docs[1]["metadata"]["name"] = "a-churn"
    two.write_text(yaml.safe_dump_all(docs))
    third = yaml.safe_load(sync_yaml(url, select={"mlRepos": ["churn"]}))
    third["metadata"]["namespace"] = "other"
    args = ("-f", str(two), "-f", "-", "--allow-insecure-http", "--no-status")
    token = str(catalog_server_thread.token)
    done = modelsync(*args, cwd=tmp_path, token=token, stdin=yaml.safe_dump(third))
    assert done.returncode == 0, done.stderr
    rendered = list(yaml.safe_load_all(done.stdout))
    keys = [
        (d["metadata"]["namespace"], d["metadata"]["labels"]["modelsync.dev/sync"])
        for d in rendered
    ]
    assert keys == sorted(keys)
    assert {sync for _, sync in keys} == {"a-churn", "z-fraud", "render-test"}
    assert done.stdout.count("# ModelRefs of ModelCatalogSync") == 3
    again = modelsync(*args, cwd=tmp_path, token=token, stdin=yaml.safe_dump(third))
    assert again.stdout == done.stdout

    as_json = modelsync(*args, "-o", "json", cwd=tmp_path, token=token, stdin=yaml.safe_dump(third))
    assert as_json.returncode == 0, as_json.stderr
    listing = json.loads(as_json.stdout)
    assert listing["kind"] == "List"
    assert listing["items"] == rendered


def test_two_syncs_claiming_one_modelref_fail(
    tmp_path: Path, catalog_server_thread: CatalogSandbox
) -> None:
    url = catalog_server_thread.url
    first = tmp_path / "a.yaml"
    second = tmp_path / "b.yaml"
    first.write_text(sync_yaml(url, select={"mlRepos": ["churn"]}))
    doc = yaml.safe_load(sync_yaml(url))
    doc["metadata"]["name"] = "everything"
    second.write_text(yaml.safe_dump(doc))
    done = modelsync(
        "-f",
        str(first),
        "-f",
        str(second),
        "--allow-insecure-http",
        cwd=tmp_path,
        token=str(catalog_server_thread.token),
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert "would be written by both ModelCatalogSync ml/everything and ml/render-test" in (
        done.stderr
    )


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    twice = modelsync("-f", "-", "-f", "-", cwd=tmp_path, stdin="")
    assert (twice.returncode, twice.stdout) == (2, "")
    assert "'-' (standard input) can be given only once" in twice.stderr
    bad_output = modelsync("-f", "-", "-o", "table", cwd=tmp_path, stdin="")
    assert bad_output.returncode == 2
    assert "invalid choice: 'table'" in bad_output.stderr


def test_empty_input_is_invalid(tmp_path: Path) -> None:
    done = modelsync("-f", "-", cwd=tmp_path, stdin="", token="unused")
    assert done.returncode == 1
    assert "no ModelCatalogSync (modelsync.dev/v1alpha1) in the input" in done.stderr
