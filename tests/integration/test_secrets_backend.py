"""The secrets backend as the stacks configure it, against Secrets Manager (moto's server
over HTTP): it reads the stack's connections and the `mode` Variable the stack creates, and
never looks `aws_default` up (the runtime's own role; a lookup per task would cost a call)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from airflow_platform.airflow_settings import (
    SettingsInputs,
    production_settings,
    stack_variables,
    variables_prefix,
)
from airflow_platform.config import Platform, Tier


def _backend(tier: Tier, stack: str) -> Any:
    from airflow.providers.amazon.aws.secrets.secrets_manager import SecretsManagerBackend

    inputs = SettingsInputs(stack, Platform.MWAA, f"airflow-{stack}", "backups", "logs", "dags")
    secrets = production_settings(tier, inputs)["secrets"]
    assert secrets["backend"].endswith(".SecretsManagerBackend")
    return SecretsManagerBackend(**json.loads(secrets["backend_kwargs"]))


@pytest.fixture
def secretsmanager(moto: Any) -> Any:
    client = boto3.client("secretsmanager")
    yield client
    for page in client.get_paginator("list_secrets").paginate():
        for secret in page["SecretList"]:
            client.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)


@pytest.mark.parametrize(("tier", "stack"), [(Tier.DEV, "dev"), (Tier.PROD, "prod")])
def test_backend_reads_the_stacks_mode_variable_and_connections_but_never_aws_default(
    secretsmanager, tier, stack
):
    from platform_ops.dependencies import SKIP_TASK_ID, choose_branch

    # What the stack creates (components.AirflowVariables) and what a team adds.
    for key, value in stack_variables(tier).items():
        secretsmanager.create_secret(Name=f"{variables_prefix(stack)}/{key}", SecretString=value)
    connection = {"conn_type": "postgres", "host": "db.internal", "schema": "airflow"}
    secretsmanager.create_secret(
        Name=f"airflow/{stack}/connections/metadata_db", SecretString=json.dumps(connection)
    )
    # A decoy: were aws_default looked up, the backend would return it.
    secretsmanager.create_secret(
        Name=f"airflow/{stack}/connections/aws_default", SecretString="aws://decoy"
    )

    backend = _backend(tier, stack)
    mode = backend.get_variable("mode")
    assert mode == ("dev" if tier is Tier.DEV else "prod")
    branch = choose_branch(mode)
    assert (branch == SKIP_TASK_ID) is (tier is Tier.DEV)
    assert json.loads(backend.get_conn_value("metadata_db"))["host"] == "db.internal"
    assert backend.get_conn_value("aws_default") is None
    assert backend.get_conn_value("slack_alerts") is None, "absent: Airflow falls back further"
