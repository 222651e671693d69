"""No alarm watches a metric nobody publishes: the probe (against the real Airflow API server),
the backup and the restore drill publish through their own code into moto's CloudWatch, and
every alarm of every repository stack on those namespaces must name a metric, dimensions and
dimension values found there. AWS's own metrics are checked against their documented tables."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from health_probe import handler
from health_probe import metrics as probe
from health_probe.config import ProbeConfig

from airflow_platform import alarms, container_insights
from airflow_platform.alarms import Watched, alarm_specs
from airflow_platform.components.database import DATABASE_NAME
from airflow_platform.config import Platform, settings_from_values
from airflow_platform.plan.project import Project, read_stack_config
from platform_ops.backup import AwsClients
from platform_ops.backup import metrics as backup
from platform_ops.backup.backup import BackupResult, publish_metrics
from platform_ops.restore_drill import DrillResult, DrillSettings, _publish_success
from tests.conftest import ROOT
from tests.integration.airflow_server import AirflowServer

REPOSITORY_STACKS = ["dev", "staging", "prod", "pr-7"]
# AWS's own namespaces and where their names are checked.
RDS_METRICS = {"CPUUtilization", "FreeStorageSpace", "FreeableMemory", "DatabaseConnections"}


@pytest.fixture
def cloudwatch(moto: Any) -> Any:
    return boto3.client("cloudwatch", config=Config(retries={"max_attempts": 1}))


def _publish_everything(cloudwatch: Any, stack: str, airflow: AirflowServer) -> None:
    """What a stack's runtime publishes, through the code that publishes it."""
    config = ProbeConfig(stack=stack, api_url=airflow.url, backup_database=DATABASE_NAME)
    handler.run({"check": "health"}, config, cloudwatch)
    handler.run({"check": "freshness"}, config, cloudwatch)
    now = datetime.now(UTC)
    result = BackupResult(
        bucket="b", key="k", version_id=None, database=DATABASE_NAME, size=1,
        sha256="0" * 64, parts=1, started_at=now, duration_seconds=1.0,
    )  # fmt: skip
    publish_metrics(cloudwatch, backup.NAMESPACE, result, stack)
    drill = DrillResult(bucket="b", key="k", database=DATABASE_NAME, scratch_database="s",
                        tables=1, rows=1, checksummed=[], dropped_stale=[],
                        duration_seconds=1.0)  # fmt: skip
    settings = DrillSettings(dsn="postgresql://unused", bucket="b", stack=stack)
    _publish_success(settings, AwsClients(s3=None, cloudwatch=cloudwatch), drill)


def _published(cloudwatch: Any, namespace: str) -> set[tuple[str, frozenset]]:
    found = set()
    for page in cloudwatch.get_paginator("list_metrics").paginate(Namespace=namespace):
        for metric in page["Metrics"]:
            dims = frozenset((d["Name"], d["Value"]) for d in metric["Dimensions"])
            found.add((metric["MetricName"], dims))
    return found


def _specs(stack: str, name: str | None = None):
    """The alarms of repository stack `stack`, its series named `name` (default: the stack)."""
    project = Project.load(ROOT)
    values = read_stack_config(project, stack).values
    config = settings_from_values(project.name, stack, values).config
    mwaa = config.platform is Platform.MWAA
    name = name or stack
    watched = Watched(
        stack=name,
        probe_function=f"airflow-{stack}-health-probe",
        probe_dead_letter_queue=f"airflow-{stack}-health-probe-dead-letters",
        backup_database=DATABASE_NAME,
        database_identifier=f"airflow-{stack}-metadata",
        mwaa_environment=f"airflow-{stack}" if mwaa else None,
        eks_cluster=None if mwaa else f"airflow-{stack}",
    )
    return alarm_specs(config, watched)


@pytest.mark.parametrize("stack", REPOSITORY_STACKS)
def test_every_alarm_on_our_own_namespaces_watches_a_series_our_code_publishes(
    airflow_running: AirflowServer, cloudwatch: Any, stack: str
):
    # The stack's alarms over a name of this run's own, so no other test's series can match.
    name = f"{stack}-{uuid.uuid4().hex[:6]}"
    _publish_everything(cloudwatch, name, airflow_running)
    published = {ns: _published(cloudwatch, ns) for ns in (probe.NAMESPACE, backup.NAMESPACE)}
    ours = [s for s in _specs(stack, name) if s.namespace in published]
    assert {s.namespace for s in ours} == set(published), "both namespaces are alarmed"
    for spec in ours:
        series = (spec.metric, frozenset(spec.dimensions.items()))
        assert series in published[spec.namespace], (
            f"alarm {spec.key} watches {spec.namespace} {series}, which nothing published; "
            f"published: {sorted(published[spec.namespace])}"
        )


def test_an_alarm_on_a_metric_nobody_publishes_would_be_caught(
    airflow_running: AirflowServer, cloudwatch: Any
):
    stack = f"it-{uuid.uuid4().hex[:6]}"
    _publish_everything(cloudwatch, stack, airflow_running)
    published = _published(cloudwatch, probe.NAMESPACE)
    wrong_metric = ("Health", frozenset({("Stack", stack), ("Component", "scheduler")}))
    wrong_dimension = (probe.HEALTHY, frozenset({("Stack", stack)}))
    assert wrong_metric not in published
    assert wrong_dimension not in published
    assert (probe.HEALTHY, frozenset({("Stack", stack), ("Component", "scheduler")})) in published


@pytest.mark.parametrize("stack", REPOSITORY_STACKS)
def test_alarms_on_aws_metrics_use_the_names_and_dimensions_aws_documents(stack: str):
    for spec in _specs(stack):
        if spec.namespace == alarms.MWAA_NAMESPACE:
            assert spec.metric in alarms.MWAA_METRICS, spec.key
            assert set(spec.dimensions) == {"Function", "Environment"}, spec.key
        elif spec.namespace == container_insights.NAMESPACE:
            assert container_insights.is_published(spec.metric, spec.dimensions), spec.key
        elif spec.namespace == alarms.RDS_NAMESPACE:
            assert spec.metric in RDS_METRICS, spec.key
            assert set(spec.dimensions) == {"DBInstanceIdentifier"}, spec.key
        elif spec.namespace == alarms.LAMBDA_NAMESPACE:
            assert (spec.metric, set(spec.dimensions)) == ("Errors", {"FunctionName"})
        elif spec.namespace == alarms.SQS_NAMESPACE:
            assert (spec.metric, set(spec.dimensions)) == (
                "ApproximateNumberOfMessagesVisible",
                {"QueueName"},
            )
        else:
            assert spec.namespace in {probe.NAMESPACE, backup.NAMESPACE}, spec.key
