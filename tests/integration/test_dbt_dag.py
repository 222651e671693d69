"""The elt_dbt DAG run by the pinned Airflow (`dag.test()`) with real dbt (the dbt of
.venv-dbt, as PLATFORM_DBT_EXECUTABLE) against the embedded PostgreSQL through the connection
`dwh`, its docs published to moto's S3. The bundle is laid out as it ships (dags/elt_dbt.py
beside dags/dbt/ with the manifest), in a temporary folder whose copy of the project a test
may change (the snapshot's next export, a bad payment)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from platform_ops.dbt_elt import CONNECTION_ID, DBT_EXECUTABLE_ENV, DOCS_BUCKET_VARIABLE
from tests.conftest import DBT_EXECUTABLE, copy_dbt_bundle
from tests.integration.servers import PASSWORD, PgServer

SNAPSHOT = "analytics_snapshots.customer_status_history"
CHANGED_CUSTOMERS = {
    2: ("active", "churned"), 4: ("prospect", "active"), 8: ("active", "suspended")
}  # fmt: skip
"""dbt/fixtures/customer_status_changed.csv against dbt/seeds/customer_status.csv."""


@pytest.fixture
def dbt_bundle(tmp_path: Path, dbt_project: Path) -> Path:
    copy_dbt_bundle(dbt_project, tmp_path / "dags")
    return tmp_path / "dags"


@pytest.fixture
def warehouse(monkeypatch: pytest.MonkeyPatch, pg: PgServer, new_database: Any, bucket: str) -> str:
    """A fresh database behind the connection `dwh`; its name."""
    name = new_database("dwh").rsplit("/", 1)[1]
    connection = {
        "conn_type": "postgres", "host": "127.0.0.1", "port": pg.port, "login": "postgres",
        "password": PASSWORD, "schema": name,
    }  # fmt: skip
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONNECTION_ID.upper()}", json.dumps(connection))
    monkeypatch.setenv(DBT_EXECUTABLE_ENV, str(DBT_EXECUTABLE))
    monkeypatch.setenv("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")  # no call to scarf.sh
    monkeypatch.setenv(f"AIRFLOW_VAR_{DOCS_BUCKET_VARIABLE.upper()}", bucket)
    return name


def load_dag(dags: Path, airflow_db: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dags / "elt_dbt.py"))
    assert bag.import_errors == {}
    dag = bag.get_dag("elt_dbt")
    for task in dag.tasks:  # what fails is under test, not the retry delay
        task.retries = 0
    return dag


def states(run: Any) -> dict[str, str | None]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def rows(pg: PgServer, database: str, sql: str) -> list[tuple[Any, ...]]:
    with pg.connect(database) as conn:
        return conn.execute(sql).fetchall()


def test_dbt_dag_builds_the_project_publishes_its_docs_and_snapshots_a_change_as_type_2_rows(
    dbt_bundle: Path, warehouse: str, pg: PgServer, s3: Any, bucket: str, airflow_db: Path
) -> None:
    dag = load_dag(dbt_bundle, airflow_db)

    first = dag.test(logical_date=datetime.fromisoformat("2026-03-01T06:00:00+00:00"))

    assert first.state == "success", states(first)
    assert set(states(first).values()) == {"success"}
    for seed, table in (("raw_customers", "analytics_raw.raw_customers"),
                        ("raw_orders", "analytics.orders")):  # fmt: skip
        csv_rows = len((dbt_bundle / f"dbt/seeds/{seed}.csv").read_text().strip().splitlines())
        assert rows(pg, warehouse, f"select count(*) from {table}") == [(csv_rows - 1,)], table
    assert rows(pg, warehouse, "select count(*) from analytics.customer_orders")[0][0] > 0
    assert rows(pg, warehouse, f"select count(*), count(dbt_valid_to) from {SNAPSHOT}") == [(10, 0)]
    docs = s3.list_objects_v2(Bucket=bucket, Prefix="dbt-docs/").get("Contents", [])
    assert {o["Key"] for o in docs} == {
        "dbt-docs/index.html", "dbt-docs/catalog.json", "dbt-docs/manifest.json"
    }  # fmt: skip
    catalog = json.loads(s3.get_object(Bucket=bucket, Key="dbt-docs/catalog.json")["Body"].read())
    assert "model.platform_elt.customer_orders" in catalog["nodes"]

    shutil.copy2(
        dbt_bundle / "dbt/fixtures/customer_status_changed.csv",
        dbt_bundle / "dbt/seeds/customer_status.csv",
    )
    second = dag.test(logical_date=datetime.fromisoformat("2026-03-02T06:00:00+00:00"))

    assert second.state == "success", states(second)
    history = rows(
        pg, warehouse,
        f"select customer_id, status, dbt_valid_from, dbt_valid_to from {SNAPSHOT} "
        "order by customer_id, dbt_valid_from",
    )  # fmt: skip
    by_customer: dict[int, list[tuple[Any, ...]]] = {}
    for customer, *row in history:
        by_customer.setdefault(customer, []).append(tuple(row))
    assert len(by_customer) == 10
    for customer, versions in by_customer.items():
        if customer not in CHANGED_CUSTOMERS:
            assert len(versions) == 1, (customer, versions)
            assert versions[0][2] is None, (customer, versions)
            continue
        (old_status, old_from, old_to), (new_status, new_from, new_to) = versions
        assert (old_status, new_status) == CHANGED_CUSTOMERS[customer]
        assert old_to == new_from == datetime(2026, 2, 1, 9, 0), (customer, versions)
        assert old_from < old_to
        assert new_to is None


def test_a_failing_data_test_fails_its_models_test_task_and_leaves_downstream_models_unrun(
    dbt_bundle: Path, warehouse: str, pg: PgServer, airflow_db: Path
) -> None:
    payments = dbt_bundle / "dbt/seeds/raw_payments.csv"
    lines = payments.read_text().strip().splitlines()
    next_id = len(lines)
    payments.write_text("\n".join([*lines, f"{next_id},1,credit_card,-500"]) + "\n")
    dag = load_dag(dbt_bundle, airflow_db)

    run = dag.test(logical_date=datetime.fromisoformat("2026-03-03T06:00:00+00:00"))

    found = states(run)
    assert run.state == "failed"
    assert found["dbt.stg_payments.run"] == "success"
    assert found["dbt.stg_payments.test"] == "failed", found
    for downstream in ("dbt.orders.run", "dbt.customer_orders.run", "dbt_docs_to_s3"):
        assert found[downstream] == "upstream_failed", (downstream, found)
    assert found["dbt.stg_customers.test"] == "success", "unrelated models still build"
    tables = rows(pg, warehouse, "select table_name from information_schema.tables "
                                 "where table_schema = 'analytics'")  # fmt: skip
    assert ("orders",) not in tables
    assert ("customer_orders",) not in tables
