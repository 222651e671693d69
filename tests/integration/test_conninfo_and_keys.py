"""Pure helpers behind the backup: DSN parsing and masking, S3 URLs, the key layout.
(No servers: they sit here beside the integration tests they support.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from platform_ops.backup import ConnInfo, ConnInfoError, LocationError, S3Location
from platform_ops.backup.location import dump_key, parse_dump_key


@pytest.mark.parametrize(
    ("dsn", "params"),
    [
        (
            "postgresql://air%40flow:p%3Ass@db.internal:5433/airflow?sslmode=require",
            {"user": "air@flow", "password": "p:ss", "host": "db.internal", "port": "5433",
             "dbname": "airflow", "sslmode": "require"},
        ),
        ("postgres://u@h1:1,h2:2/d", {"user": "u", "host": "h1,h2", "port": "1,2", "dbname": "d"}),
        ("postgresql://[::1]:5432/d", {"host": "::1", "port": "5432", "dbname": "d"}),
        (
            "host=h port=5 dbname=d user=u password='it''s \\' \\\\ x'",
            None,
        ),
        (
            r"host=h dbname = d password='a \'b\' c'",
            {"host": "h", "dbname": "d", "password": "a 'b' c"},
        ),
    ],
)  # fmt: skip
def test_conninfo_parses_uris_and_keyword_strings_when_well_formed(
    dsn: str, params: dict | None
) -> None:
    if params is None:
        with pytest.raises(ConnInfoError):
            ConnInfo.parse(dsn)
        return
    assert ConnInfo.parse(dsn).params == params


def test_conninfo_never_shows_the_password_when_masked_or_passed_on_argv() -> None:
    conn = ConnInfo.parse("postgresql://u:hunter22@h:5432/d?sslmode=require")

    assert conn.masked() == "postgresql://u:***@h:5432/d?sslmode=require"
    assert "hunter22" not in repr(conn) + str(conn) + conn.libpq_argument()
    assert conn.child_env({})["PGPASSWORD"] == "hunter22"
    assert conn.redact("bad password hunter22!") == "bad password ***!"


def test_conninfo_quotes_values_when_passing_them_to_libpq() -> None:
    conn = ConnInfo.parse("host=h dbname='my db' user=o\\'k")
    argument = conn.libpq_argument()
    assert "dbname='my db'" in argument
    assert ConnInfo.parse(argument).params["dbname"] == "my db"


def test_dump_key_is_dated_in_utc_when_given_any_timezone() -> None:
    when = datetime(2030, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    key = dump_key("backups/", "airflow", when)
    assert key == "backups/airflow/2029/12/31/airflow-20291231T233000Z.dump"
    assert parse_dump_key(key) == ("airflow", datetime(2029, 12, 31, 23, 30, tzinfo=UTC))
    assert parse_dump_key(key + ".partial") is None


def test_dump_key_rejects_database_names_that_would_break_the_layout() -> None:
    with pytest.raises(LocationError, match="cannot be used in a key"):
        dump_key("p", "a/b", datetime.now(UTC))


@pytest.mark.parametrize("url", ["https://b/x", "s3://", "s3://UPPER/x", "s3://a_b/x"])
def test_s3_location_rejects_urls_when_not_an_s3_bucket(url: str) -> None:
    with pytest.raises(LocationError):
        S3Location.parse(url)


def test_s3_location_strips_slashes_when_parsing() -> None:
    assert S3Location.parse("s3://my-bucket/a/b/") == S3Location("my-bucket", "a/b")
