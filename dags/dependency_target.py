"""Target: run by `dependency_controller` (no schedule of its own), reads the run's conf.

Its one task checks `dag_run.conf` (`partition_date`, `requested_by`) and returns the
request it acted on; a missing or malformed key fails the task at once, naming the key,
without retries (a retry would read the same conf). Logic: `platform_ops.dependencies`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import dag, get_current_context, task

from platform_ops.alerts import task_failure_alert
from platform_ops.dependencies import TARGET_DAG_ID, TARGET_TASK_ID


@dag(
    dag_id=TARGET_DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    tags=["platform", "dependencies"],
    default_args={
        "owner": "platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": task_failure_alert(),
    },
    doc_md=__doc__,
)
def dependency_target() -> None:
    @task(task_id=TARGET_TASK_ID)
    def process_request() -> dict[str, str]:
        from platform_ops.dependencies import run_target_task

        return run_target_task(get_current_context()["dag_run"].conf)

    process_request()


dependency_target()
