"""The usage the cost estimate assumes where a resource's inputs cannot say it: how much data
goes through a NAT gateway, how many log GB a month, how many node hours, how many requests.

One row per tier, in the spirit of config/tiers.py: a dev stack is assumed lightly used, prod
busy. These are planning numbers, not measurements; each item's `basis` names the assumption
it used, so a reviewer sees what a figure rests on and can disagree with it. Change them here
(docs/plan.md, "Estimated cost", lists them).

What is not assumed: anything the plan's inputs state (instance classes, storage sizes,
retention, Multi-AZ, how many NAT gateways and addresses, alarms, schedules and their rates,
Lambda memory), which the model reads from the resources themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

HOURS_PER_MONTH: Final = 730
"""AWS's own monthly-hours convention (365 x 24 / 12)."""
DAYS_PER_MONTH: Final = 30.4


@dataclass(frozen=True)
class TierUsage:
    """What one tier's stacks are assumed to use in a month."""

    nat_gb_per_gateway: float
    """GB processed by each NAT gateway (image pulls, package installs, AWS APIs)."""
    log_gb_scale: float
    """Multiplies LOG_INGEST_GB, the dev-sized GB each kind of log group ingests."""
    flow_log_gb: float
    """GB of VPC flow log records ingested (vended logs)."""
    s3_gb: MappingProxyType[str, float]
    """GB stored per bucket, by its `purpose` tag (dags, logs, backups, access-logs)."""
    ecr_gb: float
    """GB of images kept in the ECR repository (its lifecycle keeps the newest 10)."""
    kms_requests_per_key: float
    secret_requests_per_secret: float
    """GetSecretValue calls a month per secret (Airflow's secrets backend reads Variables)."""
    sns_requests_per_topic: float
    sqs_requests_per_queue: float
    lambda_duration_ms: float
    """Average run time of a Lambda invocation (the health probe calls Airflow's API)."""
    mwaa_extra_worker_hours: float
    """Worker-hours a month above minWorkers, from autoscaling under load."""
    eks_node_type: str
    eks_nodes: int
    """Always-on Auto Mode nodes for Airflow's own pods and the add-ons (general-purpose and
    system node pools)."""
    task_node_type: str
    task_node_hours: float
    """Node-hours a month of the task node pool (scaled from zero by Karpenter)."""
    nlb_lcu: float
    """Average NLCUs of the Airflow API's network load balancer."""
    interface_endpoint_gb: float
    rds_backup_daily_change: float
    """Share of the database's storage that changes a day: each retained day of automated
    backups adds that much backup storage."""


TIER_USAGE: Final = MappingProxyType(
    {
        "ephemeral": TierUsage(
            nat_gb_per_gateway=20,
            log_gb_scale=0.25,
            flow_log_gb=5,
            s3_gb=MappingProxyType({"dags": 0.5, "logs": 5, "backups": 2, "access-logs": 0.5}),
            ecr_gb=5,
            kms_requests_per_key=20_000,
            secret_requests_per_secret=5_000,
            sns_requests_per_topic=100,
            sqs_requests_per_queue=100,
            lambda_duration_ms=1_500,
            mwaa_extra_worker_hours=0,
            eks_node_type="m7i.large",
            eks_nodes=2,
            task_node_type="m7i.xlarge",
            task_node_hours=50,
            nlb_lcu=0.1,
            interface_endpoint_gb=10,
            rds_backup_daily_change=0.05,
        ),
        "dev": TierUsage(
            nat_gb_per_gateway=50,
            log_gb_scale=1,
            flow_log_gb=10,
            s3_gb=MappingProxyType({"dags": 1, "logs": 20, "backups": 5, "access-logs": 1}),
            ecr_gb=10,
            kms_requests_per_key=100_000,
            secret_requests_per_secret=10_000,
            sns_requests_per_topic=1_000,
            sqs_requests_per_queue=100,
            lambda_duration_ms=1_500,
            mwaa_extra_worker_hours=50,
            eks_node_type="m7i.large",
            eks_nodes=2,
            task_node_type="m7i.xlarge",
            task_node_hours=100,
            nlb_lcu=0.2,
            interface_endpoint_gb=20,
            rds_backup_daily_change=0.05,
        ),
        "staging": TierUsage(
            nat_gb_per_gateway=150,
            log_gb_scale=2,
            flow_log_gb=30,
            s3_gb=MappingProxyType({"dags": 2, "logs": 100, "backups": 30, "access-logs": 5}),
            ecr_gb=15,
            kms_requests_per_key=300_000,
            secret_requests_per_secret=30_000,
            sns_requests_per_topic=2_000,
            sqs_requests_per_queue=100,
            lambda_duration_ms=1_500,
            mwaa_extra_worker_hours=200,
            eks_node_type="m7i.xlarge",
            eks_nodes=2,
            task_node_type="m7i.xlarge",
            task_node_hours=300,
            nlb_lcu=0.5,
            interface_endpoint_gb=50,
            rds_backup_daily_change=0.05,
        ),
        "prod": TierUsage(
            nat_gb_per_gateway=400,
            log_gb_scale=5,
            flow_log_gb=100,
            s3_gb=MappingProxyType({"dags": 5, "logs": 500, "backups": 300, "access-logs": 20}),
            ecr_gb=15,
            kms_requests_per_key=1_000_000,
            secret_requests_per_secret=100_000,
            sns_requests_per_topic=5_000,
            sqs_requests_per_queue=100,
            lambda_duration_ms=1_500,
            mwaa_extra_worker_hours=1_000,
            eks_node_type="m7i.xlarge",
            eks_nodes=3,
            task_node_type="m7i.2xlarge",
            task_node_hours=1_500,
            nlb_lcu=1,
            interface_endpoint_gb=100,
            rds_backup_daily_change=0.05,
        ),
    }
)

LOG_INGEST_GB: Final = MappingProxyType(
    {
        # GB a month each kind of log group ingests at dev scale (x log_gb_scale per tier).
        "rds-postgresql": 2.0,
        "rds-upgrade": 0.01,
        "mwaa-task": 5.0,
        "mwaa-worker": 2.0,
        "mwaa-scheduler": 3.0,
        "mwaa-dag-processing": 2.0,
        "mwaa-webserver": 0.5,
        "lambda": 0.2,
        "chatbot": 0.01,
        "eks-control-plane": 5.0,
        "container-insights": 3.0,
        "other": 1.0,
    }
)
"""What a log group ingests, by the kind its name says (cost/model.py `log_kind`)."""
LOG_RETENTION_MONTHS_IF_NEVER_EXPIRES: Final = 12
"""Months of logs a group that never expires is assumed to hold (a year's worth)."""

MWAA_INCLUDED_WORKERS: Final = 1
"""Workers the environment's hourly price includes (the rest are "additional workers")."""
MWAA_INCLUDED_SCHEDULERS: Final = MappingProxyType({"mw1.micro": 1})
"""Schedulers the environment's price includes: 2 for every class but mw1.micro (the MWAA
environment-class page: schedulers "between 2 to 5, defaults to 2"; micro runs one), so only
schedulers above that are billed as additional schedulers."""
MWAA_DEFAULT_INCLUDED_SCHEDULERS: Final = 2

PERFORMANCE_INSIGHTS_FREE_DAYS: Final = 7
"""Performance Insights keeps 7 days at no charge; longer retention is billed per vCPU."""
