"""The CloudWatch metrics of backups and restore drills: one namespace, fixed names and
dimensions, importable by the infrastructure's alarms without importing boto3.

Every metric carries the dimensions `[Stack, Database]` (in that order) when the stack is
known, so two stacks in one account never share a series; `Database` is always the database
that was backed up, never the drill's scratch copy. `airflow-platform backup` may run with no
stack and then publishes `[Database]` only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

NAMESPACE = "AirflowPlatform/Backups"

STACK_DIMENSION = "Stack"
DATABASE_DIMENSION = "Database"

# A successful backup.
LAST_SUCCESS_TIMESTAMP = "LastSuccessTimestamp"
"""Epoch seconds of the end of the last successful backup (unit Seconds)."""
SIZE_BYTES = "SizeBytes"
DURATION_SECONDS = "DurationSeconds"
BACKUP_METRICS = (LAST_SUCCESS_TIMESTAMP, SIZE_BYTES, DURATION_SECONDS)

# Every restore drill, successful or not.
RESTORE_DRILL_SUCCESS = "RestoreDrillSuccess"
"""1 when the latest dump restored and matched its manifest, 0 when the drill failed."""
RESTORE_DRILL_DURATION_SECONDS = "RestoreDrillDurationSeconds"
RESTORE_DRILL_LAST_SUCCESS_TIMESTAMP = "RestoreDrillLastSuccessTimestamp"
"""Epoch seconds of the end of the last successful drill; published on success only."""
RESTORE_DRILL_METRICS = (
    RESTORE_DRILL_SUCCESS,
    RESTORE_DRILL_DURATION_SECONDS,
    RESTORE_DRILL_LAST_SUCCESS_TIMESTAMP,
)

Metric = tuple[str, float, str]
"""(name, value, CloudWatch unit)."""


def dimensions(database: str, stack: str | None = None) -> list[dict[str, str]]:
    """`[Stack, Database]`, or `[Database]` alone when no stack is given."""
    database_dimension = {"Name": DATABASE_DIMENSION, "Value": database}
    if stack:
        return [{"Name": STACK_DIMENSION, "Value": stack}, database_dimension]
    return [database_dimension]


def put_metrics(
    cloudwatch: Any,
    namespace: str,
    dimensions: list[dict[str, str]],
    metrics: Iterable[Metric],
    timestamp: datetime,
) -> None:
    """One PutMetricData call with every metric under the same dimensions and time."""
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": dimensions,
                "Timestamp": timestamp,
                "Value": value,
                "Unit": unit,
            }
            for name, value, unit in metrics
        ],
    )
