"""`modelsync run --sync-selector` (and MODELSYNC_SYNC_SELECTOR): parsed as a label selector,
refused with the syntax when it is not one; with it, the Lease is the shard's own by default."""

from __future__ import annotations

import argparse

import pytest

from modelsync.api.label_selector import parse
from modelsync.cli import run as run_command
from modelsync.runtime.leader_decision import shard_lease_name


def run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelsync run")
    run_command.add_arguments(parser)
    return parser


def test_no_selector_takes_every_sync_on_the_default_lease(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MODELSYNC_SYNC_SELECTOR", raising=False)
    args = run_parser().parse_args([])
    assert args.sync_selector is None
    election = run_command.leader_election_config(args)
    assert election is not None
    assert election.name == "modelsync-leader"
    # An empty value (e.g. an optional env: entry) is no selector either.
    assert run_parser().parse_args(["--sync-selector", " "]).sync_selector is None


def test_a_selector_gets_its_own_lease_unless_one_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MODELSYNC_SYNC_SELECTOR", raising=False)
    args = run_parser().parse_args(["--sync-selector", "modelsync.dev/shard in (a)"])
    assert str(args.sync_selector) == "modelsync.dev/shard=a"
    election = run_command.leader_election_config(args)
    assert election is not None
    assert election.name == shard_lease_name(parse("modelsync.dev/shard=a"))
    named = run_parser().parse_args(
        ["--sync-selector", "modelsync.dev/shard=a", "--leader-election-id", "shard-a"]
    )
    election = run_command.leader_election_config(named)
    assert election is not None
    assert election.name == "shard-a"


def test_the_environment_variable_sets_the_selector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSYNC_SYNC_SELECTOR", "env notin (dev,test),!legacy")
    assert str(run_parser().parse_args([]).sync_selector) == "env notin (dev,test),!legacy"
    # The command line wins over the variable.
    args = run_parser().parse_args(["--sync-selector", "env=prod"])
    assert str(args.sync_selector) == "env=prod"


@pytest.mark.parametrize("env", [False, True])
def test_a_bad_selector_is_a_usage_error_naming_the_flag_and_the_syntax(
    env: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--sync-selector", "env in prod"]
    if env:
        monkeypatch.setenv("MODELSYNC_SYNC_SELECTOR", "env in prod")
        argv = []
    else:
        monkeypatch.delenv("MODELSYNC_SYNC_SELECTOR", raising=False)
    with pytest.raises(SystemExit) as exited:
        run_parser().parse_args(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--sync-selector" in err
    assert "'env in prod' is not a label selector: found 'prod', expected '('" in err
    assert "key in (v1,v2)" in err
    assert "!key" in err
    if env:
        assert "MODELSYNC_SYNC_SELECTOR" in err
