"""`airflow-platform clean-logs`: exit codes (0 cleaned, 1 errors met, 2 bad input naming what
is wrong), the summary's numbers, --dry-run, and which of flag and variable wins."""

from __future__ import annotations

import errno
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from airflow_platform.cli import app
from platform_ops import log_cleanup
from tests.dags.logtrees import DAY, aged, files, snapshot

runner = CliRunner()
ENV = {
    "COLUMNS": "200",
    "AIRFLOW_PLATFORM_CLEAN_LOGS_OLDER_THAN": None,
    "AIRFLOW_PLATFORM_CLEAN_LOGS_WORKERS": None,
}


def invoke(*args: str, **env: str) -> Any:
    return runner.invoke(app, ["clean-logs", *args], env={**ENV, **env})


def row(output: str, label: str) -> list[str]:
    """The cells after `label` in the summary table."""
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line)]
        if label in cells:
            return [c for c in cells[cells.index(label) + 1 :] if c]
    raise AssertionError(f"no row {label!r} in:\n{output}")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Three files 10 days old (17 bytes in all), one new, in Airflow's layout."""
    now = time.time()
    base = tmp_path / "logs"
    aged(base / "dag_id=a" / "run_id=1" / "task_id=t" / "attempt=1.log", 10 * DAY, now, b"x" * 10)
    aged(base / "dag_id=a" / "run_id=1" / "task_id=t" / "attempt=2.log", 10 * DAY, now, b"y" * 5)
    aged(base / "dag_processor" / "2026-01-01" / "a.py.log", 10 * DAY, now, b"zz")
    aged(base / "dag_id=a" / "run_id=2" / "task_id=t" / "attempt=1.log", 60, now)
    return base


def test_clean_logs_deletes_old_files_and_prints_the_summary(tree: Path) -> None:
    result = invoke(str(tree), "--older-than", "7")

    assert result.exit_code == 0, result.output
    assert files(tree) == {"dag_id=a/run_id=2/task_id=t/attempt=1.log"}
    assert row(result.stdout, "files deleted") == ["3", "17"]
    assert row(result.stdout, "empty directories removed") == ["4"]
    assert row(result.stdout, "kept: younger than the retention") == ["1"]
    assert row(result.stdout, "errors") == ["0"]


def test_dry_run_changes_nothing_and_says_what_would_be_deleted(tree: Path) -> None:
    before = snapshot(tree)

    result = invoke(str(tree), "--older-than", "7", "--dry-run")

    assert result.exit_code == 0, result.output
    assert snapshot(tree) == before
    assert "(dry run)" in result.stdout
    assert row(result.stdout, "files would be deleted") == ["3", "17"]


def test_older_than_comes_from_its_variable_when_the_flag_is_absent(tree: Path) -> None:
    result = invoke(str(tree), AIRFLOW_PLATFORM_CLEAN_LOGS_OLDER_THAN="30")

    assert result.exit_code == 0, result.output
    assert row(result.stdout, "files deleted") == ["0", "0"]


def test_the_older_than_flag_beats_its_variable(tree: Path) -> None:
    result = invoke(str(tree), "--older-than", "7", AIRFLOW_PLATFORM_CLEAN_LOGS_OLDER_THAN="30")

    assert result.exit_code == 0, result.output
    assert row(result.stdout, "files deleted") == ["3", "17"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "0"], "older than 0 days: expected a whole number of days, at least 1"),
        (["--older-than", "-3"], "older than -3 days: expected a whole number of days"),
        (["--older-than", "7", "--archive", "bucket/x"],
         "archive location 'bucket/x' is not s3://<bucket>[/<prefix>]"),
        (["--older-than", "7", "--archive", "s3://No_Such/x"], "is not a valid S3 bucket name"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_naming_what_is_wrong_and_what_is_allowed(
    tree: Path, args: list[str], message: str
) -> None:
    before = snapshot(tree)

    result = invoke(str(tree), *args)

    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert snapshot(tree) == before


def test_a_missing_folder_exits_2_naming_it_and_cleans_nothing(tree: Path) -> None:
    before = snapshot(tree)

    result = invoke(str(tree), str(tree.parent / "nope"), "--older-than", "7")

    assert result.exit_code == 2
    assert f"log folder '{tree.parent / 'nope'}' does not exist" in " ".join(result.stderr.split())
    assert snapshot(tree) == before


def test_workers_out_of_range_exits_2_naming_the_range(tree: Path) -> None:
    result = invoke(str(tree), "--older-than", "7", "--workers", "0")

    assert result.exit_code == 2
    assert "0 workers: expected a whole number from 1 to 64" in result.stderr


def test_without_workers_the_cli_leaves_the_choice_to_the_library(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen: list[Any] = []
    real = log_cleanup.clean_logs

    def spy(options: Any, progress: Any = None) -> Any:
        chosen.append(options.workers)
        return real(options, progress)

    monkeypatch.setattr(log_cleanup, "clean_logs", spy)
    assert invoke(str(tree), "--older-than", "7").exit_code == 0
    assert invoke(str(tree), "--older-than", "7", "--workers", "2").exit_code == 0
    assert (
        invoke(str(tree), "--older-than", "7", AIRFLOW_PLATFORM_CLEAN_LOGS_WORKERS="3").exit_code
        == 0
    )

    assert chosen == [None, 2, 3]


@pytest.mark.parametrize("args", [["--older-than", "seven"], ["--older-than"], []])
def test_a_missing_or_non_numeric_older_than_is_a_usage_error(tree: Path, args: list[str]) -> None:
    result = invoke(str(tree), *args)

    assert result.exit_code == 2
    assert "--older-than" in result.stderr


def test_errors_exit_1_listing_each_path_after_cleaning_the_rest(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_unlink = os.unlink

    def refuse_one(name: str, *, dir_fd: int) -> None:
        if name == "a.py.log":
            raise PermissionError(errno.EACCES, "Permission denied")
        real_unlink(name, dir_fd=dir_fd)

    monkeypatch.setattr(log_cleanup.os, "unlink", refuse_one)
    result = invoke(str(tree), "--older-than", "7")

    assert result.exit_code == 1
    stderr = " ".join(result.stderr.split())
    assert f"{tree.resolve()}/dag_processor/2026-01-01/a.py.log: Permission denied" in stderr
    assert "1 errors while cleaning; everything else was cleaned" in stderr
    assert row(result.stdout, "files deleted") == ["2", "15"]
    assert files(tree) == {
        "dag_id=a/run_id=2/task_id=t/attempt=1.log",
        "dag_processor/2026-01-01/a.py.log",
    }
