"""The probe's configuration: environment variables only, each problem naming the variable."""

from __future__ import annotations

import pytest
from health_probe.config import ConfigError, ProbeConfig


def config(**env: str) -> ProbeConfig:
    return ProbeConfig.from_environment(env)


def test_defaults_apply_when_only_the_stack_and_a_target_are_given() -> None:
    found = config(STACK="dev", MWAA_ENVIRONMENT="airflow-dev")

    assert found == ProbeConfig(
        stack="dev",
        namespace="AirflowPlatform/Health",
        mwaa_environment="airflow-dev",
        api_url=None,
        timeout_seconds=10.0,
        backup_database="airflow",
    )


def test_every_variable_is_read() -> None:
    found = config(STACK="pr-12", AIRFLOW_API_URL="https://airflow.internal:8443/x",
                   METRICS_NAMESPACE="Team/Airflow", TIMEOUT_SECONDS="2.5",
                   BACKUP_DATABASE="meta")  # fmt: skip

    assert (found.stack, found.api_url, found.namespace, found.timeout_seconds,
            found.backup_database) == ("pr-12", "https://airflow.internal:8443/x",
                                       "Team/Airflow", 2.5, "meta")  # fmt: skip


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MWAA_ENVIRONMENT": "airflow-dev"}, "STACK is not set"),
        ({"STACK": "Dev_1", "MWAA_ENVIRONMENT": "a"}, "STACK='Dev_1' is not a stack name"),
        ({"STACK": "dev"}, "set exactly one of MWAA_ENVIRONMENT .* neither is set"),
        ({"STACK": "dev", "MWAA_ENVIRONMENT": "a", "AIRFLOW_API_URL": "http://x"},
         "set exactly one of MWAA_ENVIRONMENT .* both are set"),
        ({"STACK": "dev", "MWAA_ENVIRONMENT": "1-env"}, "MWAA_ENVIRONMENT='1-env'"),
        ({"STACK": "dev", "AIRFLOW_API_URL": "airflow:8080"}, "AIRFLOW_API_URL='airflow:8080'"),
        ({"STACK": "dev", "AIRFLOW_API_URL": "ftp://airflow"}, "AIRFLOW_API_URL="),
        ({"STACK": "dev", "AIRFLOW_API_URL": "http://u:p@airflow"}, "must not hold credentials"),
        ({"STACK": "dev", "AIRFLOW_API_URL": "http://a", "TIMEOUT_SECONDS": "ten"},
         "TIMEOUT_SECONDS='ten'"),
        ({"STACK": "dev", "AIRFLOW_API_URL": "http://a", "TIMEOUT_SECONDS": "0"},
         "TIMEOUT_SECONDS='0' is not a number of seconds from 1 to 60"),
        ({"STACK": "dev", "AIRFLOW_API_URL": "http://a", "TIMEOUT_SECONDS": "nan"},
         "TIMEOUT_SECONDS='nan'"),
        ({"STACK": "dev", "AIRFLOW_API_URL": "http://a", "METRICS_NAMESPACE": "AWS/Lambda"},
         "METRICS_NAMESPACE='AWS/Lambda'"),
    ],
)  # fmt: skip
def test_a_missing_or_invalid_variable_raises_naming_it(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(**env)


def test_blank_values_count_as_unset() -> None:
    found = config(STACK="dev", AIRFLOW_API_URL="http://a", MWAA_ENVIRONMENT="  ",
                   METRICS_NAMESPACE="", TIMEOUT_SECONDS=" ")  # fmt: skip

    assert (found.mwaa_environment, found.namespace, found.timeout_seconds) == (
        None, "AirflowPlatform/Health", 10.0,
    )  # fmt: skip
