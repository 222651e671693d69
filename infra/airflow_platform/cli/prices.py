"""`prices refresh`: regenerate the price table the plan's cost estimate reads, from the AWS
Price List API (cost/refresh.py). No price is ever typed by hand."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from airflow_platform.cli.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    Command,
    Group,
    ProjectDir,
    check_output_file,
    fail,
)

app = typer.Typer(
    name="prices",
    cls=Group,
    help="The price table of the plan's cost estimate: refresh it from the AWS Price List API.",
    no_args_is_help=True,
    add_completion=False,
)

# config.model's rule for a region name (importing it here would load pydantic at start-up).
_REGION = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)(-gov)?-[a-z]+-\d$")


def _check_regions(values: list[str] | None) -> list[str] | None:
    for value in values or []:
        if not _REGION.fullmatch(value):
            raise typer.BadParameter(f"{value!r} is not a region name such as eu-west-1")
    return values


@app.command("refresh", cls=Command)
def refresh(
    regions: Annotated[
        list[str] | None,
        typer.Option(
            "--region",
            metavar="REGION",
            help="A region to price (repeat for several); default: the regions the stack files "
            "use (each aws:region, each backup.replicaRegion, and us-east-1, where the chat "
            "alerts' log group lives).",
            callback=_check_regions,
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            envvar="AIRFLOW_PLATFORM_PRICES",
            metavar="FILE",
            help="Where to write the table; default: infra/airflow_platform/cost/prices.json "
            "(the one the plan reads by default).",
            callback=check_output_file,
            show_default=False,
        ),
    ] = None,
    allow_unresolved: Annotated[
        bool,
        typer.Option(
            "--allow-unresolved",
            help="Write the table even when some items find no single price; the plan then "
            "reports the resources needing them as not priced.",
        ),
    ] = False,
    project_dir: ProjectDir = None,
) -> None:
    """Ask the AWS Price List API (pricing:GetProducts, us-east-1) for every price the cost
    estimate uses, in every region asked, and write the price table.

    Needs AWS credentials allowed pricing:GetProducts. Each price is written with the
    filters, SKU and offer term it was read from. Exit 1 when an item finds no single price
    (each named with the reason; nothing is written unless --allow-unresolved) or the API
    cannot be read, 2 on usage or missing credentials.
    """
    from airflow_platform.cli.common import aws_session
    from airflow_platform.cost.refresh import (
        PRICING_REGION,
        RefreshError,
        stack_regions,
    )
    from airflow_platform.cost.refresh import refresh as run_refresh
    from airflow_platform.cost.table import DEFAULT_TABLE, dump_table
    from airflow_platform.plan.project import Project, ProjectError, read_stack_config

    target = output or DEFAULT_TABLE
    console = Console(stderr=True)
    if not regions:
        try:
            project = Project.at(project_dir)
            stacks = {s: read_stack_config(project, s).values for s in project.known_stacks()}
        except ProjectError as error:
            raise fail(str(error), EXIT_USAGE) from None
        regions = stack_regions(stacks)
    with aws_session(PRICING_REGION) as session:
        client = session.client("pricing", region_name=PRICING_REGION)
        try:
            with console.status(f"reading prices for {', '.join(regions)}"):
                result = run_refresh(client, regions)
        except RefreshError as error:
            raise fail(str(error), EXIT_FAILED) from None
    for entry in result.unresolved:
        console.print(
            f"[yellow]unresolved:[/yellow] {escape(entry.key)} in {escape(entry.region)}: "
            f"{escape(entry.reason)}",
            highlight=False,
            soft_wrap=True,
        )
    if result.unresolved and not allow_unresolved:
        raise fail(
            f"{len(result.unresolved)} price items found no single price (above); nothing "
            "written: fix their filters in airflow_platform/cost/items.py, or pass "
            "--allow-unresolved to write the table without them",
            EXIT_FAILED,
        )
    try:
        target.write_text(dump_table(result.table))
    except OSError as error:
        raise fail(f"cannot write {target}: {error.strerror or error}", EXIT_USAGE) from None
    table = result.table
    console.print(
        f"{len(table.prices)} prices in {', '.join(table.regions)} as of {table.prices_as_of} "
        f"from {escape(table.endpoint)} written to {escape(str(target))}",
        highlight=False,
        soft_wrap=True,
    )
