"""The dbt project (`dbt/`) built for real: the pinned dbt from `.venv-dbt` (the Makefile builds
it from dbt/requirements.txt) against the session's embedded PostgreSQL, through the
repository's env-var-only `dbt/profiles.yml`.

One database per module, built once: `dbt build` on a fresh database, then the next export of
the changing seed (`dbt/fixtures/customer_status_changed.csv`) copied over
`seeds/customer_status.csv` and `dbt build` again, as the next scheduled run would see it. The
tests read what those two runs left; the bad-data tests break one raw row and put it back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import ROOT
from tests.integration.servers import PASSWORD, SUPERUSER, PgServer

DBT = ROOT / ".venv-dbt" / "bin" / "dbt"
PROJECT = ROOT / "dbt"
SCHEMA = "analytics"
RAW, SNAPSHOTS = f"{SCHEMA}_raw", f"{SCHEMA}_snapshots"
# The customers whose status the second export changes, with the new status and its updated_at.
CHANGED = {
    2: ("active", "churned"),
    4: ("prospect", "active"),
    8: ("active", "suspended"),
}
CHANGED_AT = datetime(2026, 2, 1, 9, 0)


@dataclass(frozen=True)
class Dbt:
    """A copy of the project wired to one database; `run` invokes the pinned dbt in it."""

    project: Path
    env: dict[str, str]
    dsn: str

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(DBT), *args],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def results(self) -> dict[str, str]:
        """{unique_id: status} of the last invocation (target/run_results.json)."""
        data = json.loads((self.project / "target" / "run_results.json").read_text())
        return {result["unique_id"]: result["status"] for result in data["results"]}

    def manifest_nodes(self, resource_type: str) -> set[str]:
        return set(self._nodes(resource_type))

    def generic_tests(self) -> dict[str, str]:
        """{test name: generic test it instantiates (unique, not_null...)}."""
        tests = self._nodes("test")
        return {
            n["name"]: n["test_metadata"]["name"] for n in tests.values() if n.get("test_metadata")
        }

    def singular_tests(self) -> set[str]:
        return {n["name"] for n in self._nodes("test").values() if not n.get("test_metadata")}

    def _nodes(self, resource_type: str) -> dict[str, Any]:
        data = json.loads((self.project / "target" / "manifest.json").read_text())
        return {uid: n for uid, n in data["nodes"].items() if n["resource_type"] == resource_type}

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return conn.execute(sql).fetchall()  # type: ignore[arg-type]

    def execute(self, sql: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Built:
    """The module's database after both runs, with what each run reported."""

    dbt: Dbt
    first: subprocess.CompletedProcess[str]
    first_results: dict[str, str]
    history_after_first: list[tuple[Any, ...]]
    second: subprocess.CompletedProcess[str]
    second_results: dict[str, str]


def _output(done: subprocess.CompletedProcess[str]) -> str:
    return f"dbt exited {done.returncode}:\n{done.stdout}\n{done.stderr}"


def _history(dbt: Dbt) -> list[tuple[Any, ...]]:
    return dbt.query(
        "select customer_id, status, dbt_valid_from, dbt_valid_to "
        f"from {SNAPSHOTS}.customer_status_history order by customer_id, dbt_valid_from"
    )


@pytest.fixture(scope="module")
def built(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Built:
    if not DBT.exists():
        pytest.fail(f"{DBT} is missing: `make test` builds it (make .venv-dbt/.installed-dbt)")
    home = tmp_path_factory.mktemp("dbt")
    project = home / "project"
    shutil.copytree(
        PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    database = "dbt_elt"
    dsn = pg.create_database(database)
    # Only what dbt needs: nothing of this machine's DBT_* or ~/.dbt reaches the runs.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "DBT_PROFILES_DIR": str(project),
        "DBT_HOST": "127.0.0.1",
        "DBT_PORT": str(pg.port),
        "DBT_USER": SUPERUSER,
        "DBT_ENV_SECRET_PASSWORD": PASSWORD,
        "DBT_DBNAME": database,
        "DBT_SCHEMA": SCHEMA,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    dbt = Dbt(project, env, dsn)

    first = dbt.run("build")
    first_results = dbt.results() if first.returncode == 0 else {}
    history = _history(dbt) if first.returncode == 0 else []
    shutil.copyfile(
        project / "fixtures" / "customer_status_changed.csv",
        project / "seeds" / "customer_status.csv",
    )
    second = dbt.run("build")
    second_results = dbt.results() if second.returncode == 0 else {}
    return Built(dbt, first, first_results, history, second, second_results)


def test_dbt_build_loads_every_seed_and_builds_every_model_and_snapshot_with_every_test_passing_when_the_database_is_fresh(  # noqa: E501
    built: Built,
) -> None:
    assert built.first.returncode == 0, _output(built.first)
    dbt = built.dbt
    expected = {
        "seed": {f"seed.platform_elt.{n}" for n in
                 ("raw_customers", "raw_orders", "raw_payments", "customer_status")},
        "model": {f"model.platform_elt.{n}" for n in
                  ("stg_customers", "stg_orders", "stg_payments", "orders", "customer_orders")},
        "snapshot": {"snapshot.platform_elt.customer_status_history"},
    }  # fmt: skip
    for resource_type, names in expected.items():
        assert dbt.manifest_nodes(resource_type) == names, resource_type
    tests = dbt.manifest_nodes("test")
    executed = set(built.first_results)
    assert set().union(*expected.values()) | tests == executed, "dbt build skipped a node"
    statuses = {built.first_results[uid] for uid in executed}
    assert statuses <= {"success", "pass"}, built.first_results
    # Generic tests of each built-in kind and the singular ones all ran.
    assert set(dbt.generic_tests().values()) == {
        "unique",
        "not_null",
        "relationships",
        "accepted_values",
    }
    singular = dbt.singular_tests()
    assert singular == {
        "assert_order_amount_equals_payments",
        "assert_no_negative_payments",
        "assert_one_open_snapshot_row_per_customer",
    }


def test_the_marts_hold_one_row_per_order_and_customer_with_every_payment_counted(
    built: Built,
) -> None:
    assert built.second.returncode == 0, _output(built.second)
    [(orders, paid)] = built.dbt.query(f"select count(*), sum(amount) from {SCHEMA}.orders")
    [(raw_orders, raw_cents)] = built.dbt.query(
        f"select (select count(*) from {RAW}.raw_orders), sum(amount) from {RAW}.raw_payments"
    )
    assert orders == raw_orders == 15
    assert paid * 100 == raw_cents
    rows = built.dbt.query(
        f"select customer_id, number_of_orders, lifetime_value from {SCHEMA}.customer_orders "
        "where customer_id in (1, 4) order by customer_id"
    )
    # Customer 1: orders 1, 5 and 10 (10.00 + 17.00 + 26.00); customer 4 has none.
    assert [(c, n, float(v)) for c, n, v in rows] == [(1, 3, 53.0), (4, 0, 0.0)]


def test_the_snapshot_keeps_one_open_row_per_customer_when_the_status_seed_is_first_loaded(
    built: Built,
) -> None:
    history = built.history_after_first
    assert len(history) == 10
    assert all(valid_to is None for *_, valid_to in history)
    assert {(c, s) for c, s, *_ in history if c in CHANGED} == {
        (c, old) for c, (old, _) in CHANGED.items()
    }


def test_the_snapshot_closes_the_old_row_and_opens_a_new_one_when_a_customers_status_changes(
    built: Built,
) -> None:
    assert built.second.returncode == 0, _output(built.second)
    assert set(built.second_results.values()) <= {"success", "pass"}, built.second_results
    history = _history(built.dbt)
    by_customer: dict[int, list[tuple[Any, ...]]] = {}
    for row in history:
        by_customer.setdefault(row[0], []).append(row)
    assert len(history) == 10 + len(CHANGED)
    for customer, (old, new) in CHANGED.items():
        closed, current = by_customer[customer]
        assert closed[1] == old
        assert closed[3] == CHANGED_AT, f"customer {customer}: old row not closed at the change"
        assert current[1] == new
        assert current[2] == CHANGED_AT
        assert current[3] is None, f"customer {customer}: new row not open"
    unchanged = [rows for c, rows in by_customer.items() if c not in CHANGED]
    assert all(len(rows) == 1 and rows[0][3] is None for rows in unchanged)
    # The mart reads the open rows: it shows the new statuses.
    statuses = dict(built.dbt.query(f"select customer_id, status from {SCHEMA}.customer_orders"))
    assert {c: statuses[c] for c in CHANGED} == {c: new for c, (_, new) in CHANGED.items()}


@pytest.mark.parametrize(
    ("bad_row", "undo", "select", "failing"),
    [
        pytest.param(
            f"insert into {RAW}.raw_customers values (1, 'Mike', 'Perez', 'mike@example.com')",
            f"delete from {RAW}.raw_customers where email = 'mike@example.com'",
            "stg_customers",
            "unique_stg_customers_customer_id",
            id="duplicate_customer_id",
        ),
        pytest.param(
            f"insert into {RAW}.raw_payments values (99, 1, 'credit_card', -500)",
            f"delete from {RAW}.raw_payments where id = 99",
            "stg_payments",
            "assert_no_negative_payments",
            id="negative_payment",
        ),
    ],
)
def test_dbt_test_fails_naming_the_data_test_when_the_raw_data_breaks_it(
    built: Built, bad_row: str, undo: str, select: str, failing: str
) -> None:
    assert built.second.returncode == 0, _output(built.second)
    # Staging models are views over the raw tables: a bad raw row reaches them at once.
    built.dbt.execute(bad_row)
    try:
        # Cautious: only tests whose every parent is selected, so the check of the marts (still
        # built from the good rows) does not join in.
        done = built.dbt.run("test", "--select", select, "--indirect-selection", "cautious")
    finally:
        built.dbt.execute(undo)

    assert done.returncode == 1, _output(done)
    failed = {uid.split(".")[2] for uid, s in built.dbt.results().items() if s == "fail"}
    assert failed == {failing}
    assert f"Failure in test {failing}" in done.stdout, done.stdout


def test_dbt_docs_generate_writes_the_site_and_a_catalog_of_every_model(built: Built) -> None:
    done = built.dbt.run("docs", "generate")

    assert done.returncode == 0, _output(done)
    target = built.dbt.project / "target"
    assert (target / "index.html").stat().st_size > 0
    catalog = json.loads((target / "catalog.json").read_text())
    assert built.dbt.manifest_nodes("model") <= set(catalog["nodes"])
    columns = catalog["nodes"]["model.platform_elt.customer_orders"]["columns"]
    assert {"customer_id", "status", "lifetime_value"} <= set(columns)
