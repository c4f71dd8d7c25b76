"""Flags of `modelsync run` / `modelsync reconcile` and the Kubernetes error mapping (no I/O);
the help and default of every command's options; run's environment variables."""

from __future__ import annotations

import argparse
import os
import re

import pytest

from modelsync.cli import reconcile as reconcile_command
from modelsync.cli import run as run_command
from modelsync.cli.environment import (
    ENV_PREFIX,
    bind_environment,
    builtin_default,
    builtin_type,
    env_name,
    env_variable,
)
from modelsync.kube.errors import (
    KubeApiError,
    KubeConflict,
    KubeForbidden,
    KubeInvalid,
    KubeNotFound,
    KubeUnavailable,
    error_from_status,
)


def run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    run_command.add_arguments(parser)
    return parser


def test_run_defaults() -> None:
    args = run_parser().parse_args([])
    assert args.namespaces == []
    assert args.leader_elect
    assert args.leader_election_namespace is None
    assert args.leader_election_id == "modelsync-leader"
    assert (
        args.leader_election_lease_duration,
        args.leader_election_renew_deadline,
        args.leader_election_retry_period,
    ) == (15.0, 10.0, 2.0)
    assert (args.max_concurrent_syncs, args.max_concurrent_writes) == (4, 8)
    assert (args.default_interval, args.secret_check_interval, args.status_heartbeat) == (
        300.0,
        10.0,
        1800.0,
    )
    assert args.allowed_hosts == []
    assert not args.allow_insecure_http


def test_run_flags() -> None:
    args = run_parser().parse_args(
        [
            "-n", "ml", "--namespace", "ml-*", "--no-leader-elect", "--liveness",
            "http://0.0.0.0:8080/healthz", "--log-format", "json", "--allowed-hosts",
            "https://*.truefoundry.com,http://127.0.0.1:*", "--default-interval", "1m30s",
            "--secret-check-interval", "500ms", "--status-heartbeat", "1h",
            "--max-concurrent-syncs", "2", "--max-concurrent-writes", "32",
        ]
    )  # fmt: skip
    assert args.namespaces == ["ml", "ml-*"]
    assert not args.leader_elect
    assert args.default_interval == 90.0
    assert args.secret_check_interval == 0.5
    assert args.status_heartbeat == 3600.0
    assert args.allowed_hosts == ["https://*.truefoundry.com,http://127.0.0.1:*"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--secret-check-interval", "soon"],
        ["--default-interval", "0s"],
        ["--max-concurrent-writes", "0"],
        ["--peering", "default"],
        ["--priority", "1"],
        ["--leader-election-id", "Not_A_Name"],
        ["--leader-election-retry-period", "0s"],
        ["--namespace", "a", "--all-namespaces"],
        ["--log-format", "xml"],
        ["--standalone"],  # no second spelling of --no-leader-elect
    ],
)
def test_run_rejects_bad_flags(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run_parser().parse_args(argv)
    assert exited.value.code == 2


def test_leader_election_flags() -> None:
    args = run_parser().parse_args(
        [
            "--leader-elect", "--leader-election-namespace", "ops", "--leader-election-id",
            "ms.lock", "--leader-election-lease-duration", "2s",
            "--leader-election-renew-deadline", "1.5s", "--leader-election-retry-period",
            "300ms",
        ]
    )  # fmt: skip
    assert args.leader_elect
    assert (args.leader_election_namespace, args.leader_election_id) == ("ops", "ms.lock")
    assert (
        args.leader_election_lease_duration,
        args.leader_election_renew_deadline,
        args.leader_election_retry_period,
    ) == (2.0, 1.5, 0.3)


def test_the_default_lease_name_is_the_runtimes() -> None:
    from modelsync.runtime.leader_loop import DEFAULT_LEASE_NAME

    assert run_parser().parse_args([]).leader_election_id == DEFAULT_LEASE_NAME


@pytest.mark.parametrize(
    "argv",
    [
        ["--leader-election-lease-duration", "10s"],  # not longer than the renew deadline
        ["--leader-election-renew-deadline", "2s"],  # not longer than 1.2 x the retry period
    ],
)
def test_inconsistent_leader_election_durations_are_refused(argv: list[str]) -> None:
    with pytest.raises(ValueError, match="leader election"):
        run_command.leader_election_config(run_parser().parse_args(argv))


def test_leader_election_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "ops")
    monkeypatch.setenv("POD_NAME", "modelsync-5d9f-abcde")
    config = run_command.leader_election_config(run_parser().parse_args([]))
    assert config is not None
    assert (config.namespace, config.name) == ("ops", "modelsync-leader")
    assert config.identity.startswith("modelsync-5d9f-abcde_")
    other = run_command.leader_election_config(run_parser().parse_args([]))
    assert other is not None
    assert other.identity != config.identity  # a restarted process is a new holder
    flagged = run_parser().parse_args(["--leader-election-namespace", "elsewhere"])
    assert (run_command.leader_election_config(flagged) or config).namespace == "elsewhere"
    single = run_parser().parse_args(["--no-leader-elect"])
    assert run_command.leader_election_config(single) is None


def test_reconcile_flags() -> None:
    parser = argparse.ArgumentParser()
    reconcile_command.add_arguments(parser)
    args = parser.parse_args(["prod-models", "-n", "ml-serving", "--wait"])
    assert (args.name, args.namespace, args.wait, args.timeout) == (
        "prod-models",
        "ml-serving",
        True,
        60.0,
    )
    assert args.models == []


def reconcile_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelsync reconcile")
    reconcile_command.add_arguments(parser)
    return parser


def test_reconcile_names_models_by_repo_and_name_or_by_fqn() -> None:
    args = reconcile_parser().parse_args(
        ["s", "--model", "fraud/detector", "--model", "model:acme/churn/x", "--wait"]
    )
    assert args.models == ["fraud/detector", "model:acme/churn/x"]
    assert (args.wait, args.timeout) == (True, 60.0)


@pytest.mark.parametrize("value", ["detector", "acme/fraud/detector", "a/b,c/d", "model:x/y", ""])
def test_a_bad_model_name_is_a_usage_error_saying_what_is_expected(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        reconcile_parser().parse_args(["s", "--model", value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --model: {value!r} is not a model name: expected REPO/NAME" in err
    assert "model:TENANT/REPO/NAME" in err


def test_the_modelref_a_named_model_has() -> None:
    name_of = reconcile_command._modelref_name
    assert name_of("churn/churn-survival") == "churn.churn-survival"
    assert name_of("model:acme/churn/churn-survival") == "churn.churn-survival"
    # Hashed names need the fqn: from REPO/NAME alone the name is unknown.
    assert name_of("churn/ChurnPredictor") is None
    hashed = name_of("model:acme/churn/ChurnPredictor")
    assert hashed is not None
    assert hashed.startswith("churn.churnpredictor-")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (404, KubeNotFound),
        (409, KubeConflict),
        (422, KubeInvalid),
        (400, KubeInvalid),
        (403, KubeForbidden),
        (401, KubeForbidden),
        (429, KubeUnavailable),
        (503, KubeUnavailable),
        (None, KubeUnavailable),
        (418, KubeApiError),
    ],
)
def test_api_errors_are_typed_and_carry_the_server_message(
    status: int | None, kind: type[KubeApiError]
) -> None:
    body = '{"kind":"Status","message":"the server says no","reason":"Because"}'
    error = error_from_status("create ModelRef x", status, body)
    assert type(error) is kind
    assert error.status == status
    assert str(error) == "create ModelRef x: the server says no"
    assert error.reason == "Because"
    assert str(error_from_status("get x", status, b"<html>")).startswith("get x: ")


def test_bounds_flags_and_their_defaults() -> None:
    defaults = run_parser().parse_args([])
    assert defaults.max_concurrent_syncs_per_host == 2
    assert defaults.max_response_bytes == 32 * 1024 * 1024
    assert defaults.sync_timeout == 600.0
    args = run_parser().parse_args(
        ["--max-response-bytes", "64Mi", "--sync-timeout", "2m",
         "--max-concurrent-syncs-per-host", "1"]
    )  # fmt: skip
    assert (args.max_response_bytes, args.sync_timeout) == (64 * 1024 * 1024, 120.0)
    assert args.max_concurrent_syncs_per_host == 1
    for size, value in (("4096", 4096), ("512Ki", 512 * 1024), ("1GiB", 1024**3)):
        assert run_parser().parse_args(["--max-response-bytes", size]).max_response_bytes == value


@pytest.mark.parametrize(
    "argv",
    [
        ["--max-response-bytes", "12"],
        ["--max-response-bytes", "lots"],
        ["--max-response-bytes", "3Ti"],
        ["--sync-timeout", "0s"],
        ["--max-concurrent-syncs-per-host", "0"],
    ],
)
def test_bad_bounds_flags_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        run_parser().parse_args(argv)


def test_every_run_flag_has_help_text() -> None:
    parser = run_parser()
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"{action.option_strings} has no help"


# -- every option documented, with its default -----------------------------------------


def _subcommand_parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    """Every command's parser, the installed plugins' included, built as `modelsync` does."""
    from modelsync.cli import build_parser, installed_commands

    found: list[tuple[str, argparse.ArgumentParser]] = []

    def walk(parser: argparse.ArgumentParser, words: tuple[str, ...]) -> None:
        found.append((" ".join(("modelsync", *words)), parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, (*words, name))

    walk(build_parser(installed_commands()), ())
    return found


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    skip = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)
    return [a for a in parser._actions if a.option_strings and not isinstance(a, skip)]


def _has_a_default(action: argparse.Action) -> bool:
    default = builtin_default(action)
    return default not in (None, False, [], argparse.SUPPRESS)


def test_every_option_of_every_command_has_help_showing_its_default() -> None:
    parsers = _subcommand_parsers()
    commands = {name for name, _ in parsers}
    assert {"modelsync run", "modelsync version", "modelsync render"} <= commands
    missing = []
    for command, parser in parsers:
        for action in _options(parser):
            option = "/".join(action.option_strings)
            if not action.help:
                missing.append(f"{command} {option}: no help")
            elif _has_a_default(action) and "default" not in action.help.lower():
                missing.append(f"{command} {option}: default {builtin_default(action)!r} not shown")
    assert not missing, "\n".join(missing)


_SHOWN_DEFAULT = re.compile(r"\(default ([^;,)\s]+)")


def test_the_defaults_run_shows_are_its_real_defaults() -> None:
    """`(default 10m)` in --sync-timeout's help is what it does when not given."""
    words = {"on": True, "off": False}
    for action in _options(run_parser()):
        if not _has_a_default(action):
            continue
        assert action.help is not None
        shown = _SHOWN_DEFAULT.search(action.help)
        assert shown, f"{action.option_strings}: help says no '(default X)': {action.help}"
        text = shown.group(1)
        convert = builtin_type(action)
        value = words.get(text, text) if convert is None else convert(text)
        assert value == builtin_default(action), action.option_strings


# -- environment variables ---------------------------------------------------------------


def test_every_run_option_but_all_namespaces_has_a_variable_named_in_its_help() -> None:
    for action in _options(run_parser()):
        variable = env_variable(action)
        if action.option_strings == ["-A", "--all-namespaces"]:
            assert variable is None
            continue
        long = next(o for o in action.option_strings if o.startswith("--"))
        assert variable == "MODELSYNC_" + long[2:].upper().replace("-", "_")
        assert action.help is not None
        assert action.help.endswith(f"[env: {variable}]")
    text = run_parser().format_help()
    assert "MODELSYNC_MAX_CONCURRENT_WRITES" in text
    assert "MODELSYNC_<OPTION>" in " ".join(text.split())


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    return monkeypatch


def test_variables_set_the_options(environ: pytest.MonkeyPatch) -> None:
    for name, value in {
        "MODELSYNC_NAMESPACE": "ml, ml-*",
        "MODELSYNC_ALLOWED_HOSTS": "https://*.example.com,http://127.0.0.1:8181",
        "MODELSYNC_ALLOW_INSECURE_HTTP": "true",
        "MODELSYNC_LOG_FORMAT": "json",
        "MODELSYNC_MAX_CONCURRENT_WRITES": "32",
        "MODELSYNC_SYNC_TIMEOUT": "2m",
        "MODELSYNC_LEADER_ELECT": "false",
        "MODELSYNC_LIVENESS": "",
        "MODELSYNC_KUBECONFIG": "/etc/kube/config",
        "MODELSYNC_VERBOSE": "on",
    }.items():
        environ.setenv(name, value)
    args = run_parser().parse_args([])
    assert args.namespaces == ["ml", "ml-*"]
    assert args.allowed_hosts == ["https://*.example.com", "http://127.0.0.1:8181"]
    assert args.allow_insecure_http
    assert args.verbose
    assert (args.log_format, args.max_concurrent_writes, args.sync_timeout) == ("json", 32, 120.0)
    assert not args.leader_elect
    assert (args.liveness, args.kubeconfig) == ("", "/etc/kube/config")
    config = run_command.operator_config(args)
    assert config.max_concurrent_writes == 32
    assert config.allowed_hosts.allow_insecure_http


def test_the_command_line_wins_over_the_variables(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("MODELSYNC_NAMESPACE", "from-env")
    environ.setenv("MODELSYNC_ALLOWED_HOSTS", "https://env.example.com")
    environ.setenv("MODELSYNC_MAX_CONCURRENT_WRITES", "32")
    environ.setenv("MODELSYNC_LEADER_ELECT", "false")
    environ.setenv("MODELSYNC_LOG_FORMAT", "json")
    args = run_parser().parse_args(
        ["-n", "a", "--namespace", "b", "--allowed-hosts", "https://flag.example.com",
         "--max-concurrent-writes", "2", "--leader-elect", "--log-format", "text"]
    )  # fmt: skip
    assert args.namespaces == ["a", "b"]  # replaced, not added to
    assert args.allowed_hosts == ["https://flag.example.com"]
    assert (args.max_concurrent_writes, args.leader_elect, args.log_format) == (2, True, "text")
    everywhere = run_parser().parse_args(["-A"])
    assert everywhere.all_namespaces
    assert everywhere.namespaces == ["from-env"]
    # run() reads -A first: the flag on the command line wins over MODELSYNC_NAMESPACE.


@pytest.mark.usefixtures("environ")
def test_without_variables_the_built_in_defaults_hold() -> None:
    args = run_parser().parse_args([])
    assert (args.namespaces, args.allowed_hosts, args.kubeconfig) == ([], [], None)
    assert (args.max_concurrent_writes, args.log_format, args.leader_elect) == (8, "text", True)
    assert args.liveness == run_command.DEFAULT_LIVENESS
    assert (args.verbose, args.allow_insecure_http, args.all_namespaces) == (False, False, False)
    again = run_parser().parse_args([])
    assert again.namespaces is not args.namespaces  # no list shared between parses


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("MODELSYNC_MAX_CONCURRENT_WRITES", "0", "'0' must be at least 1"),
        ("MODELSYNC_MAX_CONCURRENT_SYNCS", "many", "'many' is not a number"),
        ("MODELSYNC_SYNC_TIMEOUT", "soon", "soon"),
        ("MODELSYNC_LOG_FORMAT", "xml", "'xml' is not one of 'text', 'json'"),
        ("MODELSYNC_LEADER_ELECT", "maybe", "'maybe' is not true or false"),
        ("MODELSYNC_VERBOSE", "", "'' is not true or false"),
        ("MODELSYNC_LEADER_ELECTION_ID", "Not_A_Name", "is not a valid object name"),
        ("MODELSYNC_METRICS_PORT", "70000", "is not a port number"),
    ],
)
def test_a_bad_variable_is_a_usage_error_naming_it(
    environ: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    says: str,
) -> None:
    environ.setenv(variable, value)
    parser = argparse.ArgumentParser(prog="modelsync run")
    run_command.add_arguments(parser)
    with pytest.raises(SystemExit) as exited:
        parser.parse_args([])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    last = err.splitlines()[-1]
    assert last.startswith("modelsync run: error: argument --")
    assert f"environment variable {variable}: " in last
    assert says in last
    assert last.endswith("(fix or unset it)")
    assert err.startswith("usage: modelsync run")


def test_a_bad_variable_is_ignored_when_the_option_is_given(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("MODELSYNC_MAX_CONCURRENT_WRITES", "0")
    assert run_parser().parse_args(["--max-concurrent-writes", "3"]).max_concurrent_writes == 3


def test_variable_names() -> None:
    assert env_name("--max-concurrent-writes") == "MODELSYNC_MAX_CONCURRENT_WRITES"
    assert env_name("--namespace") == "MODELSYNC_NAMESPACE"


def test_options_without_an_environment_form_are_refused_when_bound() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tag", action="append")  # argparse's append: use environment.Append
    with pytest.raises(TypeError, match="--tag: no environment form"):
        bind_environment(parser)
