"""The backup task's resolution of its connection and options (no Airflow, no servers)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from platform_ops.backup.backup import DEFAULT_PART_SIZE, MIB
from platform_ops.metadata_backup import (
    BUCKET_VARIABLE,
    BackupConfigError,
    ConnectionFields,
    TaskOptions,
    backup_settings,
    conninfo_from_connection,
    progress_logger,
    resolve_options,
)


def fields(**overrides: Any) -> ConnectionFields:
    values: dict[str, Any] = {
        "conn_id": "metadata_db",
        "conn_type": "postgres",
        "host": "db.internal",
        "port": 5432,
        "login": "backup",
        "password": "p@ss word'\\",
        "schema": "airflow",
        "extra": {"sslmode": "verify-full", "cursor": "realdictcursor"},
    }
    return ConnectionFields(**{**values, **overrides})


def test_connection_maps_schema_to_dbname_and_keeps_only_libpq_extras() -> None:
    conn = conninfo_from_connection(fields())

    assert conn.params == {
        "host": "db.internal",
        "user": "backup",
        "dbname": "airflow",
        "port": "5432",
        "password": "p@ss word'\\",
        "sslmode": "verify-full",
    }


def test_connection_password_survives_the_dsn_round_trip_and_stays_out_of_messages() -> None:
    from platform_ops.backup import ConnInfo

    conn = conninfo_from_connection(fields())

    assert ConnInfo.parse(conn.dsn()).params == conn.params
    assert "p@ss" not in conn.masked()
    assert "p@ss" not in repr(conn)
    assert "p@ss" not in conn.libpq_argument()


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"conn_type": "mysql"}, "needs a Postgres connection"),
        ({"host": None}, "has no host"),
        ({"schema": ""}, "has no schema"),
        ({"extra": {"iam": True}}, "IAM authentication"),
    ],
)
def test_connection_that_cannot_back_up_is_refused_with_the_reason(
    overrides: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(BackupConfigError, match=complaint) as raised:
        conninfo_from_connection(fields(**overrides))
    assert "p@ss" not in str(raised.value)


def lookups(variables: dict[str, str], options: dict[str, str]) -> tuple[Any, Any]:
    return variables.get, options.get


def test_options_prefer_variables_over_config_over_defaults() -> None:
    both = resolve_options(
        *lookups(
            {BUCKET_VARIABLE: "var-bucket", "platform_backup_prefix": "/var/prefix/"},
            {"backup_bucket": "cfg-bucket", "backup_prefix": "cfg"},
        )
    )
    config_only = resolve_options(*lookups({}, {"backup_bucket": "cfg-bucket"}))

    assert both == TaskOptions("var-bucket", "var/prefix", DEFAULT_PART_SIZE)
    assert config_only == TaskOptions("cfg-bucket", "metadata-db", DEFAULT_PART_SIZE)


def test_options_without_a_bucket_name_both_places_to_set_it() -> None:
    with pytest.raises(BackupConfigError, match=r"platform_backup_bucket.*\[platform\] backup_b"):
        resolve_options(*lookups({}, {}))


def test_part_size_variable_in_mib_is_checked_against_s3_limits() -> None:
    options = resolve_options(
        *lookups({BUCKET_VARIABLE: "b", "platform_backup_part_size_mib": "64"}, {})
    )
    assert options.part_size == 64 * MIB
    with pytest.raises(BackupConfigError, match="whole number of MiB"):
        resolve_options(*lookups({BUCKET_VARIABLE: "b", "platform_backup_part_size_mib": "x"}, {}))
    too_small = resolve_options(
        *lookups({BUCKET_VARIABLE: "b", "platform_backup_part_size_mib": "1"}, {})
    )
    with pytest.raises(BackupConfigError, match="outside S3's limits"):
        backup_settings(conninfo_from_connection(fields()), too_small)


def test_settings_take_the_pg_bin_dir_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_PLATFORM_PG_BIN_DIR", "/opt/pg/bin")
    settings = backup_settings(conninfo_from_connection(fields()), TaskOptions("b"))
    assert str(settings.pg_bin_dir) == "/opt/pg/bin"
    assert "p@ss" not in repr(settings)


def test_progress_logs_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    report = progress_logger("airflow", every=100)
    with caplog.at_level(logging.INFO, logger="platform_ops.metadata_backup"):
        for done in (10, 99, 100, 150, 199, 420, 430):
            report(done, None)
    assert len(caplog.records) == 2
