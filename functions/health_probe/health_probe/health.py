"""Airflow's health answer, read the way the pinned Airflow writes it.

`GET /api/v2/monitor/health` (airflow/api_fastapi/core_api/routes/public/monitor.py, built by
airflow/api/common/airflow_health.py) answers, without authentication:

    {"metadatabase": {"status": "healthy"},
     "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "<ISO 8601>"},
     "triggerer": {"status": null, "latest_triggerer_heartbeat": null},
     "dag_processor": {"status": "unhealthy", "latest_dag_processor_heartbeat": "<ISO 8601>"}}

A status is "healthy", "unhealthy", or null (the triggerer and the DAG processor when no such
job ever ran); `dag_processor` may be absent altogether. Here a component is healthy only
when its status is exactly "healthy": null, absent or anything else counts as unhealthy,
because a platform that runs no triggerer cannot run deferrable tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from health_probe.metrics import COMPONENTS, HEARTBEAT_COMPONENTS

API_PREFIX = "/api/v2"
HEALTH_PATH = "/monitor/health"
"""Relative to API_PREFIX, as MWAA's InvokeRestApi takes its Path."""
HEALTHY_STATUS = "healthy"


class HealthFormatError(ValueError):
    """The answer is not a health document (not a JSON object)."""


@dataclass(frozen=True)
class ComponentHealth:
    """One component as Airflow reported it."""

    name: str
    status: str | None
    heartbeat: datetime | None
    """The latest heartbeat Airflow knows of, if the component has one."""

    @property
    def healthy(self) -> bool:
        return self.status == HEALTHY_STATUS

    def heartbeat_age(self, now: datetime) -> float | None:
        """Seconds from the latest heartbeat to `now` (never negative: the probe's clock may
        run behind the database's), or None without a heartbeat."""
        if self.heartbeat is None:
            return None
        return max(0.0, (now - self.heartbeat).total_seconds())


@dataclass(frozen=True)
class HealthReport:
    """What one probe found: every component in COMPONENTS order, whether Airflow answered
    at all, and why not."""

    components: tuple[ComponentHealth, ...]
    reachable: bool
    error: str | None = None

    @property
    def healthy(self) -> bool:
        """Airflow answered and reported every component healthy."""
        return self.reachable and all(component.healthy for component in self.components)

    def component(self, name: str) -> ComponentHealth:
        for component in self.components:
            if component.name == name:
                return component
        raise KeyError(name)

    def healthy_by_component(self) -> dict[str, bool]:
        return {component.name: component.healthy for component in self.components}

    def heartbeat_ages(self, now: datetime) -> dict[str, float]:
        """Seconds since each known heartbeat, by component."""
        ages = {c.name: c.heartbeat_age(now) for c in self.components}
        return {name: age for name, age in ages.items() if age is not None}

    @classmethod
    def unreachable(cls, error: str) -> HealthReport:
        """No usable answer: every component unknown, so unhealthy."""
        return cls(
            components=tuple(ComponentHealth(name, None, None) for name in COMPONENTS),
            reachable=False,
            error=error,
        )


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 heartbeat as an aware datetime (naive ones are UTC), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_health(document: Any) -> HealthReport:
    """The report of a health answer; HealthFormatError when it is not a JSON object. A
    component missing from it, or not an object, is unhealthy with no heartbeat."""
    if document is None:
        raise HealthFormatError("the health answer is not JSON")
    if not isinstance(document, dict):
        raise HealthFormatError(
            f"the health answer is not a JSON object but a {type(document).__name__}"
        )
    components = []
    for name in COMPONENTS:
        section = document.get(name)
        if not isinstance(section, dict):
            components.append(ComponentHealth(name, None, None))
            continue
        status = section.get("status")
        heartbeat = (
            parse_timestamp(section.get(f"latest_{name}_heartbeat"))
            if name in HEARTBEAT_COMPONENTS
            else None
        )
        components.append(
            ComponentHealth(name, status if isinstance(status, str) else None, heartbeat)
        )
    return HealthReport(components=tuple(components), reachable=True)
