"""A small client of the Airflow REST API for the CLI (`airflow-platform health`, `dags`),
built on the health probe's transports (functions/health_probe)."""

from airflow_platform.airflow_api.client import (
    PAGE_SIZE,
    TERMINAL_STATES,
    AirflowApi,
    ApiError,
    login,
)

__all__ = ["PAGE_SIZE", "TERMINAL_STATES", "AirflowApi", "ApiError", "login"]
