"""Controller: decides on the Variable `mode`, then triggers `dependency_target` and waits.

choose_branch (a `@task.branch`, the TaskFlow form of `BranchPythonOperator`) reads `mode` at
run time: `dev` follows `note_trigger_skipped` and the trigger ends skipped; anything else
(unset means `prod`) follows `trigger_target`, a `TriggerDagRunOperator` that starts
`dependency_target` for the controller's own logical date with a conf naming the day, and
waits for that run to succeed. The wait is deferred to the triggerer, so no worker slot is
held while the target runs; the controller's `dagrun_timeout` bounds it (a deferred trigger
operator has no timeout of its own). Logic: `platform_ops.dependencies`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

from platform_ops.alerts import task_failure_alert
from platform_ops.dependencies import (
    BRANCH_TASK_ID,
    CONTROLLER_DAG_ID,
    MODE_VARIABLE,
    SKIP_TASK_ID,
    TARGET_DAG_ID,
    TRIGGER_LOGICAL_DATE,
    TRIGGER_TASK_ID,
    trigger_conf,
)


@dag(
    dag_id=CONTROLLER_DAG_ID,
    schedule="30 6 * * *",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=3),
    tags=["platform", "dependencies"],
    default_args={
        "owner": "platform",
        "retries": 1,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": task_failure_alert(),
    },
    doc_md=__doc__,
)
def dependency_controller() -> None:
    @task.branch(task_id=BRANCH_TASK_ID)
    def choose_branch() -> str:
        from platform_ops.dependencies import run_branch_task

        return run_branch_task()

    trigger = TriggerDagRunOperator(
        task_id=TRIGGER_TASK_ID,
        trigger_dag_id=TARGET_DAG_ID,
        conf=trigger_conf(),
        logical_date=TRIGGER_LOGICAL_DATE,
        # A re-run of the controller for a day clears and re-runs that day's target run
        # instead of failing on "run already exists" (the run id follows the logical date).
        reset_dag_run=True,
        wait_for_completion=True,
        # Wait in the triggerer (which checks every poke_interval seconds), not in a worker.
        deferrable=True,
        poke_interval=60,
        allowed_states=["success"],
        failed_states=["failed"],
    )

    @task(task_id=SKIP_TASK_ID)
    def note_trigger_skipped() -> str:
        return f"Variable {MODE_VARIABLE!r} is dev: {TARGET_DAG_ID} not triggered"

    choose_branch() >> [trigger, note_trigger_skipped()]


dependency_controller()
