"""Downstream: at 06:05 UTC, waits for `dependency_upstream`'s 06:00 run, then consumes.

`wait_for_upstream` is an `ExternalTaskSensor` on the upstream's whole run:
`execution_delta` = 5 minutes maps this run's logical date (06:05) to the upstream's
(06:00). In reschedule mode it gives its worker slot back between pokes (every 5 minutes),
fails at once if that upstream run failed, and gives up after 2 hours; a sensor timeout is
final (no retry). Logic: `platform_ops.dependencies`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.providers.standard.sensors.external_task import ExternalTaskSensor
from airflow.sdk import dag, get_current_context, task

from platform_ops.alerts import task_failure_alert
from platform_ops.dependencies import (
    DOWNSTREAM_DAG_ID,
    EXECUTION_DELTA,
    SENSOR_TASK_ID,
    UPSTREAM_DAG_ID,
)


@dag(
    dag_id=DOWNSTREAM_DAG_ID,
    # Five minutes after dependency_upstream ("0 6 * * *"): EXECUTION_DELTA must match.
    schedule="5 6 * * *",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=4),
    tags=["platform", "dependencies"],
    default_args={
        "owner": "platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=10),
        "on_failure_callback": task_failure_alert(),
    },
    doc_md=__doc__,
)
def dependency_downstream() -> None:
    wait_for_upstream = ExternalTaskSensor(
        task_id=SENSOR_TASK_ID,
        external_dag_id=UPSTREAM_DAG_ID,
        external_task_id=None,  # the upstream's whole run, not one of its tasks
        execution_delta=EXECUTION_DELTA,
        allowed_states=["success"],
        failed_states=["failed"],
        mode="reschedule",
        poke_interval=timedelta(minutes=5),
        timeout=timedelta(hours=2),
    )

    @task
    def consume() -> dict[str, str]:
        from platform_ops.dependencies import downstream_summary

        return downstream_summary(get_current_context()["logical_date"])

    wait_for_upstream >> consume()


dependency_downstream()
