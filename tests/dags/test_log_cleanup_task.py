"""The log_cleanup task's settings (Variables over Airflow options over defaults, each bad
value named) and the DAG's shape in the pinned Airflow."""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from typing import Any

import pytest

from platform_ops.log_cleanup import ArchiveTarget, CleanupReport
from platform_ops.log_cleanup_task import (
    ARCHIVE_VARIABLE,
    DEFAULT_RETENTION_DAYS,
    FOLDERS_VARIABLE,
    RETENTION_VARIABLE,
    LogCleanupConfigError,
    existing_folders,
    failure_message,
    resolve_settings,
)
from tests.conftest import ROOT

AIRFLOW_OPTIONS = {
    ("logging", "base_log_folder"): "/opt/airflow/logs",
    ("logging", "dag_processor_child_process_log_directory"): "/opt/airflow/logs/dag_processor",
}


def resolve(variables: dict[str, str] | None = None, **options: str) -> Any:
    values = dict(AIRFLOW_OPTIONS)
    values.update({tuple(k.split("__")): v for k, v in options.items()})  # type: ignore[misc]
    return resolve_settings(
        lambda name: (variables or {}).get(name), lambda section, key: values.get((section, key))
    )


def test_defaults_are_airflows_two_log_folders_thirty_days_and_no_archive() -> None:
    settings = resolve()

    assert settings.folders == ("/opt/airflow/logs", "/opt/airflow/logs/dag_processor")
    assert settings.older_than_days == DEFAULT_RETENTION_DAYS == 30
    assert settings.archive is None


def test_folders_variable_replaces_the_airflow_options_split_on_commas_and_newlines() -> None:
    settings = resolve({FOLDERS_VARIABLE: "/a, /b\n/c\n\n/a"})

    assert settings.folders == ("/a", "/b", "/c")


def test_no_folder_anywhere_is_an_error_naming_where_to_set_one() -> None:
    with pytest.raises(LogCleanupConfigError, match=FOLDERS_VARIABLE):
        resolve_settings(lambda name: None, lambda section, key: None)


def test_retention_variable_beats_the_platform_option_which_beats_the_default() -> None:
    assert resolve(platform__log_retention_days="14").older_than_days == 14
    both = resolve({RETENTION_VARIABLE: " 3 "}, platform__log_retention_days="14")
    assert both.older_than_days == 3


@pytest.mark.parametrize("value", ["0", "-2", "abc", "1.5", "7 days"])
def test_a_bad_retention_variable_is_refused_naming_the_variable_and_value(value: str) -> None:
    with pytest.raises(LogCleanupConfigError) as raised:
        resolve({RETENTION_VARIABLE: value})

    assert str(raised.value) == (
        f"Variable {RETENTION_VARIABLE!r} is {value!r}; expected a whole number of days, at least 1"
    )


def test_a_bad_retention_option_is_refused_naming_the_option() -> None:
    with pytest.raises(LogCleanupConfigError, match=r"\[platform\] log_retention_days is '0'"):
        resolve(platform__log_retention_days="0")


def test_archive_defaults_to_the_stacks_log_archive_bucket_under_airflow_logs() -> None:
    settings = resolve(platform__log_archive_bucket="airflow-prod-logs-123456789012-eu-west-1")

    assert settings.archive == ArchiveTarget(
        "airflow-prod-logs-123456789012-eu-west-1", "airflow-logs"
    )


def test_archive_variable_beats_the_bucket_option_and_none_turns_archiving_off() -> None:
    chosen = resolve({ARCHIVE_VARIABLE: "s3://other/p/q"}, platform__log_archive_bucket="b-1")
    off = resolve({ARCHIVE_VARIABLE: "None"}, platform__log_archive_bucket="b-1")

    assert chosen.archive == ArchiveTarget("other", "p/q")
    assert off.archive is None


def test_a_bad_archive_variable_is_refused_naming_the_variable() -> None:
    with pytest.raises(LogCleanupConfigError, match=f"Variable {ARCHIVE_VARIABLE!r}: .*Bad_Bucket"):
        resolve({ARCHIVE_VARIABLE: "s3://Bad_Bucket/x"})


def test_a_bad_archive_bucket_option_is_refused_naming_the_option() -> None:
    with pytest.raises(LogCleanupConfigError, match=r"\[platform\] log_archive_bucket"):
        resolve(platform__log_archive_bucket="not a bucket")


def test_missing_folders_are_skipped_with_a_warning_and_none_existing_is_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = str(tmp_path / "dag_processor")
    with caplog.at_level(logging.WARNING):
        assert existing_folders((str(tmp_path), missing)) == (str(tmp_path),)
    assert f"log folder {missing} does not exist on this worker" in caplog.text

    with pytest.raises(LogCleanupConfigError, match="none of the log folders exists"):
        existing_folders((missing,))


def test_failure_message_names_the_first_errors_and_how_many_more() -> None:
    report = CleanupReport(["/l"], 7, "2026-01-01T00:00:00+00:00", False, None)
    for number in range(8):
        report.add_error(f"/l/{number}.log", "Permission denied")

    message = failure_message(report)

    assert message.startswith("log cleanup met 8 errors: /l/0.log: Permission denied; ")
    assert "/l/4.log" in message
    assert "/l/5.log" not in message
    assert message.endswith("; and 3 more (see the task log)")


# --- the DAG -------------------------------------------------------------------------------------

DAG_FILE = ROOT / "dags" / "log_cleanup.py"


@pytest.fixture(scope="module")
def dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags["log_cleanup"]


def test_the_dag_is_set_up_for_production(dag: Any) -> None:
    from platform_ops.alerts import SLACK_CONNECTION_ID

    assert dag.dag_id == DAG_FILE.stem
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert {"platform", "logs"} <= set(dag.tags)
    assert dag.start_date.tzinfo is not None
    assert dag.params["dry_run"] is False
    for task in dag.tasks:
        assert task.owner == "platform"
        assert task.retries >= 1
        callbacks = task.on_failure_callback
        notifier = callbacks[0] if isinstance(callbacks, list) else callbacks
        assert notifier.slack_webhook_conn_id == SLACK_CONNECTION_ID
        assert task.execution_timeout is not None


def test_the_dag_runs_once_a_day_at_a_fixed_utc_time(dag: Any) -> None:
    minute, hour, *days = dag.timetable.expression.split()

    assert days == ["*", "*", "*"]
    assert 0 <= int(minute) < 60
    assert 0 <= int(hour) < 24
    assert str(dag.timezone) == "UTC"


def test_the_dag_file_imports_only_the_sdk_and_platform_ops_at_top_level() -> None:
    tree = ast.parse(DAG_FILE.read_text())
    modules = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }

    assert modules == {"__future__", "datetime", "airflow.sdk", "platform_ops.alerts"}
