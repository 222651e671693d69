"""The official Apache Airflow Helm chart for eks stacks: its values (`values.py`) and a typed
model of the keys the platform sets, written from the chart's own schema (`schema.py`)."""

from airflow_platform.helm.schema import ChartValuesError, validate_values
from airflow_platform.helm.values import (
    CHART_NAME,
    CHART_REPOSITORY,
    SERVICE_ACCOUNTS,
    ChartInputs,
    chart_values,
    chart_values_output,
    chart_version,
    pgbouncer_target,
)

__all__ = [
    "CHART_NAME",
    "CHART_REPOSITORY",
    "SERVICE_ACCOUNTS",
    "ChartInputs",
    "ChartValuesError",
    "chart_values",
    "chart_values_output",
    "chart_version",
    "pgbouncer_target",
    "validate_values",
]
