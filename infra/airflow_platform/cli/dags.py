"""`check-dags` and `ship-dags`: the DAG bundle checked in the pinned Airflow, and shipped to
the DAG bucket by content."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from airflow_platform.cli.common import (
    EXIT_USAGE,
    DagsSource,
    ProjectDir,
    aws_session,
    fail,
    require_region,
    stack_argument,
    stack_settings,
    transfer_progress,
)

if TYPE_CHECKING:
    from airflow_platform.bundle.check import CheckResult


def _dags_source(source: Path | None, project_dir: Path | None) -> Path:
    """`--source`, else the project's `dags/`; ValueError when neither is there."""
    if source is not None:
        return source  # without loading the project (and the config schema it imports)
    from airflow_platform.plan.project import Project, ProjectError

    try:
        project = Project.at(project_dir)
    except ProjectError as error:
        raise ValueError(f"{error}; or pass --source") from None
    folder = project.root / "dags"
    if not folder.is_dir():
        raise ValueError(f"the DAG folder {folder} does not exist; pass --source")
    return folder


def _run_check(source: Path, errors: Console) -> CheckResult:
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
        raise fail(message, EXIT_USAGE) from None
    except CheckCrashedError as error:
        raise fail(f"check-dags failed: {error}") from None
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


def _check_summary(result: CheckResult, folder: Path) -> str:
    parts = []
    if result.errors:
        parts.append(f"{len(result.errors)} DAG file(s) of {folder} failed to import")
    if result.violations:
        files = len({problem.file for problem in result.violations})
        parts.append(f"{len(result.violations)} quality-gate rule(s) broken in {files} file(s)")
    return "; ".join(parts)


def check_dags(source: DagsSource = None, project_dir: ProjectDir = None) -> None:
    """Import the DAG bundle in the pinned Airflow and check the quality gate.

    Imports every DAG file in a child process (DagBag) and fails on any import error, cycle
    or duplicate dag_id, or any broken quality-gate rule (every task with an owner, retries
    and a failure callback; tags; catchup and max_active_runs given explicitly; no heavy
    module imported at a DAG file's top level), naming its file.

    Prints one line per DAG found when the bundle is clean. Exit 1 on a problem, 2 on usage
    errors or when Airflow (apache-airflow==AIRFLOW_VERSION of versions.env) is missing.
    """
    from rich.table import Table

    errors = Console(stderr=True)
    try:
        folder = _dags_source(source, project_dir)
    except ValueError as error:
        raise fail(str(error), EXIT_USAGE) from None
    result = _run_check(folder, errors)
    if not result.ok:
        raise fail(_check_summary(result, folder))
    table = Table(title=f"DAGs in {folder} (Airflow {result.airflow_version})")
    table.add_column("dag_id", style="bold")
    table.add_column("file")
    table.add_column("tasks", justify="right")
    for dag in result.dags:
        table.add_row(escape(dag.dag_id), escape(dag.file), str(dag.tasks))
    Console().print(table)
    if not result.dags:
        errors.print(f"[yellow]warning:[/yellow] no DAG found in {folder}", highlight=False)


def _ensure_manifest(folder: Path, errors: Console, rebuild: bool = False) -> None:
    """Build the dbt project's manifest (`bundle.dbt`) when it is missing or stale (always with
    `rebuild`); nothing without a project. Exit 1 when dbt cannot build it."""
    from airflow_platform.bundle.dbt import (
        DbtManifestError,
        build_manifest,
        dbt_executable,
        find_project,
        manifest_problem,
    )

    project = find_project(folder)
    if project is None:
        return
    reason = "rebuilding" if rebuild else manifest_problem(project)
    if reason is None:
        return
    try:
        executable = dbt_executable(folder.resolve().parent)
        with errors.status(f"dbt parse of {project.root} ({reason})"):
            built = build_manifest(project, executable)
    except DbtManifestError as error:
        raise fail(str(error)) from None
    errors.print(f"built {escape(str(built))} with {escape(executable)}", highlight=False)


def dbt_manifest(source: DagsSource = None, project_dir: ProjectDir = None) -> None:
    """Build the dbt project's manifest, which the elt_dbt DAG renders its tasks from.

    Runs `dbt parse` on the dbt project that ships with the DAGs (dags/dbt/, else dbt/ beside
    dags/) with the dbt of PLATFORM_DBT_EXECUTABLE, else .venv-dbt/bin/dbt, else dbt on PATH,
    and records the SHA-256 of every project file in target/manifest.sources.json, against
    which check-dags refuses a stale manifest. ship-dags builds it too when it is missing or
    stale. No database is contacted.

    Exit 1 when dbt fails, 2 on usage errors (no DAG folder, no dbt project).
    """
    from airflow_platform.bundle.dbt import find_project

    errors = Console(stderr=True)
    try:
        folder = _dags_source(source, project_dir)
    except ValueError as error:
        raise fail(str(error), EXIT_USAGE) from None
    if find_project(folder) is None:
        raise fail(f"no dbt project (dbt_project.yml) in {folder}/dbt or {folder.parent}/dbt",
                   EXIT_USAGE)  # fmt: skip
    _ensure_manifest(folder, errors, rebuild=True)


def _stack_region(stack: str, project_dir: Path | None) -> str:
    """The stack's region, as `pulumi up`'s AWS provider takes it: the stack file's
    aws:region, else the environment's; ValueError says why it cannot be known. Every stack
    has a DAG bucket read from its dags/ prefix, mwaa and eks alike."""
    return stack_settings(stack, project_dir).region


def _dag_bucket(stack: str, region: str) -> str:
    """The stack's DAG bucket as the Storage component names it, with the account of the
    credentials; ValueError when STS cannot say which account that is."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from airflow_platform.components.storage import bucket_name

    try:
        account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as error:
        raise ValueError(
            f"cannot find the AWS account for the bucket name (STS GetCallerIdentity: {error})"
        ) from None
    return bucket_name(stack, "dags", account, region)


def ship_dags(
    stack: Annotated[
        str, stack_argument("Stack whose DAG bucket receives the bundle (mwaa or eks).")
    ],
    source: DagsSource = None,
    bucket: Annotated[
        str | None,
        typer.Option(
            "--bucket",
            envvar="AIRFLOW_PLATFORM_DAGS_BUCKET",
            metavar="BUCKET",
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
            metavar="N",
            help="Parallel S3 requests (1-64).",
            min=1,
            max=64,
        ),
    ] = 8,
    project_dir: ProjectDir = None,
) -> None:
    """Ship the DAG bundle to the stack's DAG bucket by content: a DAG-only deploy.

    Both platforms read the DAGs from the bucket's dags/ prefix: MWAA itself, eks stacks
    through Airflow's S3 DAG bundle (each refresh interval), so no image is rebuilt. The
    files are those the Pulumi DagBundle ships (`.airflowignore` honoured), under the same
    keys, dags/<path>. Only new and changed files are uploaded (each object carries its
    SHA-256 in the `sha256` metadata), objects under dags/ without a file are deleted, and
    nothing outside dags/ (on mwaa stacks requirements.txt, plugins.zip, the startup script:
    Pulumi's) is touched. Without --bucket the bucket is
    airflow-<stack>-dags-<account>-<region>, on either platform: the account of the
    credentials (STS GetCallerIdentity) and the stack file's aws:region (else AWS_REGION), the
    Storage component's naming rule. With --bucket the region is AWS_REGION, else
    AWS_DEFAULT_REGION or the AWS config file. AWS credentials and AWS_ENDPOINT_URL come from
    the usual AWS environment. The dbt project ships as dags/dbt/ (sources, manifest and its
    fingerprint), its manifest rebuilt first when missing or stale (dbt-manifest). check-dags
    runs first unless --no-check.

    Exit 1 when the check or the ship fails, 2 on usage, config or environment errors (no
    region or credentials, no Airflow for the check).
    """
    from rich.table import Table

    from airflow_platform.bundle import bundle_files
    from airflow_platform.bundle.ship import ShipError, apply_plan, plan_ship, s3_client

    errors = Console(stderr=True)
    try:
        folder = _dags_source(source, project_dir)
    except ValueError as error:
        raise fail(str(error), EXIT_USAGE) from None
    if bucket is None:
        try:
            region = _stack_region(stack, project_dir)
        except ValueError as error:
            raise fail(f"{error}; or pass --bucket", EXIT_USAGE) from None
    else:
        region = require_region()
    with aws_session(region):
        if bucket is None:
            try:
                bucket = _dag_bucket(stack, region)
            except ValueError as error:
                raise fail(f"{error}; or pass --bucket", EXIT_USAGE) from None
        _ensure_manifest(folder, errors)
        files = bundle_files(folder)
        if not files:
            raise fail(f"{folder} holds no file to ship; refusing to delete every object "
                       f"under dags/ of {bucket}", EXIT_USAGE)  # fmt: skip
        if not no_check:
            result = _run_check(folder, errors)
            if not result.ok:
                raise fail(f"not shipping: {_check_summary(result, folder)} (check-dags above)")
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
                with transfer_progress(errors) as progress:
                    task = progress.add_task(f"upload {len(plan.uploads)} files",
                                             total=plan.upload_bytes)  # fmt: skip
                    uploaded, deleted, sent = apply_plan(
                        s3, plan, concurrency=concurrency,
                        progress=lambda size: progress.advance(task, size),
                    )  # fmt: skip
        except ShipError as error:
            raise fail(str(error)) from None

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
