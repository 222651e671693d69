"""The stack's alarms as data: what each watches, its threshold and how missing data counts.

`alarm_specs` is a pure function of the stack's config and the names of what it watches, so
tests read the alarm set without a Pulumi runtime, and the Monitoring component and the
dashboard are built from the same list. Metric names and namespaces are imported from the
code that publishes them (the probe, the backup and the restore drill) or, for AWS's own
metrics, from one table each with its documentation source; none is typed twice.

CloudWatch's limits shape two of them (PutMetricAlarm: Period x EvaluationPeriods may not
exceed one day for periods under an hour, seven days otherwise,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html):
backup freshness is one period of `backupMaxAgeHours` (at most 168 hours), and the restore
drill's eight-day silence, beyond any alarm's reach, is watched through the age the probe's
freshness check publishes every 15 minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import pulumi
from health_probe import metrics as probe

from airflow_platform import container_insights
from airflow_platform.config.model import Platform, PlatformConfig
from airflow_platform.config.mwaa import MwaaEnvironmentClass
from platform_ops.backup import metrics as backup

# Metrics MWAA publishes for Airflow v2 and v3 environments, namespace AmazonMWAA, with the
# dimensions Function and Environment
# (https://docs.aws.amazon.com/mwaa/latest/userguide/access-metrics-cw-202.html and the
# dashboard template in https://docs.aws.amazon.com/mwaa/latest/userguide/monitoring-dashboard.html).
MWAA_NAMESPACE = "AmazonMWAA"
MWAA_METRICS = {
    "SchedulerHeartbeat": "Scheduler",
    "QueuedTasks": "Executor",
    "RunningTasks": "Executor",
}
"""Metric name to the value of its `Function` dimension."""

# Celery worker concurrency MWAA sets per environment class (celery.worker_autoscale's
# maximum; https://docs.aws.amazon.com/mwaa/latest/userguide/environment-class.html).
MWAA_TASKS_PER_WORKER = {
    MwaaEnvironmentClass.MICRO: 3,
    MwaaEnvironmentClass.SMALL: 5,
    MwaaEnvironmentClass.MEDIUM: 10,
    MwaaEnvironmentClass.LARGE: 20,
    MwaaEnvironmentClass.XLARGE: 40,
    MwaaEnvironmentClass.XXLARGE: 80,
}

# AWS/RDS instance metrics, dimension DBInstanceIdentifier
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html).
RDS_NAMESPACE = "AWS/RDS"
# AWS/Lambda function metrics, dimension FunctionName
# (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html).
LAMBDA_NAMESPACE = "AWS/Lambda"
# AWS/SQS queue metrics, dimension QueueName
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html).
SQS_NAMESPACE = "AWS/SQS"

GIB = 1024**3
MIB = 1024**2
MINUTE = 60
HOUR = 3600
# How often the probe's freshness check runs (the Monitoring component's schedule).
FRESHNESS_EVERY_MINUTES = 15


class Missing(StrEnum):
    """How an alarm treats a period without data (TreatMissingData)."""

    BREACHING = "breaching"
    NOT_BREACHING = "notBreaching"
    IGNORE = "ignore"
    MISSING = "missing"


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch metric alarm, before it is declared."""

    key: str
    """Unique within the stack; the alarm is named `airflow-<stack>-<key>`."""
    watches: str
    """What a person reading the alert should know: what broke and where to look."""
    namespace: str
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]
    statistic: str
    period: int
    """Seconds."""
    evaluation_periods: int
    comparison: str
    threshold: float
    missing: Missing
    datapoints: int | None = None
    """M of the N evaluation periods that must breach; None: all of them."""
    group: str = field(default="airflow")
    """Dashboard section: airflow, database, backups, runtime, probe."""

    def __post_init__(self) -> None:
        window = self.period * self.evaluation_periods
        limit = 7 * 24 * HOUR if self.period >= HOUR else 24 * HOUR
        if window > limit:
            raise ValueError(
                f"alarm {self.key}: {self.evaluation_periods} periods of {self.period} s exceed "
                f"CloudWatch's evaluation range of {limit} s"
            )


@dataclass(frozen=True)
class Watched:
    """The names of what the alarms watch (Outputs while the stack is being declared)."""

    stack: str
    probe_function: pulumi.Input[str]
    probe_dead_letter_queue: pulumi.Input[str]
    backup_database: str
    database_identifier: pulumi.Input[str] | None = None
    mwaa_environment: pulumi.Input[str] | None = None
    eks_cluster: pulumi.Input[str] | None = None


def mwaa_task_capacity(config: PlatformConfig) -> int:
    """Tasks MWAA runs at once at `maxWorkers`: the class's concurrency, or the stack's own
    `celery.worker_autoscale` (max,min) when it sets one."""
    autoscale = config.mwaa.airflow_options.get("celery.worker_autoscale")
    per_worker = (
        int(autoscale.split(",")[0])
        if autoscale
        else MWAA_TASKS_PER_WORKER[config.mwaa.environment_class]
    )
    return per_worker * config.mwaa.max_workers


def alarm_specs(config: PlatformConfig, watched: Watched) -> list[AlarmSpec]:
    """Every alarm of the stack, in dashboard order."""
    specs = [
        *_probe_alarms(config, watched),
        *_backup_alarms(config, watched),
        *_database_alarms(config, watched),
    ]
    if config.platform is Platform.MWAA:
        specs += _mwaa_alarms(config, watched)
    else:
        specs += _eks_alarms(config, watched)
    specs += _probe_self_alarms(watched)
    return specs


def _probe_alarms(config: PlatformConfig, watched: Watched) -> list[AlarmSpec]:
    minutes = config.monitoring.alarms.unhealthy_minutes
    return [
        AlarmSpec(
            key=f"{component.replace('_', '-')}-unhealthy",
            watches=(
                f"Airflow's health API reports the {component} unhealthy (or the probe could "
                f"not reach Airflow) for {minutes} minutes; no data counts as unhealthy"
            ),
            namespace=probe.NAMESPACE,
            metric=probe.HEALTHY,
            dimensions={probe.STACK: watched.stack, probe.COMPONENT: component},
            statistic="Minimum",
            period=MINUTE,
            evaluation_periods=minutes,
            comparison="LessThanThreshold",
            threshold=1,
            missing=Missing.BREACHING,
        )
        for component in probe.COMPONENTS
    ]


def _backup_alarms(config: PlatformConfig, watched: Watched) -> list[AlarmSpec]:
    thresholds = config.monitoring.alarms
    dimensions = {
        backup.STACK_DIMENSION: watched.stack,
        backup.DATABASE_DIMENSION: watched.backup_database,
    }
    return [
        AlarmSpec(
            key="backup-stale",
            watches=(
                f"no successful metadata_backup in {thresholds.backup_max_age_hours} hours "
                "(the backup publishes LastSuccessTimestamp only when its dump is verified)"
            ),
            namespace=backup.NAMESPACE,
            metric=backup.LAST_SUCCESS_TIMESTAMP,
            dimensions=dimensions,
            statistic="SampleCount",
            period=thresholds.backup_max_age_hours * HOUR,
            evaluation_periods=1,
            comparison="LessThanThreshold",
            threshold=1,
            missing=Missing.BREACHING,
            group="backups",
        ),
        AlarmSpec(
            key="restore-drill-failed",
            watches=(
                "the weekly restore drill failed: the latest backup did not restore, or its "
                "contents differ from what was recorded at backup time (see the DAG's log); "
                "stays in alarm until a drill succeeds"
            ),
            namespace=backup.NAMESPACE,
            metric=backup.RESTORE_DRILL_SUCCESS,
            dimensions=dimensions,
            # Maximum: a first try that failed and a retry that passed is a success.
            statistic="Maximum",
            period=HOUR,
            evaluation_periods=1,
            comparison="LessThanThreshold",
            threshold=1,
            # A weekly drill is silent between runs; the state holds until the next one.
            missing=Missing.IGNORE,
            group="backups",
        ),
        AlarmSpec(
            key="restore-drill-silent",
            watches=(
                f"no successful restore drill in {thresholds.restore_drill_max_age_days} days "
                "(age published by the health probe's freshness check)"
            ),
            namespace=probe.NAMESPACE,
            metric=probe.RESTORE_DRILL_AGE_HOURS,
            dimensions={probe.STACK: watched.stack},
            statistic="Maximum",
            period=FRESHNESS_EVERY_MINUTES * MINUTE,
            evaluation_periods=2,
            comparison="GreaterThanThreshold",
            threshold=thresholds.restore_drill_max_age_days * 24,
            missing=Missing.BREACHING,
            group="backups",
        ),
    ]


def _database_alarms(config: PlatformConfig, watched: Watched) -> list[AlarmSpec]:
    if watched.database_identifier is None:
        return []
    thresholds = config.monitoring.alarms
    dimensions = {"DBInstanceIdentifier": watched.database_identifier}
    five = 5 * MINUTE

    def rds(key: str, watches: str, metric: str, statistic: str, comparison: str,
            threshold: float, periods: int = 3) -> AlarmSpec:  # fmt: skip
        return AlarmSpec(
            key=key,
            watches=watches,
            namespace=RDS_NAMESPACE,
            metric=metric,
            dimensions=dimensions,
            statistic=statistic,
            period=five,
            evaluation_periods=periods,
            comparison=comparison,
            threshold=threshold,
            missing=Missing.MISSING,
            group="database",
        )

    # No ReplicaLag alarm: the platform runs no read replica (a Multi-AZ standby is not one
    # and publishes no lag); backup.replicaRegion copies automated backups, not the instance.
    return [
        rds("database-cpu", f"database CPU above {thresholds.database_cpu_percent}% for 15 "
            "minutes", "CPUUtilization", "Average", "GreaterThanThreshold",
            thresholds.database_cpu_percent),
        rds("database-storage", f"database free storage below "
            f"{thresholds.database_free_storage_gb} GiB", "FreeStorageSpace", "Minimum",
            "LessThanThreshold", thresholds.database_free_storage_gb * GIB, periods=1),
        rds("database-memory", f"database freeable memory below "
            f"{thresholds.database_free_memory_mb} MiB for 15 minutes", "FreeableMemory",
            "Average", "LessThanThreshold", thresholds.database_free_memory_mb * MIB),
        rds("database-connections", f"more than {thresholds.database_connections} database "
            "connections for 15 minutes", "DatabaseConnections", "Maximum",
            "GreaterThanThreshold", thresholds.database_connections),
    ]  # fmt: skip


def _mwaa_alarms(config: PlatformConfig, watched: Watched) -> list[AlarmSpec]:
    assert watched.mwaa_environment is not None, "an mwaa stack names its environment"
    thresholds = config.monitoring.alarms

    def dimensions(metric: str) -> dict[str, pulumi.Input[str]]:
        return {"Function": MWAA_METRICS[metric], "Environment": watched.mwaa_environment}

    capacity = mwaa_task_capacity(config)
    return [
        AlarmSpec(
            key="mwaa-scheduler-heartbeat",
            watches=(
                f"MWAA published no scheduler heartbeat for {thresholds.unhealthy_minutes} minutes"
            ),
            namespace=MWAA_NAMESPACE,
            metric="SchedulerHeartbeat",
            dimensions=dimensions("SchedulerHeartbeat"),
            statistic="Sum",
            period=MINUTE,
            evaluation_periods=thresholds.unhealthy_minutes,
            comparison="LessThanThreshold",
            threshold=1,
            missing=Missing.BREACHING,
            group="runtime",
        ),
        AlarmSpec(
            key="mwaa-queued-tasks",
            watches=f"more than {thresholds.queued_tasks} tasks queued for 15 minutes",
            namespace=MWAA_NAMESPACE,
            metric="QueuedTasks",
            dimensions=dimensions("QueuedTasks"),
            statistic="Minimum",
            period=5 * MINUTE,
            evaluation_periods=3,
            comparison="GreaterThanThreshold",
            threshold=thresholds.queued_tasks,
            missing=Missing.NOT_BREACHING,
            group="runtime",
        ),
        AlarmSpec(
            key="mwaa-running-tasks-saturated",
            watches=(
                f"all {capacity} task slots (maxWorkers x tasks per worker) busy for 30 "
                "minutes: raise mwaa.maxWorkers or the environment class"
            ),
            namespace=MWAA_NAMESPACE,
            metric="RunningTasks",
            dimensions=dimensions("RunningTasks"),
            statistic="Minimum",
            period=5 * MINUTE,
            evaluation_periods=6,
            comparison="GreaterThanOrEqualToThreshold",
            threshold=capacity,
            missing=Missing.NOT_BREACHING,
            group="runtime",
        ),
    ]


def _eks_alarms(config: PlatformConfig, watched: Watched) -> list[AlarmSpec]:
    assert watched.eks_cluster is not None, "an eks stack names its cluster"
    thresholds = config.monitoring.alarms
    ci = container_insights
    return [
        AlarmSpec(
            key="eks-nodes-failed",
            watches="EKS reports failed worker nodes for 10 minutes",
            namespace=ci.NAMESPACE,
            metric=ci.FAILED_NODES,
            dimensions={ci.CLUSTER: watched.eks_cluster},
            statistic="Maximum",
            period=5 * MINUTE,
            evaluation_periods=2,
            comparison="GreaterThanThreshold",
            threshold=0,
            missing=Missing.NOT_BREACHING,
            group="runtime",
        ),
        # Per cluster: the pod status metrics have no [Namespace, ClusterName] set
        # (container_insights.DIMENSION_SETS), and the cluster runs this Airflow alone.
        AlarmSpec(
            key="eks-pods-pending",
            watches=(
                f"more than {thresholds.queued_tasks} pods pending in the cluster for 15 "
                "minutes (no capacity, or an image that cannot be pulled)"
            ),
            namespace=ci.NAMESPACE,
            metric=ci.PENDING_PODS,
            dimensions={ci.CLUSTER: watched.eks_cluster},
            statistic="Minimum",
            period=5 * MINUTE,
            evaluation_periods=3,
            comparison="GreaterThanThreshold",
            threshold=thresholds.queued_tasks,
            missing=Missing.NOT_BREACHING,
            group="runtime",
        ),
        AlarmSpec(
            key="eks-pods-failed",
            watches="pods failed in the cluster in each of the last 3 periods of 5 minutes",
            namespace=ci.NAMESPACE,
            metric=ci.FAILED_PODS,
            dimensions={ci.CLUSTER: watched.eks_cluster},
            statistic="Minimum",
            period=5 * MINUTE,
            evaluation_periods=3,
            comparison="GreaterThanThreshold",
            threshold=0,
            missing=Missing.NOT_BREACHING,
            group="runtime",
        ),
    ]


def _probe_self_alarms(watched: Watched) -> list[AlarmSpec]:
    return [
        AlarmSpec(
            key="health-probe-errors",
            watches=(
                "the health probe Lambda failed 3 or more times in 5 minutes (CloudWatch "
                "refused its metrics, or its code failed): see its log group"
            ),
            namespace=LAMBDA_NAMESPACE,
            metric="Errors",
            dimensions={"FunctionName": watched.probe_function},
            statistic="Sum",
            period=5 * MINUTE,
            evaluation_periods=1,
            comparison="GreaterThanOrEqualToThreshold",
            threshold=3,
            missing=Missing.NOT_BREACHING,
            group="probe",
        ),
        AlarmSpec(
            key="health-probe-dead-letters",
            watches=(
                "invocations of the health probe that could not be delivered or kept failing "
                "are waiting in its dead-letter queue"
            ),
            namespace=SQS_NAMESPACE,
            metric="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": watched.probe_dead_letter_queue},
            statistic="Maximum",
            period=5 * MINUTE,
            evaluation_periods=1,
            comparison="GreaterThanThreshold",
            threshold=0,
            missing=Missing.NOT_BREACHING,
            group="probe",
        ),
    ]
