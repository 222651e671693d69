"""The metadata_cleanup DAG run by the pinned Airflow (`dag.test()`): it asks MWAA's CLI
path (tests/integration/mwaa_cli.py, over TLS on loopback) to run `airflow db clean`, which
the pinned Airflow then runs for real on an Airflow metadata database in the embedded
PostgreSQL. Rows older than the retention go; newer ones stay; a dry run deletes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platform_ops.metadata_cleanup import CleanupOptions, MetadataCleanupError, clean_mwaa_metadata
from tests.conftest import ROOT
from tests.integration.mwaa_cli import MwaaCliServer
from tests.integration.servers import PgServer

ENVIRONMENT = "airflow-test"
RETENTION_DAYS = 30
# (table, recency column, extra columns) of rows db clean judges by age alone.
SEEDED = {
    "log": "insert into log (dttm, event) values (now() - make_interval(days => %s), 'seed')",
    "job": "insert into job (latest_heartbeat, state, job_type) "
    "values (now() - make_interval(days => %s), 'success', 'SchedulerJob')",
    "import_error": "insert into import_error (timestamp, filename, bundle_name, stacktrace) "
    "values (now() - make_interval(days => %s), 'broken.py', 'dags-folder', 'x')",
}
OLD_AGES = (45, 400)  # days: older than the retention
NEW_AGES = (1, 29)  # days: within it


@pytest.fixture(scope="module")
def metadata_db(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An Airflow metadata database on PostgreSQL, migrated by Airflow itself."""
    name = f"airflow_meta_{uuid.uuid4().hex[:8]}"
    pg.create_database(name)
    url = pg.dsn(name).replace("postgresql://", "postgresql+psycopg2://")
    server = MwaaCliServer("unused", url, tmp_path_factory.mktemp("migrate"))
    out, err = server.run_airflow(["db", "migrate"])
    server.server_close()
    assert b"Database migration done!" in out + err, (out + err)[-2000:]
    return name


def seed(pg: PgServer, database: str) -> None:
    with pg.connect(database) as conn:
        for table, insert in SEEDED.items():
            conn.execute(f"delete from {table}")
            for age in OLD_AGES + NEW_AGES:
                conn.execute(insert, (age,))


# The seeded rows only: the CLI itself adds a `log` row (its own audit event) each run.
SEEDED_ONLY = {"log": "event = 'seed'", "job": "job_type = 'SchedulerJob'", "import_error": "true"}


def rows_left(pg: PgServer, database: str) -> dict[str, int]:
    with pg.connect(database) as conn:
        return {
            table: conn.execute(
                f"select count(*) from {table} where {SEEDED_ONLY[table]}"
            ).fetchone()[0]
            for table in SEEDED
        }


@pytest.fixture
def mwaa(
    pg: PgServer, metadata_db: str, moto: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MwaaCliServer]:
    url = pg.dsn(metadata_db).replace("postgresql://", "postgresql+psycopg2://")
    server = MwaaCliServer(ENVIRONMENT, url, tmp_path).start()
    for name, value in server.client_environment().items():
        monkeypatch.setenv(name, value)
    seed(pg, metadata_db)
    yield server
    server.stop()


@pytest.fixture
def cleanup_dag(airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("AIRFLOW__PLATFORM__RUNTIME", "mwaa")
    monkeypatch.setenv("AIRFLOW__PLATFORM__ENVIRONMENT_NAME", ENVIRONMENT)
    monkeypatch.setenv("AIRFLOW__PLATFORM__METADATA_RETENTION_DAYS", str(RETENTION_DAYS))
    bag = DagBag(dag_folder=str(ROOT / "dags" / "metadata_cleanup.py"))
    assert bag.import_errors == {}
    dag = bag.get_dag("metadata_cleanup")
    for task in dag.tasks:  # the outcome is under test, not the retry delay
        task.retries = 0
    return dag


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_cleanup_dag_deletes_rows_older_than_the_retention_and_keeps_newer_ones(
    cleanup_dag: Any, mwaa: MwaaCliServer, pg: PgServer, metadata_db: str
) -> None:
    run = cleanup_dag.test()

    assert run.state == "success", _states(run)
    per_table = len(NEW_AGES)
    assert rows_left(pg, metadata_db) == dict.fromkeys(SEEDED, per_table)
    [command] = mwaa.commands
    assert command.startswith("db clean --clean-before-timestamp ")
    assert "--skip-archive" in command
    with pg.connect(metadata_db) as conn:
        archives = conn.execute(
            "select count(*) from pg_tables where tablename like '\\_airflow\\_deleted\\_\\_%'"
        ).fetchone()[0]
    assert archives == 0, "no archive tables: the database shrinks"


def test_cleanup_dag_dry_run_deletes_nothing(
    cleanup_dag: Any, mwaa: MwaaCliServer, pg: PgServer, metadata_db: str
) -> None:
    run = cleanup_dag.test(run_conf={"dry_run": True})

    assert run.state == "success", _states(run)
    assert rows_left(pg, metadata_db) == dict.fromkeys(SEEDED, len(OLD_AGES) + len(NEW_AGES))
    assert mwaa.commands[-1].endswith("--dry-run")


def test_cleanup_dag_skips_on_eks_where_the_chart_cronjob_cleans(
    cleanup_dag: Any, mwaa: MwaaCliServer, monkeypatch: pytest.MonkeyPatch, pg: PgServer,
    metadata_db: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("AIRFLOW__PLATFORM__RUNTIME", "eks")

    run = cleanup_dag.test()

    assert _states(run) == {"runs_on_mwaa": "success", "db_clean": "skipped"}
    assert mwaa.commands == []
    assert rows_left(pg, metadata_db) == dict.fromkeys(SEEDED, len(OLD_AGES) + len(NEW_AGES))


def test_cleanup_dag_fails_naming_the_environment_when_mwaa_does_not_know_it(
    cleanup_dag: Any, mwaa: MwaaCliServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__PLATFORM__ENVIRONMENT_NAME", "airflow-gone")

    run = cleanup_dag.test()

    assert run.state == "failed"
    assert _states(run)["db_clean"] == "failed"
    with pytest.raises(MetadataCleanupError, match=r"'airflow-gone'.*ResourceNotFound"):
        clean_mwaa_metadata("airflow-gone", CleanupOptions(RETENTION_DAYS))
    assert mwaa.commands == []


def test_cleanup_reports_a_failed_db_clean_with_airflow_s_own_message(
    mwaa: MwaaCliServer, pg: PgServer, metadata_db: str
) -> None:
    with pytest.raises(MetadataCleanupError, match="failed on airflow-test") as failure:
        clean_mwaa_metadata(ENVIRONMENT, CleanupOptions(RETENTION_DAYS, tables=["no_such"]))

    assert "no_such" in str(failure.value)
    assert rows_left(pg, metadata_db) == dict.fromkeys(SEEDED, len(OLD_AGES) + len(NEW_AGES))


def test_cleanup_counts_the_rows_db_clean_reports_per_table(mwaa: MwaaCliServer) -> None:
    result = clean_mwaa_metadata(ENVIRONMENT, CleanupOptions(RETENTION_DAYS, dry_run=True))

    for table in SEEDED:
        assert result.rows[table] == len(OLD_AGES), table
