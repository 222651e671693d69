"""`dags list` and `dags trigger`: the DAGs a stack's Airflow knows, and manual runs of
them, through its REST API (cli/api.py says how it is reached). `check-dags` and
`ship-dags`, which work on the bundle rather than on a running Airflow, are in cli/dags.py."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from airflow_platform.cli.api import (
    DEFAULT_TIMEOUT,
    ApiTimeout,
    ApiToken,
    ApiUrl,
    ApiUsername,
    airflow_api,
    api_failure,
)
from airflow_platform.cli.common import (
    EXIT_USAGE,
    Command,
    Group,
    ProjectDir,
    fail,
    stack_argument,
)

if TYPE_CHECKING:
    from airflow_platform.airflow_api import AirflowApi

app = typer.Typer(
    name="dags",
    cls=Group,
    help="The DAGs of a stack's running Airflow, through its REST API: list them, trigger a "
    "run. (check-dags and ship-dags work on the DAG bundle instead.)",
    no_args_is_help=True,
    add_completion=False,
)

# Airflow's rule for a dag_id (airflow.utils.helpers.KEY_REGEX, at most 250 characters).
_DAG_ID = re.compile(r"[\w.-]{1,250}")


def parse_conf(text: str | None) -> dict[str, Any]:
    """`--conf`: a JSON object, else typer.BadParameter saying what is wrong."""
    if text is None:
        return {}
    try:
        conf = json.loads(text)
    except ValueError as error:
        raise typer.BadParameter(
            f'not valid JSON ({error}): give an object such as \'{{"date": "2026-01-31"}}\''
        ) from None
    if not isinstance(conf, dict):
        raise typer.BadParameter(
            f"a JSON {type(conf).__name__}, not an object: give one such as "
            '\'{"date": "2026-01-31"}\''
        )
    return conf


def parse_logical_date(text: str | None) -> datetime | None:
    """`--logical-date`: an ISO 8601 time with its offset, else typer.BadParameter."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 time with an offset, such as 2026-01-31T00:00:00Z"
        )
    return value


def check_dag_id(value: str) -> str:
    if not _DAG_ID.fullmatch(value):
        raise typer.BadParameter(
            f"{value!r} is not a dag_id (letters, digits, '_', '.' and '-', at most 250)"
        )
    return value


DagIdArgument = Annotated[
    str,
    typer.Argument(
        help="The DAG to run.", metavar="DAG_ID", callback=check_dag_id, show_default=False
    ),
]
"""DAG_ID of `dags trigger` and `dev run`."""
DagConf = Annotated[
    str | None,
    typer.Option(
        "--conf",
        envvar="AIRFLOW_PLATFORM_DAG_CONF",
        metavar="JSON",
        help='The run\'s conf: a JSON object, such as \'{"date": "2026-01-31"}\'.',
        show_default=False,
    ),
]
"""--conf of `dags trigger` and `dev run`, read by `parse_conf`."""


@app.command("list", cls=Command)
def list_dags(
    stack: Annotated[str, stack_argument("Stack whose Airflow to ask (mwaa or eks).")],
    url: ApiUrl = None,
    token: ApiToken = None,
    username: ApiUsername = None,
    timeout: ApiTimeout = DEFAULT_TIMEOUT,
    project_dir: ProjectDir = None,
) -> None:
    """List the DAGs the stack's Airflow knows: paused or not, schedule, tags, owners.

    Reads GET /api/v2/dags (every page): on an mwaa stack through MWAA's InvokeRestApi (AWS
    credentials; IAM maps them to an Airflow role), on an eks stack from --url with --token
    or --username. Exit 1 when Airflow cannot be reached or refuses, 2 on usage, config,
    environment or authentication errors.
    """
    from airflow_platform.airflow_api import ApiError

    with airflow_api(stack, url, timeout, project_dir, token, username) as api:
        try:
            with Console(stderr=True).status(f"listing the DAGs of {api.description}"):
                dags = api.dags()
        except ApiError as error:
            raise api_failure(error, bool(token)) from None
    _print_dags(stack, api.description, dags)


def _print_dags(stack: str, where: str, dags: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title=f"DAGs of {stack} ({escape(where)}): {len(dags)}")
    table.add_column("dag_id", style="bold")
    table.add_column("paused")
    table.add_column("schedule")
    table.add_column("tags")
    table.add_column("owners")
    table.add_column("next run after")
    for dag in dags:
        tags = sorted(str(tag.get("name", tag)) if isinstance(tag, dict) else str(tag)
                      for tag in dag.get("tags") or [])  # fmt: skip
        schedule = dag.get("timetable_summary") or dag.get("timetable_description") or "-"
        dag_id = escape(str(dag.get("dag_id")))
        if dag.get("has_import_errors"):
            dag_id += " [red](import errors)[/red]"
        table.add_row(
            dag_id,
            "[yellow]yes[/yellow]" if dag.get("is_paused") else "no",
            escape(str(schedule)),
            escape(", ".join(tags)) or "-",
            escape(", ".join(dag.get("owners") or [])) or "-",
            escape(str(dag.get("next_dagrun_run_after") or "-")),
        )
    Console().print(table)
    if not dags:
        Console(stderr=True).print(
            f"[yellow]warning:[/yellow] {escape(where)} knows no DAG", highlight=False
        )


@app.command("trigger", cls=Command)
def trigger(
    stack: Annotated[str, stack_argument("Stack whose Airflow runs the DAG (mwaa or eks).")],
    dag_id: DagIdArgument,
    conf: DagConf = None,
    logical_date: Annotated[
        str | None,
        typer.Option(
            "--logical-date",
            envvar="AIRFLOW_PLATFORM_DAG_LOGICAL_DATE",
            metavar="TIME",
            help="The run's logical date (ISO 8601 with an offset); default: none, as the "
            "UI's trigger does.",
            show_default=False,
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            envvar="AIRFLOW_PLATFORM_DAG_WAIT",
            help="Wait for the run to finish, showing its state, and exit by it.",
        ),
    ] = False,
    poll_interval: Annotated[
        float,
        typer.Option(
            "--poll-interval",
            envvar="AIRFLOW_PLATFORM_DAG_POLL_INTERVAL",
            metavar="SECONDS",
            help="With --wait: seconds between two looks at the run (0.5-300).",
            min=0.5,
            max=300,
        ),
    ] = 5.0,
    wait_timeout: Annotated[
        float | None,
        typer.Option(
            "--wait-timeout",
            envvar="AIRFLOW_PLATFORM_DAG_WAIT_TIMEOUT",
            metavar="SECONDS",
            help="With --wait: give up (exit 1, the run goes on) after this long; default: "
            "wait until it ends.",
            min=1,
            show_default=False,
        ),
    ] = None,
    url: ApiUrl = None,
    token: ApiToken = None,
    username: ApiUsername = None,
    timeout: ApiTimeout = DEFAULT_TIMEOUT,
    project_dir: ProjectDir = None,
) -> None:
    """Trigger a run of a DAG, and with --wait follow it to its end.

    POSTs /api/v2/dags/<dag_id>/dagRuns (reached as `dags list` says) and prints the new
    run's id. A paused DAG's run stays queued until the DAG is unpaused (a warning says so).
    With --wait, polls the run until it succeeds (exit 0) or fails (exit 1). Exit 1 when
    Airflow cannot be reached, knows no such DAG or refuses the run; 2 on usage, config,
    environment or authentication errors (a --conf that is not a JSON object).
    """
    from airflow_platform.airflow_api import ApiError

    try:
        run_conf = parse_conf(conf)
    except typer.BadParameter as error:
        raise fail(f"--conf: {error}", EXIT_USAGE) from None
    try:
        logical = parse_logical_date(logical_date)
    except typer.BadParameter as error:
        raise fail(f"--logical-date: {error}", EXIT_USAGE) from None

    out, errors = Console(), Console(stderr=True)
    with airflow_api(stack, url, timeout, project_dir, token, username) as api:
        try:
            dag = api.dag(dag_id)
        except ApiError as error:
            if error.status == 404:
                raise fail(f"{api.description} knows no DAG {dag_id!r} (see `airflow-platform "
                           f"dags list {stack}`)") from None  # fmt: skip
            raise api_failure(error, bool(token)) from None
        if dag.get("is_paused"):
            errors.print(f"[yellow]warning:[/yellow] {escape(dag_id)} is paused: the run stays "
                         "queued until the DAG is unpaused", highlight=False)  # fmt: skip
        try:
            run = api.trigger(dag_id, run_conf, logical)
        except ApiError as error:
            raise api_failure(error, bool(token)) from None
        run_id, state = str(run.get("dag_run_id")), str(run.get("state"))
        out.print(f"triggered {escape(dag_id)}: run {escape(run_id)} ({escape(state)})",
                  highlight=False, soft_wrap=True)  # fmt: skip
        if not wait:
            return
        final = _wait(api, dag_id, run_id, state, poll_interval, wait_timeout, errors)
    if final != "success":
        raise fail(f"run {run_id} of {dag_id} ended {final}")
    out.print(f"run {escape(run_id)} of {escape(dag_id)}: success", highlight=False,
              soft_wrap=True)  # fmt: skip


def _wait(
    api: AirflowApi,
    dag_id: str,
    run_id: str,
    state: str,
    poll_interval: float,
    wait_timeout: float | None,
    errors: Console,
) -> str:
    """Follow the run to a terminal state (airflow_api.follow), showing each change of its
    state; that state. Exits 1 when following stops first."""
    from airflow_platform.airflow_api.follow import FollowError, follow_run

    shown = state
    with errors.status(f"run {escape(run_id)}: {escape(state)}") as status:

        def show(run: dict[str, Any], elapsed: float) -> None:
            nonlocal shown
            new_state = str(run.get("state"))
            if new_state != shown:
                errors.print(f"{elapsed:6.1f} s  {escape(shown)} -> {escape(new_state)}",
                             highlight=False)  # fmt: skip
                shown = new_state
            status.update(f"run {escape(run_id)}: {escape(shown)} ({elapsed:.0f} s)")

        try:
            return follow_run(api, dag_id, run_id, state, poll_interval=poll_interval,
                              timeout=wait_timeout, on_poll=show)  # fmt: skip
        except FollowError as error:
            raise fail(str(error)) from None
