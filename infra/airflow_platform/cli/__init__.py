"""`airflow-platform`: the operator's command line.

One module per concern: `plan` (plan, config-reference), `prices` (the `prices` group: `prices
refresh`, the cost estimate's price table), `backup` (backup, restore), `dags` (check-dags,
ship-dags), `logs` (clean-logs), `health` (health, `--wait`) and `airflow_dags` (the `dags`
group: `dags list`, `dags trigger`), these two reaching a stack's Airflow REST API as `api`
says; `environment` (stack-file, environment-comment: what an ephemeral pull-request
environment's workflow needs), `teardown` (destroy, reap) and `audit` (audit): ephemeral stacks
torn down with nothing left behind; `policy` (the `policy` group: `policy list`, `policy
config`, the policy rules and the policy pack's config); `dev` (the `dev` group: `dev up`, `dev
down`, `dev status`, `dev reset`, a local Airflow for DAG authors); `common` holds what they
share. Each option is defined once, with help text, a placeholder and an `AIRFLOW_PLATFORM_*`
environment variable; a flag beats the variable, which beats the default. Each command imports
what it needs when it runs, so starting the program loads typer and rich only.

`main()` is the installed entry point: it runs the app outside click's standalone mode and
prints every usage error, like every other error, as one `error: ...` line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Annotated

import typer

from airflow_platform.cli import airflow_dags as _airflow_dags
from airflow_platform.cli import audit as _audit
from airflow_platform.cli import backup as _backup
from airflow_platform.cli import dags as _dags
from airflow_platform.cli import dev as _dev
from airflow_platform.cli import environment as _environment
from airflow_platform.cli import health as _health
from airflow_platform.cli import logs as _logs
from airflow_platform.cli import plan as _plan
from airflow_platform.cli import policy as _policy
from airflow_platform.cli import prices as _prices
from airflow_platform.cli import teardown as _teardown
from airflow_platform.cli.common import (
    EXIT_CODES_HELP,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    Command,
    Group,
    help_hint,
    print_error,
)

__all__ = ["COMMANDS", "GROUPS", "app", "main", "version_line"]

app = typer.Typer(
    name=PROG,
    cls=Group,
    help="Production Apache Airflow on AWS: offline plans and operator tasks.\n\n"
    + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
)

COMMANDS: dict[str, Callable[..., None]] = {
    "plan": _plan.plan,
    "config-reference": _plan.config_reference,
    "backup": _backup.backup,
    "restore": _backup.restore,
    "check-dags": _dags.check_dags,
    "ship-dags": _dags.ship_dags,
    "dbt-manifest": _dags.dbt_manifest,
    "clean-logs": _logs.clean_logs_command,
    "health": _health.health,
    "audit": _audit.audit,
    "destroy": _teardown.destroy,
    "reap": _teardown.reap,
    "stack-file": _environment.stack_file,
    "environment-comment": _environment.environment_comment,
}
for _name, _function in COMMANDS.items():
    app.command(_name, cls=Command)(_function)

GROUPS: dict[str, typer.Typer] = {
    "dags": _airflow_dags.app,
    "prices": _prices.app,
    "policy": _policy.app,
    "dev": _dev.app,
}
"""Command groups: `dags list`, `dags trigger`, `prices refresh`, `policy list`, `policy
config`, `dev up`, `dev down`, `dev status`, `dev reset`."""
for _name, _group in GROUPS.items():
    app.add_typer(_group, name=_name)


def version_line() -> str:
    """This package's version and the Airflow version pinned in versions.env."""
    from importlib.metadata import PackageNotFoundError, version

    from airflow_platform.versions import versions

    try:
        ours = version(PROG)
    except PackageNotFoundError:
        ours = "(not installed)"
    try:
        airflow = versions().airflow
    except (OSError, ValueError) as error:  # an install without the repository's versions.env
        airflow = f"unknown ({error})"
    return f"{PROG} {ours}, Apache Airflow {airflow} (pinned in versions.env)"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit(EXIT_OK)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print this program's version and the pinned Airflow version, then exit.",
            callback=_show_version,
            is_eager=True,
            expose_value=True,
        ),
    ] = False,
) -> None:
    pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the process's exit code (see EXIT_CODES_HELP)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:  # no command: the help, which lists them, and the exit code of a usage error
        app(args=["--help"], prog_name=PROG, standalone_mode=False)
        return EXIT_USAGE
    try:
        code = app(args=args, prog_name=PROG, standalone_mode=False)
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        print_error("aborted")
        return EXIT_INTERRUPTED
    except typer.TyperException as error:
        # Click's errors (typer vendors click, so they are TyperExceptions): a usage error
        # (exit code 2) carries the context of the command it was raised for.
        message = error.format_message()
        if not message.strip():  # a group run without its command: typer printed the help
            return error.exit_code
        ctx = getattr(error, "ctx", None)
        command_path = ctx.command_path if ctx is not None else None
        if command_path is None and (args[0] in COMMANDS or args[0] in GROUPS):
            # raised before its context existed
            command_path = f"{PROG} {args[0]}"
        print_error(_sentence(message), help_hint(command_path))
        return error.exit_code
    return code if isinstance(code, int) else EXIT_OK


def _sentence(message: str) -> str:
    """Click's message in this program's style: lower-case start, no final full stop."""
    message = message.strip().rstrip(".")
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    return message
