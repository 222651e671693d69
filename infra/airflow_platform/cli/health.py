"""`health`: a stack's Airflow health, as its own health endpoint reports it, read the way the
health probe Lambda reads it (functions/health_probe: the same request and the same rule
for what counts as healthy). With `--wait DURATION` it asks again until every component is
healthy or the time is up: a freshly created environment takes minutes to start."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from airflow_platform.cli.api import DEFAULT_TIMEOUT, ApiTimeout, ApiUrl, airflow_api
from airflow_platform.cli.common import ProjectDir, fail, stack_argument

if TYPE_CHECKING:
    from health_probe.health import HealthReport

    from airflow_platform.airflow_api import AirflowApi

_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
MAX_WAIT_SECONDS = 6 * 3600
"""The longest --wait: longer than any environment takes to start (MWAA: 20-30 minutes)."""


def parse_duration(text: str) -> float:
    """`--wait`'s value in seconds: `90` (seconds), `90s`, `20m`, `1h`, `1h30m`, within
    1 s and 6 h; typer.BadParameter naming what is allowed otherwise."""
    value = text.strip().lower()
    seconds: float | None = None
    if value.isdigit():
        seconds = float(value)
    elif value and (found := _DURATION.fullmatch(value)):
        hours, minutes, secs = (int(part or 0) for part in found.groups())
        seconds = float(hours * 3600 + minutes * 60 + secs)
    if seconds is None or not 1 <= seconds <= MAX_WAIT_SECONDS:
        raise typer.BadParameter(
            f"{text!r} is not a duration from 1 s to 6 h: give seconds (600) or hours, "
            "minutes and seconds such as 20m, 90s or 1h30m"
        )
    return seconds


HealthWait = Annotated[
    float | None,
    typer.Option(
        "--wait",
        envvar="AIRFLOW_PLATFORM_HEALTH_WAIT",
        metavar="DURATION",
        parser=parse_duration,
        help="Ask again until every component is healthy or DURATION has passed (600, 20m, "
        "1h30m; at most 6h), showing the components not yet healthy; then exit as without "
        "it. Default: ask once.",
        show_default=False,
    ),
]
HealthPollInterval = Annotated[
    float,
    typer.Option(
        "--poll-interval",
        envvar="AIRFLOW_PLATFORM_HEALTH_POLL_INTERVAL",
        metavar="SECONDS",
        help="With --wait: seconds between two questions (0.5-300).",
        min=0.5,
        max=300,
    ),
]


def age_text(seconds: float) -> str:
    """A heartbeat age for people: `4 s`, `3 min 12 s`, `2 h 5 min`, `3 d 4 h`."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def health(
    stack: Annotated[str, stack_argument("Stack whose Airflow to ask (mwaa or eks).")],
    url: ApiUrl = None,
    timeout: ApiTimeout = DEFAULT_TIMEOUT,
    wait: HealthWait = None,
    poll_interval: HealthPollInterval = 15.0,
    project_dir: ProjectDir = None,
) -> None:
    """Show the health of the stack's Airflow: metadatabase, scheduler, triggerer and DAG
    processor, with each heartbeat's age.

    Reads GET /api/v2/monitor/health, which needs no authentication: on an mwaa stack through
    MWAA's InvokeRestApi (environment airflow-<stack>, the stack file's aws:region, AWS
    credentials from the usual AWS environment), on an eks stack from --url. A component is
    healthy only when Airflow says "healthy"; none reported (a triggerer that never ran)
    counts as unhealthy, as it does for the health probe's alarms.

    With --wait DURATION, asks every --poll-interval seconds until every component is healthy
    or DURATION has passed (an Airflow that cannot be reached yet counts as not healthy yet),
    printing a line on stderr whenever what is not healthy changes; then the last answer, as
    without --wait.

    Exit 0 when every component is healthy, 1 when one is not or Airflow cannot be reached
    (with --wait: still, when the time is up), 2 on usage, config or environment errors (an
    eks stack without --url, no AWS region or credentials).
    """
    errors = Console(stderr=True)
    with airflow_api(stack, url, timeout, project_dir) as api:
        if wait is None:
            with errors.status(f"asking {escape(api.description)} for its health"):
                report, latency_ms = api.health()
        else:
            report, latency_ms = _wait(api, stack, wait, poll_interval, errors)
    if not report.reachable:
        still = f" after waiting {age_text(wait)}" if wait is not None else ""
        raise fail(f"cannot read the health of {stack}'s Airflow{still}: {report.error}")
    _print_report(stack, api.description, report, latency_ms, wait)


def _not_healthy(report: HealthReport) -> str:
    """What a progress line says of one answer: `unreachable (why)`, `scheduler, triggerer
    not healthy`, or `healthy`."""
    if not report.reachable:
        return f"unreachable ({report.error})"
    names = [component.name for component in report.components if not component.healthy]
    return f"{', '.join(names)} not healthy" if names else "healthy"


def _wait(
    api: AirflowApi, stack: str, wait: float, poll_interval: float, errors: Console
) -> tuple[HealthReport, float]:
    """Ask until every component is healthy or `wait` seconds have passed; the last answer.
    Each change of what is not healthy is printed as a line (CI logs keep them); on a
    terminal a status line shows the latest and the time waited too."""
    started = time.monotonic()
    deadline = started + wait
    seen: str | None = None
    asks = 0
    with errors.status(f"asking {escape(api.description)} for the health of {escape(stack)}") as (
        status
    ):
        while True:
            report, latency_ms = api.health()
            asks += 1
            now = time.monotonic()
            state = _not_healthy(report)
            if state != seen:
                errors.print(f"{now - started:6.1f} s  {escape(stack)}: {escape(state)}",
                             highlight=False, soft_wrap=True)  # fmt: skip
                seen = state
            if report.healthy or now >= deadline:
                break
            status.update(
                f"{escape(stack)}: {escape(state)}; waited {age_text(now - started)} of "
                f"{age_text(wait)} ({asks} asked)"
            )
            time.sleep(max(0.0, min(poll_interval, deadline - now)))
    if not report.healthy:
        errors.print(f"{escape(stack)}: still not healthy after {age_text(wait)} "
                     f"({asks} asked)", highlight=False)  # fmt: skip
    return report, latency_ms


def _print_report(
    stack: str, description: str, report: HealthReport, latency_ms: float, wait: float | None
) -> None:
    from rich.table import Table

    now = datetime.now(UTC)
    table = Table(title=f"Airflow health of {stack} ({escape(description)})")
    table.add_column("component", style="bold")
    table.add_column("status")
    table.add_column("latest heartbeat")
    table.add_column("heartbeat age", justify="right")
    for component in report.components:
        if component.healthy:
            status = "[green]healthy[/green]"
        elif component.status is None:
            status = "[red]none reported[/red]"
        else:
            status = f"[red]{escape(component.status)}[/red]"
        age = component.heartbeat_age(now)
        table.add_row(
            component.name,
            status,
            component.heartbeat.isoformat(timespec="seconds") if component.heartbeat else "-",
            age_text(age) if age is not None else "-",
        )
    out = Console()
    out.print(table)
    unhealthy = [component.name for component in report.components if not component.healthy]
    if unhealthy:
        still = f" after waiting {age_text(wait)}" if wait is not None else ""
        raise fail(f"{stack}: {', '.join(unhealthy)} not healthy{still}")
    out.print(f"{stack}: healthy (answered in {latency_ms:.0f} ms)", highlight=False)
