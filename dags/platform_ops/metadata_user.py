"""Airflow's own login on the RDS metadata database (eks stacks), kept apart from the master
user whose password RDS rotates.

RDS keeps the master password in Secrets Manager and rotates it (every 7 days by default).
A connection string holding it would work until the rotation, then every new connection of
the scheduler, the API server and every task pod would fail at once. So Airflow never uses
it: the stack owns a login of Airflow's (`airflow_app` by default) whose password is a
Pulumi secret only the stack changes, and this module makes the database agree with it.
It runs as a Kubernetes Job at every deploy (before the chart's migration job): it reads the
master credentials from Secrets Manager at that moment, so a rotation in between never
matters, then creates the login or sets its password, and grants it what Airflow's
migrations need. Idempotent: running it twice changes nothing the second time.

Failure modes (docs/eks.md): the job cannot reach the database or read the master secret ->
it fails, the deploy stops before the migration, and the running Airflow keeps its working
password; the stack changes the app password -> the job sets it, then the pods restart with
the new secret: connections opened between the two fail and are retried by Airflow's pool
(pre-ping), so the window is a pod restart, not an outage.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

APP_USER_DEFAULT = "airflow_app"


class MetadataUserError(RuntimeError):
    """The login could not be ensured; the message never holds a password."""


@dataclass(frozen=True)
class MetadataUserSettings:
    """Where the database is, who administers it, and the login Airflow uses."""

    host: str
    port: int
    database: str
    admin_user: str
    admin_password: str
    app_user: str
    app_password: str
    sslmode: str = "require"

    def admin_conninfo(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "dbname": self.database,
            "user": self.admin_user,
            "password": self.admin_password,
            "sslmode": self.sslmode,
        }


def ensure_app_user(settings: MetadataUserSettings) -> str:
    """Create Airflow's login or set its password; grant it the database and its public
    schema. Returns "created" or "updated". Raises MetadataUserError naming the step."""
    import psycopg
    from psycopg import sql

    if settings.app_user == settings.admin_user:
        raise MetadataUserError("the app login must not be the master user: RDS rotates it")
    user = sql.Identifier(settings.app_user)
    # DDL takes no bind parameters; Literal quotes the password, which never reaches a log.
    password = sql.Literal(settings.app_password)
    step = "connecting as the master user"
    try:
        with psycopg.connect(**settings.admin_conninfo(), autocommit=True) as conn:
            step = "looking up the login"
            exists = conn.execute(
                "select 1 from pg_roles where rolname = %s", (settings.app_user,)
            ).fetchone()
            verb = "alter" if exists else "create"
            step = f"{verb[:-1]}ing the login"
            conn.execute(
                sql.SQL("{} role {} with login password {}").format(sql.SQL(verb), user, password)
            )
            step = "granting the database and its public schema"
            conn.execute(
                sql.SQL("grant connect, temporary on database {} to {}").format(
                    sql.Identifier(settings.database), user
                )
            )
            # PostgreSQL 15+ no longer lets every login create in `public`.
            conn.execute(sql.SQL("grant usage, create on schema public to {}").format(user))
            # The master user stays able to manage (and restore) what Airflow owns.
            step = "granting the login to the master user"
            conn.execute(
                sql.SQL("grant {} to {}").format(user, sql.Identifier(settings.admin_user))
            )
    except psycopg.Error as error:
        # psycopg's messages name hosts and roles, never a password given to it.
        raise MetadataUserError(f"{step} failed: {error}".strip()) from None
    return "updated" if exists else "created"


def admin_credentials(secret: Mapping[str, Any] | str) -> tuple[str, str]:
    """(username, password) from the RDS-managed master secret's JSON."""
    data = json.loads(secret) if isinstance(secret, str) else dict(secret)
    try:
        return str(data["username"]), str(data["password"])
    except KeyError as missing:
        raise MetadataUserError(f"the master secret has no {missing} field") from None


def settings_from_environment(environ: Mapping[str, str]) -> MetadataUserSettings:
    """The job's settings: the database from `METADATA_DB_HOST`/`_PORT`/`_NAME`, the master
    secret from `METADATA_MASTER_SECRET_ARN` (read now, from Secrets Manager), the login from
    `METADATA_APP_USER` and `METADATA_APP_PASSWORD` (a Kubernetes secret)."""
    required = (
        "METADATA_DB_HOST",
        "METADATA_DB_NAME",
        "METADATA_MASTER_SECRET_ARN",
        "METADATA_APP_PASSWORD",
    )
    missing = [name for name in required if not environ.get(name)]
    if missing:
        raise MetadataUserError(f"missing environment: {', '.join(missing)}")
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        secret = boto3.client("secretsmanager").get_secret_value(
            SecretId=environ["METADATA_MASTER_SECRET_ARN"]
        )
    except (BotoCoreError, ClientError) as error:
        raise MetadataUserError(f"reading the master secret failed: {error}") from None
    admin_user, admin_password = admin_credentials(secret["SecretString"])
    return MetadataUserSettings(
        host=environ["METADATA_DB_HOST"],
        port=int(environ.get("METADATA_DB_PORT") or 5432),
        database=environ["METADATA_DB_NAME"],
        admin_user=admin_user,
        admin_password=admin_password,
        app_user=environ.get("METADATA_APP_USER") or APP_USER_DEFAULT,
        app_password=environ["METADATA_APP_PASSWORD"],
        sslmode=environ.get("METADATA_DB_SSLMODE") or "require",
    )


def main(environ: Mapping[str, str] | None = None) -> int:
    """The Kubernetes Job's entry point (`python -m platform_ops.metadata_user`)."""
    try:
        settings = settings_from_environment(os.environ if environ is None else environ)
        outcome = ensure_app_user(settings)
    except MetadataUserError as error:
        print(f"metadata user: {error}", file=sys.stderr)
        return 1
    print(f"metadata user: login {settings.app_user} {outcome} on {settings.database}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
