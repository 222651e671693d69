"""Daily logical backup of the platform's PostgreSQL database to S3, verified before it counts.

Which database that is depends on the runtime, and the connection `metadata_db` names it:
on eks stacks it is Airflow's own metadata database (on RDS); on mwaa stacks it is the
DAGs' own database on RDS, not Airflow's metadata, which MWAA keeps in a database of its
own that AWS manages and backs up and that no task can reach.

pg_dump (custom format) streams straight into an S3 multipart upload, is read back and
checked (SHA-256, `pg_restore --list`), and publishes the metrics the backup-freshness alarm
watches (namespace `AirflowPlatform/Backups`, dimensions Stack and Database; the stack comes
from the Airflow option `[platform] stack`, else the Variable `platform_stack`). Beside each
dump it stores `<dump>.manifest.json`: every table's row count and a few tables' checksums,
taken in the snapshot pg_dump dumps, which the weekly `restore_drill` checks a restore
against. The logic is `platform_ops.metadata_backup`; `airflow-platform backup` runs the same.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from platform_ops.alerts import task_failure_alert


@dag(
    dag_id="metadata_backup",
    # After the RDS automated-backup window (02:00-03:00 UTC by default), not inside it.
    schedule="30 3 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    # A platform duty: runs from the first deploy even where new DAGs start paused.
    is_paused_upon_creation=False,
    dagrun_timeout=timedelta(hours=4),
    tags=["platform", "backup"],
    default_args={
        "owner": "platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=10),
        "on_failure_callback": task_failure_alert(),
    },
    doc_md=__doc__,
)
def metadata_backup() -> None:
    # The backup engine (boto3) is imported when the task runs, never when the file is parsed.
    @task(execution_timeout=timedelta(hours=3))
    def backup_to_s3() -> dict:
        from platform_ops.metadata_backup import run_backup_task

        return run_backup_task()

    backup_to_s3()


metadata_backup()
