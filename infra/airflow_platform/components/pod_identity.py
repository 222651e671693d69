"""PodIdentities: one IAM role per Airflow service account, through EKS Pod Identity.

Each role is trusted by `pods.eks.amazonaws.com` for exactly one service account in one
namespace of one cluster (the session tags Pod Identity adds, EKS User Guide "Create IAM role
with trust policy required by EKS Pod Identity"), and allowed exactly what that component
does: no wildcard action, every resource scoped to this stack's buckets, prefixes, secrets
and metric namespace. What each component needs is data (`grants`), turned into roles,
policies and associations by one loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from airflow_platform.airflow_settings import (
    TASK_LOG_PREFIX,
    secrets_prefix,
)
from airflow_platform.aws_context import AwsContext
from airflow_platform.dag_grants import backup_statements, log_archive_statement
from airflow_platform.iam import policy_document, statement
from airflow_platform.tagging import resource_tags

POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
BACKUP_METRICS_NAMESPACE = "AirflowPlatform/Backups"

# What each grant allows, by name; `grants` below gives each service account its set.
READ_SECRETS = "read-secrets"
READ_DAGS = "read-dags"
WRITE_TASK_LOGS = "write-task-logs"
READ_TASK_LOGS = "read-task-logs"
WRITE_BACKUPS = "write-backups"
ARCHIVE_LOGS = "archive-logs"
PUT_BACKUP_METRICS = "put-backup-metrics"
READ_MASTER_SECRET = "read-master-secret"  # noqa: S105 - a grant's name


@dataclass(frozen=True)
class PodIdentitiesArgs:
    """Inputs of PodIdentities."""

    stack: str
    """Stack name: role names are `airflow-<stack>-<component>`."""
    aws: AwsContext
    """Account and region."""
    cluster_name: pulumi.Input[str]
    """The EKS cluster the associations belong to."""
    cluster_arn: pulumi.Input[str]
    """Its ARN: the roles trust pods of this cluster only."""
    namespace: str
    """The namespace of the service accounts."""
    grants: Mapping[str, Sequence[str]]
    """Service account name to the grants it gets (READ_SECRETS, READ_DAGS, ...)."""
    dag_bucket_arn: pulumi.Input[str]
    """DAGs are read under `dags/` of this bucket."""
    log_archive_bucket_arn: pulumi.Input[str]
    """Task logs go under `task-logs/`, archived local logs under `airflow-logs/`."""
    backup_bucket_arn: pulumi.Input[str]
    """Metadata backups go under `metadata-db/`."""
    tags: Mapping[str, str]
    """The stack's tags."""
    master_secret_arn: pulumi.Input[str] | None = None
    """The database's RDS-managed master secret (READ_MASTER_SECRET only)."""
    kms_key_arn: pulumi.Input[str] | None = None
    """The project key, usable through S3 and Secrets Manager where a grant needs it."""


def _objects(bucket_arn: pulumi.Input[str], prefix: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(bucket_arn, f"/{prefix}/*")


def _grant_statements(grant: str, args: PodIdentitiesArgs) -> list[dict[str, Any]]:
    """The policy statements of one grant, each scoped to this stack's resources."""
    context = args.aws
    secrets = pulumi.Output.concat(
        f"arn:{context.partition}:secretsmanager:{context.region}:",
        context.account_id,
        f":secret:{secrets_prefix(args.stack)}/*",
    )
    logs = args.log_archive_bucket_arn
    if grant == READ_SECRETS:
        return [
            statement(
                "ReadOwnSecrets",
                ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                [secrets],
            )
        ]
    if grant == READ_DAGS:
        # S3DagBundle lists the prefix and downloads what changed; before that it checks the
        # prefix exists by listing the bucket's top level (prefix "", delimiter "/": the
        # amazon provider's S3Hook.check_for_prefix), which the condition must allow too.
        return [
            statement("ReadDagObjects", ["s3:GetObject"], [_objects(args.dag_bucket_arn, "dags")]),
            statement(
                "ListDagObjects",
                ["s3:ListBucket"],
                [args.dag_bucket_arn],
                condition={"StringLike": {"s3:prefix": ["", "dags/", "dags/*"]}},
            ),
        ]
    if grant in (WRITE_TASK_LOGS, READ_TASK_LOGS):
        actions = ["s3:GetObject"] + (["s3:PutObject"] if grant == WRITE_TASK_LOGS else [])
        return [
            statement("TaskLogObjects", actions, [_objects(logs, TASK_LOG_PREFIX)]),
            statement(
                "ListTaskLogs",
                ["s3:ListBucket"],
                [logs],
                condition={"StringLike": {"s3:prefix": [f"{TASK_LOG_PREFIX}/*"]}},
            ),
        ]
    if grant == WRITE_BACKUPS:
        return backup_statements(args.backup_bucket_arn)
    if grant == ARCHIVE_LOGS:
        return [log_archive_statement(logs)]
    if grant == PUT_BACKUP_METRICS:
        # PutMetricData has no resource scope; the namespace condition is the scope.
        return [
            statement(
                "PutBackupMetrics",
                ["cloudwatch:PutMetricData"],
                ["*"],
                condition={"StringEquals": {"cloudwatch:namespace": BACKUP_METRICS_NAMESPACE}},
            )
        ]
    if grant == READ_MASTER_SECRET:
        if args.master_secret_arn is None:
            raise ValueError(f"grant {READ_MASTER_SECRET} needs master_secret_arn")
        return [
            statement(
                "ReadMasterSecret", ["secretsmanager:GetSecretValue"], [args.master_secret_arn]
            )
        ]
    raise ValueError(f"unknown grant {grant!r}")


def _key_statement(args: PodIdentitiesArgs) -> dict[str, Any]:
    context = args.aws
    return statement(
        "UseProjectKeyThroughServices",
        ["kms:Decrypt", "kms:GenerateDataKey"],
        [args.kms_key_arn],
        condition={
            "StringLike": {
                "kms:ViaService": [
                    f"s3.{context.region}.amazonaws.com",
                    f"secretsmanager.{context.region}.amazonaws.com",
                ]
            }
        },
    )


def pod_identity_trust(
    cluster_arn: pulumi.Input[str], namespace: str, service_account: str
) -> pulumi.Output[str]:
    """Trust for exactly one service account of one namespace of one cluster."""
    return policy_document(
        {
            "Sid": "AssumeFromOneServiceAccount",
            "Effect": "Allow",
            "Principal": {"Service": POD_IDENTITY_SERVICE},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {
                "StringEquals": {
                    "aws:RequestTag/eks-cluster-arn": cluster_arn,
                    "aws:RequestTag/kubernetes-namespace": namespace,
                    "aws:RequestTag/kubernetes-service-account": service_account,
                }
            },
        }
    )


class PodIdentities(pulumi.ComponentResource):
    """An IAM role, its policy and a Pod Identity association per service account.

    Outputs: `role_arns` (service account name to its role's ARN).
    """

    role_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: PodIdentitiesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("airflow-platform:aws:PodIdentities", name, None, opts)
        self.role_arns = {}
        for service_account, grants in sorted(args.grants.items()):
            role_name = f"airflow-{args.stack}-{service_account.removeprefix('airflow-')}"
            role = aws.iam.Role(
                f"{name}-{service_account}",
                name=role_name,
                description=f"Airflow pods of {args.namespace}/{service_account} (Pod Identity)",
                assume_role_policy=pod_identity_trust(
                    args.cluster_arn, args.namespace, service_account
                ),
                tags=resource_tags(args.tags, role_name),
                opts=pulumi.ResourceOptions(parent=self),
            )
            statements = [s for grant in grants for s in _grant_statements(grant, args)]
            if args.kms_key_arn is not None:
                statements.append(_key_statement(args))
            policy = aws.iam.RolePolicy(
                f"{name}-{service_account}-policy",
                role=role.id,
                name="pod",
                policy=policy_document(*statements),
                opts=pulumi.ResourceOptions(parent=role),
            )
            aws.eks.PodIdentityAssociation(
                f"{name}-{service_account}-association",
                cluster_name=args.cluster_name,
                namespace=args.namespace,
                service_account=service_account,
                role_arn=role.arn,
                tags=resource_tags(args.tags, role_name),
                # A pod that starts before the policy exists gets credentials that can do
                # nothing; the association waits for it.
                opts=pulumi.ResourceOptions(parent=role, depends_on=[policy]),
            )
            self.role_arns[service_account] = role.arn
        self.register_outputs({"role_arns": self.role_arns})
