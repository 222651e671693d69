"""`run_backup`: pg_dump streamed into S3, verified, published with its checksum, measured.

What one run does, in order:

1. CreateMultipartUpload of a *staging* key (`<final key>.partial`), before pg_dump starts,
   so an unreachable bucket fails fast without loading the database.
2. A psql session opens a REPEATABLE READ transaction and exports its snapshot
   (`pg_export_snapshot()`); pg_dump runs with `--snapshot=<id>`, so it dumps exactly what
   that transaction sees, while the session, in the same transaction, counts every table's
   rows and checksums a few tables (`fingerprint.py`). The counts therefore describe the data
   in the dump, however many writes commit meanwhile.
3. `pg_dump --format=custom` to a pipe; its stdout is read in `part_size` pieces into two
   reusable buffers (one filling while the other uploads) and hashed (SHA-256) on the way.
   No local file; memory is about `2 * part_size` whatever the database size.
4. After stdout's EOF, pg_dump's exit code is checked *before* CompleteMultipartUpload: a
   dump that failed or was killed midway is aborted, never completed.
5. Verification: the staging object is read back, its SHA-256 and size compared, and it is
   streamed through `pg_restore --list` (stdin, no file) to prove it is a readable archive.
6. The manifest (`<final key>.manifest.json`: the counts and checksums, the dump's SHA-256;
   `manifest.py`) is written, before the dump's final key exists, so no reader ever finds a
   dump without its manifest.
7. The final key is created by a server-side copy with `MetadataDirective=REPLACE` carrying
   `sha256` and `bytes` as user metadata, and checked with a HeadObject; staging is deleted.
   Why a copy: S3 takes user metadata at CreateMultipartUpload, before the hash is known,
   and the additional-checksum feature gives multipart objects only a checksum *of part
   checksums* (full-object checksums exist for CRCs only), not a SHA-256 of the file. Copying
   from a staging key rather than onto the same key means the final `.dump` key appears at
   once, already verified and carrying its checksum: a reader never sees it without one.
   The copy is server-side (CopyObject up to 5 GiB, UploadPartCopy above): no data moves
   through this process.
8. CloudWatch metrics `LastSuccessTimestamp`, `SizeBytes`, `DurationSeconds` (namespace
   `AirflowPlatform/Backups`, dimensions `[Stack, Database]`, or `[Database]` when no stack
   is given; `metrics.py`) for the backup-freshness alarm.

Any failure aborts the multipart upload, deletes whatever staging, manifest or final object
exists (all versions), ends the psql session and raises `BackupError` naming the step and the
cause.

S3 allows 10,000 parts, so the largest dump is `10,000 * part_size`: 156.25 GiB with the
default 16 MiB parts (5 MiB parts: 48.8 GiB; raise `part_size` for larger databases).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from platform_ops.backup.conninfo import ConnInfo
from platform_ops.backup.errors import BackupError, MetricsError, describe_error
from platform_ops.backup.fingerprint import (
    DEFAULT_CHECKSUM_TABLES,
    Fingerprint,
    export_snapshot,
    list_tables,
    lock_tables,
    open_fingerprint_session,
    server_version,
    take_fingerprint,
)
from platform_ops.backup.location import DEFAULT_PREFIX, STAGING_SUFFIX, S3Location, dump_key
from platform_ops.backup.manifest import Manifest, manifest_key, write_manifest
from platform_ops.backup.metrics import (
    DURATION_SECONDS,
    LAST_SUCCESS_TIMESTAMP,
    NAMESPACE,
    SIZE_BYTES,
    dimensions,
    put_metrics,
)
from platform_ops.backup.pgtools import ClientProcess, find_tool
from platform_ops.backup.s3 import AwsClients, copy_with_metadata, delete_all_versions
from platform_ops.backup.sqlsession import SqlSession
from platform_ops.backup.stream import PartReader, ViewReader
from platform_ops.backup.verify import check_archive

MIB = 1024 * 1024
DEFAULT_PART_SIZE = 16 * MIB
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every part but the last
MAX_PART_SIZE = 5 * 1024 * MIB  # S3's maximum part size
MAX_PARTS = 10_000
DEFAULT_NAMESPACE = NAMESPACE
CONTENT_TYPE = "application/octet-stream"

Progress = Callable[[int, int | None], None]
"""Called with (bytes done, total bytes or None when unknown)."""


@dataclass(frozen=True)
class BackupSettings:
    """What to back up and where. The DAG builds this from its Airflow connection."""

    dsn: str = field(repr=False)
    """libpq URI or key=value string; its password reaches pg_dump only as PGPASSWORD."""
    bucket: str
    """The backup bucket (the Storage component's `backup_bucket`)."""
    prefix: str = DEFAULT_PREFIX
    """Key prefix; dumps go to `<prefix>/<database>/<YYYY>/<MM>/<DD>/`."""
    part_size: int = DEFAULT_PART_SIZE
    """Multipart part size in bytes (5 MiB - 5 GiB); the largest dump is 10,000 of them."""
    pg_bin_dir: Path | None = None
    """Directory holding pg_dump, pg_restore and psql; default: PATH."""
    metrics_namespace: str | None = DEFAULT_NAMESPACE
    """CloudWatch namespace of the metrics; None publishes none."""
    stack: str | None = None
    """The stack, for the metrics' `Stack` dimension; None publishes `Database` only."""
    checksum_tables: tuple[str, ...] = DEFAULT_CHECKSUM_TABLES
    """Tables whose checksum the manifest records, by name (any schema) or `schema.table`;
    those that do not exist are skipped. Every table's row count is recorded regardless."""

    def __post_init__(self) -> None:
        if not MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE:
            raise ValueError(
                f"part size {self.part_size} bytes is outside S3's limits "
                f"({MIN_PART_SIZE} to {MAX_PART_SIZE} bytes)"
            )

    @classmethod
    def for_url(cls, dsn: str, url: str, **options: Any) -> BackupSettings:
        """Settings for `s3://bucket/prefix` (an empty prefix takes the default)."""
        location = S3Location.parse(url)
        return cls(
            dsn=dsn, bucket=location.bucket, prefix=location.key or DEFAULT_PREFIX, **options
        )


@dataclass(frozen=True)
class BackupResult:
    """A stored, verified dump."""

    bucket: str
    key: str
    version_id: str | None
    database: str
    size: int
    sha256: str
    parts: int
    started_at: datetime
    duration_seconds: float
    manifest_key: str | None = None
    fingerprint: Fingerprint | None = None

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def run_backup(
    settings: BackupSettings,
    *,
    clients: AwsClients | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> BackupResult:
    """Dump the database, store it under its dated key with its manifest, verify it, publish
    metrics.

    This is what the backup DAG's task and `airflow-platform backup` both call. Raises
    `BackupError` (with nothing left in the bucket) on any failure, or `MetricsError` when
    only the metrics could not be published (the dump is then kept).
    """
    run = _BackupRun(settings, clients or AwsClients.default(), progress, now)
    return run.execute()


class _BackupRun:
    """State of one backup, so that a failure at any step knows what to clean up."""

    def __init__(
        self,
        settings: BackupSettings,
        clients: AwsClients,
        progress: Progress | None,
        now: datetime | None,
    ) -> None:
        self.settings = settings
        self.conn = ConnInfo.parse(settings.dsn)
        self.s3 = clients.s3
        self.cloudwatch = clients.cloudwatch
        self.progress = progress
        self.started_at = now or datetime.now(UTC)
        self.key = dump_key(settings.prefix, self.conn.database, self.started_at)
        self.staging_key = self.key + STAGING_SUFFIX
        self.upload_id: str | None = None
        self.staging_version: str | None = None
        self.staging_exists = False
        self.final_exists = False
        self.manifest_exists = False
        self.session: SqlSession | None = None

    @property
    def bucket(self) -> str:
        return self.settings.bucket

    def execute(self) -> BackupResult:
        started = time.monotonic()
        step = "starting"
        counting = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backup-fingerprint")
        try:
            pg_dump = find_tool("pg_dump", self.settings.pg_bin_dir)
            pg_restore = find_tool("pg_restore", self.settings.pg_bin_dir)
            psql = find_tool("psql", self.settings.pg_bin_dir)
            step = "starting the multipart upload"
            self.upload_id = self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.staging_key, ContentType=CONTENT_TYPE
            )["UploadId"]
            step = "opening the transaction whose snapshot pg_dump dumps"
            self.session = open_fingerprint_session(psql, self.conn)
            version = server_version(self.session)
            snapshot = export_snapshot(self.session)
            tables = list_tables(self.session)
            step = "locking the tables to dump"
            lock_tables(self.session, tables)
            step = "streaming pg_dump to S3"
            # The session is the thread's alone from here; the exported snapshot lives as
            # long as its transaction, which stays open until the dump has ended.
            fingerprint = counting.submit(
                take_fingerprint, self.session, self.settings.checksum_tables, tables
            )
            size, sha256, parts = self._dump_to_staging(pg_dump, snapshot)
            step = "counting and checksumming the tables in the dump's snapshot"
            values = self._fingerprint_of_dump(fingerprint)
            step = "verifying the uploaded dump"
            check_archive(self.s3, self.bucket, self.staging_key, self.staging_version,
                          pg_restore, expected=(sha256, size))  # fmt: skip
            step = "writing the manifest"
            manifest = Manifest(
                dump_key=self.key,
                database=self.conn.database,
                sha256=sha256,
                size=size,
                taken_at=self.started_at,
                server_version=version,
                fingerprint=values,
            )
            self.manifest_exists = True  # from the first byte of the attempt
            write_manifest(self.s3, self.bucket, manifest)
            step = "publishing the dump under its final key"
            version_id = self._publish(sha256, size)
        except BaseException as error:
            if self.session is not None:
                self.session.kill()  # also ends a count the thread may still be waiting on
            cleanup = self._clean_up()
            raise BackupError(
                f"backup of {self.conn.masked()} to s3://{self.bucket}/{self.key} failed while "
                f"{step}: {describe_error(error)}. {cleanup}"
            ) from error
        finally:
            counting.shutdown(wait=False)
        result = BackupResult(
            bucket=self.bucket,
            key=self.key,
            version_id=version_id,
            database=self.conn.database,
            size=size,
            sha256=sha256,
            parts=parts,
            started_at=self.started_at,
            duration_seconds=time.monotonic() - started,
            manifest_key=manifest_key(self.key),
            fingerprint=values,
        )
        self._publish_metrics(result)
        return result

    def _fingerprint_of_dump(self, counting: Future[Fingerprint]) -> Fingerprint:
        """The counts taken in the dump's snapshot; then the transaction can end."""
        values = counting.result()
        assert self.session is not None
        self.session.close()
        self.session = None
        return values

    def _dump_to_staging(self, pg_dump: str, snapshot: str) -> tuple[int, str, int]:
        """Stream pg_dump into the started multipart upload; (size, sha256 hex, parts)."""
        args = ["--format=custom", f"--snapshot={snapshot}"]
        dump = ClientProcess(pg_dump, args, self.conn, stdout=subprocess.PIPE)
        assert dump.process.stdout is not None
        reader = PartReader(dump.process.stdout, self.settings.part_size)
        parts: list[dict[str, Any]] = []
        try:
            for view in reader.parts():
                if len(parts) == MAX_PARTS:
                    raise BackupError(
                        f"the dump is larger than {MAX_PARTS} parts of "
                        f"{self.settings.part_size} bytes; use a larger part size"
                    )
                parts.append(self._upload_part(len(parts) + 1, view))
                if self.progress:
                    self.progress(reader.size, None)
            # Only now, after stdout's EOF, does pg_dump's exit code mean anything.
            if dump.wait() != 0:
                raise BackupError(dump.failure())
        finally:
            dump.kill()  # a no-op after a clean exit; stops pg_dump when uploading failed
            reader.close()
        if not parts:
            raise BackupError("pg_dump wrote nothing")
        completed = self.s3.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.staging_key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": parts},
        )
        self.upload_id = None
        self.staging_exists = True
        self.staging_version = completed.get("VersionId")
        return reader.size, reader.sha256.hexdigest(), len(parts)

    def _upload_part(self, number: int, view: memoryview) -> dict[str, Any]:
        response = self.s3.upload_part(
            Bucket=self.bucket,
            Key=self.staging_key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=ViewReader(view),
        )
        part = {"PartNumber": number, "ETag": response["ETag"]}
        # botocore adds a CRC checksum to each part by default; Complete must repeat it.
        part.update({k: v for k, v in response.items() if k.startswith("Checksum")})
        part.pop("ChecksumType", None)
        return part

    def _publish(self, sha256: str, size: int) -> str | None:
        """Copy staging to the final key with the checksum metadata; check it; drop staging."""
        metadata = {"sha256": sha256, "bytes": str(size), "database": self.conn.database}
        source = {"Bucket": self.bucket, "Key": self.staging_key}
        if self.staging_version:
            source["VersionId"] = self.staging_version
        self.final_exists = True  # from the first byte of the attempt: clean up on failure
        copy_with_metadata(self.s3, self.bucket, source, self.key, size, metadata)
        head = self.s3.head_object(Bucket=self.bucket, Key=self.key)
        stored = head.get("Metadata", {})
        if stored.get("sha256") != sha256 or head["ContentLength"] != size:
            raise BackupError(
                f"the final object carries sha256={stored.get('sha256')!r}, "
                f"{head['ContentLength']} bytes; expected {sha256}, {size} bytes"
            )
        delete_all_versions(self.s3, self.bucket, self.staging_key, bypass_governance=True)
        self.staging_exists = False
        return head.get("VersionId")

    def _clean_up(self) -> str:
        """Abort or delete what this run created; a sentence saying what happened."""
        leftovers = []
        if self.upload_id is not None:
            leftovers += _attempt(
                "abort the multipart upload",
                lambda: self.s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.staging_key, UploadId=self.upload_id
                ),
            )
        # Only the staging copy may bypass object lock: a final dump, once written, is kept.
        targets = [
            (self.staging_exists, self.staging_key, True),
            (self.manifest_exists, manifest_key(self.key), False),
            (self.final_exists, self.key, False),
        ]
        for exists, key, bypass in targets:
            if exists:
                leftovers += _attempt(
                    f"delete s3://{self.bucket}/{key}",
                    lambda key=key, bypass=bypass: delete_all_versions(
                        self.s3, self.bucket, key, bypass_governance=bypass
                    ),
                )
        if not leftovers:
            return "Nothing was left in the bucket."
        return (
            "Cleaning up also failed (" + "; ".join(leftovers) + "); the bucket's lifecycle "
            "rules remove incomplete uploads and expired objects."
        )

    def _publish_metrics(self, result: BackupResult) -> None:
        namespace = self.settings.metrics_namespace
        if namespace is None:
            return
        try:
            publish_metrics(self.cloudwatch, namespace, result, self.settings.stack)
        except (BotoCoreError, ClientError) as error:
            raise MetricsError(
                f"backup stored and verified at {result.url}, but publishing its metrics to "
                f"CloudWatch ({namespace}) failed: {describe_error(error)}"
            ) from error


def publish_metrics(
    cloudwatch: Any, namespace: str, result: BackupResult, stack: str | None = None
) -> None:
    """The three metrics of a successful backup, dimensions `[Stack, Database]` (`[Database]`
    when `stack` is None).

    A freshness alarm watches `LastSuccessTimestamp` (or the sample count of `SizeBytes`,
    missing data breaching) over the backup interval plus a margin.
    """
    finished = datetime.now(UTC)
    values = [
        (LAST_SUCCESS_TIMESTAMP, finished.timestamp(), "Seconds"),
        (SIZE_BYTES, float(result.size), "Bytes"),
        (DURATION_SECONDS, result.duration_seconds, "Seconds"),
    ]
    put_metrics(cloudwatch, namespace, dimensions(result.database, stack), values, finished)


def _attempt(what: str, action: Callable[[], object]) -> list[str]:
    try:
        action()
    except Exception as error:  # reported in the message; the original cause wins
        return [f"could not {what}: {describe_error(error)}"]
    return []
