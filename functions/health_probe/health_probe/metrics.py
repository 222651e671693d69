"""The probe's metric contract: every namespace, metric, dimension and component name, and
the PutMetricData entries built from a check's result.

The infrastructure's alarms and dashboard import these names, so changing one here changes
what is published and what is watched together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

# --- what the probe publishes ----------------------------------------------------------------

NAMESPACE = "AirflowPlatform/Health"
"""The default namespace of everything the probe publishes (METRICS_NAMESPACE overrides)."""

STACK = "Stack"
"""Dimension on every metric: the Pulumi stack (`dev`, `prod`, `pr-12`)."""
COMPONENT = "Component"
"""Second dimension of `Healthy` and `HeartbeatAgeSeconds`: one of COMPONENTS."""

# Airflow's own names for the parts its health endpoint reports
# (airflow/api/common/airflow_health.py of the pinned Airflow).
METADATABASE = "metadatabase"
SCHEDULER = "scheduler"
TRIGGERER = "triggerer"
DAG_PROCESSOR = "dag_processor"
COMPONENTS = (METADATABASE, SCHEDULER, TRIGGERER, DAG_PROCESSOR)
HEARTBEAT_COMPONENTS = (SCHEDULER, TRIGGERER, DAG_PROCESSOR)
"""The components whose health answer carries a `latest_<component>_heartbeat`."""

HEALTHY = "Healthy"
"""1 when Airflow reports the component healthy, else 0 (also 0 for every component when
the probe could not read Airflow's answer). Unit None; dimensions Stack, Component."""
HEARTBEAT_AGE_SECONDS = "HeartbeatAgeSeconds"
"""Seconds since the component's latest heartbeat, when Airflow reports one. Unit Seconds;
dimensions Stack, Component."""
API_REACHABLE = "ApiReachable"
"""1 when the probe got a usable health answer (HTTP 200, a JSON object), else 0. Unit None;
dimension Stack."""
PROBE_LATENCY_MILLISECONDS = "ProbeLatencyMilliseconds"
"""How long the health request took, answered or not. Unit Milliseconds; dimension Stack."""
BACKUP_AGE_HOURS = "BackupAgeHours"
"""Hours since the newest successful backup (freshness check). Unit None (CloudWatch has no
hours unit); dimension Stack."""
RESTORE_DRILL_AGE_HOURS = "RestoreDrillAgeHours"
"""Hours since the newest successful restore drill (freshness check). Unit None; dimension
Stack."""

UNIT_NONE = "None"
UNIT_SECONDS = "Seconds"
UNIT_MILLISECONDS = "Milliseconds"

# --- what the freshness check reads -------------------------------------------------------------

BACKUPS_NAMESPACE = "AirflowPlatform/Backups"
"""Where the backup and the restore drill publish their success timestamps."""
DATABASE = "Database"
"""Second dimension of the backup metrics: the backed-up database's name."""
LAST_SUCCESS_TIMESTAMP = "LastSuccessTimestamp"
"""Epoch seconds of the newest verified backup (dimensions Stack, Database)."""
RESTORE_DRILL_LAST_SUCCESS_TIMESTAMP = "RestoreDrillLastSuccessTimestamp"
"""Epoch seconds of the newest successful restore drill (dimensions Stack, Database)."""
FRESHNESS_LOOKBACK_HOURS = 14 * 24
"""How far back the freshness check looks (336 hours), and the age it publishes when it
finds nothing: larger than any freshness threshold (the drill's is 8 days), so the alarm
fires rather than going without data."""


def dimensions(stack: str, component: str | None = None) -> list[dict[str, str]]:
    """[Stack] or [Stack, Component], as PutMetricData takes them."""
    found = [{"Name": STACK, "Value": stack}]
    if component is not None:
        found.append({"Name": COMPONENT, "Value": component})
    return found


def datum(
    name: str,
    value: float,
    unit: str,
    stack: str,
    timestamp: datetime,
    component: str | None = None,
) -> dict[str, Any]:
    """One PutMetricData entry."""
    return {
        "MetricName": name,
        "Dimensions": dimensions(stack, component),
        "Timestamp": timestamp,
        "Value": float(value),
        "Unit": unit,
    }


def health_data(
    stack: str,
    timestamp: datetime,
    healthy: Mapping[str, bool],
    heartbeat_ages: Mapping[str, float],
    reachable: bool,
    latency_ms: float,
) -> list[dict[str, Any]]:
    """The health check's metrics: `Healthy` for every one of COMPONENTS (a component absent
    from `healthy` counts as unhealthy), `HeartbeatAgeSeconds` for those with an age,
    `ApiReachable` and `ProbeLatencyMilliseconds`."""
    data = [
        datum(HEALTHY, 1 if healthy.get(name, False) else 0, UNIT_NONE, stack, timestamp, name)
        for name in COMPONENTS
    ]
    data += [
        datum(HEARTBEAT_AGE_SECONDS, heartbeat_ages[name], UNIT_SECONDS, stack, timestamp, name)
        for name in HEARTBEAT_COMPONENTS
        if name in heartbeat_ages
    ]
    data.append(datum(API_REACHABLE, 1 if reachable else 0, UNIT_NONE, stack, timestamp))
    data.append(datum(PROBE_LATENCY_MILLISECONDS, latency_ms, UNIT_MILLISECONDS, stack, timestamp))
    return data


def freshness_data(
    stack: str, timestamp: datetime, backup_age_hours: float, drill_age_hours: float
) -> list[dict[str, Any]]:
    """The freshness check's two ages."""
    return [
        datum(BACKUP_AGE_HOURS, backup_age_hours, UNIT_NONE, stack, timestamp),
        datum(RESTORE_DRILL_AGE_HOURS, drill_age_hours, UNIT_NONE, stack, timestamp),
    ]


def publish(cloudwatch: Any, namespace: str, data: Iterable[dict[str, Any]]) -> None:
    """One PutMetricData call (a check publishes at most nine entries; the limit is 1,000).
    Errors propagate: metrics CloudWatch refused must fail the invocation, so that the
    function's own Errors metric shows it."""
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=list(data))
