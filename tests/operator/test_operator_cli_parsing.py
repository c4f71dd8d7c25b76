"""Flags of `modelsync run` / `modelsync reconcile` and the Kubernetes error mapping (no I/O)."""

from __future__ import annotations

import argparse

import pytest

from modelsync import reconcile_cli, run_cli
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
    run_cli.add_arguments(parser)
    return parser


def test_run_defaults() -> None:
    args = run_parser().parse_args([])
    assert args.namespaces == []
    assert not args.standalone
    assert args.peering is None
    assert (args.max_concurrent_syncs, args.max_concurrent_writes) == (4, 16)
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
            "-n", "ml", "--namespace", "ml-*", "--standalone", "--liveness",
            "http://0.0.0.0:8080/healthz", "--log-format", "json", "--allowed-hosts",
            "https://*.truefoundry.com,http://127.0.0.1:*", "--default-interval", "1m30s",
            "--secret-check-interval", "500ms", "--status-heartbeat", "1h",
            "--max-concurrent-syncs", "2", "--max-concurrent-writes", "32",
        ]
    )  # fmt: skip
    assert args.namespaces == ["ml", "ml-*"]
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
        ["--standalone", "--peering", "default"],
        ["--namespace", "a", "--all-namespaces"],
        ["--log-format", "xml"],
    ],
)
def test_run_rejects_bad_flags(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run_parser().parse_args(argv)
    assert exited.value.code == 2


def test_reconcile_flags() -> None:
    parser = argparse.ArgumentParser()
    reconcile_cli.add_arguments(parser)
    args = parser.parse_args(["prod-models", "-n", "ml-serving", "--wait"])
    assert (args.name, args.namespace, args.wait, args.timeout) == (
        "prod-models",
        "ml-serving",
        True,
        60.0,
    )


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
