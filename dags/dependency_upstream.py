"""Upstream: daily at 06:00 UTC, the run `dependency_downstream` waits for.

Its one task stands for the work that publishes a day's data and returns the day it
published. Logic: `platform_ops.dependencies`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import dag, get_current_context, task

from platform_ops.alerts import task_failure_alert
from platform_ops.dependencies import UPSTREAM_DAG_ID


@dag(
    dag_id=UPSTREAM_DAG_ID,
    # Five minutes before dependency_downstream ("5 6 * * *"): see its execution_delta.
    schedule="0 6 * * *",
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
def dependency_upstream() -> None:
    @task
    def publish() -> dict[str, str]:
        from platform_ops.dependencies import upstream_summary

        return upstream_summary(get_current_context()["logical_date"])

    publish()


dependency_upstream()
