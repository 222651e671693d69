"""The local Airflow's configuration: the dev tier's production settings
(`airflow_settings.production_settings(Tier.DEV, ...)`, the dev stack's mwaa platform), with
what cannot apply on one machine replaced, each replacement listed with its reason
(`LocalConfig.differences`, the table `dev up` prints).

Every setting reaches the Airflow processes as an `AIRFLOW__<SECTION>__<KEY>` variable;
nothing of the caller's own Airflow settings (`AIRFLOW__*`, `AIRFLOW_CONN_*`, `AIRFLOW_VAR_*`,
`AIRFLOW_HOME`) or AWS settings leaks in. Option names are the pinned Airflow's
(airflow/config_templates/config.yml): `[core] execution_api_server_url` (where task
processes reach the API server's execution API, default `{BASE_URL}/execution/`),
`[core] simple_auth_manager_users`/`simple_auth_manager_passwords_file` (the simple auth
manager generates each user's password into that file on first start:
airflow/api_fastapi/auth/managers/simple/simple_auth_manager.py, `init`), `[api_auth]
jwt_secret` (which every component must share to sign and check tokens).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from airflow_platform.devenv.state import Layout

STACK = "dev"
USERNAME = "admin"
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)
LOCAL_PARALLELISM = 8
PARSE_INTERVAL_SECONDS = 5
BACKUP_BUCKET = "airflow-dev-local-backups"
LOG_ARCHIVE_BUCKET = "airflow-dev-local-log-archive"


@dataclass(frozen=True)
class Difference:
    option: str
    production: str
    local: str
    why: str


@dataclass(frozen=True)
class Endpoints:
    """Where the local services listen."""

    api_port: int
    pg_port: int
    pg_password: str
    moto_endpoint: str
    slack_url: str


@dataclass
class LocalConfig:
    """The options (`{section: {key: value}}`) and the table of what differs."""

    options: dict[str, dict[str, str]]
    differences: list[Difference] = field(default_factory=list)


def _shown(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "..."


def local_config(layout: Layout, dags: Path, ends: Endpoints, jwt_secret: str) -> LocalConfig:
    """The dev tier's production settings with the local replacements applied."""
    from airflow_platform.airflow_settings import (
        SettingsInputs,
        environment_name,
        production_settings,
    )
    from airflow_platform.config.model import Platform, Tier

    inputs = SettingsInputs(
        stack=STACK, platform=Platform.MWAA, environment_name=environment_name(STACK),
        backup_bucket=BACKUP_BUCKET, log_archive_bucket=LOG_ARCHIVE_BUCKET,
    )  # fmt: skip
    production = production_settings(Tier.DEV, inputs)
    options: dict[str, dict[str, str]] = {
        section: {key: str(value) for key, value in values.items()}
        for section, values in production.items()
    }
    config = LocalConfig(options)
    api_url = f"http://127.0.0.1:{ends.api_port}"
    sql = f"postgresql+psycopg2://postgres:{ends.pg_password}@127.0.0.1:{ends.pg_port}/airflow"

    def replace(section: str, key: str, value: str, why: str, shown: str | None = None) -> None:
        before = options.setdefault(section, {}).get(key)
        options[section][key] = value
        config.differences.append(
            Difference(
                f"{section}.{key}",
                _shown(before) if before is not None else "(unset)",
                _shown(shown if shown is not None else value),
                why,
            )
        )

    replace("core", "executor", "LocalExecutor",
            "no Celery queue or Kubernetes cluster on one machine: tasks run as local "
            "processes")  # fmt: skip
    replace("core", "auth_manager", SIMPLE_AUTH_MANAGER,
            "FAB's user database is not needed for one author: one admin user")  # fmt: skip
    for key in ("parallelism", "max_active_tasks_per_dag"):
        replace("core", key, str(LOCAL_PARALLELISM),
                "a laptop, not a fleet of workers")  # fmt: skip
    replace("dag_processor", "refresh_interval", str(PARSE_INTERVAL_SECONDS),
            "new DAG files show up within seconds")  # fmt: skip
    replace("dag_processor", "min_file_process_interval", str(PARSE_INTERVAL_SECONDS),
            "edited DAG files are re-parsed within seconds")  # fmt: skip
    replace("database", "sql_alchemy_conn", sql,
            "the embedded PostgreSQL under .dev/postgres, not RDS/Aurora",
            shown=f"postgresql://postgres@127.0.0.1:{ends.pg_port}/airflow")  # fmt: skip
    replace("logging", "remote_logging", "False",
            "moto keeps S3 in memory: task logs stay in .dev/logs/tasks, readable in the UI "
            "after a restart")  # fmt: skip
    replace("logging", "delete_local_logs", "False", "task logs are local only")
    backend_kwargs = json.loads(options["secrets"]["backend_kwargs"])
    backend_kwargs.update({"endpoint_url": ends.moto_endpoint, "region_name": "eu-west-1"})
    replace("secrets", "backend_kwargs", json.dumps(backend_kwargs, separators=(",", ":")),
            "the same Secrets Manager backend and prefixes, on moto",
            shown=f"+ endpoint_url {ends.moto_endpoint}")  # fmt: skip
    for key, bucket in (("backup_bucket", BACKUP_BUCKET),
                        ("log_archive_bucket", LOG_ARCHIVE_BUCKET)):  # fmt: skip
        options["platform"][key] = bucket
    config.differences.append(
        Difference(
            "platform.*_bucket",
            "the stack's buckets",
            "airflow-dev-local-*",
            "buckets of the same purpose in moto",
        )
    )
    # Not in the production settings, which the platform's components set themselves.
    options["core"].update(
        {
            "dags_folder": str(dags),
            "execution_api_server_url": f"{api_url}/execution/",
            "simple_auth_manager_users": f"{USERNAME}:admin",
            "simple_auth_manager_passwords_file": str(layout.password_file),
        }
    )
    options.setdefault("api", {})["base_url"] = api_url
    options.setdefault("api_auth", {})["jwt_secret"] = jwt_secret
    options["logging"]["base_log_folder"] = str(layout.logs / "tasks")
    options["logging"]["remote_base_log_folder"] = ""
    options.setdefault("scheduler", {})["scheduler_heartbeat_sec"] = "2"
    return config


def airflow_environment(
    base: Mapping[str, str],
    layout: Layout,
    config: LocalConfig,
    dags: Path,
    aws: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment every Airflow process of the local Airflow runs in."""
    env = {
        name: value
        for name, value in base.items()
        if not name.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "AWS_", "BOTO"))
        and name != "AIRFLOW_HOME"
    }
    for section, values in config.options.items():
        for key, value in values.items():
            env[f"AIRFLOW__{section.upper()}__{key.upper()}"] = value
    # platform_ops importable as on the runtimes, where the DAG folder is on sys.path.
    path = [str(dags), *filter(None, [base.get("PYTHONPATH")])]
    env.update(
        {
            "AIRFLOW_HOME": str(layout.airflow_home),
            "PYTHONPATH": os.pathsep.join(path),
            "PYTHONUNBUFFERED": "1",
            **aws,
            **(extra or {}),
        }
    )
    return env


def differences_table(config: LocalConfig) -> object:
    """A rich table of what differs from the dev tier, and why."""
    from rich.table import Table

    table = Table(title="Local settings that differ from the dev tier", title_justify="left")
    table.add_column("option", no_wrap=True)
    for column in ("dev tier", "here"):
        table.add_column(column, overflow="fold", max_width=30)
    table.add_column("why")
    for row in config.differences:
        table.add_row(row.option, row.production, row.local, row.why)
    return table
