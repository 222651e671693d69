"""Daily cleanup of this worker's local Airflow log files, archived to S3 first when set.

Deletes log files older than the retention (GNU find's `-mtime +N` rule) under the base log
folder and the DAG processor's log folder, then the directories left empty; with an archive
location, each day's expired files go to the log-archive bucket as one tar.gz before they are
deleted. Symlinks are never followed. The logic is `platform_ops.log_cleanup`;
`airflow-platform clean-logs` runs the same. Trigger with `{"dry_run": true}` to see what a
run would delete without changing anything.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, task

from platform_ops.alerts import task_failure_alert


@dag(
    dag_id="log_cleanup",
    # Quiet hours, after the metadata backup (03:30) and cleanup (04:15) have started.
    schedule="45 4 * * *",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    # A platform duty: runs from the first deploy even where new DAGs start paused.
    is_paused_upon_creation=False,
    dagrun_timeout=timedelta(hours=3),
    tags=["platform", "maintenance", "logs"],
    params={
        "dry_run": Param(
            False, type="boolean", description="Report what would be deleted; change nothing."
        ),
    },
    default_args={
        "owner": "platform",
        "retries": 1,
        "retry_delay": timedelta(minutes=15),
        "on_failure_callback": task_failure_alert(),
    },
    doc_md=__doc__,
)
def log_cleanup() -> None:
    @task(execution_timeout=timedelta(hours=2))
    def clean_local_logs(params: dict | None = None) -> dict:
        from platform_ops.log_cleanup_task import run_cleanup_task

        return run_cleanup_task(dry_run=bool((params or {}).get("dry_run", False)))

    clean_local_logs()


log_cleanup()
