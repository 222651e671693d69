"""`airflow-platform`: the operator's command line. Each option is defined once, with help
text and an `AIRFLOW_PLATFORM_*` environment variable; a flag beats the variable, which
beats the default."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from airflow_platform.config import ConfigError
from airflow_platform.plan.mocks import PLACEHOLDER_ACCOUNT_ID

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
        str,
        typer.Option(
            "--account-id",
            envvar="AIRFLOW_PLATFORM_ACCOUNT_ID",
            help="Account id the mocks answer with (it appears in bucket names and ARNs).",
        ),
    ] = PLACEHOLDER_ACCOUNT_ID,
    project_dir: ProjectDir = None,
) -> None:
    """Run the stack's program offline under the Pulumi mock runtime and show what it declares.

    No cloud credentials and no Pulumi CLI are needed. Exit 1 on a mandatory policy violation,
    2 on invalid config or usage.
    """
    from airflow_platform.plan.contract import (
        BasePlanError,
        build_plan,
        display_config,
        dump,
        load_base,
    )
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
        run = run_program(project, stack, config, account_id=account_id)
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
