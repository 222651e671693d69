"""`airflow-platform`: the operator's command line. Each option is defined once, with help
text and an `AIRFLOW_PLATFORM_*` environment variable; a flag beats the variable, which
beats the default."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(
    name="airflow-platform",
    help="Production Apache Airflow on AWS: offline plans and operator tasks.",
    no_args_is_help=True,
    add_completion=False,
)

EXIT_POLICY = 1
EXIT_USAGE = 2

ProjectDir = Annotated[
    Path | None,
    typer.Option(
        "--project-dir",
        envvar="AIRFLOW_PLATFORM_PROJECT_DIR",
        help="The Pulumi project (holding Pulumi.yaml); default: the nearest one above here.",
        file_okay=False,
    ),
]


@app.command()
def plan(
    stack: Annotated[str, typer.Argument(help="Stack name: dev, staging, prod or pr-<number>.")],
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json",
            envvar="AIRFLOW_PLATFORM_PLAN_JSON",
            help="Write the plan JSON (the `pulumi preview --json` shape) here; - for stdout.",
        ),
    ] = None,
    markdown_out: Annotated[
        Path | None,
        typer.Option(
            "--markdown",
            envvar="AIRFLOW_PLATFORM_PLAN_MARKDOWN",
            help="Write the pull-request comment (markdown) here.",
        ),
    ] = None,
    diff: Annotated[
        Path | None,
        typer.Option(
            "--diff",
            envvar="AIRFLOW_PLATFORM_PLAN_DIFF",
            help="A base plan JSON; steps become create/update/delete/same against it.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    account_id: Annotated[
        str | None,
        typer.Option(
            "--account-id",
            envvar="AIRFLOW_PLATFORM_ACCOUNT_ID",
            help="Account id the mocks answer with (it appears in bucket names and ARNs); "
            "default: the placeholder 123456789012.",
            show_default=False,
        ),
    ] = None,
    project_dir: ProjectDir = None,
) -> None:
    """Run the stack's program offline under the Pulumi mock runtime and show what it declares.

    No cloud credentials and no Pulumi CLI are needed. Exit 1 on a mandatory policy violation,
    2 on invalid config or usage.
    """
    from airflow_platform.config import ConfigError
    from airflow_platform.plan.contract import (
        BasePlanError,
        build_plan,
        display_config,
        dump,
        load_base,
    )
    from airflow_platform.plan.mocks import PLACEHOLDER_ACCOUNT_ID
    from airflow_platform.plan.project import Project, ProjectError, read_stack_config
    from airflow_platform.plan.render import markdown, print_plan
    from airflow_platform.plan.runner import run_program

    to_stdout = json_out is not None and str(json_out) == "-"
    # With the JSON on stdout, the table goes to stderr so the JSON stays parseable.
    console = Console(stderr=to_stdout)
    errors = Console(stderr=True)
    try:
        project = Project.load(project_dir.resolve()) if project_dir else Project.find()
        config = read_stack_config(project, stack)
        base = load_base(diff) if diff else None
        run = run_program(project, stack, config, account_id=account_id or PLACEHOLDER_ACCOUNT_ID)
    except (ConfigError, ProjectError, BasePlanError) as error:
        errors.print(f"[bold red]error:[/bold red] {error}", highlight=False, markup=True)
        raise typer.Exit(EXIT_USAGE) from None

    result = build_plan(run, display_config(config.values, config.secret_keys), base)
    print_plan(result, stack, console)
    if json_out is not None:
        if to_stdout:
            sys.stdout.write(dump(result))
        else:
            json_out.write_text(dump(result))
            console.print(f"plan JSON written to {json_out}")
    if markdown_out is not None:
        markdown_out.write_text(markdown(result, stack))
        console.print(f"pull-request summary written to {markdown_out}")
    if any(v["enforcementLevel"] == "mandatory" for v in result["policyViolations"]):
        raise typer.Exit(EXIT_POLICY)


@app.command("config-reference")
def config_reference() -> None:
    """Print the config reference table (the README's copy is checked against it)."""
    from airflow_platform.config.reference import reference

    typer.echo(reference())


PgBinDir = Annotated[
    Path | None,
    typer.Option(
        "--pg-bin-dir",
        envvar="AIRFLOW_PLATFORM_PG_BIN_DIR",
        help="Directory holding pg_dump, pg_restore and psql (major version >= the server's); "
        "default: PATH.",
        file_okay=False,
    ),
]
EXIT_FAILED = 1


def _transfer_progress(console: Console) -> Any:
    """A rich progress bar in bytes (on stderr, so stdout stays for results)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _fail(console: Console, message: str, code: int = EXIT_FAILED) -> typer.Exit:
    console.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.command()
def backup(
    source: Annotated[
        str,
        typer.Option(
            "--from",
            envvar="AIRFLOW_PLATFORM_BACKUP_FROM",
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
            help="s3://<bucket>/<prefix>; the dump goes to "
            "<prefix>/<database>/<YYYY>/<MM>/<DD>/<database>-<UTC time>.dump.",
        ),
    ],
    part_size_mib: Annotated[
        int,
        typer.Option(
            "--part-size",
            envvar="AIRFLOW_PLATFORM_BACKUP_PART_SIZE_MIB",
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

    Runs exactly what the backup DAG runs. AWS credentials, region and AWS_ENDPOINT_URL come
    from the usual AWS environment. Exit 1 when the backup fails (nothing is left in the
    bucket), 2 on usage errors.
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
        raise _fail(errors, str(error), EXIT_USAGE) from None
    try:
        with _transfer_progress(errors) as progress:
            task = progress.add_task(f"dump {conn.database}", total=None)
            result = run_backup(
                settings, progress=lambda done, _total: progress.update(task, completed=done)
            )
    except BackupError as error:
        raise _fail(errors, str(error)) from None
    typer.echo(
        f"backed up {conn.masked()} to {result.url}: {result.size} bytes in {result.parts} "
        f"parts, sha256 {result.sha256}, {result.duration_seconds:.1f} s"
    )


@app.command()
def restore(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            envvar="AIRFLOW_PLATFORM_RESTORE_TO",
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
            help="s3://<bucket>/<key> of the dump to restore.",
        ),
    ] = None,
    latest: Annotated[
        str | None,
        typer.Option(
            "--latest",
            envvar="AIRFLOW_PLATFORM_RESTORE_LATEST",
            help="s3://<bucket>/<prefix>: restore the newest dump under it (instead of --from).",
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
    whole object has matched; a mismatch leaves the target unchanged. Exit 1 when the restore
    fails or is refused, 2 on usage errors.
    """
    from platform_ops.backup import ConnInfo, RestoreError, RestoreSettings, S3Location
    from platform_ops.backup import run_restore as restore_dump

    errors = Console(stderr=True)
    if (source is None) == (latest is None):
        raise _fail(errors, "give exactly one of --from s3://<bucket>/<key> and --latest "
                    "s3://<bucket>/<prefix>", EXIT_USAGE)  # fmt: skip
    try:
        conn = ConnInfo.parse(to)
        location = S3Location.parse(source or latest or "")
    except ValueError as error:
        raise _fail(errors, str(error), EXIT_USAGE) from None
    settings = RestoreSettings(
        dsn=to,
        source=location,
        latest=latest is not None,
        force=force,
        no_owner=no_owner,
        pg_bin_dir=pg_bin_dir,
    )
    try:
        with _transfer_progress(errors) as progress:
            task = progress.add_task(f"restore into {conn.database}", total=None)

            def advance(done: int, total: int | None) -> None:
                progress.update(task, completed=done, total=total)

            result = restore_dump(settings, progress=advance)
    except RestoreError as error:
        raise _fail(errors, str(error)) from None
    typer.echo(
        f"restored s3://{result.bucket}/{result.key} ({result.size} bytes, sha256 verified) "
        f"into {conn.masked()} in {result.duration_seconds:.1f} s"
    )


DagsSource = Annotated[
    Path | None,
    typer.Option(
        "--source",
        envvar="AIRFLOW_PLATFORM_DAGS_SOURCE",
        help="The DAG bundle folder; default: dags/ of the project.",
        exists=True,
        file_okay=False,
        resolve_path=True,
    ),
]


def _dags_source(source: Path | None, project_dir: Path | None) -> Path:
    """`--source`, else the project's `dags/`; ValueError when neither is there."""
    if source is not None:
        return source  # without loading the project (and the config schema it imports)
    from airflow_platform.plan.project import Project, ProjectError

    try:
        project = Project.load(project_dir.resolve()) if project_dir else Project.find()
    except ProjectError as error:
        raise ValueError(f"{error}; or pass --source") from None
    folder = project.root / "dags"
    if not folder.is_dir():
        raise ValueError(f"the DAG folder {folder} does not exist; pass --source")
    return folder


def _run_check(source: Path, errors: Console) -> Any:
    """check-dags' work: the report, with its problems printed; exits 2 without Airflow."""
    from rich.table import Table

    from airflow_platform.bundle.check import AirflowMissingError, CheckCrashedError, check_bundle
    from airflow_platform.versions import versions

    pinned = versions().airflow
    try:
        with errors.status(f"importing the DAGs of {source} in Airflow"):
            result = check_bundle(source)
    except AirflowMissingError as error:
        message = (
            f"Apache Airflow cannot be imported by {sys.executable} ({error}). check-dags "
            f"imports the bundle in the pinned Airflow: install apache-airflow=={pinned} "
            "(AIRFLOW_VERSION in versions.env), as `make test` does in .venv; or pass "
            "--no-check to ship-dags"
        )
        raise _fail(errors, message, EXIT_USAGE) from None
    except CheckCrashedError as error:
        raise _fail(errors, f"check-dags failed: {error}") from None
    if result.airflow_version != pinned:
        errors.print(f"[yellow]warning:[/yellow] checked with Airflow {result.airflow_version}, "
                     f"not the pinned {pinned} (versions.env)", highlight=False)  # fmt: skip
    if result.errors:
        table = Table(title=f"DAG import errors in {source}", show_lines=True)
        table.add_column("file", style="bold red", no_wrap=True)
        table.add_column("problem")
        for problem in result.errors:
            lines = problem.message.strip().splitlines()
            table.add_row(escape(problem.file), escape("\n".join(lines[-12:])))
        errors.print(table)
    if result.violations:
        table = Table(title=f"DAG quality gate: rules broken in {source}")
        table.add_column("file", style="bold red", no_wrap=True)
        table.add_column("rule broken")
        for problem in result.violations:
            table.add_row(escape(problem.file), escape(problem.message))
        errors.print(table)
    for warning in result.warnings:
        errors.print(f"[yellow]warning:[/yellow] {escape(warning.file)}: "
                     f"{escape(warning.message)}", highlight=False)  # fmt: skip
    return result


def _check_summary(result: Any, folder: Path) -> str:
    parts = []
    if result.errors:
        parts.append(f"{len(result.errors)} DAG file(s) of {folder} failed to import")
    if result.violations:
        files = len({problem.file for problem in result.violations})
        parts.append(f"{len(result.violations)} quality-gate rule(s) broken in {files} file(s)")
    return "; ".join(parts)


@app.command("check-dags")
def check_dags(source: DagsSource = None, project_dir: ProjectDir = None) -> None:
    """Import the DAG bundle in the pinned Airflow (DagBag, in a child process) and fail on
    any import error, cycle or duplicate dag_id, or any broken quality-gate rule (every task
    with an owner, retries and a failure callback; tags; catchup and max_active_runs given
    explicitly; no heavy module imported at a DAG file's top level), naming its file.

    Prints one line per DAG found when the bundle is clean. Exit 1 on a problem, 2 on usage
    errors or when Airflow (apache-airflow==AIRFLOW_VERSION of versions.env) is missing.
    """
    from rich.table import Table

    errors = Console(stderr=True)
    try:
        folder = _dags_source(source, project_dir)
    except ValueError as error:
        raise _fail(errors, str(error), EXIT_USAGE) from None
    result = _run_check(folder, errors)
    if not result.ok:
        raise _fail(errors, _check_summary(result, folder))
    table = Table(title=f"DAGs in {folder} (Airflow {result.airflow_version})")
    table.add_column("dag_id", style="bold")
    table.add_column("file")
    table.add_column("tasks", justify="right")
    for dag in result.dags:
        table.add_row(escape(dag.dag_id), escape(dag.file), str(dag.tasks))
    Console().print(table)
    if not result.dags:
        errors.print(f"[yellow]warning:[/yellow] no DAG found in {folder}", highlight=False)


def _dag_bucket(stack: str, project_dir: Path | None) -> tuple[str, str]:
    """The stack's DAG bucket and region, named as the Storage component names it.

    ValueError says why it cannot be known.
    """
    import os

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from airflow_platform.components.storage import bucket_name
    from airflow_platform.config import ConfigError, Platform, settings_from_values
    from airflow_platform.plan.project import Project, ProjectError, read_stack_config

    try:
        project = Project.load(project_dir.resolve()) if project_dir else Project.find()
        values = dict(read_stack_config(project, stack).values)
    except ProjectError as error:
        raise ValueError(str(error)) from None
    # Like `pulumi up`'s AWS provider: the stack's aws:region, else the environment's.
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if "aws:region" not in values and region:
        values["aws:region"] = region
    try:
        settings = settings_from_values(project.name, stack, values)
    except ConfigError as error:
        raise ValueError(str(error)) from None
    if settings.platform is not Platform.MWAA:
        raise ValueError(
            f"stack {stack!r} runs Airflow on {settings.platform.value}, whose DAGs ship inside "
            "the image (make image), not from the DAG bucket; ship-dags is for mwaa stacks"
        )
    try:
        sts = boto3.client("sts", region_name=settings.region)
        account = sts.get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as error:
        raise ValueError(
            f"cannot find the AWS account for the bucket name (STS GetCallerIdentity: {error})"
        ) from None
    return bucket_name(stack, "dags", account, settings.region), settings.region


@app.command("ship-dags")
def ship_dags(
    stack: Annotated[
        str, typer.Argument(help="Stack whose DAG bucket receives the bundle (an mwaa stack).")
    ],
    source: DagsSource = None,
    bucket: Annotated[
        str | None,
        typer.Option(
            "--bucket",
            envvar="AIRFLOW_PLATFORM_DAGS_BUCKET",
            help="The DAG bucket; default: the stack's, airflow-<stack>-dags-<account>-<region> "
            "(account from STS GetCallerIdentity, region from the stack's aws:region, else "
            "AWS_REGION), as the Storage component names it.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            envvar="AIRFLOW_PLATFORM_SHIP_DRY_RUN",
            help="Show what would be uploaded and deleted; change nothing.",
        ),
    ] = False,
    no_check: Annotated[
        bool,
        typer.Option(
            "--no-check",
            envvar="AIRFLOW_PLATFORM_SHIP_NO_CHECK",
            help="Ship without importing the DAGs first (check-dags).",
        ),
    ] = False,
    verify_metadata: Annotated[
        bool,
        typer.Option(
            "--verify-metadata",
            envvar="AIRFLOW_PLATFORM_SHIP_VERIFY_METADATA",
            help="Trust only each object's sha256 metadata (a HEAD per same-size object), not "
            "an MD5 ETag; objects without it are re-uploaded with it.",
        ),
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            envvar="AIRFLOW_PLATFORM_SHIP_CONCURRENCY",
            help="Parallel S3 requests (1-64).",
            min=1,
            max=64,
        ),
    ] = 8,
    project_dir: ProjectDir = None,
) -> None:
    """Ship the DAG bundle to the stack's DAG bucket by content: a DAG-only deploy.

    The files are those the Pulumi DagBundle ships (`.airflowignore` honoured), under the
    same keys, dags/<path>. Only new and changed files are uploaded (each object carries its
    SHA-256 in the `sha256` metadata), objects under dags/ without a file are deleted, and
    nothing outside dags/ (requirements.txt, plugins.zip, the startup script: Pulumi's) is
    touched. Without --bucket the bucket is airflow-<stack>-dags-<account>-<region>: the
    account of the credentials (STS GetCallerIdentity) and the stack file's aws:region (else
    AWS_REGION), the Storage component's naming rule. AWS credentials and AWS_ENDPOINT_URL
    come from the usual AWS environment. check-dags runs first unless --no-check.

    Exit 1 when the check or the ship fails, 2 on usage or config errors.
    """
    from rich.table import Table

    from airflow_platform.bundle import bundle_files
    from airflow_platform.bundle.ship import ShipError, apply_plan, plan_ship, s3_client

    errors = Console(stderr=True)
    region = None
    try:
        folder = _dags_source(source, project_dir)
    except ValueError as error:
        raise _fail(errors, str(error), EXIT_USAGE) from None
    try:
        if bucket is None:
            bucket, region = _dag_bucket(stack, project_dir)
    except ValueError as error:
        raise _fail(errors, f"{error}; or pass --bucket", EXIT_USAGE) from None
    files = bundle_files(folder)
    if not files:
        raise _fail(errors, f"{folder} holds no file to ship; refusing to delete every object "
                    f"under dags/ of {bucket}", EXIT_USAGE)  # fmt: skip
    if not no_check:
        result = _run_check(folder, errors)
        if not result.ok:
            raise _fail(
                errors, f"not shipping: {_check_summary(result, folder)} (check-dags above)"
            )
        errors.print(f"check-dags: {len(result.dags)} DAG(s) import cleanly", highlight=False)

    s3 = s3_client(concurrency, region)
    try:
        with errors.status(f"comparing {len(files)} files with s3://{bucket}/dags/"):
            plan = plan_ship(
                s3, bucket, files, concurrency=concurrency, verify_metadata=verify_metadata
            )
        uploaded = deleted = sent = 0
        if dry_run:
            uploaded, deleted, sent = len(plan.uploads), len(plan.deletes), plan.upload_bytes
        elif not plan.changes_nothing:
            with _transfer_progress(errors) as progress:
                task = progress.add_task(f"upload {len(plan.uploads)} files",
                                         total=plan.upload_bytes)  # fmt: skip
                uploaded, deleted, sent = apply_plan(
                    s3, plan, concurrency=concurrency,
                    progress=lambda size: progress.advance(task, size),
                )  # fmt: skip
    except ShipError as error:
        raise _fail(errors, str(error)) from None

    out = Console()
    if dry_run and not plan.changes_nothing:
        changes = Table(title="what ship-dags would do (dry run)")
        changes.add_column("action", style="bold")
        changes.add_column("key")
        changes.add_column("bytes", justify="right")
        for upload in plan.uploads:
            changes.add_row(f"upload ({upload.reason})", escape(upload.file.key),
                            f"{upload.file.size:,}")  # fmt: skip
        for key in plan.deletes:
            changes.add_row("delete", escape(key), "")
        out.print(changes)
    verb = "would be " if dry_run else ""
    out.print(f"{folder} -> s3://{bucket}/dags/", highlight=False, soft_wrap=True)
    summary = Table(title="ship-dags (dry run)" if dry_run else "ship-dags")
    summary.add_column("files", style="bold")
    summary.add_column("count", justify="right")
    summary.add_row(f"{verb}uploaded", str(uploaded))
    summary.add_row(f"{verb}deleted", str(deleted))
    summary.add_row("unchanged", str(len(plan.unchanged)))
    summary.add_row(f"bytes {verb}uploaded", f"{sent:,}")
    out.print(summary)


@app.command("clean-logs")
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
            help="s3://<bucket>/<prefix>: first store each folder's expired files, one tar.gz "
            "per UTC day, at <prefix>/<folder name>/<YYYY>/<MM>/<DD>/<host>-<time>-<id>.tar.gz; "
            "files are deleted only once their archive is stored.",
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
            help="Threads cleaning a folder's top-level directories at once (1-64). On a disk "
            "or a network filesystem deleting is mostly waiting, which threads overlap; on a "
            "memory filesystem they only slow each other down. Default: 1 on tmpfs or ramfs, "
            "else 4.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Delete log files older than DAYS in each folder, then the directories left empty;
    optionally archive them to S3 first.

    Runs exactly what the log_cleanup DAG runs. AWS credentials, region and AWS_ENDPOINT_URL
    come from the usual AWS environment. Exit 1 when something could not be cleaned or
    archived (the rest was), 2 on usage errors.
    """
    from rich.table import Table

    from platform_ops.log_cleanup import (
        ArchiveTarget,
        CleanupOptions,
        CleanupReport,
        LogCleanupError,
        clean_logs,
    )

    errors = Console(stderr=True)
    try:
        options = CleanupOptions(
            folders=tuple(str(folder) for folder in folders),
            older_than_days=older_than,
            archive=ArchiveTarget.parse(archive) if archive is not None else None,
            dry_run=dry_run,
            workers=workers,
        )
        with errors.status(f"cleaning {escape(', '.join(options.folders))}") as status:

            def show(folder: str, report: CleanupReport) -> None:
                status.update(
                    f"cleaning {escape(folder)}: {report.files_deleted:,} files "
                    f"{'would be ' if dry_run else ''}deleted, {report.files_archived:,} "
                    f"archived, {report.kept_young:,} kept"
                )

            report = clean_logs(options, progress=show)
    except LogCleanupError as error:
        raise _fail(errors, str(error), EXIT_USAGE) from None

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
        raise _fail(errors, f"{report.error_count} errors while cleaning{shown}; everything "
                    "else was cleaned")  # fmt: skip
