"""Flags of `modelsync run` / `modelsync reconcile` and the Kubernetes error mapping (no I/O)."""

from __future__ import annotations

import argparse

import pytest

from modelsync.cli import reconcile as reconcile_command
from modelsync.cli import run as run_command
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
