"""`audit`: what a stack still has in AWS, by its tags and by its names (teardown.audit), the
check a destroy ends with, and one to run by hand after anything was deleted outside Pulumi."""

from __future__ import annotations

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
    from airflow_platform.teardown.audit import AuditReport

# botocore's own check of a region name (botocore.utils.validate_region_name), as
# cli/common.py checks AWS_REGION.
_REGION_HELP = "a region name such as eu-west-1"


def _check_regions(values: list[str] | None) -> list[str]:
    import re

    for value in values or []:
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", value):
            raise typer.BadParameter(f"{value!r} is not {_REGION_HELP}")
    return list(values or [])


def audit(
    stack: Annotated[str, stack_argument("Stack to look for (any tier: read-only).")],
    regions: Annotated[
        list[str] | None,
        typer.Option(
            "--region",
            envvar="AIRFLOW_PLATFORM_AUDIT_REGIONS",
            metavar="REGION",
            help="Also search this region (repeatable; the variable takes a space-separated "
            "list), such as one the stack ran in before it moved. Always searched: the stack "
            "file's aws:region, and us-east-1 when the stack has a Slack channel (Chatbot's "
            "log group).",
            callback=_check_regions,
            show_default=False,
        ),
    ] = None,
    project_dir: ProjectDir = None,
) -> None:
    """List every AWS resource the stack still has: whatever carries its project and stack
    tags (Resource Groups Tagging API, IAM roles by their tags), whatever EKS Auto Mode
    tagged with its cluster's name, and whatever its naming rule owns that no tag finds
    (log groups, buckets, schedules, secrets, roles).

    Read-only: it deletes nothing, so any tier may be audited; on a live stack (prod
    included) it lists what that stack has. A KMS key or secret AWS is already deleting is
    shown as pending deletion and is not counted as left. Region from the stack file's
    aws:region, account and credentials from the usual AWS environment.

    Exit 0 when nothing is left, 1 when something is, 2 on usage, config or environment
    errors (no region or credentials, or a service or region that could not be read, such as
    an AccessDenied: then nothing is known).
    """
    from airflow_platform.teardown.audit import (
        AuditError,
        AuditTarget,
        audit_regions,
        audit_stack,
    )

    try:
        settings = stack_settings(stack, project_dir)
    except ValueError as error:
        raise fail(str(error), EXIT_USAGE) from None
    with aws_session(settings.region) as session:
        account_id = _account_id(session, settings.region)
        target = AuditTarget(
            project=settings.project,
            stack=stack,
            account_id=account_id,
            regions=tuple(dict.fromkeys([*audit_regions(settings), *(regions or [])])),
        )
        errors = Console(stderr=True)
        try:
            with errors.status(f"auditing {stack} in {', '.join(target.regions)}"):
                report = audit_stack(
                    target, lambda service, region: session.client(service, region_name=region)
                )
        except AuditError as error:
            raise fail(f"audit of {stack} incomplete: {error}", EXIT_USAGE) from None
    _print(report)
    if not report.clean:
        raise typer.Exit(1)


def _account_id(session: Any, region: str) -> str:
    """The account of the credentials (STS GetCallerIdentity): bucket names carry it."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return session.client("sts", region_name=region).get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as error:
        raise fail(
            f"cannot find the AWS account to audit (STS GetCallerIdentity: {error})", EXIT_USAGE
        ) from None


def _print(report: AuditReport) -> None:
    from rich.table import Table

    # No emoji codes: an ARN such as `...:secret:airflow/...` would print one.
    target, out = report.target, Console(emoji=False)
    where = ", ".join(target.regions)
    if report.leftovers:
        table = Table(title=f"Left of {target.stack} (account {target.account_id}, {where})")
        for column in ("region", "kind", "identifier", "found by", "state"):
            table.add_column(column, overflow="fold")
        for item in report.leftovers:
            state = (
                "[yellow]pending deletion[/yellow]" if item.pending_deletion else "[red]left[/red]"
            )
            table.add_row(item.region, item.kind, escape(item.identifier), item.found_by, state)
        out.print(table)
    pending = len(report.leftovers) - len(report.orphans)
    tail = f" ({pending} pending deletion by AWS)" if pending else ""
    if report.clean:
        out.print(f"{target.stack}: nothing left in {where}{tail}", highlight=False)
    else:
        out.print(
            f"{target.stack}: {len(report.orphans)} resource(s) left in {where}{tail}",
            highlight=False,
        )
