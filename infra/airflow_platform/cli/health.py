"""`health`: a stack's Airflow health, as its own health endpoint reports it, read the way the
health probe Lambda reads it (functions/health_probe: the same request and the same rule
for what counts as healthy)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from rich.console import Console
from rich.markup import escape

from airflow_platform.cli.api import DEFAULT_TIMEOUT, ApiTimeout, ApiUrl, airflow_api
from airflow_platform.cli.common import ProjectDir, fail, stack_argument


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
    project_dir: ProjectDir = None,
) -> None:
    """Show the health of the stack's Airflow: metadatabase, scheduler, triggerer and DAG
    processor, with each heartbeat's age.

    Reads GET /api/v2/monitor/health, which needs no authentication: on an mwaa stack through
    MWAA's InvokeRestApi (environment airflow-<stack>, the stack file's aws:region, AWS
    credentials from the usual AWS environment), on an eks stack from --url. A component is
    healthy only when Airflow says "healthy"; none reported (a triggerer that never ran)
    counts as unhealthy, as it does for the health probe's alarms.

    Exit 0 when every component is healthy, 1 when one is not or Airflow cannot be reached,
    2 on usage, config or environment errors (an eks stack without --url, no AWS region or
    credentials).
    """
    from rich.table import Table

    errors = Console(stderr=True)
    with (
        airflow_api(stack, url, timeout, project_dir) as api,
        errors.status(f"asking {escape(api.description)} for its health"),
    ):
        report, latency_ms = api.health()
    if not report.reachable:
        raise fail(f"cannot read the health of {stack}'s Airflow: {report.error}")

    now = datetime.now(UTC)
    table = Table(title=f"Airflow health of {stack} ({escape(api.description)})")
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
        raise fail(f"{stack}: {', '.join(unhealthy)} not healthy")
    out.print(f"{stack}: healthy (answered in {latency_ms:.0f} ms)", highlight=False)
