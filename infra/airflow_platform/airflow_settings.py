"""Production Airflow settings, defined once.

`production_settings` returns every runtime's settings as `{section: {key: value}}`: the
executor, the auth manager, parallelism, the DAG folder scan interval, the metadata
database's pool, remote task logs in the log-archive bucket, the AWS Secrets Manager
backend, and the retention the platform's cleanup DAGs read. Two renderers take it from
there: `mwaa_options` flattens it into MWAA's `airflowConfigurationOptions` (`section.key`),
leaving out what MWAA manages itself (`MWAA_MANAGED` says where each lives there), and
`helm_values` makes the official Helm chart's values (`config:` plus what the chart takes
as values of its own) for eks stacks. Every name is Airflow 3's current one
(`dag_processor.refresh_interval` is what Airflow 2 called `scheduler.dag_dir_list_interval`);
`tests/test_airflow_settings.py` checks each against the pinned Airflow's own configuration
and that both renderers carry each setting.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from airflow_platform.config.model import Platform, Tier

SECRETS_BACKEND = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
# The auth manager of eks stacks: Airflow's own FAB one (users, roles, per-DAG access).
# Airflow 3's default, SimpleAuthManager, is for development only. The eks image installs
# its provider (images/eks/Dockerfile); MWAA runs its own, mapped to IAM.
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
BACKUP_PREFIX = "metadata-db"
TASK_LOG_PREFIX = "task-logs"
"""Where eks stacks' remote task logs go in the log-archive bucket."""
LOG_ARCHIVE_PREFIX = "airflow-logs"
"""Where the log_cleanup DAG archives local log files in the log-archive bucket."""
METADATA_SECRET_NAME = "airflow-metadata"  # noqa: S105 - a secret's name, not its value
"""The Kubernetes secret holding the metadata database's connection (key `connection`), which
the Helm chart reads through `data.metadataSecretName`: never a password in values."""


@dataclass(frozen=True)
class Sizing:
    """What a tier can run at once, how often new DAG files are looked for, and how long
    local logs and metadata rows are kept."""

    parallelism: int
    max_active_tasks_per_dag: int
    max_active_runs_per_dag: int
    refresh_interval_seconds: int
    log_retention_days: int
    metadata_retention_days: int


SIZING: dict[Tier, Sizing] = {
    Tier.EPHEMERAL: Sizing(16, 8, 2, 60, 3, 7),
    Tier.DEV: Sizing(32, 16, 4, 60, 7, 30),
    Tier.STAGING: Sizing(64, 16, 4, 120, 14, 60),
    Tier.PROD: Sizing(128, 32, 4, 300, 30, 90),
}

EXECUTOR = {Platform.EKS: "KubernetesExecutor", Platform.MWAA: "CeleryExecutor"}

# The Variable `mode` by tier (dags/platform_ops/dependencies.py reads it): dev and ephemeral
# stacks say `dev`, so they never trigger work meant for production data.
MODE: dict[Tier, str] = {
    Tier.EPHEMERAL: "dev",
    Tier.DEV: "dev",
    Tier.STAGING: "staging",
    Tier.PROD: "prod",
}
# New DAGs start paused where a human decides when they go live (staging, prod) and run at
# once where authors try them (dev, ephemeral). The platform's own DAGs (backup, cleanups)
# set `is_paused_upon_creation=False`, so they run everywhere from the first deploy.
DAGS_PAUSED_AT_CREATION: dict[Tier, bool] = {
    Tier.EPHEMERAL: False,
    Tier.DEV: False,
    Tier.STAGING: True,
    Tier.PROD: True,
}
# Connections the secrets backend does not look up: `aws_default` is the runtime's own role,
# asked for by every AWS hook; looking it up would cost a Secrets Manager call (and a
# not-found error) per task. MWAA sets exactly this pattern itself (its image's
# `_get_opinionated_airflow_secrets_config`, aws/amazon-mwaa-docker-images
# images/airflow/<version>/python/mwaa/config/airflow.py), and setting `backend_kwargs`
# replaces MWAA's value, so it is kept here.
CONNECTIONS_LOOKUP_PATTERN = "^(?!aws_default$).*$"

# What MWAA sets itself and refuses in airflowConfigurationOptions, and where each lives
# there instead. tests/test_airflow_settings.py holds the environment to each of these.
MWAA_MANAGED: dict[tuple[str, str], str] = {
    ("core", "executor"): "MWAA runs CeleryExecutor on its own SQS queues",
    ("core", "auth_manager"): "MWAA maps IAM principals to Airflow roles itself",
    ("database", "sql_alchemy_conn"): "MWAA's own Aurora PostgreSQL metadata database",
    ("database", "sql_alchemy_pool_pre_ping"): "MWAA's own Aurora PostgreSQL metadata database",
    ("database", "sql_alchemy_pool_recycle"): "MWAA's own Aurora PostgreSQL metadata database",
    ("logging", "remote_logging"): "task logs go to CloudWatch (loggingConfiguration)",
    ("logging", "remote_base_log_folder"): "task logs go to CloudWatch (loggingConfiguration)",
    ("logging", "remote_log_conn_id"): "task logs go to CloudWatch (loggingConfiguration)",
    ("logging", "delete_local_logs"): "task logs go to CloudWatch (loggingConfiguration)",
}


def environment_name(stack: str) -> str:
    """`airflow-<stack>`: the MWAA environment or the Helm release. MWAA names are 1-80
    characters, a letter first."""
    return f"airflow-{stack}"


def secrets_prefix(stack: str) -> str:
    """Secrets Manager names of a stack's connections and Variables start with this."""
    return f"airflow/{stack}"


def variables_prefix(stack: str) -> str:
    """Where the secrets backend reads Variables: `<secrets_prefix>/variables/<key>`."""
    return f"{secrets_prefix(stack)}/variables"


def stack_variables(tier: Tier) -> dict[str, str]:
    """The Airflow Variables the stack sets from its own config (components.AirflowVariables)."""
    return {"mode": MODE[tier]}


@dataclass(frozen=True)
class SettingsInputs:
    """What the settings depend on beyond the tier: where things live."""

    stack: str
    platform: Platform
    environment_name: str
    """The MWAA environment or the Helm release (`airflow-<stack>`)."""
    backup_bucket: pulumi.Input[str]
    log_archive_bucket: pulumi.Input[str]


def production_settings(
    tier: Tier, inputs: SettingsInputs
) -> dict[str, dict[str, pulumi.Input[str]]]:
    """Every runtime's settings, by section: the one definition `mwaa_options` and
    `helm_values` render."""
    sizing = SIZING[tier]
    prefix = secrets_prefix(inputs.stack)
    return {
        "core": {
            "executor": EXECUTOR[inputs.platform],
            "auth_manager": FAB_AUTH_MANAGER,
            "parallelism": str(sizing.parallelism),
            "max_active_tasks_per_dag": str(sizing.max_active_tasks_per_dag),
            "max_active_runs_per_dag": str(sizing.max_active_runs_per_dag),
            "load_examples": "False",
            "dags_are_paused_at_creation": str(DAGS_PAUSED_AT_CREATION[tier]),
            # A DAG file taking longer than this to import is an import error, not a stall.
            "dagbag_import_timeout": "60",
            "default_task_retries": "2",
            "hide_sensitive_var_conn_fields": "True",
        },
        # The connection itself is a secret (METADATA_SECRET_NAME on eks); these keep the
        # pool healthy across RDS failovers and idle timeouts.
        "database": {
            "sql_alchemy_pool_pre_ping": "True",
            "sql_alchemy_pool_recycle": "1800",
        },
        "dag_processor": {
            # Airflow 2's scheduler.dag_dir_list_interval.
            "refresh_interval": str(sizing.refresh_interval_seconds),
            "min_file_process_interval": "60",
        },
        "scheduler": {"catchup_by_default": "False"},
        "api": {"expose_config": "False"},
        "logging": {
            "remote_logging": "True",
            "remote_base_log_folder": _concat(
                "s3://", inputs.log_archive_bucket, f"/{TASK_LOG_PREFIX}"
            ),
            # The pods' IRSA role through boto3's default chain: no key in the connection.
            "remote_log_conn_id": "aws_default",
            "delete_local_logs": "True",
        },
        "secrets": {
            "backend": SECRETS_BACKEND,
            "backend_kwargs": json.dumps(
                {
                    "connections_prefix": f"{prefix}/connections",
                    "connections_lookup_pattern": CONNECTIONS_LOOKUP_PATTERN,
                    "variables_prefix": variables_prefix(inputs.stack),
                    "config_prefix": None,
                },
                separators=(",", ":"),
            ),
        },
        # Read by the platform's own DAGs (dags/platform_ops/).
        "platform": {
            "runtime": inputs.platform.value,
            "environment_name": inputs.environment_name,
            "backup_bucket": inputs.backup_bucket,
            "backup_prefix": BACKUP_PREFIX,
            "log_archive_bucket": inputs.log_archive_bucket,
            "log_retention_days": str(sizing.log_retention_days),
            "metadata_retention_days": str(sizing.metadata_retention_days),
        },
    }


def _concat(*parts: pulumi.Input[str]) -> pulumi.Input[str]:
    """A plain string when every part is one (tests, docs), else an Output."""
    if all(isinstance(part, str) for part in parts):
        return "".join(parts)  # type: ignore[arg-type]
    return pulumi.Output.concat(*parts)


def mwaa_options(
    settings: Mapping[str, Mapping[str, pulumi.Input[str]]],
    overrides: Mapping[str, str] | None = None,
) -> dict[str, pulumi.Input[str]]:
    """MWAA's `airflowConfigurationOptions`: `section.key` names, MWAA-managed ones left
    out, the stack's `mwaa.airflowOptions` over them."""
    options: dict[str, pulumi.Input[str]] = {
        f"{section}.{key}": value
        for section, values in settings.items()
        for key, value in values.items()
        if (section, key) not in MWAA_MANAGED
    }
    for name, value in (overrides or {}).items():
        section, _, key = name.partition(".")
        if (section, key) in MWAA_MANAGED:
            raise ValueError(f"airflow-platform:mwaa.airflowOptions: MWAA manages {name} itself")
        options[name] = value
    return dict(sorted(options.items()))


def helm_config(settings: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The Helm chart's `config:` (section -> key -> value), sorted for stable previews."""
    return {section: dict(sorted(values.items())) for section, values in sorted(settings.items())}


def helm_values(settings: Mapping[str, Mapping[str, Any]], tier: Tier) -> dict[str, Any]:
    """The official chart's values these settings imply: `config:`, the executor (the chart
    also derives pod templates from it), the metadata database as a secret on RDS (the
    chart's bundled PostgreSQL off: never SQLite, never a password in values), and the
    chart's own `airflow db clean` CronJob with the tier's retention."""
    return {
        "executor": settings["core"]["executor"],
        "config": helm_config(settings),
        "data": {"metadataSecretName": METADATA_SECRET_NAME},
        "postgresql": {"enabled": False},
        "databaseCleanup": {
            "enabled": True,
            "retentionDays": SIZING[tier].metadata_retention_days,
            # 04:15 UTC: after the metadata backup (03:30) has taken its copy.
            "schedule": "15 4 * * *",
        },
    }
