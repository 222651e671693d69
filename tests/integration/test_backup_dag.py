"""The metadata_backup DAG run by the pinned Airflow (`dag.test()`), against the embedded
PostgreSQL and moto's S3 over HTTP: the connection comes through Airflow's secrets chain
(an `AIRFLOW_CONN_*` variable), the bucket through a Variable, the stack through the option
`[platform] stack`, and the dump it stores restores to the same data."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from platform_ops.backup import RestoreSettings, S3Location, run_restore
from platform_ops.backup.metrics import NAMESPACE
from platform_ops.metadata_backup import BUCKET_VARIABLE, PREFIX_VARIABLE
from tests.conftest import ROOT
from tests.integration.conftest import Seeded, SlackSink, assert_bucket_clean
from tests.integration.seed import fingerprint
from tests.integration.servers import PASSWORD, PgServer


def _connection_json(pg: PgServer, database: str, password: str = PASSWORD) -> str:
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": "127.0.0.1",
            "port": pg.port,
            "login": "postgres",
            "password": password,
            "schema": database,
            "extra": {"sslmode": "disable"},
        }
    )


@pytest.fixture
def backup_dag(airflow_db: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "metadata_backup.py"))
    assert bag.import_errors == {}
    return bag.get_dag("metadata_backup")


@pytest.fixture
def dag_env(monkeypatch: pytest.MonkeyPatch, pg: PgServer, bucket: str) -> pytest.MonkeyPatch:
    monkeypatch.setenv(f"AIRFLOW_VAR_{BUCKET_VARIABLE.upper()}", bucket)
    monkeypatch.setenv(f"AIRFLOW_VAR_{PREFIX_VARIABLE.upper()}", "dag-backups")
    monkeypatch.setenv("AIRFLOW_PLATFORM_PG_BIN_DIR", str(pg.bin_dir))
    monkeypatch.setenv("AIRFLOW__PLATFORM__STACK", f"test-{uuid.uuid4().hex[:8]}")
    return monkeypatch


def test_backup_dag_stores_a_dump_that_restores_to_the_same_data(
    backup_dag: Any,
    dag_env: pytest.MonkeyPatch,
    pg: PgServer,
    seeded: Seeded,
    new_database: Any,
    s3: Any,
    bucket: str,
) -> None:
    dag_env.setenv("AIRFLOW_CONN_METADATA_DB", _connection_json(pg, seeded.name))

    run = backup_dag.test()

    assert run.state == "success"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
    assert len(keys) == 2
    assert keys[0].startswith(f"dag-backups/{seeded.name}/")
    assert keys[1] == f"{keys[0]}.manifest.json"
    target = new_database("from_dag")
    run_restore(
        RestoreSettings(dsn=target, source=S3Location(bucket, keys[0]), pg_bin_dir=pg.bin_dir)
    )
    with pg.connect(seeded.name) as source, pg.connect(target.rsplit("/", 1)[1]) as restored:
        assert fingerprint(restored) == fingerprint(source)


def test_backup_dag_fails_alerts_slack_and_leaves_nothing_when_the_login_is_wrong(
    backup_dag: Any, dag_env: pytest.MonkeyPatch, pg: PgServer, seeded: Seeded, s3: Any,
    bucket: str, slack: SlackSink,
) -> None:  # fmt: skip
    dag_env.setenv(
        "AIRFLOW_CONN_METADATA_DB", _connection_json(pg, seeded.name, password="wrong-pw-42")
    )

    for task in backup_dag.tasks:  # the failure itself is under test, not the retry delay
        task.retries = 0
    run = backup_dag.test()

    assert run.state == "failed"
    assert_bucket_clean(s3, bucket)
    assert len(slack.messages) == 1, "one alert for the one failed try"
    text = slack.messages[0]["json"]["text"]
    assert "metadata_backup.backup_to_s3" in text
    assert "password authentication failed" in text
    assert "wrong-pw-42" not in text
    assert PASSWORD not in text


def test_backup_dag_publishes_its_metrics_with_the_stack_and_database_dimensions(
    backup_dag: Any, dag_env: pytest.MonkeyPatch, pg: PgServer, seeded: Seeded
) -> None:
    dag_env.setenv("AIRFLOW_CONN_METADATA_DB", _connection_json(pg, seeded.name))
    stack = f"dims-{uuid.uuid4().hex[:8]}"
    dag_env.setenv("AIRFLOW__PLATFORM__STACK", stack)

    assert backup_dag.test().state == "success"

    listed = boto3.client("cloudwatch").list_metrics(
        Namespace=NAMESPACE, Dimensions=[{"Name": "Stack", "Value": stack}]
    )["Metrics"]
    assert {m["MetricName"] for m in listed} == {
        "LastSuccessTimestamp", "SizeBytes", "DurationSeconds"
    }  # fmt: skip
    expected = [{"Name": "Stack", "Value": stack}, {"Name": "Database", "Value": seeded.name}]
    assert all(m["Dimensions"] == expected for m in listed)


def test_backup_dag_fails_before_dumping_naming_both_settings_when_no_stack_is_set(
    backup_dag: Any, dag_env: pytest.MonkeyPatch, pg: PgServer, seeded: Seeded, s3: Any,
    bucket: str, slack: SlackSink,
) -> None:  # fmt: skip
    dag_env.setenv("AIRFLOW_CONN_METADATA_DB", _connection_json(pg, seeded.name))
    dag_env.delenv("AIRFLOW__PLATFORM__STACK")
    dag_env.delenv("AIRFLOW_VAR_PLATFORM_STACK", raising=False)
    for task in backup_dag.tasks:
        task.retries = 0

    run = backup_dag.test()

    assert run.state == "failed"
    assert_bucket_clean(s3, bucket)
    text = slack.messages[0]["json"]["text"]
    assert "[platform] stack" in text
    assert "'platform_stack'" in text
