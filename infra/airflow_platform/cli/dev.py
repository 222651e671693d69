"""The `dev` group: a local Airflow for DAG authors (`airflow_platform.devenv`).

`dev up` starts it and stays in the foreground (printing Slack alerts) until Ctrl-C or
`dev down` from another terminal; `--detach` returns once everything is healthy. `dev down`
stops it, `dev status` shows it, `dev reset` deletes `.dev/` (its database included).
`dev run` (devenv/run.py) triggers a DAG on it and follows the run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from airflow_platform.cli.airflow_dags import DagConf, DagIdArgument
from airflow_platform.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROJECT_FILE,
    Command,
    Group,
    fail,
)
from airflow_platform.cli.health import parse_duration

if TYPE_CHECKING:
    from airflow_platform.devenv.up import StartResult

app = typer.Typer(
    name="dev",
    cls=Group,
    help="A local Airflow for DAG authors: the pinned Airflow, the repository's DAGs, the dev "
    "tier's settings, local PostgreSQL, moto and a Slack sink, all under .dev/.",
    no_args_is_help=True,
    add_completion=False,
)

DevHome = Annotated[
    Path | None,
    typer.Option(
        "--home",
        envvar="AIRFLOW_PLATFORM_DEV_HOME",
        metavar="DIR",
        help="The folder holding .dev/ (database, logs, passwords); default: the project "
        f"(the nearest folder above here holding {PROJECT_FILE}).",
        file_okay=False,
        resolve_path=True,
        show_default=False,
    ),
]
DevDags = Annotated[
    Path | None,
    typer.Option(
        "--dags",
        envvar="AIRFLOW_PLATFORM_DEV_DAGS",
        metavar="DIR",
        help="The DAG folder; default: dags/ of the project.",
        exists=True,
        file_okay=False,
        resolve_path=True,
        show_default=False,
    ),
]
DevTimeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        envvar="AIRFLOW_PLATFORM_DEV_TIMEOUT",
        metavar="SECONDS",
        help="How long to wait for every component to be healthy (30-3600).",
        min=30,
        max=3600,
    ),
]
DevGrace = Annotated[
    float,
    typer.Option(
        "--grace",
        envvar="AIRFLOW_PLATFORM_DEV_GRACE",
        metavar="SECONDS",
        help="How long each process may take to stop after SIGTERM before SIGKILL (1-300).",
        min=1,
        max=300,
    ),
]


def project_home(home: Path | None) -> Path:
    """`--home`, else the nearest folder above the working directory holding Pulumi.yaml."""
    if home is not None:
        home.mkdir(parents=True, exist_ok=True)
        return home
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise fail(
        f"no {PROJECT_FILE} here or above: run from the project, or pass --home DIR", EXIT_USAGE
    )


@app.command("up", cls=Command)
def up(
    home: DevHome = None,
    dags: DevDags = None,
    timeout: DevTimeout = 300.0,
    detach: Annotated[
        bool,
        typer.Option(
            "--detach",
            help="Return once every component is healthy, leaving it running (stop it with "
            "`dev down`). Default: stay in the foreground until Ctrl-C.",
        ),
    ] = False,
) -> None:
    """Start a local Airflow: PostgreSQL (.dev/postgres, kept between runs), moto for S3,
    CloudWatch and Secrets Manager, a Slack sink, then the API server, scheduler, DAG
    processor and triggerer, their logs in .dev/logs/.

    Waits for every component to be healthy, then prints what differs from the dev tier, the
    UI's URL and the admin login. In the foreground it prints Slack alerts until Ctrl-C (or
    `dev down` elsewhere) and then stops everything it started.

    Exit 0 when stopped as asked; 1 when a local Airflow already runs from this .dev/, a
    component is not healthy in time (naming it and its log) or exits; 130 on Ctrl-C while
    starting.
    """
    from airflow_platform.devenv.down import stop
    from airflow_platform.devenv.state import AlreadyRunningError, DevEnvError
    from airflow_platform.devenv.up import start, watch

    console = Console(stderr=True)
    root = project_home(home)
    try:
        result = start(root, dags, timeout=timeout, console=console, supervised=not detach)
    except AlreadyRunningError as error:
        raise fail(str(error)) from None
    except DevEnvError as error:
        raise fail(str(error)) from None
    except KeyboardInterrupt:
        raise fail("interrupted: stopped what was started", EXIT_INTERRUPTED) from None
    _summary(console, result)
    if detach:
        console.print("Stop it with [bold]airflow-platform dev down[/bold].")
        return
    console.print("Ctrl-C stops it (so does [bold]airflow-platform dev down[/bold]).")
    why = watch(root, console)
    if why == "stopped elsewhere":
        console.print("stopped by `dev down`")
        return
    console.print("stopping...")
    try:
        stop(root)
    except DevEnvError as error:
        raise fail(str(error)) from None
    if why != "interrupted":
        raise fail(f"{why} exited: stopped everything; see .dev/logs/{why}.log", EXIT_FAILED)
    console.print("stopped")


def _summary(console: Console, result: StartResult) -> None:
    from airflow_platform.devenv.settings import differences_table

    state = result.state
    console.print(differences_table(result.config))
    console.print(f"DAG folder: {escape(state.dags_folder)} (re-parsed every few seconds)")
    console.print(f"Logs: {escape(str(Path(state.home) / '.dev' / 'logs'))}")
    console.print(f"Airflow is up in {result.seconds:.0f} s: [bold]{state.api_url}[/bold]")
    if result.first_start:
        console.print(f"Log in as [bold]{state.username}[/bold] with password "
                      f"[bold]{escape(state.password())}[/bold] (shown once; kept in "
                      f"{escape(state.password_file)})")  # fmt: skip
    else:
        console.print(f"Log in as [bold]{state.username}[/bold]: the password is in "
                      f"{escape(state.password_file)}")  # fmt: skip


@app.command("down", cls=Command)
def down(home: DevHome = None, grace: DevGrace = 15.0) -> None:
    """Stop what `dev up` started, and only that: the Airflow components, moto, the Slack
    sink and PostgreSQL (its data stays in .dev/). Exit 0 also when nothing was running."""
    from airflow_platform.devenv.down import stop
    from airflow_platform.devenv.state import DevEnvError

    console = Console(stderr=True)
    root = project_home(home)
    try:
        with console.status("stopping the local Airflow..."):
            state = stop(root, grace=grace)
    except DevEnvError as error:
        raise fail(str(error)) from None
    console.print("nothing was running" if state is None else f"stopped {state.api_url}")


@app.command("status", cls=Command)
def status(home: DevHome = None) -> None:
    """Show whether a local Airflow runs from .dev/: each process and the health of each
    component. Exit 0 when it runs and every component is healthy, 1 otherwise."""
    from rich.table import Table

    from airflow_platform.devenv.state import DevEnvError, Layout, read_state
    from airflow_platform.devenv.up import HEALTH_PARTS, health

    root = project_home(home)
    try:
        state = read_state(Layout.of(root))
    except DevEnvError as error:
        raise fail(str(error)) from None
    if state is None:
        raise fail(f"no local Airflow runs from {Layout.of(root).root}: start one with "
                   "`airflow-platform dev up`")  # fmt: skip
    answer = health(state.api_url) or {}
    table = Table(title=f"Local Airflow at {state.api_url}", title_justify="left")
    for column in ("process", "pid", "running", "log"):
        table.add_column(column)
    for name, proc in state.processes.items():
        table.add_row(name, str(proc.pid), "yes" if proc.alive() else "[red]no[/red]", proc.log)
    console = Console()
    console.print(table)
    parts = {part: (answer.get(part) or {}).get("status") or "unknown" for part in HEALTH_PARTS}
    console.print("health: " + ", ".join(f"{p} {s}" for p, s in parts.items()))
    if any(value != "healthy" for value in parts.values()):
        raise typer.Exit(EXIT_FAILED)


@app.command("reset", cls=Command)
def reset(
    home: DevHome = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask (needed off a terminal).")] = False,
) -> None:
    """Delete .dev/: the local metadata database, the admin password, the logs. Refused while
    the local Airflow runs (`dev down` first)."""
    from airflow_platform.devenv.down import reset as reset_dev
    from airflow_platform.devenv.state import DevEnvError, Layout

    root = project_home(home)
    if not yes:
        if not sys.stdin.isatty():
            raise fail("dev reset deletes the local database: pass --yes", EXIT_USAGE)
        typer.confirm(f"Delete {Layout.of(root).root} (database, password, logs)?", abort=True)
    try:
        deleted = reset_dev(root)
    except DevEnvError as error:
        raise fail(str(error)) from None
    done = f"deleted {Layout.of(root).root}" if deleted else "nothing to delete"
    Console(stderr=True).print(done)


RunTimeout = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        envvar="AIRFLOW_PLATFORM_DEV_RUN_TIMEOUT",
        metavar="DURATION",
        parser=parse_duration,
        help="Stop following after DURATION (600, 20m, 1h30m; at most 6h), exit 1; the run "
        "goes on. Default: follow until the run ends.",
        show_default=False,
    ),
]


@app.command("run", cls=Command)
def run(
    dag_id: DagIdArgument,
    conf: DagConf = None,
    timeout: RunTimeout = None,
    home: DevHome = None,
) -> None:
    """Trigger a run of a DAG in the local Airflow and follow it to its end.

    Reads .dev/state.json (what `dev up` started), logs in as its admin, unpauses the DAG if
    it is paused (saying so), triggers a run with --conf and shows its task instances in a
    table refreshed every second: task id, map index (mapped tasks), state, try, duration.
    Ctrl-C stops following; the run goes on.

    Exit 0 when the run succeeds; 1 when it fails (listing the failed tasks and where their
    logs are) or is still going after --timeout; 2 when no local Airflow runs, the DAG is
    unknown or --conf is not a JSON object; 130 on Ctrl-C.
    """
    from airflow_platform.cli.airflow_dags import parse_conf
    from airflow_platform.devenv.run import DevRunError, run_dag

    try:
        run_conf = parse_conf(conf)
    except typer.BadParameter as error:
        raise fail(f"--conf: {error}", EXIT_USAGE) from None
    try:
        code = run_dag(project_home(home), dag_id, run_conf, timeout, Console(),
                       Console(stderr=True))  # fmt: skip
    except DevRunError as error:
        raise fail(str(error), error.code) from None
    if code:
        raise typer.Exit(code)
