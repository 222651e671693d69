"""The log_cleanup DAG run by the pinned Airflow (`dag.test()`) on a real log tree, archiving
to moto's S3 over HTTP: folders from Airflow's [logging] options, the bucket from
`[platform] log_archive_bucket`, the retention from a Variable, all set the way production
sets them (AIRFLOW__*__* options, AIRFLOW_VAR_* Variables)."""

from __future__ import annotations

import io
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from platform_ops.log_cleanup_task import DEFAULT_ARCHIVE_PREFIX, RETENTION_VARIABLE
from tests.conftest import ROOT
from tests.dags.logtrees import DAY, aged, files
from tests.integration.conftest import SlackSink, assert_bucket_clean

OLD = {  # relative to the base log folder -> days old
    "dag_id=etl/run_id=manual__1/task_id=load/attempt=1.log": 10,
    "dag_id=etl/run_id=manual__1/task_id=load/attempt=2.log": 10,
    "dag_id=etl/run_id=manual__0/task_id=load/attempt=1.log": 12,
    "dag_processor/2026-01-01/team/etl.py.log": 10,
}
YOUNG = {
    "dag_id=etl/run_id=manual__2/task_id=load/attempt=1.log": 0.1,
    "dag_processor/2026-01-02/team/etl.py.log": 1,
}


@pytest.fixture
def log_tree(tmp_path: Path) -> Path:
    now = time.time()
    base = tmp_path / "logs"
    for rel, days in {**OLD, **YOUNG}.items():
        aged(base / rel, days * DAY, now, f"{rel}\n".encode())
    return base


@pytest.fixture
def cleanup_dag(airflow_db: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "log_cleanup.py"))
    assert bag.import_errors == {}
    return bag.get_dag("log_cleanup")


@pytest.fixture
def dag_env(monkeypatch: pytest.MonkeyPatch, log_tree: Path, bucket: str) -> pytest.MonkeyPatch:
    monkeypatch.setenv("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(log_tree))
    monkeypatch.setenv(
        "AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY",
        str(log_tree / "dag_processor"),
    )
    monkeypatch.setenv("AIRFLOW__PLATFORM__LOG_ARCHIVE_BUCKET", bucket)
    monkeypatch.setenv(f"AIRFLOW_VAR_{RETENTION_VARIABLE.upper()}", "7")
    return monkeypatch


def _day(days_ago: float) -> str:
    return datetime.fromtimestamp(time.time() - days_ago * DAY, UTC).strftime("%Y/%m/%d")


def _archives(s3: Any, bucket: str) -> dict[str, set[str]]:
    """Each stored archive's folder/YYYY/MM/DD -> its member names."""
    found = {}
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            folder_day = "/".join(item["Key"].split("/")[1:5])
            assert item["Key"].startswith(f"{DEFAULT_ARCHIVE_PREFIX}/")
            found[folder_day] = set(archive.getnames())
    return found


def test_log_cleanup_dag_archives_then_deletes_the_old_logs_of_both_folders(
    cleanup_dag: Any, dag_env: pytest.MonkeyPatch, log_tree: Path, s3: Any, bucket: str
) -> None:
    run = cleanup_dag.test()

    assert run.state == "success"
    assert set(YOUNG) <= files(log_tree)
    assert not set(OLD) & files(log_tree)
    assert _archives(s3, bucket) == {
        f"logs/{_day(10)}": {k for k, d in OLD.items() if d == 10 and k.startswith("dag_id")},
        f"logs/{_day(12)}": {k for k, d in OLD.items() if d == 12},
        f"dag_processor/{_day(10)}": {"2026-01-01/team/etl.py.log"},
    }
    assert not (log_tree / "dag_id=etl" / "run_id=manual__1").exists()
    assert (log_tree / "dag_processor").is_dir()
    task = run.get_task_instance("clean_local_logs")
    report = task.xcom_pull(task_ids="clean_local_logs")
    assert (report["files_deleted"], report["files_archived"], len(report["archives"])) == (4, 4, 3)
    assert report["folders"] == [str(log_tree), str(log_tree / "dag_processor")]


def test_log_cleanup_dag_dry_run_param_changes_nothing(
    cleanup_dag: Any, dag_env: pytest.MonkeyPatch, log_tree: Path, s3: Any, bucket: str
) -> None:
    before = files(log_tree)

    run = cleanup_dag.test(run_conf={"dry_run": True})

    assert run.state == "success"
    assert files(log_tree) == before
    assert_bucket_clean(s3, bucket)


def test_log_cleanup_dag_fails_alerts_slack_and_keeps_every_file_when_the_bucket_is_missing(
    cleanup_dag: Any, dag_env: pytest.MonkeyPatch, log_tree: Path, slack: SlackSink
) -> None:
    dag_env.setenv("AIRFLOW__PLATFORM__LOG_ARCHIVE_BUCKET", "no-such-log-archive")
    before = files(log_tree)

    for task in cleanup_dag.tasks:  # the failure itself is under test, not the retry delay
        task.retries = 0
    run = cleanup_dag.test()

    assert run.state == "failed"
    assert files(log_tree) == before
    assert len(slack.messages) == 1
    text = slack.messages[0]["json"]["text"]
    assert "log_cleanup.clean_local_logs" in text
    assert "log cleanup met 3 errors" in text
    assert "NoSuchBucket" in text


def test_log_cleanup_dag_fails_naming_the_variable_when_the_retention_is_not_a_number(
    cleanup_dag: Any, dag_env: pytest.MonkeyPatch, log_tree: Path, slack: SlackSink
) -> None:
    dag_env.setenv(f"AIRFLOW_VAR_{RETENTION_VARIABLE.upper()}", "a week")
    before = files(log_tree)

    for task in cleanup_dag.tasks:
        task.retries = 0
    run = cleanup_dag.test()

    assert run.state == "failed"
    assert files(log_tree) == before
    text = slack.messages[0]["json"]["text"]
    assert "Variable 'log_cleanup_retention_days' is 'a week'" in text
