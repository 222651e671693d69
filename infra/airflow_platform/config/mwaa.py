"""`airflow-platform:mwaa`: the MWAA environment's section of the stack config."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator, model_validator

from airflow_platform.config.base import (
    ConfigModel,
    LogRetentionDays,
    RuleProblem,
    enforce,
    matches,
)


class MwaaEnvironmentClass(StrEnum):
    """MWAA's environment sizes (scheduler, web server and worker capacity)."""

    MICRO = "mw1.micro"
    SMALL = "mw1.small"
    MEDIUM = "mw1.medium"
    LARGE = "mw1.large"
    XLARGE = "mw1.xlarge"
    XXLARGE = "mw1.2xlarge"


class WebserverAccess(StrEnum):
    """Who can reach the Airflow UI and API."""

    PRIVATE_ONLY = "PRIVATE_ONLY"
    PUBLIC_ONLY = "PUBLIC_ONLY"


class LogLevel(StrEnum):
    """MWAA's CloudWatch log levels."""

    CRITICAL = "CRITICAL"
    ERROR = "ERROR"
    WARNING = "WARNING"
    INFO = "INFO"
    DEBUG = "DEBUG"


_MWAA_WINDOW = re.compile(r"^(MON|TUE|WED|THU|FRI|SAT|SUN):([01]\d|2[0-3]):(00|30)$")


# MWAA's option names are section.key, at most 64 characters; values at most 256.
_MWAA_OPTION = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


# MWAA's "Workers per environment" quota: 25 by default, adjustable through Service Quotas
# (https://docs.aws.amazon.com/mwaa/latest/userguide/mwaa-quotas.html; the FAQ says an
# increase allows up to 50: https://docs.aws.amazon.com/mwaa/latest/userguide/mwaa-faqs.html#scaling-quota).
MWAA_DEFAULT_WORKER_QUOTA = 25


class MwaaConfig(ConfigModel):
    """`airflow-platform:mwaa`: the MWAA environment (mwaa stacks only)."""

    environment_class: MwaaEnvironmentClass = MwaaEnvironmentClass.SMALL
    """mw1.micro, mw1.small, mw1.medium, mw1.large, mw1.xlarge or mw1.2xlarge."""
    min_workers: int = Field(default=1, ge=1)
    """Workers always running (1 to `maxWorkersQuota`)."""
    max_workers: int = Field(default=2, ge=1)
    """Workers MWAA may scale out to under load (at least `minWorkers`, at most
    `maxWorkersQuota`)."""
    max_workers_quota: int = Field(default=MWAA_DEFAULT_WORKER_QUOTA, ge=1)
    """The account's MWAA quota of workers per environment (AWS's default, 25, is adjustable);
    `minWorkers` and `maxWorkers` may not exceed it. Raise it only after AWS has raised the
    quota (Service Quotas)."""
    schedulers: int = Field(default=2, ge=1, le=5)
    """Schedulers (2-5; mw1.micro runs exactly 1)."""
    webserver_access: WebserverAccess = WebserverAccess.PRIVATE_ONLY
    """PRIVATE_ONLY (reachable from the VPC only; required in staging and prod) or
    PUBLIC_ONLY (IAM-authenticated, from the internet)."""
    log_level: LogLevel = LogLevel.INFO
    """Level of the scheduler, DAG-processing, web-server and worker logs."""
    task_log_level: LogLevel = LogLevel.INFO
    """Level of the task logs."""
    log_retention_days: LogRetentionDays = 30
    """Retention MWAA's log groups get (the stack sets it), one of CloudWatch's values."""
    maintenance_window_start: Annotated[
        str, matches(_MWAA_WINDOW, "a weekly start time such as SUN:03:00 (UTC, on :00 or :30)")
    ] = "SUN:03:00"
    """Start of MWAA's weekly maintenance window, DAY:HH:MM UTC on the hour or half hour."""
    airflow_options: dict[str, str] = Field(default_factory=dict)
    """Extra Airflow options (`section.key: value`) over the production settings."""

    @field_validator("airflow_options")
    @classmethod
    def _options(cls, options: dict[str, str]) -> dict[str, str]:
        for key, value in options.items():
            if len(key) > 64 or not _MWAA_OPTION.fullmatch(key):
                raise ValueError(
                    f"option {key!r} is not a section.key name of at most 64 characters "
                    "(lowercase letters, digits, _)"
                )
            if not 1 <= len(value) <= 256:
                raise ValueError(f"option {key!r}: MWAA takes values of 1-256 characters")
        return options

    @model_validator(mode="after")
    def _capacity(self, info: ValidationInfo) -> MwaaConfig:
        problems = []
        quota = self.max_workers_quota
        for key, workers in (("minWorkers", self.min_workers), ("maxWorkers", self.max_workers)):
            if workers > quota:
                problems.append(
                    RuleProblem(
                        f"{key} ({workers}) is above maxWorkersQuota ({quota}), the account's "
                        "MWAA quota of workers per environment: once AWS has raised the quota "
                        "(Service Quotas), set airflow-platform:mwaa.maxWorkersQuota to it",
                        (key, "maxWorkersQuota"),
                    )
                )
        if self.max_workers < self.min_workers:
            problems.append(
                RuleProblem(
                    f"maxWorkers ({self.max_workers}) must be at least minWorkers "
                    f"({self.min_workers})",
                    ("maxWorkers", "minWorkers"),
                )
            )
        micro = self.environment_class is MwaaEnvironmentClass.MICRO
        if micro and (self.schedulers != 1 or self.max_workers != 1):
            problems.append(
                RuleProblem(
                    f"environmentClass {self.environment_class.value} runs exactly 1 scheduler "
                    f"and 1 worker (schedulers: {self.schedulers}, maxWorkers: "
                    f"{self.max_workers})",
                    ("environmentClass", "schedulers", "maxWorkers"),
                )
            )
        if not micro and self.schedulers < 2:
            problems.append(
                RuleProblem(
                    f"environmentClass {self.environment_class.value} runs 2 to 5 schedulers "
                    f"(schedulers: {self.schedulers})",
                    ("schedulers", "environmentClass"),
                )
            )
        enforce(self, info, problems)
        return self
