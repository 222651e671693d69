"""Airflow's own login on the metadata database survives the master password's rotation:
the job reads the master secret from Secrets Manager when it runs (moto's server), creates or
updates the login on a real PostgreSQL, and never prints a password."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import boto3
import psycopg
import pytest

from platform_ops.metadata_user import (
    MetadataUserError,
    MetadataUserSettings,
    admin_credentials,
    ensure_app_user,
    main,
)
from tests.conftest import ROOT
from tests.integration.servers import PASSWORD, SUPERUSER

APP_PASSWORD = "app-Pw-1-never-printed"


@pytest.fixture
def database(pg: Any) -> str:
    name = f"airflow_{uuid.uuid4().hex[:8]}"
    pg.create_database(name)
    return name


@pytest.fixture
def master_secret(moto: Any) -> Any:
    """The RDS-managed master secret, as RDS stores it (JSON with username and password)."""
    client = boto3.client("secretsmanager")
    name = f"rds!db-{uuid.uuid4().hex[:8]}"
    arn = client.create_secret(
        Name=name, SecretString=json.dumps({"username": SUPERUSER, "password": PASSWORD})
    )["ARN"]
    yield client, arn
    client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def _settings(pg: Any, database: str, user: str, password: str) -> MetadataUserSettings:
    return MetadataUserSettings(
        host="127.0.0.1",
        port=pg.port,
        database=database,
        admin_user=SUPERUSER,
        admin_password=PASSWORD,
        app_user=user,
        app_password=password,
        sslmode="disable",
    )


def _as_app(pg: Any, database: str, user: str, password: str) -> psycopg.Connection:
    return psycopg.connect(pg.dsn(database, password=password, user=user), autocommit=True)


def test_the_app_login_is_created_and_can_run_airflows_migrations(pg, database):
    user = f"app_{uuid.uuid4().hex[:6]}"
    assert ensure_app_user(_settings(pg, database, user, APP_PASSWORD)) == "created"
    with _as_app(pg, database, user, APP_PASSWORD) as conn:
        # What a migration does: create tables in public, index them, and use them.
        conn.execute("create table dag_run (id serial primary key, dag_id text)")
        conn.execute("create index on dag_run (dag_id)")
        conn.execute("insert into dag_run (dag_id) values ('x')")
        owner = conn.execute("select tableowner from pg_tables where tablename='dag_run'")
        assert owner.fetchone() == (user,)


def test_airflows_own_migration_runs_as_the_app_login(pg, database):
    # The real thing the chart's migration job runs, as the login the stack gives Airflow.
    import os
    from pathlib import Path

    user = f"app_{uuid.uuid4().hex[:6]}"
    ensure_app_user(_settings(pg, database, user, APP_PASSWORD))
    url = pg.dsn(database, password=APP_PASSWORD, user=user)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        env={
            **os.environ,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url.replace(
                "postgresql://", "postgresql+psycopg2://"
            ),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert "Database migration done!" in done.stdout + done.stderr, done.stderr[-2000:]
    with _as_app(pg, database, user, APP_PASSWORD) as conn:
        owners = conn.execute("select distinct tableowner from pg_tables where schemaname='public'")
        assert owners.fetchall() == [(user,)]


def test_running_again_with_a_new_password_updates_it_and_keeps_the_data(pg, database):
    user = f"app_{uuid.uuid4().hex[:6]}"
    ensure_app_user(_settings(pg, database, user, APP_PASSWORD))
    with _as_app(pg, database, user, APP_PASSWORD) as conn:
        conn.execute("create table kept (x int)")
        conn.execute("insert into kept values (1)")
    assert ensure_app_user(_settings(pg, database, user, "new-Pw-2")) == "updated"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _as_app(pg, database, user, APP_PASSWORD).close()
    with _as_app(pg, database, user, "new-Pw-2") as conn:
        assert conn.execute("select x from kept").fetchall() == [(1,)]
    # Idempotent: the same password again changes nothing that matters.
    assert ensure_app_user(_settings(pg, database, user, "new-Pw-2")) == "updated"


def test_the_app_login_keeps_working_when_the_master_password_rotates(pg, database, master_secret):
    client, arn = master_secret
    user = f"app_{uuid.uuid4().hex[:6]}"
    environ = {
        "METADATA_DB_HOST": "127.0.0.1",
        "METADATA_DB_PORT": str(pg.port),
        "METADATA_DB_NAME": database,
        "METADATA_DB_SSLMODE": "disable",
        "METADATA_MASTER_SECRET_ARN": arn,
        "METADATA_APP_USER": user,
        "METADATA_APP_PASSWORD": APP_PASSWORD,
    }
    assert main(environ) == 0
    app = _as_app(pg, database, user, APP_PASSWORD)
    rotated = "rotated-Pw-3"
    try:
        # RDS rotates the master password: the database and the secret change together.
        with pg.connect(autocommit=True) as admin:
            admin.execute(f"alter role {SUPERUSER} password '{rotated}'")
        client.put_secret_value(
            SecretId=arn, SecretString=json.dumps({"username": SUPERUSER, "password": rotated})
        )
        # Airflow's open connection and new ones are untouched by the rotation...
        assert app.execute("select 1").fetchone() == (1,)
        with _as_app(pg, database, user, APP_PASSWORD) as fresh:
            assert fresh.execute("select current_user").fetchone() == (user,)
        # ...and the next deploy's job reads the rotated master password and still works.
        assert main(environ) == 0
    finally:
        app.close()
        with psycopg.connect(pg.dsn(password=rotated), autocommit=True) as admin:
            admin.execute(f"alter role {SUPERUSER} password '{PASSWORD}'")


def test_the_job_fails_naming_the_step_and_prints_no_password(pg, database, master_secret):
    _, arn = master_secret
    environ = {
        "METADATA_DB_HOST": "127.0.0.1",
        "METADATA_DB_PORT": str(pg.port),
        "METADATA_DB_NAME": f"{database}_missing",
        "METADATA_DB_SSLMODE": "disable",
        "METADATA_MASTER_SECRET_ARN": arn,
        "METADATA_APP_PASSWORD": APP_PASSWORD,
    }
    done = subprocess.run(
        [sys.executable, "-m", "platform_ops.metadata_user"],
        env={**_aws_environment(), **environ},
        cwd=ROOT / "dags",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "connecting as the master user failed" in done.stderr
    assert APP_PASSWORD not in done.stdout + done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def _aws_environment() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k.startswith("AWS_") or k == "PATH"}


def test_the_master_user_is_never_the_app_login(pg, database):
    with pytest.raises(MetadataUserError, match="must not be the master user"):
        ensure_app_user(_settings(pg, database, SUPERUSER, APP_PASSWORD))


def test_missing_environment_is_named():
    assert main({"METADATA_DB_HOST": "db"}) == 1


def test_admin_credentials_come_from_the_rds_secret_json():
    assert admin_credentials('{"username": "u", "password": "p"}') == ("u", "p")
    with pytest.raises(MetadataUserError, match="no 'password' field"):
        admin_credentials({"username": "u"})
