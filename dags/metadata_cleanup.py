"""Daily cleanup of Airflow's metadata database: `airflow db clean` of rows older than the
stack's retention, without archive tables.

Airflow 3 tasks cannot reach the metadata database, so on MWAA this runs the command through
the environment's own CLI endpoint, as AWS documents; on eks stacks the Helm chart's
`databaseCleanup` CronJob does the same and this DAG skips. The logic is
`platform_ops.metadata_cleanup`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task

from platform_ops.alerts import task_failure_alert


@dag(
    dag_id="metadata_cleanup",
    # After the 03:30 metadata backup: the rows deleted here are in that night's dump.
    schedule="15 4 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    # A platform duty: runs from the first deploy even where new DAGs start paused.
    is_paused_upon_creation=False,
    dagrun_timeout=timedelta(hours=2),
    tags=["platform", "maintenance"],
    params={"dry_run": Param(False, type="boolean", description="Count, delete nothing.")},
    default_args={
        "owner": "platform",
        "retries": 1,
        "retry_delay": timedelta(minutes=15),
        "on_failure_callback": task_failure_alert(),
    },
    doc_md=__doc__,
)
def metadata_cleanup() -> None:
    @task.short_circuit
    def runs_on_mwaa() -> bool:
        from platform_ops.metadata_cleanup import runs_on_mwaa

        return runs_on_mwaa()

    @task(execution_timeout=timedelta(hours=1))
    def db_clean(params: dict | None = None) -> dict:
        from platform_ops.metadata_cleanup import run_cleanup_task

        return run_cleanup_task(dry_run=bool((params or {}).get("dry_run", False)))

    runs_on_mwaa() >> db_clean()


metadata_cleanup()
