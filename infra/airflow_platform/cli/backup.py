"""`backup` and `restore`: the metadata database to S3 and back, the code the backup DAG runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from airflow_platform.cli.common import (
    EXIT_USAGE,
    PgBinDir,
    aws_session,
    fail,
    require_region,
    transfer_progress,
)


def _check_tools(names: tuple[str, ...], pg_bin_dir: Path | None) -> None:
    """Exit 2 when a PostgreSQL client program is missing, before anything runs."""
    from platform_ops.backup import BackupError
    from platform_ops.backup.pgtools import find_tool

    for name in names:
        try:
            find_tool(name, pg_bin_dir)
        except BackupError as error:
            raise fail(str(error), EXIT_USAGE) from None


def backup(
    source: Annotated[
        str,
        typer.Option(
            "--from",
            envvar="AIRFLOW_PLATFORM_BACKUP_FROM",
            metavar="DSN",
            help="Database to dump: libpq URI or key=value DSN. Prefer the variable (or "
            "PGPASSWORD / ~/.pgpass) over a password on the command line; it is never printed.",
            show_default=False,
        ),
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            envvar="AIRFLOW_PLATFORM_BACKUP_TO",
            metavar="S3_URL",
            help="s3://<bucket>/<prefix>; the dump goes to "
            "<prefix>/<database>/<YYYY>/<MM>/<DD>/<database>-<UTC time>.dump.",
            show_default=False,
        ),
    ],
    part_size_mib: Annotated[
        int,
        typer.Option(
            "--part-size",
            envvar="AIRFLOW_PLATFORM_BACKUP_PART_SIZE_MIB",
            metavar="MIB",
            help="Multipart part size in MiB (5-5120); memory is about twice this and the "
            "largest dump 10,000 parts (16 MiB: 156 GiB).",
            min=5,
            max=5120,
        ),
    ] = 16,
    metrics_namespace: Annotated[
        str,
        typer.Option(
            "--metrics-namespace",
            envvar="AIRFLOW_PLATFORM_BACKUP_METRICS_NAMESPACE",
            metavar="NAMESPACE",
            help="CloudWatch namespace of the backup metrics (dimension Database).",
        ),
    ] = "AirflowPlatform/Backups",
    no_metrics: Annotated[
        bool,
        typer.Option(
            "--no-metrics",
            envvar="AIRFLOW_PLATFORM_BACKUP_NO_METRICS",
            help="Do not publish CloudWatch metrics.",
        ),
    ] = False,
    pg_bin_dir: PgBinDir = None,
) -> None:
    """Stream pg_dump (custom format) to S3, verify it, and publish its metrics.

    Runs exactly what the backup DAG runs. AWS credentials and AWS_ENDPOINT_URL come from the
    usual AWS environment; the region from AWS_REGION, else AWS_DEFAULT_REGION or the AWS
    config file. Exit 1 when the backup fails (nothing is left in the bucket), 2 on usage or
    environment errors (no region or credentials, no pg_dump).
    """
    from platform_ops.backup import BackupError, BackupSettings, ConnInfo, run_backup
    from platform_ops.backup.backup import MIB

    errors = Console(stderr=True)
    try:
        conn = ConnInfo.parse(source)
        settings = BackupSettings.for_url(
            source,
            to,
            part_size=part_size_mib * MIB,
            pg_bin_dir=pg_bin_dir,
            metrics_namespace=None if no_metrics else metrics_namespace,
        )
    except ValueError as error:
        raise fail(str(error), EXIT_USAGE) from None
    region = require_region()
    with aws_session(region):
        _check_tools(("pg_dump", "pg_restore", "psql"), pg_bin_dir)
        try:
            with transfer_progress(errors) as progress:
                task = progress.add_task(f"dump {conn.database}", total=None)
                result = run_backup(
                    settings, progress=lambda done, _total: progress.update(task, completed=done)
                )
        except BackupError as error:
            raise fail(str(error)) from None
    typer.echo(
        f"backed up {conn.masked()} to {result.url}: {result.size} bytes in {result.parts} "
        f"parts, sha256 {result.sha256}, {result.duration_seconds:.1f} s"
    )


def restore(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            envvar="AIRFLOW_PLATFORM_RESTORE_TO",
            metavar="DSN",
            help="Target database (libpq URI or key=value DSN); it must exist and be empty "
            "unless --force. Its password is never printed.",
            show_default=False,
        ),
    ],
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            envvar="AIRFLOW_PLATFORM_RESTORE_FROM",
            metavar="S3_URL",
            help="s3://<bucket>/<key> of the dump to restore.",
            show_default=False,
        ),
    ] = None,
    latest: Annotated[
        str | None,
        typer.Option(
            "--latest",
            envvar="AIRFLOW_PLATFORM_RESTORE_LATEST",
            metavar="S3_URL",
            help="s3://<bucket>/<prefix>: restore the newest dump under it (instead of --from).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            envvar="AIRFLOW_PLATFORM_RESTORE_FORCE",
            help="Restore into a non-empty database: the dump's objects are dropped and "
            "recreated (pg_restore --clean --if-exists), in one transaction.",
        ),
    ] = False,
    no_owner: Annotated[
        bool,
        typer.Option(
            "--no-owner",
            envvar="AIRFLOW_PLATFORM_RESTORE_NO_OWNER",
            help="Do not restore object ownership (the dump's roles need not exist).",
        ),
    ] = False,
    pg_bin_dir: PgBinDir = None,
) -> None:
    """Restore a dump from S3 into a database, checking its SHA-256 on the way.

    pg_restore runs in a single transaction and cannot commit before the checksum of the
    whole object has matched; a mismatch leaves the target unchanged. The AWS region and
    credentials come as for backup. Exit 1 when the restore fails or is refused (a non-empty
    target without --force), 2 on usage or environment errors (no region or credentials, no
    pg_restore or psql).
    """
    from platform_ops.backup import ConnInfo, RestoreError, RestoreSettings, S3Location
    from platform_ops.backup import run_restore as restore_dump

    errors = Console(stderr=True)
    if (source is None) == (latest is None):
        raise fail("give exactly one of --from s3://<bucket>/<key> and --latest "
                   "s3://<bucket>/<prefix>", EXIT_USAGE)  # fmt: skip
    try:
        conn = ConnInfo.parse(to)
        location = S3Location.parse(source or latest or "")
    except ValueError as error:
        raise fail(str(error), EXIT_USAGE) from None
    settings = RestoreSettings(
        dsn=to,
        source=location,
        latest=latest is not None,
        force=force,
        no_owner=no_owner,
        pg_bin_dir=pg_bin_dir,
    )
    region = require_region()
    with aws_session(region):
        _check_tools(("pg_restore", "psql"), pg_bin_dir)
        try:
            with transfer_progress(errors) as progress:
                task = progress.add_task(f"restore into {conn.database}", total=None)

                def advance(done: int, total: int | None) -> None:
                    progress.update(task, completed=done, total=total)

                result = restore_dump(settings, progress=advance)
        except RestoreError as error:
            raise fail(str(error)) from None
    typer.echo(
        f"restored s3://{result.bucket}/{result.key} ({result.size} bytes, sha256 verified) "
        f"into {conn.masked()} in {result.duration_seconds:.1f} s"
    )
