"""`destroy` and `reap`: ephemeral (`pr-<n>`) stacks torn down so that nothing is left behind
(airflow_platform.teardown), through the Pulumi Automation API, which drives the Pulumi CLI:
both need `pulumi` on PATH and the state backend's login in the environment
(PULUMI_BACKEND_URL, PULUMI_ACCESS_TOKEN, PULUMI_CONFIG_PASSPHRASE as `pulumi` reads them)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from airflow_platform.cli.common import (
    EXIT_USAGE,
    ProjectDir,
    aws_session,
    fail,
    stack_argument,
    stack_settings,
)

if TYPE_CHECKING:
    from airflow_platform.config import Settings
    from airflow_platform.teardown.automation import PulumiAutomationBackend

SettleTimeout = Annotated[
    float,
    typer.Option(
        "--settle-timeout",
        envvar="AIRFLOW_PLATFORM_SETTLE_TIMEOUT",
        metavar="MINUTES",
        min=1,
        help="How long to wait, after each destroy phase, for AWS to delete what it deletes on "
        "its own time (load balancers, volumes, instances, Lambda network interfaces).",
    ),
]
AuditTimeout = Annotated[
    float,
    typer.Option(
        "--audit-timeout",
        envvar="AIRFLOW_PLATFORM_AUDIT_TIMEOUT",
        metavar="MINUTES",
        min=0,
        help="How long to repeat the orphan audit while leftovers remain before failing.",
    ),
]
PulumiOrg = Annotated[
    str | None,
    typer.Option(
        "--org",
        envvar="AIRFLOW_PLATFORM_PULUMI_ORG",
        metavar="ORG",
        help="The Pulumi Cloud organisation holding the stacks (stack names become "
        "ORG/<stack>); default: the backend's own naming.",
        show_default=False,
    ),
]
DEFAULT_SETTLE_MINUTES = 45.0
DEFAULT_AUDIT_MINUTES = 10.0


def _project_root(project_dir: Path | None) -> Path:
    from airflow_platform.plan.project import Project, ProjectError

    try:
        project = Project.at(project_dir)
    except ProjectError as error:
        raise fail(str(error), EXIT_USAGE) from None
    return project.root


def _settings(stack: str, project_dir: Path | None) -> Settings:
    try:
        return stack_settings(stack, project_dir)
    except ValueError as error:
        raise fail(str(error), EXIT_USAGE) from None


def _backend(root: Path, org: str | None, console: Console) -> PulumiAutomationBackend:
    from airflow_platform.teardown.automation import PulumiAutomationBackend

    def show(line: str) -> None:
        console.print(f"  {escape(line.rstrip())}", style="dim", highlight=False)

    return PulumiAutomationBackend(root, org=org, on_output=show)


@contextmanager
def _stack_destroyer(
    settings: Settings, backend: Any, timing: Any, say: Callable[[str], None]
) -> Iterator[Callable[[], Any]]:
    """`destroy_stack` for `settings`' stack, with AWS clients in its region."""
    from airflow_platform.teardown.audit import AuditTarget, audit_regions, audit_stack
    from airflow_platform.teardown.destroy import destroy_stack

    with aws_session(settings.region) as session:

        def client_for(service: str, region: str) -> Any:
            return session.client(service, region_name=region)

        def run() -> Any:
            account = client_for("sts", settings.region).get_caller_identity()["Account"]
            target = AuditTarget(settings.project, settings.stack, account, audit_regions(settings))
            return destroy_stack(
                settings.stack,
                settings.tier,
                backend,
                client_for,
                lambda: audit_stack(target, client_for),
                project=settings.project,
                region=settings.region,
                timing=timing,
                say=say,
            )

        yield run


def _timing(settle_timeout: float, audit_timeout: float) -> Any:
    from airflow_platform.teardown.destroy import Timing

    return Timing(settle_timeout=settle_timeout * 60, audit_timeout=audit_timeout * 60)


def destroy(
    stack: Annotated[str, stack_argument("The ephemeral stack to destroy: pr-<number>.")],
    settle_timeout: SettleTimeout = DEFAULT_SETTLE_MINUTES,
    audit_timeout: AuditTimeout = DEFAULT_AUDIT_MINUTES,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            envvar="AIRFLOW_PLATFORM_DESTROY_YES",
            help="Destroy without asking; required when not run from a terminal (CI).",
        ),
    ] = False,
    org: PulumiOrg = None,
    project_dir: ProjectDir = None,
) -> None:
    """Destroy an ephemeral (pr-<number>) stack so that nothing is left behind.

    Refuses any other tier, naming it (destroy dev, staging or prod deliberately with
    `pulumi destroy`). In phases: the in-cluster objects (Helm release, LoadBalancer Service,
    NodePool) first, then waits for the load balancers, volumes and instances their
    controllers made to be gone; then the Lambda functions, MWAA environment, EKS cluster and
    RDS instance, waiting for their network interfaces to be released; then everything left.
    Finally the orphan audit, repeated for --audit-timeout while leftovers remain.

    Needs the Pulumi CLI on PATH, the state backend's login (PULUMI_BACKEND_URL,
    PULUMI_ACCESS_TOKEN, PULUMI_CONFIG_PASSPHRASE) and AWS credentials.

    Exit 0 when the stack is gone and the audit is clean, 1 when a phase, a wait or the audit
    failed (the orphans listed), 2 on a refused tier, usage, config or environment errors.
    """
    from airflow_platform.teardown.automation import BackendError, PulumiMissingError
    from airflow_platform.teardown.destroy import (
        DestroyError,
        DestroyRefusedError,
        refuse_unless_ephemeral,
    )

    settings = _settings(stack, project_dir)
    try:
        refuse_unless_ephemeral(stack, settings.tier)
    except DestroyRefusedError as error:
        raise fail(str(error), EXIT_USAGE) from None
    if not yes:
        if not sys.stdin.isatty():
            raise fail(
                f"destroying {stack} needs confirmation: pass --yes (or set "
                "AIRFLOW_PLATFORM_DESTROY_YES=1) when not run from a terminal",
                EXIT_USAGE,
            )
        typer.confirm(f"Destroy every resource of {stack} and audit for leftovers?", abort=True)
    root = _project_root(project_dir)
    errors = Console(stderr=True)

    def say(message: str) -> None:
        errors.print(f"[bold]{escape(stack)}[/bold]: {escape(message)}", highlight=False)

    backend = _backend(root, org, errors)
    try:
        with _stack_destroyer(
            settings, backend, _timing(settle_timeout, audit_timeout), say
        ) as run:
            result = run()
    except PulumiMissingError as error:
        raise fail(str(error), EXIT_USAGE) from None
    except (BackendError, DestroyError) as error:
        raise fail(str(error)) from None
    Console().print(
        f"{stack}: destroyed in {len(result.phases)} phase(s), {result.seconds / 60:.1f} min; "
        "the audit found nothing left",
        highlight=False,
    )


def reap(
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            envvar="AIRFLOW_PLATFORM_REAP_DRY_RUN",
            help="List what would be reaped; destroy and remove nothing.",
        ),
    ] = False,
    settle_timeout: SettleTimeout = DEFAULT_SETTLE_MINUTES,
    audit_timeout: AuditTimeout = DEFAULT_AUDIT_MINUTES,
    org: PulumiOrg = None,
    project_dir: ProjectDir = None,
) -> None:
    """Destroy and remove every pr-<number> stack whose expiresAt output has passed.

    Lists the project's stacks in the Pulumi backend; only names that are exactly
    pr-<number> are considered, whatever other stacks' outputs say. No expiresAt yet (a stack
    mid-creation): skipped. A malformed one: not reaped but reported as needing attention,
    and the exit is 1, since such a stack can never expire. Each expired stack is destroyed
    as `destroy` does, then removed; one failure does not stop the others. Ends with a table:
    stack, expired at, action, result, duration.

    Exit 0 when every selected stack was reaped and none needs attention, 1 otherwise, 2 on
    usage, config or environment errors.
    """
    from airflow_platform.teardown.automation import BackendError, PulumiMissingError
    from airflow_platform.teardown.reaper import reap as run_reap

    root = _project_root(project_dir)
    errors = Console(stderr=True)
    backend = _backend(root, org, errors)
    timing = _timing(settle_timeout, audit_timeout)

    def destroy_one(name: str) -> None:
        def say(message: str) -> None:
            errors.print(f"[bold]{escape(name)}[/bold]: {escape(message)}", highlight=False)

        settings = stack_settings(name, project_dir)  # a ValueError fails this stack only
        with _stack_destroyer(settings, backend, timing, say) as run:
            run()

    try:
        report = run_reap(
            backend,
            datetime.now(UTC),
            destroy_one,
            dry_run=dry_run,
            say=lambda message: errors.print(escape(message), highlight=False),
        )
    except PulumiMissingError as error:
        raise fail(str(error), EXIT_USAGE) from None
    except BackendError as error:
        raise fail(str(error)) from None
    _print_report(report)
    if not report.ok:
        failed = [row.stack for row in report.rows if row.failed]
        raise fail(f"reap: {len(failed)} stack(s) failed or need attention: {', '.join(failed)}")


def _print_report(report: Any) -> None:
    from rich.table import Table

    table = Table(title="reap" + (" (dry run: nothing touched)" if report.dry_run else ""))
    for column in ("stack", "expired at", "action", "result"):
        table.add_column(column)
    table.add_column("duration", justify="right")
    for row in report.rows:
        result = escape(row.result)
        table.add_row(
            row.stack,
            f"{row.expired_at:%Y-%m-%d %H:%M} UTC" if row.expired_at else "-",
            row.action,
            f"[red]{result}[/red]" if row.failed else result,
            f"{row.seconds / 60:.1f} min" if row.seconds is not None else "-",
        )
    out = Console()
    out.print(table)
    out.print(f"{report.ignored} stack(s) not named pr-<number> left alone", highlight=False)
