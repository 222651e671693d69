"""What every command shares: the exit codes, the one error printer, the options that more
than one command takes (each defined once, with its `AIRFLOW_PLATFORM_*` variable and its
placeholder), the AWS region and credential checks, and the progress bar.

Start-up time matters (`airflow-platform clean-logs` runs every few minutes on a worker, and
`bench/ship.py` times the whole process): this module imports typer and rich only. Whatever a
command needs beyond that it imports inside the command, or inside the helper here that
needs it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

if TYPE_CHECKING:
    from rich.progress import Progress

    from airflow_platform.config import Settings

PROG = "airflow-platform"

EXIT_OK = 0
EXIT_FAILED = 1
"""The operation ran and failed (backup, restore, ship, clean, a DAG run triggered with
--wait), check-dags found problems, health found Airflow unhealthy or unreachable, or the plan
was refused (a blocking problem)."""
EXIT_USAGE = 2
"""Usage, config or environment: a bad flag or value, an invalid stack config, a missing
region, credentials, folder, PostgreSQL client or Airflow."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (128 + SIGINT), as a shell reports it."""

EXIT_CODES_HELP = (
    "Exit codes, the same for every command: 0 done; 1 the operation failed (backup, restore, "
    "ship-dags, clean-logs, a DAG run followed by dags trigger --wait), check-dags found "
    "problems, health found Airflow unhealthy or unreachable, or the plan was refused; 2 a "
    "usage, config or environment problem (an unknown option, a bad value, an invalid stack "
    "config, no AWS region or credentials, a refused login, a missing folder, PostgreSQL "
    "client or Airflow); 130 interrupted."
)


# --- errors -------------------------------------------------------------------------------


def print_error(message: str, hint: str | None = None) -> None:
    """The one error format: `error: <message>` on stderr, never wrapped, with an optional
    hint after it on the same line."""
    text = escape(message) + (f" (see `{escape(hint)}`)" if hint else "")
    Console(stderr=True).print(
        f"[bold red]error:[/bold red] {text}", highlight=False, soft_wrap=True
    )


def fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    """Print `message` as an error; the exception that exits with `code` (raise it)."""
    print_error(message)
    return typer.Exit(code)


def help_hint(command_path: str | None) -> str:
    """Where a usage error sends the reader: `airflow-platform <command> --help`."""
    return f"{command_path or PROG} --help"


# --- help: placeholders, not Python type names ------------------------------------------------


class _Argument(TyperArgument):
    """An argument whose help shows its metavar (STACK, DIR) and no type after it."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        # `plan [OPTIONS] STACK`, `clean-logs [OPTIONS] DIR...`: the usual notation, rather
        # than typer's `{STACK}` (braces read as a choice).
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")


class _Flag(TyperOption):
    """A flag (`--dry-run`, `--help`) takes no value, so its help shows no placeholder."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None if self.is_flag else super().display_type_rich(ctx)


def _placeholders_only(params: Sequence[Any]) -> None:
    """Give typer's parameter objects the display above. Typer (0.29) has no setting for it:
    an argument's help always shows its Python type, and a flag `<bool>`; the two methods
    overridden are typer's own, and tests/test_cli_help.py fails if a typer upgrade renames
    them."""
    for param in params:
        if type(param) is TyperArgument:
            param.__class__ = _Argument
        elif type(param) is TyperOption and param.is_flag:
            param.__class__ = _Flag


class Command(TyperCommand):
    """A command whose help shows each value's placeholder (FILE, DIR, STACK, N) and never a
    Python type name (`<str>`, `<path>`, `<bool>`)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _placeholders_only(params)
        return params


class Group(TyperGroup):
    """The command group, with the same help display as `Command`."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _placeholders_only(params)
        return params


# --- shared options and their checks ---------------------------------------------------------

# The config check's rule for stack names (airflow_platform.config.load), which also limits
# their length per region; importing it here would load Pulumi before every command.
_STACK_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
PROJECT_FILE = "Pulumi.yaml"


def check_stack(value: str) -> str:
    """A stack name is lowercase letters, digits and hyphens (it is part of bucket names)."""
    if not value.strip():
        raise typer.BadParameter(
            "the stack name is empty: give one such as dev, staging, prod or pr-<number>"
        )
    if not _STACK_NAME.fullmatch(value):
        raise typer.BadParameter(
            f"stack name {value!r} is not allowed: lowercase letters, digits and hyphens, "
            "such as dev, staging, prod or pr-<number>"
        )
    return value


def check_project_dir(value: Path | None) -> Path | None:
    """`--project-dir` must be a folder holding Pulumi.yaml."""
    if value is None:
        return None
    if not value.exists():
        raise typer.BadParameter(
            f"folder {str(value)!r} does not exist: give the Pulumi project's folder, the one "
            f"holding {PROJECT_FILE}"
        )
    if not value.is_dir():
        raise typer.BadParameter(
            f"{str(value)!r} is not a folder: give the Pulumi project's folder, the one holding "
            f"{PROJECT_FILE}"
        )
    if not (value / PROJECT_FILE).is_file():
        raise typer.BadParameter(
            f"folder {str(value)!r} holds no {PROJECT_FILE}: give the Pulumi project's folder"
        )
    return value


def check_output_file(value: Path | None) -> Path | None:
    """A file to write: `-` (stdout), or a path whose folder exists and that is not a folder
    itself; refused before anything runs."""
    if value is None or str(value) == "-":
        return value
    if value.is_dir():
        raise typer.BadParameter(f"{str(value)!r} is a folder: give a file name to write")
    folder = value.parent
    if not folder.is_dir():
        raise typer.BadParameter(
            f"folder {str(folder)!r} of {str(value)!r} does not exist: create it, or write to "
            "a file in an existing folder"
        )
    target = value if value.exists() else folder
    if not os.access(target, os.W_OK):
        raise typer.BadParameter(f"{str(target)!r} is not writable: write to another file")
    return value


def stack_argument(text: str) -> Any:
    """The STACK argument, checked by `check_stack`; `text`, its help, says what it is for."""
    return typer.Argument(help=text, metavar="STACK", callback=check_stack, show_default=False)


ProjectDir = Annotated[
    Path | None,
    typer.Option(
        "--project-dir",
        envvar="AIRFLOW_PLATFORM_PROJECT_DIR",
        metavar="DIR",
        help="The Pulumi project (holding Pulumi.yaml); default: the nearest one above here.",
        callback=check_project_dir,
        show_default=False,
    ),
]
PgBinDir = Annotated[
    Path | None,
    typer.Option(
        "--pg-bin-dir",
        envvar="AIRFLOW_PLATFORM_PG_BIN_DIR",
        metavar="DIR",
        help="Directory holding pg_dump, pg_restore and psql (major version >= the server's); "
        "default: PATH.",
        file_okay=False,
        show_default=False,
    ),
]
DagsSource = Annotated[
    Path | None,
    typer.Option(
        "--source",
        envvar="AIRFLOW_PLATFORM_DAGS_SOURCE",
        metavar="DIR",
        help="The DAG bundle folder; default: dags/ of the project.",
        exists=True,
        file_okay=False,
        resolve_path=True,
        show_default=False,
    ),
]


# --- AWS: region and credentials, checked before anything runs -------------------------------

# botocore's own check of a region name (botocore.utils.validate_region_name).
_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
NO_REGION = (
    "no AWS region configured: set AWS_REGION (or AWS_DEFAULT_REGION, or region in the "
    "profile of ~/.aws/config or AWS_CONFIG_FILE), such as AWS_REGION=eu-west-1"
)


def configured_region() -> str | None:
    """The region the environment names, or None: AWS_REGION first (which the pinned
    botocore does not read itself), then botocore's chain (AWS_DEFAULT_REGION, then the
    profile's `region` in the AWS config file). Exits 2 on a bad value or profile."""
    import botocore.session
    from botocore.exceptions import BotoCoreError

    source = "AWS_REGION"
    region = os.environ.get("AWS_REGION", "").strip() or None
    if region is None:
        source = "AWS_DEFAULT_REGION or the AWS config file"
        try:
            region = botocore.session.Session().get_config_variable("region")
        except BotoCoreError as error:  # AWS_PROFILE names no profile, a broken config file
            raise fail(f"cannot read the AWS configuration: {error}", EXIT_USAGE) from None
    if region is not None and not _REGION.fullmatch(region):
        raise fail(
            f"AWS region {region!r} (from {source}) is not a region name such as eu-west-1",
            EXIT_USAGE,
        )
    return region


def require_region() -> str:
    """`configured_region()`, or exit 2 saying how to give one."""
    region = configured_region()
    if region is None:
        raise fail(NO_REGION, EXIT_USAGE)
    return region


@contextmanager
def aws_session(region: str) -> Iterator[Any]:
    """A boto3 session in `region` whose credentials were found (else exit 2), installed as
    boto3's default session while the command runs: the clients the backup, restore and
    log-archive code builds itself (`boto3.client(...)`) then use this region too."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.session.Session(region_name=region)
        credentials = session.get_credentials()
    except BotoCoreError as error:
        raise fail(f"cannot read the AWS credentials: {error}", EXIT_USAGE) from None
    if credentials is None:
        raise fail(
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run where a role provides them (instance profile, "
            "container or web identity)",
            EXIT_USAGE,
        )
    previous = boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = session
    try:
        yield session
    finally:
        boto3.DEFAULT_SESSION = previous


# --- output ------------------------------------------------------------------------------


def transfer_progress(console: Console) -> Progress:
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


def stack_settings(stack: str, project_dir: Path | None) -> Settings:
    """The stack's validated settings from its stack file (region: the file's aws:region,
    else the environment's); ValueError says why they cannot be read."""
    from airflow_platform.config import ConfigError, settings_from_values
    from airflow_platform.plan.project import Project, ProjectError, read_stack_config

    try:
        project = Project.at(project_dir)
        values = dict(read_stack_config(project, stack).values)
    except ProjectError as error:
        raise ValueError(str(error)) from None
    if "aws:region" not in values:
        region = configured_region()
        if region is not None:
            values["aws:region"] = region
    try:
        return settings_from_values(project.name, stack, values)
    except ConfigError as error:
        raise ValueError(str(error)) from None
