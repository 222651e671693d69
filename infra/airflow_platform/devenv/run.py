"""`airflow-platform dev run`: one run of a DAG in the local Airflow that `dev up` started,
followed to its end in a live table of its task instances.

The local Airflow is found through the state file `dev up` writes (`.dev/state.json` under its
home): the API server's URL, the admin user and the file holding its password, the processes
it started. The run is made and followed through the REST API as `dags trigger --wait` does
(airflow_api: login at /auth/token, trigger, follow); what is local is the table, which shows
every task instance (task id, map index when the DAG maps tasks, state in colour, try number,
duration) once a second, and the ending: the failed tasks with where their logs are (the UI
page, and the file under the local Airflow's log folder when it is there).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from airflow_platform.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    print_error,
)
from airflow_platform.devenv.state import DevEnvError, DevState, Layout, read_state

if TYPE_CHECKING:
    from airflow_platform.airflow_api import AirflowApi

POLL_INTERVAL = 1.0
"""Seconds between two looks at the run (and two refreshes of the table)."""
REQUEST_TIMEOUT = 30.0
UP_HINT = "airflow-platform dev up"

STATE_STYLES = {
    "success": "green",
    "failed": "bold red",
    "upstream_failed": "red",
    "up_for_retry": "yellow",
    "up_for_reschedule": "cyan",
    "running": "bright_green",
    "restarting": "magenta",
    "queued": "grey50",
    "scheduled": "tan",
    "deferred": "medium_purple",
    "skipped": "pink1",
    "removed": "grey35",
}
"""Task instance states (TaskInstanceState, and None shown as `none`) in colours near the
UI's."""
FAILED_STATES = frozenset({"failed", "upstream_failed"})


class DevRunError(Exception):
    """`dev run` cannot go on: the message says why and what to do; `code` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


# --- the local Airflow, from dev up's state file -----------------------------------------------


@dataclass(frozen=True)
class LocalAirflow:
    """The local Airflow `dev up` started, as its state file says."""

    state_file: Path
    state: DevState
    log_folder: Path
    """Where its task logs are (Airflow's [logging] base_log_folder)."""

    @property
    def url(self) -> str:
        return self.state.api_url

    def password(self) -> str:
        try:
            return self.state.password()
        except (OSError, ValueError, KeyError) as error:
            raise DevRunError(
                f"cannot read the password of {self.state.username!r} from "
                f"{self.state.password_file} ({error}), named by {self.state_file}: restart "
                f"with `airflow-platform dev down` and `{UP_HINT}`"
            ) from None


def read_local_airflow(home: Path) -> LocalAirflow:
    """The local Airflow `dev up` started under `home`; DevRunError (exit 2) naming the state
    file when there is none, it cannot be read, or any process it lists is gone."""
    layout = Layout.of(home)
    try:
        state = read_state(layout)
    except DevEnvError as error:
        raise DevRunError(str(error)) from None
    if state is None:
        raise DevRunError(
            f"no local Airflow: {layout.state} does not exist; start one with `{UP_HINT}`"
        )
    gone = [f"{name} (pid {proc.pid})" for name, proc in state.processes.items()
            if not proc.alive()]  # fmt: skip
    if gone or not state.processes:
        which = ", ".join(gone) or "no process recorded"
        raise DevRunError(
            f"the local Airflow of {layout.state} is not running ({which} gone): start it "
            f"again with `airflow-platform dev down` and `{UP_HINT}`"
        )
    return LocalAirflow(layout.state, state, layout.logs / "tasks")


def connect(local: LocalAirflow, timeout: float = REQUEST_TIMEOUT) -> AirflowApi:
    """The local Airflow's REST API as its admin; DevRunError (exit 2) when the API server
    does not answer or refuses the login."""
    from health_probe.transports import HttpTransport

    from airflow_platform.airflow_api import AirflowApi, ApiError, login

    try:
        transport = HttpTransport(local.url, timeout)
    except ValueError as error:
        raise DevRunError(f"{local.state_file}: {error}: run `{UP_HINT}` again") from None
    try:
        token = login(transport, local.state.username, local.password())
    except ApiError as error:
        raise DevRunError(
            f"cannot log in to the local Airflow: {error}; restart it with "
            f"`airflow-platform dev down` and `{UP_HINT}`"
        ) from None
    return AirflowApi(transport.with_token(token))


# --- the table ---------------------------------------------------------------------------------


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _duration(ti: dict[str, Any], now: datetime) -> str:
    """A finished task's own duration, a running one's time so far, else `-`."""
    seconds = ti.get("duration")
    if not isinstance(seconds, int | float):
        started = _time(ti.get("start_date"))
        if started is None:
            return "-"
        seconds = ((_time(ti.get("end_date")) or now) - started).total_seconds()
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{secs:02d}s"


def _map_index(ti: dict[str, Any]) -> int:
    index = ti.get("map_index")
    return index if isinstance(index, int) else -1


def ordered(task_instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """In the order they started (those not started yet last, by task id), so that rows keep
    their places while the run goes on."""

    def key(ti: dict[str, Any]) -> tuple[bool, str, str, int]:
        start = ti.get("start_date") or ""
        return (not start, str(start), str(ti.get("task_id")), _map_index(ti))

    return sorted(task_instances, key=key)


def state_text(state: Any) -> Text:
    name = str(state) if state else "none"
    return Text(name, style=STATE_STYLES.get(name, ""))


def task_table(
    dag_id: str, run_id: str, run_state: str, task_instances: list[dict[str, Any]], now: datetime
) -> Group:
    """A title line (the run and its state), then the run's task instances, one row each; a
    `map index` column only when a task is mapped (its rendered name, when the DAG gives one,
    after the index)."""
    mapped = any(_map_index(ti) >= 0 for ti in task_instances)
    table = Table()
    table.add_column("task id", style="bold")
    if mapped:
        table.add_column("map index", justify="right")
    table.add_column("state")
    table.add_column("try", justify="right")
    table.add_column("duration", justify="right")
    for ti in ordered(task_instances):
        cells: list[Any] = [escape(str(ti.get("task_id")))]
        if mapped:
            index = _map_index(ti)
            rendered = ti.get("rendered_map_index")
            label = "" if index < 0 else str(index)
            if rendered and rendered != label:
                label += f" {rendered}"
            cells.append(escape(label))
        try_number = ti.get("try_number")
        cells += [
            state_text(ti.get("state")),
            str(try_number) if try_number else "-",
            _duration(ti, now),
        ]
        table.add_row(*cells)
    title = Text.assemble(Text(f"{dag_id} run {run_id}: ", style="bold"), state_text(run_state))
    if not task_instances:
        waiting = "no task instance yet: the scheduler has not scheduled the run's tasks"
        return Group(title, Text(waiting, style="dim"))
    return Group(title, table)


# --- where a failed task's log is ---------------------------------------------------------------


def log_places(local: LocalAirflow, dag_id: str, run_id: str, ti: dict[str, Any]) -> list[str]:
    """Where to read a task instance's log: its UI page, and its file under the local
    log folder (Airflow's default log_filename_template) when that file exists."""
    task_id = str(ti.get("task_id"))
    index = _map_index(ti)
    page = f"{local.url.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
    page += f"/tasks/{quote(task_id, safe='')}" + (f"/mapped/{index}" if index >= 0 else "")
    places = [page]
    try_number = ti.get("try_number")
    if isinstance(try_number, int) and try_number > 0:
        path = local.log_folder / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if index >= 0:
            path /= f"map_index={index}"
        path /= f"attempt={try_number}.log"
        if path.is_file():
            places.append(str(path))
    return places


def failure_report(
    local: LocalAirflow, dag_id: str, run_id: str, task_instances: list[dict[str, Any]]
) -> list[str]:
    """One line per task instance that failed, then the ones that never ran for it."""
    lines = []
    for ti in ordered(task_instances):
        if ti.get("state") != "failed":
            continue
        index = _map_index(ti)
        name = str(ti.get("task_id")) + (f"[{index}]" if index >= 0 else "")
        lines.append(f"{name} failed (try {ti.get('try_number')}): log at "
                     + " and ".join(log_places(local, dag_id, run_id, ti)))  # fmt: skip
    upstream = sorted({str(ti.get("task_id")) for ti in task_instances
                       if ti.get("state") == "upstream_failed"})  # fmt: skip
    if upstream:
        lines.append(f"not run (upstream failed): {', '.join(upstream)}")
    return lines


# --- the command ---------------------------------------------------------------------------------


def run_dag(
    home: Path,
    dag_id: str,
    conf: dict[str, Any],
    timeout: float | None,
    out: Console,
    errors: Console,
    poll_interval: float = POLL_INTERVAL,
) -> int:
    """Trigger `dag_id` with `conf` in the local Airflow of `home` and follow it in a live
    table on `out`; the exit code: 0 the run succeeded, 1 it failed (or outlasted `timeout`
    seconds, or could not be followed), 130 following was interrupted (the run goes on).
    DevRunError (exit 2) when there is no local Airflow to run it in or no such DAG."""
    from airflow_platform.airflow_api import ApiError
    from airflow_platform.airflow_api.follow import FollowError, follow_run

    local = read_local_airflow(home)
    api = connect(local)
    try:
        dag = api.dag(dag_id)
    except ApiError as error:
        if error.status == 404:
            raise DevRunError(
                f"the local Airflow knows no DAG {dag_id!r}: is its file in the DAG folder, "
                "and does it import (airflow-platform check-dags)? A new file shows up once "
                "the DAG processor has parsed it"
            ) from None
        raise DevRunError(f"cannot read DAG {dag_id!r}: {error}", EXIT_FAILED) from None
    try:
        if dag.get("is_paused"):
            api.set_paused(dag_id, paused=False)
            errors.print(f"{escape(dag_id)} was paused: unpaused it", highlight=False)
        run = api.trigger(dag_id, conf)
    except ApiError as error:
        raise DevRunError(f"cannot run {dag_id!r}: {error}", EXIT_FAILED) from None
    run_id, state = str(run.get("dag_run_id")), str(run.get("state"))
    errors.print(f"triggered {escape(dag_id)}: run {escape(run_id)}", highlight=False,
                 soft_wrap=True)  # fmt: skip

    task_instances: list[dict[str, Any]] = []

    def table(run_state: str) -> Group:
        return task_table(dag_id, run_id, run_state, task_instances, datetime.now(UTC))

    with Live(table(state), console=out, refresh_per_second=4, transient=False) as live:

        def refresh(run: dict[str, Any], _elapsed: float) -> None:
            task_instances[:] = api.task_instances(dag_id, run_id)
            live.update(table(str(run.get("state"))))

        try:
            state = follow_run(api, dag_id, run_id, state, poll_interval=poll_interval,
                               timeout=timeout, on_poll=refresh)  # fmt: skip
        except FollowError as error:
            live.stop()
            print_error(str(error))
            return EXIT_FAILED
        except KeyboardInterrupt:
            live.stop()
            errors.print(f"stopped following run {escape(run_id)} of {escape(dag_id)}: the run "
                         f"goes on in the local Airflow ({escape(local.url)})", highlight=False,
                         soft_wrap=True)  # fmt: skip
            return EXIT_INTERRUPTED
    if state == "success":
        out.print(f"run {escape(run_id)} of {escape(dag_id)}: success", highlight=False,
                  soft_wrap=True)  # fmt: skip
        return EXIT_OK
    print_error(f"run {run_id} of {dag_id} ended {state}")
    for line in failure_report(local, dag_id, run_id, task_instances):
        errors.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    return EXIT_FAILED
