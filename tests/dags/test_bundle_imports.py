"""Every DAG file in the bundle imports in the pinned Airflow, and the platform's DAGs carry
the settings production needs (owner, retries, a failure alert, tags, no catch-up, one run
at a time)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def bag(dbt_project: Any) -> Any:
    """The repository's DAGs, the dbt DAG's manifest current (`dbt_project`)."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_every_dag_file_imports_without_errors(bag: Any) -> None:
    assert bag.import_errors == {}
    assert "metadata_backup" in bag.dag_ids


def test_the_logic_package_is_not_parsed_as_dags(bag: Any) -> None:
    assert all("platform_ops" not in dag.fileloc for dag in bag.dags.values())


def test_the_backup_dag_is_set_up_for_production(bag: Any) -> None:
    from platform_ops.alerts import SLACK_CONNECTION_ID

    dag = bag.dags["metadata_backup"]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert {"platform", "backup"} <= set(dag.tags)
    for task in dag.tasks:
        assert task.owner == "platform"
        assert task.retries >= 1
        callbacks = task.on_failure_callback
        notifier = callbacks[0] if isinstance(callbacks, list) else callbacks
        assert notifier.slack_webhook_conn_id == SLACK_CONNECTION_ID
        assert task.execution_timeout is not None
