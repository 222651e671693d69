"""The backup DAG's task: resolve the connection and settings, then `run_backup`.

Where things come from (first found wins):

* the database: the Airflow connection `conn_id` (default `metadata_db`), resolved through
  the configured secrets backend (AWS Secrets Manager in production) or `AIRFLOW_CONN_*`;
* the bucket: the Variable `platform_backup_bucket`, else the Airflow option
  `[platform] backup_bucket` (the runtime components set it from the Storage component's
  backup bucket); no default, a backup with nowhere to go fails before it starts;
* the prefix: the Variable `platform_backup_prefix`, else `[platform] backup_prefix`,
  else `metadata-db`;
* the part size (MiB): the Variable `platform_backup_part_size_mib`, else 16;
* the tables whose checksum the manifest records: the Variable
  `platform_backup_checksum_tables` (comma-separated, `table` or `schema.table`), else
  Airflow's `dag`, `dag_run`, `slot_pool`, `variable` (those that exist);
* the stack, the metrics' `Stack` dimension: the Airflow option `[platform] stack` (the
  infrastructure sets it), else the Variable `platform_stack`; with neither the task fails,
  since metrics without it would mix with another stack's in the same account.

Airflow is imported inside the functions that need it, so the module imports (and its
unit tests run) without an Airflow installation.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_ops.backup import DEFAULT_PREFIX, BackupResult, BackupSettings, ConnInfo, run_backup
from platform_ops.backup.backup import DEFAULT_PART_SIZE, MIB
from platform_ops.backup.fingerprint import DEFAULT_CHECKSUM_TABLES

log = logging.getLogger(__name__)

DEFAULT_CONNECTION_ID = "metadata_db"
BUCKET_VARIABLE = "platform_backup_bucket"
PREFIX_VARIABLE = "platform_backup_prefix"
PART_SIZE_VARIABLE = "platform_backup_part_size_mib"
CHECKSUM_TABLES_VARIABLE = "platform_backup_checksum_tables"
STACK_VARIABLE = "platform_stack"
CONFIG_SECTION = "platform"
STACK_OPTION = "stack"
PG_BIN_DIR_ENV = "AIRFLOW_PLATFORM_PG_BIN_DIR"
LOG_EVERY_BYTES = 256 * MIB
# libpq parameters an Airflow Postgres connection's extra may carry through to pg_dump.
LIBPQ_EXTRA_KEYS = frozenset(
    {
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslcrl",
        "connect_timeout",
        "application_name",
        "target_session_attrs",
        "options",
        "keepalives",
        "keepalives_idle",
    }
)


class BackupConfigError(ValueError):
    """The task's connection or settings cannot make a backup (nothing was started)."""


@dataclass(frozen=True)
class ConnectionFields:
    """The parts of an Airflow connection a libpq client needs."""

    conn_id: str
    conn_type: str | None
    host: str | None
    port: int | None
    login: str | None
    password: str | None
    schema: str | None
    extra: Mapping[str, Any]

    @classmethod
    def of(cls, connection: Any) -> ConnectionFields:
        """From an `airflow.sdk.Connection` (or anything with the same attributes)."""
        return cls(
            conn_id=connection.conn_id,
            conn_type=connection.conn_type,
            host=connection.host,
            port=connection.port,
            login=connection.login,
            password=connection.password,
            schema=connection.schema,
            extra=connection.extra_dejson or {},
        )


def conninfo_from_connection(fields: ConnectionFields) -> ConnInfo:
    """libpq parameters for an Airflow Postgres connection (the database is its `schema`)."""
    if fields.conn_type not in {"postgres", "postgresql"}:
        raise BackupConfigError(
            f"connection {fields.conn_id!r} has type {fields.conn_type!r}; a backup needs a "
            "Postgres connection (conn_type 'postgres')"
        )
    if fields.extra.get("iam"):
        raise BackupConfigError(
            f"connection {fields.conn_id!r} uses IAM authentication, which pg_dump cannot: "
            "give it a login and password (the Secrets Manager secret RDS manages)"
        )
    missing = [name for name in ("host", "login", "schema") if not getattr(fields, name)]
    if missing:
        raise BackupConfigError(
            f"connection {fields.conn_id!r} has no {', '.join(missing)}; a backup needs the "
            "host, the login and the database (the connection's schema)"
        )
    params = {"host": str(fields.host), "user": str(fields.login), "dbname": str(fields.schema)}
    if fields.port:
        params["port"] = str(fields.port)
    if fields.password:
        params["password"] = fields.password
    params.update({k: str(v) for k, v in fields.extra.items() if k in LIBPQ_EXTRA_KEYS})
    return ConnInfo(params)


@dataclass(frozen=True)
class TaskOptions:
    """Where the backup goes, once resolved."""

    bucket: str
    prefix: str = DEFAULT_PREFIX
    part_size: int = DEFAULT_PART_SIZE
    checksum_tables: tuple[str, ...] = DEFAULT_CHECKSUM_TABLES


Lookup = Callable[[str], str | None]


def resolve_stack(option: Lookup, variable: Lookup) -> str:
    """The stack's name: the option `[platform] stack` (`option(key)`), else the Variable
    `platform_stack` (`variable(name)`); `BackupConfigError` naming both when neither is set."""
    stack = (option(STACK_OPTION) or "").strip() or (variable(STACK_VARIABLE) or "").strip()
    if not stack:
        raise BackupConfigError(
            f"no stack name for the backup metrics' Stack dimension: set the Airflow option "
            f"[{CONFIG_SECTION}] {STACK_OPTION} (the infrastructure sets it) or the Variable "
            f"{STACK_VARIABLE!r}"
        )
    return stack


def resolve_options(variable: Lookup, option: Lookup) -> TaskOptions:
    """Bucket, prefix, part size and checksummed tables from Variables (`variable(name)`)
    over Airflow config options (`option(key)` in the `[platform]` section), over the
    defaults."""
    bucket = variable(BUCKET_VARIABLE) or option("backup_bucket")
    if not bucket:
        raise BackupConfigError(
            f"no backup bucket: set the Variable {BUCKET_VARIABLE!r} or the Airflow option "
            f"[{CONFIG_SECTION}] backup_bucket (the stack sets it to its backup bucket)"
        )
    prefix = variable(PREFIX_VARIABLE) or option("backup_prefix") or DEFAULT_PREFIX
    part_size_text = variable(PART_SIZE_VARIABLE)
    part_size = DEFAULT_PART_SIZE
    if part_size_text:
        try:
            part_size = int(part_size_text) * MIB
        except ValueError:
            raise BackupConfigError(
                f"Variable {PART_SIZE_VARIABLE!r} is {part_size_text!r}; expected a whole "
                "number of MiB from 5 to 5120"
            ) from None
    tables_text = variable(CHECKSUM_TABLES_VARIABLE)
    checksum_tables = DEFAULT_CHECKSUM_TABLES
    if tables_text is not None:
        checksum_tables = tuple(t.strip() for t in tables_text.split(",") if t.strip())
    return TaskOptions(
        bucket=bucket.strip(),
        prefix=prefix.strip("/ "),
        part_size=part_size,
        checksum_tables=checksum_tables,
    )


def pg_bin_dir() -> Path | None:
    """`AIRFLOW_PLATFORM_PG_BIN_DIR`, else None (the PostgreSQL client from PATH)."""
    value = os.environ.get(PG_BIN_DIR_ENV)
    return Path(value) if value else None


def backup_settings(
    conn: ConnInfo, options: TaskOptions, stack: str | None = None
) -> BackupSettings:
    """The `BackupSettings` the task runs (pg_dump from PATH or `AIRFLOW_PLATFORM_PG_BIN_DIR`)."""
    try:
        return BackupSettings(
            dsn=conn.dsn(),
            bucket=options.bucket,
            prefix=options.prefix,
            part_size=options.part_size,
            pg_bin_dir=pg_bin_dir(),
            stack=stack,
            checksum_tables=options.checksum_tables,
        )
    except ValueError as error:
        raise BackupConfigError(str(error)) from None


def progress_logger(database: str, every: int = LOG_EVERY_BYTES) -> Callable[[int, Any], None]:
    """A `run_backup` progress callback that logs one line per `every` bytes dumped."""
    state = {"next": every}

    def report(done: int, _total: Any) -> None:
        if done >= state["next"]:
            log.info("dumped %.0f MiB of %s so far", done / MIB, database)
            state["next"] = (done // every + 1) * every

    return report


def summary(result: BackupResult) -> dict[str, Any]:
    """What the task returns (its XCom): enough to find and check the dump."""
    return {
        "url": result.url,
        "manifest": f"s3://{result.bucket}/{result.manifest_key}",
        "tables": len(result.fingerprint.rows) if result.fingerprint else None,
        "version_id": result.version_id,
        "database": result.database,
        "bytes": result.size,
        "sha256": result.sha256,
        "parts": result.parts,
        "duration_seconds": round(result.duration_seconds, 3),
    }


def airflow_lookups() -> tuple[Lookup, Lookup]:
    """(Variable lookup, `[platform]` option lookup) through the Airflow SDK."""
    from airflow.sdk import Variable, conf

    return (
        lambda name: Variable.get(name, default=None),
        lambda key: conf.get(CONFIG_SECTION, key, fallback=None),
    )


def airflow_connection(conn_id: str) -> ConnInfo:
    """The libpq parameters of the Airflow connection `conn_id`."""
    from airflow.sdk import Connection

    return conninfo_from_connection(ConnectionFields.of(Connection.get(conn_id)))


def run_backup_task(conn_id: str = DEFAULT_CONNECTION_ID) -> dict[str, Any]:
    """The backup DAG's task body: resolve the Airflow connection and options, back up."""
    variable, option = airflow_lookups()
    stack = resolve_stack(option, variable)
    conn = airflow_connection(conn_id)
    options = resolve_options(variable, option)
    settings = backup_settings(conn, options, stack)
    log.info("backing up %s to s3://%s/%s/", conn.masked(), options.bucket, options.prefix)
    result = run_backup(settings, progress=progress_logger(conn.database))
    log.info(
        "stored %s: %d bytes in %d parts, sha256 %s, %.1f s",
        result.url, result.size, result.parts, result.sha256, result.duration_seconds,
    )  # fmt: skip
    return summary(result)
