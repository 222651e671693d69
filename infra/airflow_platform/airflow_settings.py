"""Production Airflow settings, defined once.

`production_settings` returns every runtime's settings as `{section: {key: value}}`: the
executor, the auth manager, parallelism, the DAG folder scan interval, the metadata
database's pool, remote task logs in the log-archive bucket, the AWS Secrets Manager
backend, and the retention the platform's cleanup DAGs read. Two renderers take it from
there: `mwaa_options` flattens it into MWAA's `airflowConfigurationOptions` (`section.key`),
leaving out what MWAA manages itself (`MWAA_MANAGED` says where each lives there), and
`airflow_platform.helm.chart_values` makes the official Helm chart's values (`config:` plus
what the chart takes as values of its own) for eks stacks (`helm_values` is its base).
Every name is Airflow 3's current one
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

from airflow_platform.bundle.files import DAGS_PREFIX
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
# eks stacks read their DAGs from the DAG bucket's `dags/` prefix, the keys DagBundle and
# `ship-dags` write, through Airflow 3's S3 DAG bundle (apache-airflow-providers-amazon
# 9.39.0, airflow/providers/amazon/aws/bundles/s3.py). The DAG processor and each task pod
# sync the prefix into `[dag_processor] dag_bundle_storage_path`/<name> (hooks/s3.py
# `sync_to_local_dir`: a key is downloaded when its local copy is missing, differs in size or
# is older than its LastModified; local files without a key are deleted) and parse it there,
# so a shipped DAG edit reaches the pods without an image rebuild. The bundle does not
# version (`supports_versioning = False`): a task runs its DAG file as it is when the pod
# starts. Airflow's DagBundlesManager builds it as `classpath(name=..., version=...,
# **kwargs)` (airflow/dag_processing/bundles/manager.py, `get_bundle`).
S3_DAG_BUNDLE = "airflow.providers.amazon.aws.bundles.s3.S3DagBundle"
DAG_BUNDLE_NAME = "dags-folder"
"""The name of Airflow's default bundle (the DAG folder's, config.yml's default
`dag_bundle_config_list`), which MWAA runs (its image sets no list). Each DAG row carries its
bundle's name, so one name on both platforms, and across any later switch between the
bucket and the image, keeps them; `dag.test(use_executor=True)` asks for this name too."""


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
    ("dag_processor", "dag_bundle_config_list"): "MWAA syncs the DAG bucket's dags/ prefix "
    "(dagS3Path) into its DAG folder, Airflow's default dags-folder bundle; an S3 bundle over "
    "the same prefix would parse every DAG twice",
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
    dag_bucket: pulumi.Input[str] | None = None
    """The DAG bucket: eks stacks read their DAG bundle from its `dags/` prefix (required
    there); MWAA reads that prefix itself (dagS3Path)."""


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
            **_dag_bundles(tier, inputs),
        },
        "scheduler": {"catchup_by_default": "False"},
        "api": {"expose_config": "False"},
        "logging": {
            "remote_logging": "True",
            "remote_base_log_folder": _concat(
                "s3://", inputs.log_archive_bucket, f"/{TASK_LOG_PREFIX}"
            ),
            # No connection holds a key: `aws_default` is never looked up in Secrets Manager
            # (CONNECTIONS_LOOKUP_PATTERN), so the hook falls back to boto3's default chain:
            # the pods' own EKS Pod Identity role.
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
        # astronomer-cosmos (the dbt_elt DAG) otherwise reports usage to a third party from
        # every DAG parse and task run (cosmos/settings.py `enable_telemetry`, default True;
        # cosmos/telemetry.py): the platform's hosts make no call nobody asked for, and a
        # private MWAA would only time out trying.
        "cosmos": {"enable_telemetry": "False"},
        # Read by the platform's own DAGs (dags/platform_ops/).
        "platform": {
            # The stack names the backup and restore-drill metrics (their `Stack` dimension).
            "stack": inputs.stack,
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


def dag_bundle_config(bucket: str, refresh_interval_seconds: int) -> list[dict[str, Any]]:
    """eks stacks' `[dag_processor] dag_bundle_config_list`: one S3DagBundle over the DAG
    bucket's `dags/` prefix, refreshed every `refresh_interval_seconds`.

    `aws_conn_id` is None: the provider's hook then looks no connection up and uses boto3's
    default credential chain (hooks/base_aws.py `conn_config`), i.e. the pods' EKS Pod
    Identity role. `aws_default` would first ask every secrets backend and the metastore for
    that connection, warn when none has it, and let a connection someone creates change the
    identity the DAGs are read with."""
    return [
        {
            "name": DAG_BUNDLE_NAME,
            "classpath": S3_DAG_BUNDLE,
            "kwargs": {
                "bucket_name": bucket,
                "prefix": f"{DAGS_PREFIX}/",
                "aws_conn_id": None,
                # Explicit: the bundle's default is [dag_processor] refresh_interval as read
                # when its module was first imported (dag_processing/bundles/base.py).
                "refresh_interval": refresh_interval_seconds,
            },
        }
    ]


def _dag_bundles(tier: Tier, inputs: SettingsInputs) -> dict[str, pulumi.Input[str]]:
    """`dag_bundle_config_list` on eks stacks, nothing on MWAA (MWAA_MANAGED)."""
    if inputs.platform is not Platform.EKS:
        return {}
    if inputs.dag_bucket is None:
        raise ValueError("eks stacks read their DAGs from the DAG bucket: pass dag_bucket")
    refresh = SIZING[tier].refresh_interval_seconds

    def render(bucket: str) -> str:
        return json.dumps(dag_bundle_config(bucket, refresh), separators=(",", ":"))

    bucket = inputs.dag_bucket
    value = (
        render(bucket)
        if isinstance(bucket, str)
        else pulumi.Output.from_input(bucket).apply(render)
    )
    return {"dag_bundle_config_list": value}


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


def helm_values(settings: Mapping[str, Mapping[str, Any]], tier: Tier) -> dict[str, Any]:
    """The official chart's values these settings imply on their own (`config:`, the
    executor, the metadata secret, the bundled PostgreSQL off, `databaseCleanup`): the base
    of the whole document `airflow_platform.helm.chart_values` builds, which lives there."""
    # Imported here: the helm package builds on this module's constants.
    from airflow_platform.helm.values import settings_values

    return settings_values(settings, tier)
