"""The manifest a backup records and the restore drill that checks it, against the embedded
PostgreSQL and moto's S3 and CloudWatch over HTTP: the recorded counts are the dump's even
under concurrent writes; the drill DAG (`dag.test()`) passes on a good backup and fails,
listing each difference, on a dump whose data is not what was recorded; it publishes
RestoreDrillSuccess 1 or 0 under `[Stack, Database]`; it never leaves a scratch database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import psycopg
import pytest

from platform_ops.backup import RestoreSettings, S3Location, run_backup, run_restore
from platform_ops.backup.errors import RestoreDrillError, RestoreError
from platform_ops.backup.fingerprint import DEFAULT_CHECKSUM_TABLES, TableName
from platform_ops.backup.manifest import Manifest, ManifestError, manifest_key, read_manifest
from platform_ops.backup.metrics import (
    NAMESPACE,
    RESTORE_DRILL_DURATION_SECONDS,
    RESTORE_DRILL_LAST_SUCCESS_TIMESTAMP,
    RESTORE_DRILL_SUCCESS,
)
from platform_ops.metadata_backup import BUCKET_VARIABLE, PREFIX_VARIABLE
from platform_ops.restore_drill import DrillSettings, run_restore_drill, scratch_name
from tests.conftest import ROOT
from tests.integration.conftest import SlackSink
from tests.integration.servers import PASSWORD, PgServer

PREFIX = "backups"
ODD = TableName("Odd schema", 'we"ird.name')
CHECKSUMMED = (*DEFAULT_CHECKSUM_TABLES, str(ODD), "parent")

# An Airflow-like database with the awkward cases a row's text depends on: time zones,
# floats, intervals, bytea, jsonb, NULLs; a table whose name needs quoting and which has a
# column named like the row alias; an inheritance tree; a table with no rows.
SCHEMA = """
create table dag (dag_id text primary key, is_paused boolean, fileloc text,
                  last_parsed_time timestamptz);
create table dag_run (id serial primary key, dag_id text references dag, run_id text,
                      logical_date timestamptz, run_after date, conf jsonb,
                      queued_for interval, weight double precision, note bytea);
create table slot_pool (id serial primary key, pool text unique, slots int, description text);
create table variable (id serial primary key, key text unique, val text, is_encrypted boolean);
create table task_instance (id bigserial primary key, dag_id text, state text);
create schema "Odd schema";
create table "Odd schema"."we""ird.name" (r int, note text);
create table parent (id int, label text);
create table child (extra text) inherits (parent);
"""
ROWS = """
insert into dag select 'dag_' || g, g % 2 = 0, '/dags/f' || g || '.py',
    timestamptz '2026-01-01 12:00+00' + g * interval '1 hour' from generate_series(1, 6) g;
insert into dag_run (dag_id, run_id, logical_date, run_after, conf, queued_for, weight, note)
  select 'dag_' || (1 + g % 6), 'scheduled__' || g,
         timestamptz '2026-01-01 00:00+00' + g * interval '1 day', date '2026-01-01' + g,
         case when g % 3 = 0 then null else jsonb_build_object('g', g, 'x', 1.0 / g) end,
         g * interval '90 seconds', 1.0 / (g + 2), decode(md5(g::text), 'hex')
  from generate_series(1, 400) g;
insert into slot_pool (pool, slots, description)
  values ('default_pool', 128, 'Default pool'), ('backfill', 4, null);
insert into variable (key, val, is_encrypted)
  values ('mode', 'prod', false), ('secret', 'gAAAA...', true), ('empty', '', false);
insert into task_instance (dag_id, state) select 'dag_1', 'success' from generate_series(1, 50);
insert into "Odd schema"."we""ird.name" values (1, 'a'), (2, null), (null, 'tab	here');
insert into parent values (1, 'p1'), (2, 'p2');
insert into child values (3, 'c3', 'x'), (4, 'c4', null), (5, 'c5', 'y');
"""


def _name(dsn: str) -> str:
    return dsn.rsplit("/", 1)[1]


def _scratch_databases(pg: PgServer) -> list[str]:
    with pg.connect() as conn:
        rows = conn.execute(
            "select datname from pg_database where starts_with(datname, 'restore_drill')"
        ).fetchall()
    return sorted(r[0] for r in rows)


@pytest.fixture
def source(pg: PgServer, new_database: Any) -> str:
    """A fresh Airflow-like database whose own settings would change every row's text (the
    scratch copy gets none of them): the fingerprint's pinned settings must win."""
    dsn = new_database("drill_src")
    with pg.connect(_name(dsn)) as conn:
        conn.execute(SCHEMA)
        conn.execute(ROWS)
    with pg.connect(autocommit=True) as conn:
        for setting in (
            "timezone = 'Asia/Kathmandu'",
            "datestyle = 'SQL, DMY'",
            "extra_float_digits = -3",
            "intervalstyle = 'sql_standard'",
            "bytea_output = 'escape'",
        ):
            conn.execute(f'alter database "{_name(dsn)}" set {setting}')
    return dsn


@pytest.fixture
def stack() -> str:
    """A stack of the test's own: moto's CloudWatch is shared by the whole session."""
    return f"drill-{uuid.uuid4().hex[:10]}"


def _backup(settings: Any, dsn: str, stack: str, when: datetime | None = None) -> Any:
    return run_backup(
        settings(dsn, stack=stack, checksum_tables=CHECKSUMMED),
        now=when or datetime.now(UTC) - timedelta(minutes=5),
    )


def _counts(conn: psycopg.Connection[Any]) -> dict[TableName, int]:
    """Every table's own rows, counted independently of the code under test."""
    tables = conn.execute(
        "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid ="
        " c.relnamespace where c.relkind = 'r' and n.nspname not in ('pg_catalog',"
        " 'information_schema') and n.nspname !~ '^pg_'"
    ).fetchall()
    return {
        TableName(s, t): conn.execute(
            f'select count(*) from only "{s.replace(chr(34), chr(34) * 2)}".'
            f'"{t.replace(chr(34), chr(34) * 2)}"'
        ).fetchone()[0]
        for s, t in tables
    }


def _drill_metrics(stack: str) -> dict[str, list[float]]:
    """Every datapoint of the drill's metrics under the stack, by name (Maximum per minute)."""
    cloudwatch = boto3.client("cloudwatch")
    listed = cloudwatch.list_metrics(
        Namespace=NAMESPACE, Dimensions=[{"Name": "Stack", "Value": stack}]
    )["Metrics"]
    now = datetime.now(UTC)
    found = {}
    for metric in listed:
        stats = cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName=metric["MetricName"],
            Dimensions=metric["Dimensions"],
            StartTime=now - timedelta(minutes=30),
            EndTime=now + timedelta(minutes=5),
            Period=60,
            Statistics=["Maximum"],
        )
        found[metric["MetricName"]] = [p["Maximum"] for p in stats["Datapoints"]]
    return found


def _dimensions(stack: str) -> list[list[dict[str, str]]]:
    listed = boto3.client("cloudwatch").list_metrics(
        Namespace=NAMESPACE, Dimensions=[{"Name": "Stack", "Value": stack}]
    )["Metrics"]
    return [m["Dimensions"] for m in listed]


# What the backup records.


def test_backup_manifest_records_every_tables_rows_and_the_chosen_tables_checksums(
    pg: PgServer, source: str, settings: Any, s3: Any, bucket: str, stack: str
) -> None:
    result = _backup(settings, source, stack)

    manifest = read_manifest(s3, bucket, result.key)
    with pg.connect(_name(source)) as conn:
        assert manifest.fingerprint.rows == _counts(conn)
    assert manifest.fingerprint.rows[ODD] == 3
    assert manifest.fingerprint.rows[TableName("public", "parent")] == 2, "its own rows only"
    public = [TableName("public", t) for t in ("dag", "dag_run", "parent", "slot_pool", "variable")]
    # task_instance is not on the list; every listed table that exists is.
    assert sorted(manifest.fingerprint.checksums) == sorted([ODD, *public])
    assert (manifest.sha256, manifest.size) == (result.sha256, result.size)
    assert manifest.database == _name(source)
    assert manifest.settings["TimeZone"] == "UTC"
    assert result.manifest_key == manifest_key(result.key)


def test_backup_manifest_counts_are_the_dumps_while_rows_are_inserted_concurrently(
    pg: PgServer, settings: Any, new_database: Any, s3: Any, bucket: str, stack: str
) -> None:
    from tests.integration.writers import Transfers

    source = new_database("busy_ledger")
    with Transfers(pg, _name(source)) as writes:
        writes.wait_for(50)
        result = _backup(settings, source, stack)
        during = writes.committed
        writes.wait_for(during + 50)
    target = new_database("busy_ledger_restored")
    run_restore(
        RestoreSettings(dsn=target, source=S3Location(bucket, result.key), pg_bin_dir=pg.bin_dir)
    )

    recorded = read_manifest(s3, bucket, result.key).fingerprint.rows
    with pg.connect(_name(target)) as restored, pg.connect(_name(source)) as live:
        dumped, now = _counts(restored), _counts(live)
    a, b = TableName("public", "ledger_a"), TableName("public", "ledger_b")
    assert recorded == dumped, "the counts describe exactly the rows in the dump"
    assert recorded[a] == recorded[b] > Transfers.ACCOUNTS, "taken in one snapshot"
    assert now[a] > recorded[a], "rows kept arriving after the snapshot"


def test_backup_fails_and_leaves_nothing_when_its_manifest_cannot_be_written(
    seeded: Any, settings: Any, clients: Any, s3: Any, bucket: str
) -> None:
    from botocore.awsrequest import AWSResponse

    from platform_ops.backup import BackupError
    from tests.integration.conftest import assert_bucket_clean
    from tests.integration.test_backup_faults import _Raw

    def refuse_manifest(request: Any, **_: Any) -> AWSResponse | None:
        if request.url.split("?")[0].endswith(".manifest.json") and request.method == "PUT":
            body = b"<Error><Code>AccessDenied</Code><Message>injected</Message></Error>"
            return AWSResponse(request.url, 403, {}, _Raw(body))
        return None

    clients.s3.meta.events.register("before-send.s3.PutObject", refuse_manifest)

    with pytest.raises(BackupError) as raised:
        run_backup(settings(seeded.dsn), clients=clients)

    assert "failed while writing the manifest" in str(raised.value)
    assert "Nothing was left in the bucket" in str(raised.value)
    assert_bucket_clean(s3, bucket)


def test_counting_session_holds_off_truncate_but_not_inserts_until_its_counts_are_done(
    pg: PgServer, source: str
) -> None:
    from platform_ops.backup.conninfo import ConnInfo
    from platform_ops.backup.fingerprint import (
        list_tables,
        lock_tables,
        open_fingerprint_session,
        take_fingerprint,
    )

    session = open_fingerprint_session(str(pg.bin_dir / "psql"), ConnInfo.parse(source))
    try:
        tables = list_tables(session)
        lock_tables(session, tables)
        with pg.connect(_name(source), autocommit=True) as other:
            other.execute("set lock_timeout = '300ms'")
            other.execute("insert into variable (key, val) values ('late', 'x')")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("truncate dag_run cascade")
        counted = take_fingerprint(session, [], tables)
    finally:
        session.kill()

    assert counted.rows[TableName("public", "dag_run")] == 400
    assert counted.rows[TableName("public", "variable")] == 3, "the snapshot predates the insert"


# The drill, under dag.test().


def _connection_json(pg: PgServer, database: str, login: str = "postgres",
                     password: str = PASSWORD) -> str:  # fmt: skip
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": "127.0.0.1",
            "port": pg.port,
            "login": login,
            "password": password,
            "schema": database,
            "extra": {"sslmode": "disable"},
        }
    )


@pytest.fixture
def drill_dag(airflow_db: Any) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "restore_drill.py"))
    assert bag.import_errors == {}
    dag = bag.get_dag("restore_drill")
    for task in dag.tasks:  # the outcome of one try is under test, not the retry delay
        task.retries = 0
    return dag


@pytest.fixture
def drill_env(
    monkeypatch: pytest.MonkeyPatch, pg: PgServer, bucket: str, source: str, stack: str
) -> pytest.MonkeyPatch:
    monkeypatch.setenv(f"AIRFLOW_VAR_{BUCKET_VARIABLE.upper()}", bucket)
    monkeypatch.setenv(f"AIRFLOW_VAR_{PREFIX_VARIABLE.upper()}", PREFIX)
    monkeypatch.setenv("AIRFLOW_PLATFORM_PG_BIN_DIR", str(pg.bin_dir))
    monkeypatch.setenv("AIRFLOW__PLATFORM__STACK", stack)
    monkeypatch.setenv("AIRFLOW_CONN_METADATA_DB", _connection_json(pg, _name(source)))
    return monkeypatch


def test_drill_dag_passes_on_a_good_backup_publishes_success_and_drops_its_database(
    drill_dag: Any, drill_env: Any, pg: PgServer, source: str, settings: Any, stack: str
) -> None:
    _backup(settings, source, stack)

    run = drill_dag.test()

    assert run.state == "success"
    assert _scratch_databases(pg) == []
    published = _drill_metrics(stack)
    assert published[RESTORE_DRILL_SUCCESS] == [1.0]
    assert published[RESTORE_DRILL_DURATION_SECONDS][0] > 0
    assert published[RESTORE_DRILL_LAST_SUCCESS_TIMESTAMP][0] == pytest.approx(
        datetime.now(UTC).timestamp(), abs=300
    )
    expected = [{"Name": "Stack", "Value": stack}, {"Name": "Database", "Value": _name(source)}]
    assert all(d == expected for d in _dimensions(stack)), "the source, never the scratch copy"


def test_drill_dag_fails_listing_every_difference_when_the_dump_holds_other_rows_than_recorded(
    drill_dag: Any, drill_env: Any, pg: PgServer, source: str, settings: Any, s3: Any,
    bucket: str, stack: str, slack: SlackSink,
) -> None:  # fmt: skip
    # A backup whose recorded values do not describe its dump: the manifest taken before two
    # changes, the dump (and its verified SHA-256) after them. Restore's own checks pass;
    # only comparing the data can tell.
    before = _backup(settings, source, stack, datetime(2030, 1, 1, tzinfo=UTC))
    with pg.connect(_name(source)) as conn:
        conn.execute("delete from dag_run where id = 7")
        conn.execute("update variable set val = 'dev' where key = 'mode'")
    after = _backup(settings, source, stack, datetime(2030, 1, 2, tzinfo=UTC))
    recorded = read_manifest(s3, bucket, before.key)
    mismatched = Manifest(
        dump_key=after.key, database=recorded.database, sha256=after.sha256, size=after.size,
        taken_at=recorded.taken_at, server_version=recorded.server_version,
        fingerprint=recorded.fingerprint,
    )  # fmt: skip
    s3.put_object(Bucket=bucket, Key=manifest_key(after.key), Body=mismatched.to_json())

    run = drill_dag.test()

    assert run.state == "failed"
    assert _scratch_databases(pg) == []
    text = slack.messages[0]["json"]["text"]
    assert "restore_drill.restore_and_verify" in text
    assert "differs from its backup's manifest in 3 place(s)" in text
    assert "public.dag_run: rows expected 400, got 399" in text
    assert "public.dag_run: checksum expected " in text
    assert "public.variable: checksum expected " in text
    assert _drill_metrics(stack)[RESTORE_DRILL_SUCCESS] == [0.0]
    assert RESTORE_DRILL_LAST_SUCCESS_TIMESTAMP not in _drill_metrics(stack)


# The drill's other failures and its housekeeping, through run_restore_drill.


def _drill(pg: PgServer, dsn: str, bucket: str, stack: str, **options: Any) -> Any:
    settings = DrillSettings(
        dsn=dsn, bucket=bucket, prefix=PREFIX, stack=stack, pg_bin_dir=pg.bin_dir, **options
    )
    return run_restore_drill(settings)


def test_drill_refuses_a_dump_replaced_after_its_backup_before_creating_anything(
    pg: PgServer, source: str, seeded: Any, settings: Any, s3: Any, bucket: str, stack: str
) -> None:
    good = _backup(settings, source, stack)
    other = run_backup(settings(seeded.dsn, metrics_namespace=None))
    replacement = s3.get_object(Bucket=bucket, Key=other.key)
    s3.put_object(Bucket=bucket, Key=good.key, Body=replacement["Body"].read(),
                  Metadata=replacement["Metadata"])  # fmt: skip

    with pytest.raises(RestoreDrillError, match="is not the dump its manifest describes"):
        _drill(pg, source, bucket, stack)

    assert _scratch_databases(pg) == []
    assert _drill_metrics(stack)[RESTORE_DRILL_SUCCESS] == [0.0]


def test_drill_drops_its_scratch_database_when_the_restore_itself_fails(
    pg: PgServer, source: str, settings: Any, s3: Any, bucket: str, stack: str
) -> None:
    import hashlib

    good = _backup(settings, source, stack)
    # Bytes that match every checksum (object metadata and manifest) but are no archive.
    junk = b"PGDMP" + bytes(range(256)) * 64
    digest = hashlib.sha256(junk).hexdigest()
    s3.put_object(Bucket=bucket, Key=good.key, Body=junk, Metadata={"sha256": digest})
    recorded = read_manifest(s3, bucket, good.key)
    s3.put_object(
        Bucket=bucket,
        Key=good.manifest_key,
        Body=Manifest(**{**recorded.__dict__, "sha256": digest, "size": len(junk)}).to_json(),
    )

    with pytest.raises(RestoreError) as raised:
        _drill(pg, source, bucket, stack)

    assert "/restore_drill_" in str(raised.value), "it failed restoring into the scratch database"
    assert "pg_restore exited with code 1" in str(raised.value)
    assert _scratch_databases(pg) == []
    assert _drill_metrics(stack)[RESTORE_DRILL_SUCCESS] == [0.0]


def test_drill_fails_saying_so_when_the_newest_dump_has_no_manifest(
    pg: PgServer, source: str, settings: Any, s3: Any, bucket: str, stack: str
) -> None:
    result = _backup(settings, source, stack)
    s3.delete_object(Bucket=bucket, Key=result.manifest_key)

    with pytest.raises(ManifestError, match="has no manifest"):
        _drill(pg, source, bucket, stack)

    assert _scratch_databases(pg) == []


def test_drill_names_createdb_when_the_login_cannot_create_databases(
    pg: PgServer, source: str, settings: Any, bucket: str, stack: str
) -> None:
    _backup(settings, source, stack)
    login = f"drill_{uuid.uuid4().hex[:6]}"
    with pg.connect(autocommit=True) as conn:
        conn.execute(f"create role {login} login nocreatedb password '{PASSWORD}'")
    dsn = pg.dsn(_name(source), user=login)

    with pytest.raises(RestoreDrillError) as raised:
        _drill(pg, dsn, bucket, stack)

    message = str(raised.value)
    assert f"the login '{login}'" in message
    assert "needs the CREATEDB attribute" in message
    assert PASSWORD not in message
    assert _scratch_databases(pg) == []
    assert _drill_metrics(stack)[RESTORE_DRILL_SUCCESS] == [0.0]


def test_drill_drops_only_scratch_databases_left_over_a_day_ago(
    pg: PgServer, source: str, settings: Any, bucket: str, stack: str
) -> None:
    _backup(settings, source, stack)
    now = datetime.now(UTC)
    stale = scratch_name(now - timedelta(days=2), "dead00")
    recent = scratch_name(now - timedelta(hours=2), "beef00")
    lookalikes = [f"{stale}_keep", "restore_drill_keep", "restore_drill_20200101_000000_ABCDEF"]
    with pg.connect(autocommit=True) as conn:
        for name in [stale, recent, *lookalikes]:
            conn.execute(f'create database "{name}"')
        # A session left connected to the stale database, as a killed pg_restore's would be.
        with pg.connect(stale):
            result = _drill(pg, source, bucket, stack)

    try:
        assert result.dropped_stale == [stale]
        assert _scratch_databases(pg) == sorted([recent, *lookalikes])
        assert result.scratch_database not in _scratch_databases(pg)
    finally:
        with pg.connect(autocommit=True) as conn:
            for name in [recent, *lookalikes]:
                conn.execute(f'drop database if exists "{name}"')
