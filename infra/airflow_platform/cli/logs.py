"""`clean-logs`: old Airflow log files deleted (optionally archived to S3 first), the code the
log_cleanup DAG runs."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from airflow_platform.cli.common import EXIT_USAGE, aws_session, fail, require_region


def clean_logs_command(
    folders: Annotated[
        list[Path],
        typer.Argument(
            help="Log folders to clean. Each is resolved once; nothing outside it is touched "
            "and no symlink is followed or deleted.",
            metavar="DIR",
            show_default=False,
        ),
    ],
    older_than: Annotated[
        int,
        typer.Option(
            "--older-than",
            envvar="AIRFLOW_PLATFORM_CLEAN_LOGS_OLDER_THAN",
            metavar="DAYS",
            help="Delete files more than DAYS whole days old, as `find -mtime +DAYS` (a file "
            "goes once it is DAYS+1 days old); at least 1.",
            show_default=False,
        ),
    ],
    archive: Annotated[
        str | None,
        typer.Option(
            "--archive",
            envvar="AIRFLOW_PLATFORM_CLEAN_LOGS_ARCHIVE",
            metavar="S3_URL",
            help="s3://<bucket>/<prefix>: first store each folder's expired files, one tar.gz "
            "per UTC day, at <prefix>/<folder name>/<YYYY>/<MM>/<DD>/<host>-<time>-<id>.tar.gz; "
            "files are deleted only once their archive is stored.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            envvar="AIRFLOW_PLATFORM_CLEAN_LOGS_DRY_RUN",
            help="Show what would be deleted and archived; change nothing (no S3 writes).",
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            envvar="AIRFLOW_PLATFORM_CLEAN_LOGS_WORKERS",
            metavar="N",
            help="Threads cleaning a folder's top-level directories at once (1-64). On a disk "
            "or a network filesystem deleting is mostly waiting, which threads overlap; on a "
            "memory filesystem they only slow each other down. Default: 1 on tmpfs or ramfs, "
            "else 4.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Delete log files older than DAYS, then the directories left empty.

    Optionally archives each folder's expired files to S3 first.

    Runs exactly what the log_cleanup DAG runs. With --archive, AWS credentials and
    AWS_ENDPOINT_URL come from the usual AWS environment, the region from AWS_REGION, else
    AWS_DEFAULT_REGION or the AWS config file. Exit 1 when something could not be cleaned or
    archived (the rest was), 2 on usage or environment errors (a missing folder, a bad value,
    no region or credentials for --archive); then nothing was touched.
    """
    from rich.table import Table

    from platform_ops.log_cleanup import (
        ArchiveTarget,
        CleanupOptions,
        CleanupReport,
        LogCleanupError,
        clean_logs,
        resolve_folders,
    )

    errors = Console(stderr=True)
    # Every LogCleanupError is raised before anything is touched and names an input (a value,
    # a folder that is missing, not a folder or the root); what goes wrong while cleaning is
    # counted in the report instead, and exits 1 below.
    try:
        options = CleanupOptions(
            folders=tuple(str(folder) for folder in folders),
            older_than_days=older_than,
            archive=ArchiveTarget.parse(archive) if archive is not None else None,
            dry_run=dry_run,
            workers=workers,
        )
        resolve_folders(options.folders)  # a missing folder before any AWS check
    except LogCleanupError as error:
        raise fail(str(error), EXIT_USAGE) from None
    # A dry run writes nothing to S3 and builds no client, so it needs no AWS set-up.
    uploads = options.archive is not None and not dry_run
    with aws_session(require_region()) if uploads else nullcontext():
        try:
            with errors.status(f"cleaning {escape(', '.join(options.folders))}") as status:

                def show(folder: str, report: CleanupReport) -> None:
                    status.update(
                        f"cleaning {escape(folder)}: {report.files_deleted:,} files "
                        f"{'would be ' if dry_run else ''}deleted, {report.files_archived:,} "
                        f"archived, {report.kept_young:,} kept"
                    )

                report = clean_logs(options, progress=show)
        except LogCleanupError as error:
            raise fail(str(error), EXIT_USAGE) from None

    verb = "would be " if dry_run else ""
    table = Table(
        title=f"clean-logs{' (dry run)' if dry_run else ''}: files older than {older_than} "
        f"days (modified at or before {report.cutoff})"
    )
    table.add_column("", style="bold")
    table.add_column("count", justify="right")
    table.add_column("bytes", justify="right")
    table.add_row(f"files {verb}deleted", f"{report.files_deleted:,}", f"{report.bytes_deleted:,}")
    if options.archive is not None:
        table.add_row(f"files {verb}archived", f"{report.files_archived:,}",
                      f"{report.bytes_archived:,}")  # fmt: skip
        table.add_row(f"archives {verb}written", f"{len(report.archives):,}", "")
    table.add_row(f"empty directories {verb}removed", f"{report.dirs_removed:,}", "")
    table.add_row("kept: younger than the retention", f"{report.kept_young:,}", "")
    table.add_row("kept: rewritten while running", f"{report.kept_rewritten:,}", "")
    table.add_row("left alone: symlinks, special files", f"{report.left_not_regular:,}", "")
    table.add_row("vanished while running", f"{report.vanished:,}", "")
    table.add_row("errors", f"{report.error_count:,}", "")
    out = Console()
    out.print(table)
    for url in report.archives:
        out.print(f"{'would write ' if dry_run else 'archived to '}{escape(url)}", highlight=False,
                  soft_wrap=True)  # fmt: skip
    if not report.ok:
        for line in report.errors:
            errors.print(f"[red]{escape(line)}[/red]", highlight=False, soft_wrap=True)
        shown = "" if report.error_count == len(report.errors) else f" ({len(report.errors)} shown)"
        raise fail(f"{report.error_count} errors while cleaning{shown}; everything "
                   "else was cleaned")  # fmt: skip
