"""How old the newest backup and the newest restore drill are, from their own metrics.

The backup and the restore drill publish the epoch seconds of each success
(`LastSuccessTimestamp`, `RestoreDrillLastSuccessTimestamp`; namespace
AirflowPlatform/Backups; dimensions Stack and Database). A CloudWatch alarm evaluates at most
seven days of data, and the drill runs weekly with an eight-day silence threshold, so no
alarm can watch it directly: this check reads the newest value over FRESHNESS_LOOKBACK_HOURS
and publishes the age, which an alarm can watch at any period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from health_probe.metrics import (
    BACKUPS_NAMESPACE,
    DATABASE,
    FRESHNESS_LOOKBACK_HOURS,
    LAST_SUCCESS_TIMESTAMP,
    RESTORE_DRILL_LAST_SUCCESS_TIMESTAMP,
    STACK,
)

# One datapoint per day: at most 15 per metric over the lookback, far under GetMetricData's
# 100,800 per call, so one call answers in full (no NextToken).
PERIOD_SECONDS = 24 * 3600
_QUERIES = {"backup": LAST_SUCCESS_TIMESTAMP, "drill": RESTORE_DRILL_LAST_SUCCESS_TIMESTAMP}


@dataclass(frozen=True)
class Freshness:
    """The newest success timestamps found (None: none in the lookback) and their ages."""

    backup_last_success: float | None
    drill_last_success: float | None
    backup_age_hours: float
    drill_age_hours: float


def age_hours(last_success: float | None, now: datetime) -> float:
    """Hours from `last_success` (epoch seconds) to `now`; the lookback itself when nothing
    was found, so a threshold alarm fires instead of seeing no data."""
    if last_success is None:
        return float(FRESHNESS_LOOKBACK_HOURS)
    return max(0.0, (now.timestamp() - last_success) / 3600)


def queries(stack: str, database: str) -> list[dict[str, Any]]:
    """GetMetricData's queries: the Maximum of each timestamp metric, dimensions exactly
    [Stack, Database] (CloudWatch matches a metric by all of its dimensions)."""
    dimensions = [{"Name": STACK, "Value": stack}, {"Name": DATABASE, "Value": database}]
    return [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": BACKUPS_NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": dimensions,
                },
                "Period": PERIOD_SECONDS,
                "Stat": "Maximum",
            },
            "ReturnData": True,
        }
        for query_id, metric in _QUERIES.items()
    ]


def read_freshness(cloudwatch: Any, stack: str, database: str, now: datetime) -> Freshness:
    """One GetMetricData call over the lookback ending `now`. CloudWatch errors propagate."""
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=queries(stack, database),
        StartTime=now - timedelta(hours=FRESHNESS_LOOKBACK_HOURS),
        EndTime=now,
        ScanBy="TimestampDescending",
    )
    newest: dict[str, float | None] = dict.fromkeys(_QUERIES)
    for result in answer.get("MetricDataResults", []):
        values = [float(value) for value in result.get("Values", [])]
        if values and result.get("Id") in newest:
            newest[result["Id"]] = max(values)
    return Freshness(
        backup_last_success=newest["backup"],
        drill_last_success=newest["drill"],
        backup_age_hours=age_hours(newest["backup"], now),
        drill_age_hours=age_hours(newest["drill"], now),
    )
