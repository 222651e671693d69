"""Weekly restore drill: the newest metadata backup is restored and checked, so a backup is
known to work before the day it is needed.

The drill restores the newest dump of the database the connection `metadata_db` names into
a scratch database on the same server (`restore_drill_<date>_<time>_<hex>`, always dropped
afterwards), then compares every table's row count and a few tables' checksums with the
values the backup recorded in the dump's own snapshot (its `.manifest.json`). Any difference
fails the task, listing each. It publishes `RestoreDrillSuccess` (1 or 0),
`RestoreDrillDurationSeconds` and, on success, `RestoreDrillLastSuccessTimestamp` to the
`AirflowPlatform/Backups` namespace. The login needs CREATEDB. The logic is
`platform_ops.restore_drill`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from platform_ops.alerts import task_failure_alert


@dag(
    dag_id="restore_drill",
    # Sundays, after that night's 03:30 backup and 04:15 cleanup.
    schedule="30 5 * * 0",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    # A platform duty: runs from the first deploy even where new DAGs start paused.
    is_paused_upon_creation=False,
    dagrun_timeout=timedelta(hours=8),
    tags=["platform", "backup"],
    default_args={
        "owner": "platform",
        "retries": 1,
        "retry_delay": timedelta(minutes=30),
        "on_failure_callback": task_failure_alert(),
    },
    doc_md=__doc__,
)
def restore_drill() -> None:
    # The drill (boto3, the backup package) is imported when the task runs, not at parse time.
    @task(execution_timeout=timedelta(hours=6))
    def restore_and_verify() -> dict:
        from platform_ops.restore_drill import run_restore_drill_task

        return run_restore_drill_task()

    restore_and_verify()


restore_drill()
