"""`run_restore`: a stored dump streamed from S3 into pg_restore, checked on the way.

Ordering (the hash is only known at the end of the stream, the restore writes from the
start): pg_restore runs with `--single-transaction`, so nothing it does is visible before
its final COMMIT, and this code holds back the archive's last chunk until the SHA-256 of
the whole object has been computed and compared with the object's `sha256` metadata.
pg_restore cannot reach its COMMIT without those bytes: a custom-format archive ends with
the end marker of its last data block (or, with no data, the end of its table of contents),
which pg_restore reads before it commits. On a mismatch pg_restore is killed, its
connection drops and the server rolls the transaction back: the target is left as it was.
One pass over the object (no second download, no local file), and the version read is
pinned to the one whose metadata was checked.

A non-empty target is refused unless `force`, which adds `--clean --if-exists` (objects in
the dump are dropped and recreated inside the same transaction).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from platform_ops.backup.conninfo import ConnInfo
from platform_ops.backup.errors import BackupError, RestoreError, describe_error
from platform_ops.backup.location import S3Location, parse_dump_key
from platform_ops.backup.pgtools import ClientProcess, find_tool
from platform_ops.backup.s3 import dump_keys, s3_client
from platform_ops.backup.verify import close_quietly, feed, write_all

# Objects in the target that make it "not empty": user relations, schemas other than
# public, functions outside the system schemas, large objects.
_CONTENTS_SQL = """
select
  (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_'),
  (select count(*) from pg_namespace
    where nspname not in ('public', 'information_schema') and nspname !~ '^pg_'),
  (select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname not in ('pg_catalog', 'information_schema')),
  (select count(*) from pg_largeobject_metadata)
"""
_CONTENT_KINDS = ("relations", "schemas", "functions", "large objects")


@dataclass(frozen=True)
class RestoreSettings:
    """Which dump to restore into which database."""

    dsn: str = field(repr=False)
    """Target database (libpq URI or key=value); it must exist."""
    source: S3Location
    """The dump's key, or with `latest` a prefix to take the newest dump from."""
    latest: bool = False
    """`source` is a prefix: restore the newest dump under it (by the key's timestamp)."""
    force: bool = False
    """Restore into a non-empty database, dropping the dump's objects first."""
    no_owner: bool = False
    """Do not restore ownership (when the dump's roles do not exist on the target)."""
    pg_bin_dir: Path | None = None
    """Directory holding pg_restore and psql; default: PATH."""


@dataclass(frozen=True)
class RestoreResult:
    """A completed restore."""

    bucket: str
    key: str
    database: str
    size: int
    sha256: str
    duration_seconds: float


def run_restore(
    settings: RestoreSettings,
    *,
    s3: Any = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> RestoreResult:
    """Restore a dump; raises `RestoreError` (target unchanged) on refusal or failure."""
    s3 = s3 or s3_client()
    conn = ConnInfo.parse(settings.dsn)
    started = time.monotonic()
    try:
        pg_restore = find_tool("pg_restore", settings.pg_bin_dir)
        psql = find_tool("psql", settings.pg_bin_dir)
        key = latest_key(s3, settings.source) if settings.latest else settings.source.key
        head = s3.head_object(Bucket=settings.source.bucket, Key=key)
    except BackupError as error:
        raise RestoreError(str(error)) from error
    except (BotoCoreError, ClientError) as error:
        raise RestoreError(f"cannot read {settings.source}: {describe_error(error)}") from error
    expected = head.get("Metadata", {}).get("sha256")
    where = f"s3://{settings.source.bucket}/{key}"
    if not expected:
        raise RestoreError(f"{where} has no sha256 metadata: not a verified backup, refused")
    _check_target(psql, conn, settings.force)
    size, sha256 = _stream_restore(s3, settings, key, head, pg_restore, conn, expected, progress)
    return RestoreResult(
        bucket=settings.source.bucket,
        key=key,
        database=conn.database,
        size=size,
        sha256=sha256,
        duration_seconds=time.monotonic() - started,
    )


def latest_key(s3: Any, prefix: S3Location) -> str:
    """The newest dump under `prefix`, by the timestamp in its name; one database only."""
    keys = dump_keys(s3, prefix.bucket, prefix.key)
    if not keys:
        raise RestoreError(f"no dumps under {prefix}")
    databases = sorted({parse_dump_key(k)[0] for k in keys})  # type: ignore[index]
    if len(databases) > 1:
        raise RestoreError(
            f"dumps of several databases under {prefix} ({', '.join(databases)}): "
            f"add the database to the prefix, e.g. {prefix}/{databases[0]}"
        )
    return max(keys, key=lambda k: (parse_dump_key(k)[1], k))  # type: ignore[index]


def target_contents(psql: str, conn: ConnInfo) -> dict[str, int]:
    """Counts of user objects in the target database (all zero: empty)."""
    args = ["--no-psqlrc", "--tuples-only", "--no-align", "--field-separator=,",
            "--set=ON_ERROR_STOP=1", f"--command={_CONTENTS_SQL}"]  # fmt: skip
    client = ClientProcess(psql, args, conn, stdout=subprocess.PIPE)
    assert client.process.stdout is not None
    output = client.process.stdout.read().decode()
    if client.wait(timeout=120) != 0:
        raise RestoreError(f"cannot inspect the target {conn.masked()}: {client.failure()}")
    counts = [int(n) for n in output.strip().split(",")]
    return dict(zip(_CONTENT_KINDS, counts, strict=True))


def _check_target(psql: str, conn: ConnInfo, force: bool) -> None:
    contents = target_contents(psql, conn)
    if any(contents.values()) and not force:
        found = ", ".join(f"{n} {kind}" for kind, n in contents.items() if n)
        raise RestoreError(
            f"the target database {conn.masked()} is not empty ({found}); refusing to restore "
            "into it. Restore into a new database, or pass --force to drop and recreate the "
            "dump's objects"
        )


def _stream_restore(
    s3: Any,
    settings: RestoreSettings,
    key: str,
    head: dict[str, Any],
    pg_restore: str,
    conn: ConnInfo,
    expected: str,
    progress: Callable[[int, int | None], None] | None,
) -> tuple[int, str]:
    bucket = settings.source.bucket
    where = f"s3://{bucket}/{key}"
    total = head["ContentLength"]
    args = ["--single-transaction", "--exit-on-error"]
    args += ["--clean", "--if-exists"] if settings.force else []
    args += ["--no-owner"] if settings.no_owner else []
    pinned = {"VersionId": head["VersionId"]} if head.get("VersionId") else {}
    try:
        body = s3.get_object(Bucket=bucket, Key=key, **pinned)["Body"]
    except (BotoCoreError, ClientError) as error:
        raise RestoreError(f"cannot read {where}: {describe_error(error)}") from error
    restore = ClientProcess(pg_restore, args, conn, stdin=subprocess.PIPE)
    stdin = restore.process.stdin
    assert stdin is not None
    target = conn.masked()
    try:
        fed = feed(body, stdin, hold_tail=True,
                   progress=(lambda done: progress(done, total)) if progress else None)  # fmt: skip
        if fed.sha256 != expected or fed.size != total:
            restore.kill()  # before the held-back tail: its transaction never commits
            raise RestoreError(
                f"{where} does not match its checksum (read {fed.size} bytes with SHA-256 "
                f"{fed.sha256}, metadata says {expected}); pg_restore was stopped before "
                f"committing, so {target} is unchanged"
            )
        if fed.closed_early or not write_all(stdin, fed.tail):
            restore.wait(timeout=60)
            raise RestoreError(f"restore into {target} failed: {restore.failure()}")
        close_quietly(stdin)
        if restore.wait() != 0:
            raise RestoreError(
                f"restore of {where} into {target} failed and was rolled back: {restore.failure()}"
            )
    except (BotoCoreError, ClientError, OSError) as error:
        raise RestoreError(
            f"reading {where} failed midway ({describe_error(error)}); pg_restore was stopped "
            f"before committing, so {target} is unchanged"
        ) from error
    finally:
        restore.kill()
        body.close()
    return fed.size, fed.sha256
