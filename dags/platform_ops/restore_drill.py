"""The restore drill: a backup counts only once it has been restored.

One run (`run_restore_drill`):

1. drops scratch databases a killed drill left behind: names matching exactly
   `restore_drill_<YYYYmmdd>_<HHMMSS>_<6 hex>` whose time is over a day old (best effort, each
   failure is a warning); no other database is ever touched;
2. finds the newest dump of the database under `<prefix>/<database>/` (`latest_key`, as
   `restore --latest` does) and reads its manifest, which must name that dump's SHA-256;
3. checks the login may create databases, creates the scratch database on the same server
   (same encoding and locale as the source, from template0, so it starts empty), and restores
   the dump into it with `run_restore` (checksum-verified, single transaction);
4. takes the fingerprint of the restored copy (`platform_ops.backup.fingerprint`: the same
   SQL and session settings the backup used in the dump's snapshot) and compares it with the
   manifest, failing with every difference listed (table, expected, got);
5. always drops the scratch database (its connections terminated first), whatever happened;
   one it cannot drop fails the drill too, after the comparison, whose result is reported;
6. publishes `RestoreDrillSuccess` (1 or 0) and `RestoreDrillDurationSeconds`, plus
   `RestoreDrillLastSuccessTimestamp` on success (`platform_ops.backup.metrics`, dimensions
   `[Stack, Database]`, Database being the source). A failed drill publishes 0 and re-raises.

Everything talks to PostgreSQL through psql, as the backup does, with the connection the
backup uses (`metadata_db`); the login needs CREATEDB (RDS's master user has it).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from platform_ops.backup.conninfo import ConnInfo
from platform_ops.backup.errors import BackupError, MetricsError, RestoreDrillError, describe_error
from platform_ops.backup.fingerprint import (
    Difference,
    Fingerprint,
    compare,
    open_fingerprint_session,
    take_fingerprint,
)
from platform_ops.backup.location import DEFAULT_PREFIX, S3Location
from platform_ops.backup.manifest import Manifest, manifest_key, read_manifest
from platform_ops.backup.metrics import (
    NAMESPACE,
    RESTORE_DRILL_DURATION_SECONDS,
    RESTORE_DRILL_LAST_SUCCESS_TIMESTAMP,
    RESTORE_DRILL_SUCCESS,
    dimensions,
    put_metrics,
)
from platform_ops.backup.pgtools import find_tool
from platform_ops.backup.restore import RestoreSettings, latest_key, run_restore
from platform_ops.backup.s3 import AwsClients
from platform_ops.backup.sqlsession import SqlSession, quote_identifier, quote_literal
from platform_ops.metadata_backup import (
    DEFAULT_CONNECTION_ID,
    airflow_connection,
    airflow_lookups,
    pg_bin_dir,
    resolve_options,
    resolve_stack,
)

log = logging.getLogger(__name__)

SCRATCH_PREFIX = "restore_drill_"
SCRATCH_STAMP = "%Y%m%d_%H%M%S"
# The whole name, anchored: only databases this code named are ever dropped as stale.
_SCRATCH_NAME = re.compile(r"restore_drill_(?P<stamp>\d{8}_\d{6})_[0-9a-f]{6}")
STALE_AFTER = timedelta(days=1)
_NO_CREATEDB = "permission denied to create database"


@dataclass(frozen=True)
class DrillSettings:
    """Which database's newest dump to restore, and where the dumps are."""

    dsn: str = field(repr=False)
    """The backed-up database (the `metadata_db` connection); the scratch database is
    created beside it on the same server with the same login."""
    bucket: str
    prefix: str = DEFAULT_PREFIX
    """The backups' key prefix; the drill looks under `<prefix>/<database>/`."""
    stack: str | None = None
    """The metrics' `Stack` dimension; None publishes `Database` only."""
    pg_bin_dir: Path | None = None
    """Directory holding pg_restore and psql; default: PATH."""
    metrics_namespace: str | None = NAMESPACE
    """CloudWatch namespace of the metrics; None publishes none."""
    stale_after: timedelta = STALE_AFTER
    """Scratch databases older than this are a killed drill's leftovers and are dropped."""


@dataclass(frozen=True)
class DrillResult:
    """A drill that restored the newest dump and found the manifest's data in it."""

    bucket: str
    key: str
    database: str
    scratch_database: str
    tables: int
    rows: int
    checksummed: list[str]
    dropped_stale: list[str]
    duration_seconds: float

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def scratch_name(now: datetime, token: str | None = None) -> str:
    """`restore_drill_<YYYYmmdd>_<HHMMSS>_<6 hex>` (UTC): unique, lower case (no quoting
    needed to type it) and dated, so a leftover's age is read from its name."""
    token = token or secrets.token_hex(3)
    return f"{SCRATCH_PREFIX}{now.astimezone(UTC).strftime(SCRATCH_STAMP)}_{token}"


def scratch_created_at(name: str) -> datetime | None:
    """The time in a scratch database's name; None for any other name."""
    match = _SCRATCH_NAME.fullmatch(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match["stamp"], SCRATCH_STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def stale_scratch_databases(
    names: Iterable[str], now: datetime, stale_after: timedelta = STALE_AFTER
) -> list[str]:
    """The names in `names` that are scratch databases created more than `stale_after` ago."""
    stale = []
    for name in names:
        created = scratch_created_at(name)
        if created is not None and now - created > stale_after:
            stale.append(name)
    return sorted(stale)


def describe_differences(differences: Iterable[Difference]) -> str:
    """One line per difference, for the drill's error."""
    return "\n".join(f"  - {d}" for d in differences)


class _Server:
    """Database-level statements on the server, through short psql sessions connected to the
    backed-up database (CREATE and DROP DATABASE cannot run inside a transaction, and psql
    runs each statement in its own)."""

    def __init__(self, psql: str, conn: ConnInfo) -> None:
        self.psql = psql
        self.conn = conn

    def _session(self) -> SqlSession:
        return SqlSession(self.psql, self.conn, {"client_encoding": "UTF8"})

    def _query(self, sql: str) -> Any:
        with self._session() as session:
            return session.query(sql)

    def can_create_databases(self) -> bool:
        return bool(
            self._query(
                "select to_jsonb(coalesce(bool_or(rolcreatedb or rolsuper), false))"
                " from pg_roles where rolname = current_user"
            )
        )

    def database_names(self) -> list[str]:
        return list(self._query("select coalesce(jsonb_agg(datname), '[]') from pg_database"))

    def create_like_source(self, name: str) -> None:
        """An empty database with the source's encoding and locale (the restored text is the
        same bytes, and its indexes accept the same values)."""
        source = self._query(
            "select jsonb_build_object('encoding', pg_encoding_to_char(encoding),"
            " 'collate', datcollate, 'ctype', datctype)"
            " from pg_database where datname = current_database()"
        )
        with self._session() as session:
            session.execute(
                f"create database {quote_identifier(name)} template template0"
                f" encoding {quote_literal(source['encoding'])}"
                f" lc_collate {quote_literal(source['collate'])}"
                f" lc_ctype {quote_literal(source['ctype'])}"
            )
            session.sync()

    def drop(self, name: str) -> None:
        """Terminate the database's sessions (a killed pg_restore's may linger), then drop it
        if it exists. DROP DATABASE itself waits a few seconds for terminated sessions to go."""
        with self._session() as session:
            session.query(
                "select coalesce(jsonb_agg(pg_terminate_backend(pid)), '[]'::jsonb)"  # noqa: S608
                " from pg_stat_activity"
                f" where datname = {quote_literal(name)} and pid <> pg_backend_pid()"
            )
            session.execute(f"drop database if exists {quote_identifier(name)}")
            session.sync()


def run_restore_drill(
    settings: DrillSettings,
    *,
    clients: AwsClients | None = None,
    now: datetime | None = None,
) -> DrillResult:
    """Restore the newest dump into a scratch database, check it against its manifest, drop
    the scratch database, publish the drill's metrics. Raises `RestoreDrillError` (or the
    restore's `RestoreError`) after publishing `RestoreDrillSuccess` 0 when anything fails."""
    clients = clients or AwsClients.default()
    conn = ConnInfo.parse(settings.dsn)
    started = time.monotonic()
    try:
        result = _Drill(settings, conn, clients, now or datetime.now(UTC)).run(started)
    except BaseException as error:
        _publish_failure(settings, clients, conn.database, time.monotonic() - started, error)
        raise
    _publish_success(settings, clients, result)
    return result


class _Drill:
    def __init__(
        self, settings: DrillSettings, conn: ConnInfo, clients: AwsClients, now: datetime
    ) -> None:
        self.settings = settings
        self.conn = conn
        self.s3 = clients.s3
        self.now = now
        self.database = conn.database

    def run(self, started: float) -> DrillResult:
        bin_dir = self.settings.pg_bin_dir
        find_tool("pg_restore", bin_dir)
        server = _Server(find_tool("psql", bin_dir), self.conn)
        dropped = self._drop_stale(server)
        key, manifest = self._newest_dump()
        if not server.can_create_databases():
            raise RestoreDrillError(self._no_createdb())
        name = scratch_name(self.now)
        scratch = self.conn.with_database(name)
        log.info("restoring s3://%s/%s into the scratch database %s", self.bucket, key, name)
        try:
            self._create_scratch(server, name)
            fingerprint = self._restore_and_measure(key, manifest, scratch, server.psql)
        except BaseException as error:
            left = self._drop_scratch(server, name)
            if left:  # the drill's own failure stays the one reported
                log.error("%s", left)
                error.add_note(left)
            raise
        left = self._drop_scratch(server, name)
        differences = compare(manifest.fingerprint, fingerprint)
        if differences:
            # The differences first: an alert shows the start of the message only.
            raise RestoreDrillError(
                f"the restored data differs from its backup's manifest in {len(differences)} "
                "place(s):\n" + describe_differences(differences) + "\n"
                f"(dump s3://{self.bucket}/{key}, manifest {manifest_key(key)}, recorded in "
                f"the dump's snapshot at {manifest.taken_at.isoformat()})"
                + (f". Also: {left}" if left else "")
            )
        if left:
            # The data matched, but a scratch database is left on the production server.
            raise RestoreDrillError(f"the restored data matched its manifest, but {left}")
        log.info(
            "restore drill passed: %d tables (%d rows) and %d checksums match the manifest",
            len(fingerprint.rows), sum(fingerprint.rows.values()), len(fingerprint.checksums),
        )  # fmt: skip
        return DrillResult(
            bucket=self.bucket,
            key=key,
            database=self.database,
            scratch_database=name,
            tables=len(fingerprint.rows),
            rows=sum(fingerprint.rows.values()),
            checksummed=[str(t) for t in sorted(fingerprint.checksums)],
            dropped_stale=dropped,
            duration_seconds=time.monotonic() - started,
        )

    @property
    def bucket(self) -> str:
        return self.settings.bucket

    def _no_createdb(self) -> str:
        user = self.conn.params.get("user", "the connection's login")
        return (
            f"the login {user!r} ({self.conn.masked()}) cannot create databases: the restore "
            "drill restores into a scratch database on the same server and needs the CREATEDB "
            f"attribute (ALTER ROLE {quote_identifier(user)} CREATEDB; RDS's master user has it)"
        )

    def _create_scratch(self, server: _Server, name: str) -> None:
        try:
            server.create_like_source(name)
        except BackupError as error:
            if _NO_CREATEDB in str(error):
                raise RestoreDrillError(self._no_createdb()) from error
            raise RestoreDrillError(
                f"cannot create the scratch database {name}: {error}"
            ) from error

    def _drop_stale(self, server: _Server) -> list[str]:
        stale = stale_scratch_databases(
            server.database_names(), self.now, self.settings.stale_after
        )
        dropped = []
        for name in stale:
            try:
                server.drop(name)
            except BackupError as error:
                log.warning("could not drop the stale scratch database %s: %s", name, error)
            else:
                log.info("dropped %s, left behind by an earlier drill", name)
                dropped.append(name)
        return dropped

    def _newest_dump(self) -> tuple[str, Manifest]:
        prefix = S3Location(self.bucket, f"{self.settings.prefix.strip('/')}/{self.database}")
        key = latest_key(self.s3, prefix)
        manifest = read_manifest(self.s3, self.bucket, key)
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as error:
            raise RestoreDrillError(
                f"cannot read s3://{self.bucket}/{key}: {describe_error(error)}"
            ) from error
        stored = head.get("Metadata", {}).get("sha256")
        if stored != manifest.sha256:
            raise RestoreDrillError(self._other_dump(key, manifest, stored))
        return key, manifest

    def _other_dump(self, key: str, manifest: Manifest, sha256: str | None) -> str:
        return (
            f"s3://{self.bucket}/{key} is not the dump its manifest describes: the manifest "
            f"was recorded for a dump with SHA-256 {manifest.sha256}, the object is {sha256}; "
            "the object was replaced after its backup"
        )

    def _restore_and_measure(
        self, key: str, manifest: Manifest, scratch: ConnInfo, psql: str
    ) -> Fingerprint:
        restored = run_restore(
            RestoreSettings(
                dsn=scratch.dsn(),
                source=S3Location(self.bucket, key),
                # Ownership is not what the drill checks, and restoring it would need the
                # login to be a member of every owning role.
                no_owner=True,
                pg_bin_dir=self.settings.pg_bin_dir,
            ),
            s3=self.s3,
        )
        if restored.sha256 != manifest.sha256:
            raise RestoreDrillError(self._other_dump(key, manifest, restored.sha256))
        log.info("restored %d bytes in %.1f s", restored.size, restored.duration_seconds)
        session = open_fingerprint_session(psql, scratch)
        with session:
            return take_fingerprint(session, manifest.fingerprint.checksums)

    def _drop_scratch(self, server: _Server, name: str) -> str | None:
        """Drop the scratch database; None, or a sentence saying it could not."""
        try:
            server.drop(name)
        except BackupError as error:
            return (
                f"could not drop the scratch database {name} ({error}): drop it by hand, or "
                "the next drill drops it once it is a day old"
            )
        log.info("dropped the scratch database %s", name)
        return None


def _publish_success(settings: DrillSettings, clients: AwsClients, result: DrillResult) -> None:
    namespace = settings.metrics_namespace
    if namespace is None:
        return
    finished = datetime.now(UTC)
    metrics = [
        (RESTORE_DRILL_SUCCESS, 1.0, "Count"),
        (RESTORE_DRILL_DURATION_SECONDS, result.duration_seconds, "Seconds"),
        (RESTORE_DRILL_LAST_SUCCESS_TIMESTAMP, finished.timestamp(), "Seconds"),
    ]
    try:
        put_metrics(clients.cloudwatch, namespace,
                    dimensions(result.database, settings.stack), metrics, finished)  # fmt: skip
    except (BotoCoreError, ClientError) as error:
        raise MetricsError(
            f"the restore drill of {result.url} passed, but publishing its metrics to "
            f"CloudWatch ({namespace}) failed: {describe_error(error)}"
        ) from error


def _publish_failure(
    settings: DrillSettings,
    clients: AwsClients,
    database: str,
    duration: float,
    error: BaseException,
) -> None:
    """RestoreDrillSuccess 0 and the duration; never raises, so the drill's own error wins."""
    namespace = settings.metrics_namespace
    if namespace is None:
        return
    finished = datetime.now(UTC)
    metrics = [
        (RESTORE_DRILL_SUCCESS, 0.0, "Count"),
        (RESTORE_DRILL_DURATION_SECONDS, duration, "Seconds"),
    ]
    try:
        put_metrics(clients.cloudwatch, namespace,
                    dimensions(database, settings.stack), metrics, finished)  # fmt: skip
    except Exception as publish_error:  # the drill's failure is what the task must report
        log.warning(
            "the restore drill failed (%s) and publishing RestoreDrillSuccess=0 failed too: %s",
            describe_error(error), describe_error(publish_error),
        )  # fmt: skip


def summary(result: DrillResult) -> dict[str, Any]:
    """What the drill's task returns (its XCom)."""
    return {
        "url": result.url,
        "database": result.database,
        "scratch_database": result.scratch_database,
        "tables": result.tables,
        "rows": result.rows,
        "checksummed": result.checksummed,
        "dropped_stale": result.dropped_stale,
        "duration_seconds": round(result.duration_seconds, 3),
    }


def run_restore_drill_task(conn_id: str = DEFAULT_CONNECTION_ID) -> dict[str, Any]:
    """The drill DAG's task body: the backup's own connection, bucket, prefix and stack
    (resolved as the backup task resolves them), then `run_restore_drill`."""
    variable, option = airflow_lookups()
    stack = resolve_stack(option, variable)
    conn = airflow_connection(conn_id)
    options = resolve_options(variable, option)
    settings = DrillSettings(
        dsn=conn.dsn(),
        bucket=options.bucket,
        prefix=options.prefix,
        stack=stack,
        pg_bin_dir=pg_bin_dir(),
    )
    log.info(
        "restore drill of %s's newest dump under s3://%s/%s/%s/",
        conn.masked(), options.bucket, options.prefix, conn.database,
    )  # fmt: skip
    return summary(run_restore_drill(settings))
