"""`plan` (the offline plan) and `config-reference`."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from airflow_platform.cli.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    ProjectDir,
    check_output_file,
    fail,
    stack_argument,
)

_ACCOUNT_ID = re.compile(r"[0-9]{12}")


def check_account_id(value: str | None) -> str | None:
    """An AWS account id is exactly 12 digits."""
    if value is not None and not _ACCOUNT_ID.fullmatch(value):
        raise typer.BadParameter(
            f"account id {value!r} is not 12 digits: give an AWS account id such as 123456789012"
        )
    return value


def plan(
    stack: Annotated[str, stack_argument("Stack name: dev, staging, prod or pr-<number>.")],
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json",
            envvar="AIRFLOW_PLATFORM_PLAN_JSON",
            metavar="FILE",
            help="Write the plan JSON (the `pulumi preview --json` shape) here; - for stdout.",
            callback=check_output_file,
            show_default=False,
        ),
    ] = None,
    markdown_out: Annotated[
        Path | None,
        typer.Option(
            "--markdown",
            envvar="AIRFLOW_PLATFORM_PLAN_MARKDOWN",
            metavar="FILE",
            help="Write the pull-request comment (markdown) here.",
            callback=check_output_file,
            show_default=False,
        ),
    ] = None,
    diff: Annotated[
        Path | None,
        typer.Option(
            "--diff",
            envvar="AIRFLOW_PLATFORM_PLAN_DIFF",
            metavar="FILE",
            help="A base plan JSON; steps become create/update/replace/delete/same against it.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    account_id: Annotated[
        str | None,
        typer.Option(
            "--account-id",
            envvar="AIRFLOW_PLATFORM_ACCOUNT_ID",
            metavar="ACCOUNT_ID",
            help="Account id the mocks answer with, 12 digits (it appears in bucket names and "
            "ARNs); default: the placeholder 123456789012.",
            callback=check_account_id,
            show_default=False,
        ),
    ] = None,
    prices: Annotated[
        Path | None,
        typer.Option(
            "--prices",
            envvar="AIRFLOW_PLATFORM_PRICES",
            metavar="FILE",
            help="The price table the cost estimate reads (written by `prices refresh`); "
            "default: infra/airflow_platform/cost/prices.json when it exists, else no estimate.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    project_dir: ProjectDir = None,
) -> None:
    """Run the stack's program offline under the Pulumi mock runtime and show what it declares.

    No cloud credentials and no Pulumi CLI are needed. Exit 1 when the plan is refused (each
    blocking problem printed as `refused: ...`), 2 on invalid config or usage.
    """
    from airflow_platform.config import ConfigError, settings_from_values
    from airflow_platform.cost.model import plan_cost
    from airflow_platform.cost.table import DEFAULT_TABLE, PriceTableError, load_table
    from airflow_platform.plan.comment import comment
    from airflow_platform.plan.contract import (
        BasePlanError,
        blocking_problems,
        build_plan,
        display_config,
        dump,
        load_base,
    )
    from airflow_platform.plan.mocks import PLACEHOLDER_ACCOUNT_ID
    from airflow_platform.plan.policies import findings, unused_waivers, violations
    from airflow_platform.plan.project import Project, ProjectError, read_stack_config
    from airflow_platform.plan.render import print_plan
    from airflow_platform.plan.runner import run_program

    to_stdout = json_out is not None and str(json_out) == "-"
    # With the JSON on stdout, the table goes to stderr so the JSON stays parseable.
    console = Console(stderr=to_stdout)
    errors = Console(stderr=True)
    try:
        project = Project.at(project_dir)
        config = read_stack_config(project, stack)
        base = load_base(diff) if diff else None
        # No committed table (none can be made without AWS credentials): no estimate, and
        # the plan says so; a table that exists but is broken is refused, never half-read.
        table_path = prices or (DEFAULT_TABLE if DEFAULT_TABLE.is_file() else None)
        table = load_table(table_path) if table_path else None
        run = run_program(project, stack, config, account_id=account_id or PLACEHOLDER_ACCOUNT_ID)
        # The program validated the same values; the policy rules need its tier and waivers.
        settings = settings_from_values(project.name, stack, config.values)
    except (ConfigError, ProjectError, BasePlanError, PriceTableError) as error:
        raise fail(str(error), EXIT_USAGE) from None

    region = str(config.values.get("aws:region") or "us-east-1")  # as run_program's mocks
    cost = plan_cost(run, table, region, base) if table is not None else None
    # The policy pack's rules, over what the program declared (plan/policies.py).
    found = findings(run, settings)
    result = build_plan(
        run,
        display_config(config.values, config.secret_keys),
        base,
        cost,
        policy_violations=violations(found),
    )
    print_plan(result, stack, console, policies_evaluated=True)
    for waiver in unused_waivers(settings, found):
        errors.print(
            f"[yellow]note:[/yellow] waiver of {escape(waiver.rule)} for "
            f"{escape(waiver.resource)} waived nothing in this plan (no such resource, or it "
            "complies): remove it from airflow-platform:policy.waivers",
            highlight=False,
            soft_wrap=True,
        )
    try:
        if json_out is not None:
            if to_stdout:
                sys.stdout.write(dump(result))
            else:
                json_out.write_text(dump(result))
                console.print(f"plan JSON written to {json_out}")
        if markdown_out is not None:
            # The base's cost is the comment's "before".
            markdown_out.write_text(comment(result, stack, base, policies_evaluated=True))
            console.print(f"pull-request summary written to {markdown_out}")
    except OSError as error:  # checked before the run; the disk can still fill up
        where = error.filename or "the output"
        raise fail(f"cannot write {where}: {error.strerror or error}", EXIT_USAGE) from None
    blocking = blocking_problems(result)
    if blocking:
        for line in blocking:
            # One line each, however narrow the window: a log is read line by line.
            errors.print(
                f"[bold red]refused:[/bold red] {escape(line)}", highlight=False, soft_wrap=True
            )
        raise typer.Exit(EXIT_FAILED)


def config_reference() -> None:
    """Print the config reference table (the README's copy is checked against it)."""
    from airflow_platform.config.reference import reference

    typer.echo(reference())
