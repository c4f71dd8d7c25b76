"""`modelsync run --webhook-port`: off by default, MODELSYNC_WEBHOOK_PORT, a port shared with
the metrics or the liveness probe is a usage error, a taken port fails before anything starts;
and the webhook's metric."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from test_cli_run_errors import clean_env, kubeconfig_for

from cli_process import modelsync_process
from modelsync.cli import run as run_command
from modelsync.metrics import WEBHOOK_CODES, OperatorMetrics


def parse_run(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    run_command.add_arguments(parser)
    return parser.parse_args(argv)


def test_the_webhook_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELSYNC_WEBHOOK_PORT", raising=False)
    monkeypatch.delenv("MODELSYNC_WEBHOOK_HOST", raising=False)
    args = parse_run([])
    assert args.webhook_port == 0
    assert run_command._webhook_config(args) is None


def test_the_webhook_port_and_host_come_from_flags_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELSYNC_WEBHOOK_PORT", "9443")
    monkeypatch.setenv("MODELSYNC_WEBHOOK_HOST", "127.0.0.1")
    config = run_command._webhook_config(parse_run([]))
    assert config is not None
    assert (config.host, config.port) == ("127.0.0.1", 9443)
    assert parse_run(["--webhook-port", "9000"]).webhook_port == 9000


@pytest.mark.parametrize(
    ("liveness", "metrics", "webhook", "clash"),
    [
        ("http://0.0.0.0:8081/healthz", 8080, 9443, None),
        ("http://0.0.0.0:8081/healthz", 8080, 0, None),
        (
            "http://0.0.0.0:8081/healthz",
            8080,
            8080,
            "--metrics-port 8080 and --webhook-port 8080 use the same port",
        ),
        (
            "http://0.0.0.0:8081/healthz",
            0,
            8081,
            "--liveness http://0.0.0.0:8081/healthz and --webhook-port 8081 use the same port",
        ),
        ("", 8080, 8081, None),
    ],
)
def test_the_webhook_port_must_differ_from_the_others(
    liveness: str, metrics: int, webhook: int, clash: str | None
) -> None:
    found = run_command.endpoint_clash(liveness, metrics, webhook)
    if clash is None:
        assert found is None
    else:
        assert found == f"{clash}; give them different ports"


def test_a_clashing_webhook_port_is_a_usage_error(tmp_path: Path) -> None:
    result = modelsync_process(
        "run", "--webhook-port", "8080", env=clean_env(tmp_path), cwd=tmp_path
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "modelsync run: --metrics-port 8080 and --webhook-port 8080 use the same port; "
        "give them different ports\n"
    )


def test_a_taken_webhook_port_fails_before_anything_starts(tmp_path: Path) -> None:
    kubeconfig = kubeconfig_for("https://127.0.0.1:6443", tmp_path / "kubeconfig")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = modelsync_process(
            "run", "--kubeconfig", str(kubeconfig), "--metrics-port", "0", "--liveness", "",
            "--webhook-host", "127.0.0.1", "--webhook-port", str(port),
            env=clean_env(tmp_path), cwd=tmp_path,
        )  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"modelsync run: cannot serve the webhook on 127.0.0.1:{port}: Address already in use; "
        "free the port or choose another with --webhook-port (0 turns the webhook off)\n"
    )


def test_webhook_answers_are_counted_by_code() -> None:
    metrics = OperatorMetrics()
    text = generate_latest(metrics.registry).decode()
    for code in WEBHOOK_CODES:  # present at 0 from the start
        assert f'modelsync_webhook_requests_total{{code="{code}"}} 0.0' in text
    metrics.webhook_request(401)
    metrics.webhook_request(401)
    metrics.webhook_request(202)
    text = generate_latest(metrics.registry).decode()
    assert 'modelsync_webhook_requests_total{code="401"} 2.0' in text
    assert 'modelsync_webhook_requests_total{code="202"} 1.0' in text
