"""`airflow-platform destroy` and `reap` at the command line: a non-ephemeral stack is
refused, naming its tier, before anything runs; a destroy without --yes off a terminal is
refused; both are registered with their options."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_platform.cli import COMMANDS, main
from airflow_platform.cli.common import EXIT_USAGE


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_destroy_refuses_a_stack_when_its_tier_is_not_ephemeral(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["destroy", stack, "--yes"])

    error = " ".join(capsys.readouterr().err.split())
    assert code == EXIT_USAGE
    assert f"{stack} is a {stack} stack" in error
    assert "pulumi destroy" in error


def test_destroy_needs_yes_when_not_run_from_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)

    code = main(["destroy", "pr-7"])

    assert code == EXIT_USAGE
    assert "pass --yes" in " ".join(capsys.readouterr().err.split())


def test_destroy_and_reap_are_registered_commands() -> None:
    assert {"destroy", "reap"} <= set(COMMANDS)


def test_reap_exits_2_naming_path_when_the_pulumi_cli_is_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `pulumi` here

    code = main(["reap", "--dry-run"])

    assert code == EXIT_USAGE
    assert "is not on PATH" in " ".join(capsys.readouterr().err.split())
