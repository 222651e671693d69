"""Daily dbt ELT of `platform_elt` (dbt/, shipped as dags/dbt/), through astronomer-cosmos.

One task per dbt node in dependency order: each seed (`<seed>_seed`), the snapshot
(`<snapshot>_snapshot`) and each model as a group `<model>` of `run` then `test` (its own
tests), plus one task per test that spans several models, after all of them. A failure
points at its model, downstream models do not run, and clearing the failed task reruns only
what failed. After the whole build succeeds, `dbt_docs_to_s3` generates the docs site and
publishes it under `dbt-docs/` of the docs bucket.

The graph comes from the manifest shipped with the project (no dbt at parse time); dbt runs
from its own virtualenv (`PLATFORM_DBT_EXECUTABLE`) against the connection `dwh`. The logic
is `platform_ops.dbt_elt`.

Not named `dbt_*.py`: dbt imports every top-level module of that name it finds on its path as
a plugin (dbt/plugins/manager.py, `PLUGIN_MODULE_PREFIX`), and a DAG folder on a worker's
PYTHONPATH would make every dbt run import this file.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG

from platform_ops.alerts import task_failure_alert
from platform_ops.dbt_elt import dbt_task_group, docs_task

HERE = Path(__file__).resolve().parent

with DAG(
    dag_id="elt_dbt",
    schedule="0 6 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    tags=["dbt", "elt"],
    default_args={
        "owner": "data",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": task_failure_alert(),
    },
    doc_md=__doc__,
):
    dbt_task_group(HERE) >> docs_task(HERE)
