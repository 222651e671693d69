"""MwaaEnvironment: Amazon MWAA on the private subnets, with a least-privilege execution role.

The environment runs the pinned Airflow (`versions.env`), reads its DAGs from the DAG
bucket's `dags/` prefix and its requirements, plugins and startup script at the versions
DagBundle stored, and sends all five log types to CloudWatch log groups the stack creates
first (retention and KMS by tier; MWAA writes into existing groups of its names).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from airflow_platform.airflow_settings import (
    environment_name,
    secrets_prefix,
)
from airflow_platform.aws_context import AwsContext
from airflow_platform.config.mwaa import MwaaConfig
from airflow_platform.dag_grants import backup_statements, log_archive_statement
from airflow_platform.iam import policy_document, statement
from airflow_platform.tagging import resource_tags

# MWAA's five log types: the provider's argument, and the suffix of MWAA's log group name.
LOG_TYPES = {
    "dag_processing_logs": "DAGProcessing",
    "scheduler_logs": "Scheduler",
    "task_logs": "Task",
    "webserver_logs": "WebServer",
    "worker_logs": "Worker",
}
# Namespaces the environment may publish metrics to: MWAA's own and the backup DAG's.
METRIC_NAMESPACES = ("AmazonMWAA", "AirflowPlatform/Backups")
# AWS's sample grants s3:GetObject*, s3:GetBucket*, s3:List*; named actions instead, so no
# wildcard action reaches the role: reading DAGs, plugins, requirements (and their
# versions), and the bucket checks MWAA makes before it starts.
DAG_BUCKET_READ_ACTIONS = [
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetBucketLocation",
    "s3:GetBucketVersioning",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetEncryptionConfiguration",
    "s3:ListBucket",
    "s3:ListBucketVersions",
]
CELERY_QUEUE_ACTIONS = [
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
]


def log_group_name(environment: str, log_type: str) -> str:
    """The log group MWAA writes a log type to, `airflow-<environment>-<Type>`."""
    return f"airflow-{environment}-{LOG_TYPES[log_type]}"


@dataclass(frozen=True)
class MwaaEnvironmentArgs:
    """Inputs of MwaaEnvironment."""

    stack: str
    """Stack name: the environment is `airflow-<stack>`."""
    aws: AwsContext
    """Account and region, for the role's scoped ARNs."""
    config: MwaaConfig
    """The stack's `mwaa` section (tier defaults applied)."""
    airflow_version: str
    """The pinned Airflow (versions.env)."""
    vpc_id: pulumi.Input[str]
    """VPC of the environment's security group."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Private subnets; MWAA takes exactly two, in two AZs (the first two are used)."""
    runtime_security_group_id: pulumi.Input[str]
    """Network's airflow-runtime group, attached so the database admits the workers."""
    dag_bucket: pulumi.Input[str]
    """Name of the DAG bucket (read only for the environment)."""
    dag_bucket_arn: pulumi.Input[str]
    """ARN of the DAG bucket (MWAA's source bucket)."""
    backup_bucket_arn: pulumi.Input[str]
    """The backup bucket: the metadata_backup DAG writes under its `metadata-db/` prefix."""
    log_archive_bucket_arn: pulumi.Input[str]
    """The log-archive bucket: the log_cleanup DAG archives under its `airflow-logs/` prefix."""
    requirements: tuple[str, pulumi.Input[str]]
    """(key, S3 version) of requirements.txt."""
    plugins: tuple[str, pulumi.Input[str]]
    """(key, S3 version) of plugins.zip."""
    startup_script: tuple[str, pulumi.Input[str]]
    """(key, S3 version) of the startup script."""
    airflow_options: Mapping[str, pulumi.Input[str]]
    """`airflowConfigurationOptions` (airflow_settings.mwaa_options)."""
    tags: Mapping[str, str]
    """The stack's tags."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Project key for the environment and its log groups; AWS-owned keys when None."""
    dag_bucket_ready: Sequence[pulumi.Resource] = ()
    """The DAG bucket's versioning and public-access block (Storage.dag_bucket_ready): MWAA
    checks both when it creates the environment."""


class MwaaEnvironment(pulumi.ComponentResource):
    """An MWAA environment, its security group, log groups and execution role.

    Outputs: `name`, `arn`, `webserver_url`, `execution_role_arn`, `security_group_id`.
    """

    name: str
    arn: pulumi.Output[str]
    webserver_url: pulumi.Output[str]
    execution_role_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: MwaaEnvironmentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("airflow-platform:aws:MwaaEnvironment", name, None, opts)
        self._name = name
        self._args = args
        self.name = environment_name(args.stack)
        self.security_group_id = self._security_group()
        log_groups = self._log_groups()
        role, role_policy = self._execution_role()
        config = args.config
        environment = aws.mwaa.Environment(
            f"{name}-environment",
            name=self.name,
            airflow_version=args.airflow_version,
            environment_class=config.environment_class.value,
            min_workers=config.min_workers,
            max_workers=config.max_workers,
            schedulers=config.schedulers,
            webserver_access_mode=config.webserver_access.value,
            weekly_maintenance_window_start=config.maintenance_window_start,
            execution_role_arn=role.arn,
            kms_key=args.kms_key_arn,
            source_bucket_arn=args.dag_bucket_arn,
            dag_s3_path="dags",
            requirements_s3_path=args.requirements[0],
            requirements_s3_object_version=args.requirements[1],
            plugins_s3_path=args.plugins[0],
            plugins_s3_object_version=args.plugins[1],
            startup_script_s3_path=args.startup_script[0],
            startup_script_s3_object_version=args.startup_script[1],
            airflow_configuration_options=dict(args.airflow_options),
            network_configuration={
                "security_group_ids": [self.security_group_id, args.runtime_security_group_id],
                "subnet_ids": pulumi.Output.from_input(args.subnet_ids).apply(lambda ids: ids[:2]),
            },
            logging_configuration={
                log_type: {
                    "enabled": True,
                    "log_level": (
                        config.task_log_level if log_type == "task_logs" else config.log_level
                    ).value,
                }
                for log_type in LOG_TYPES
            },
            tags=resource_tags(args.tags, self.name),
            # CreateEnvironment validates the role's permissions and the bucket's public-access
            # block at once: the role's ARN alone would not wait for its policy.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*log_groups, role_policy, *args.dag_bucket_ready]
            ),
        )
        self.arn = environment.arn
        self.webserver_url = environment.webserver_url
        self.execution_role_arn = role.arn
        self.register_outputs(
            {
                "name": self.name,
                "arn": self.arn,
                "webserver_url": self.webserver_url,
                "execution_role_arn": self.execution_role_arn,
                "security_group_id": self.security_group_id,
            }
        )

    def _security_group(self) -> pulumi.Output[str]:
        """MWAA's components talk to each other inside a self-referencing group; egress
        reaches AWS APIs (through the NAT and the S3 endpoint)."""
        name, args = self._name, self._args
        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"MWAA environment {self.name}: its own components only",
            tags=resource_tags(args.tags, f"{self.name}-mwaa"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-sg-self",
            security_group_id=group.id,
            referenced_security_group_id=group.id,
            ip_protocol="-1",
            description="MWAA components (scheduler, workers, web server) to each other",
            tags=resource_tags(args.tags, f"{self.name}-mwaa-self"),
            opts=pulumi.ResourceOptions(parent=group),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-sg-egress",
            security_group_id=group.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="-1",
            description="AWS APIs (SQS, S3, CloudWatch, Secrets Manager) and the database",
            tags=resource_tags(args.tags, f"{self.name}-mwaa-egress"),
            opts=pulumi.ResourceOptions(parent=group),
        )
        return group.id

    def _log_groups(self) -> list[aws.cloudwatch.LogGroup]:
        args = self._args
        return [
            aws.cloudwatch.LogGroup(
                f"{self._name}-logs-{LOG_TYPES[log_type].lower()}",
                name=log_group_name(self.name, log_type),
                retention_in_days=args.config.log_retention_days,
                kms_key_id=args.kms_key_arn,
                tags=resource_tags(args.tags, log_group_name(self.name, log_type)),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for log_type in LOG_TYPES
        ]

    def _execution_role(self) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        args = self._args
        context = args.aws
        trust = policy_document(
            {
                "Sid": "AssumeFromMwaa",
                "Effect": "Allow",
                "Principal": {"Service": ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]},
                "Action": "sts:AssumeRole",
                # Confused-deputy protection as the MWAA User Guide recommends ("Cross-service
                # confused deputy prevention"): this account, and this environment only. Its
                # ARN is known before it exists, so the role need not wait for it.
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": context.account_id},
                    "ArnLike": {"aws:SourceArn": environment_arn(context, self.name)},
                },
            }
        )
        role = aws.iam.Role(
            f"{self._name}-execution-role",
            name=f"{self.name}-execution",
            description=f"Execution role of MWAA environment {self.name}",
            assume_role_policy=trust,
            tags=resource_tags(args.tags, f"{self.name}-execution"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = aws.iam.RolePolicy(
            f"{self._name}-execution-policy",
            role=role.id,
            name="environment",
            policy=execution_policy(self.name, args),
            opts=pulumi.ResourceOptions(parent=role),
        )
        return role, policy


def environment_arn(context: AwsContext, environment: str) -> pulumi.Output[str]:
    """The ARN MWAA gives environment `environment` in this account and region."""
    return pulumi.Output.concat(
        f"arn:{context.partition}:airflow:{context.region}:",
        context.account_id,
        f":environment/{environment}",
    )


def execution_policy(environment: str, args: MwaaEnvironmentArgs) -> pulumi.Output[str]:
    """What the environment may do, each statement scoped to its own resources.

    The three `*` resources are for actions AWS offers no resource scope for
    (`logs:DescribeLogGroups`, `s3:GetAccountPublicAccessBlock`, `cloudwatch:PutMetricData`,
    the last limited by namespace); none is a write to anything but metrics.
    """
    context = args.aws
    arn = f"arn:{context.partition}"
    region = context.region
    account = context.account_id
    bucket = args.dag_bucket_arn
    backups = args.backup_bucket_arn

    def scoped(service: str, resource: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(f"{arn}:{service}:{region}:", account, f":{resource}")

    statements = [
        statement(
            "PublishEnvironmentMetrics",
            ["airflow:PublishMetrics"],
            [environment_arn(context, environment)],
        ),
        # The metadata_cleanup DAG runs `airflow db clean` through the environment's own CLI
        # endpoint: Airflow 3 tasks cannot reach the metadata database (AWS's documented way).
        statement(
            "RunOwnCliCommands",
            ["airflow:CreateCliToken"],
            [environment_arn(context, environment)],
        ),
        statement(
            "ReadDagBucket",
            DAG_BUCKET_READ_ACTIONS,
            [bucket, pulumi.Output.concat(bucket, "/*")],
        ),
        statement("CheckAccountPublicAccessBlock", ["s3:GetAccountPublicAccessBlock"], ["*"]),
        statement(
            "WriteOwnLogs",
            [
                "logs:CreateLogStream",
                "logs:CreateLogGroup",
                "logs:PutLogEvents",
                "logs:GetLogEvents",
                "logs:GetLogRecord",
                "logs:GetLogGroupFields",
                "logs:GetQueryResults",
            ],
            [scoped("logs", f"log-group:airflow-{environment}-*")],
        ),
        statement("DescribeLogGroups", ["logs:DescribeLogGroups"], ["*"]),
        statement(
            "PutOwnMetrics",
            ["cloudwatch:PutMetricData"],
            ["*"],
            condition={"StringEquals": {"cloudwatch:namespace": list(METRIC_NAMESPACES)}},
        ),
        # MWAA's Celery queues live in an AWS-owned account, hence the account wildcard.
        statement(
            "CeleryQueues",
            CELERY_QUEUE_ACTIONS,
            [f"{arn}:sqs:{region}:*:airflow-celery-*"],
        ),
        statement(
            "ReadOwnSecrets",
            ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            [scoped("secretsmanager", f"secret:{secrets_prefix(args.stack)}/*")],
        ),
        *backup_statements(backups),
        log_archive_statement(args.log_archive_bucket_arn),
    ]
    # SQS and S3 for MWAA itself; Secrets Manager for the stack's own secrets under the
    # backend's prefix (the `mode` Variable), which the project key encrypts.
    via = [
        f"sqs.{region}.amazonaws.com",
        f"s3.{region}.amazonaws.com",
        f"secretsmanager.{region}.amazonaws.com",
    ]
    kms_actions = [
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
    ]
    if args.kms_key_arn is not None:
        statements.append(
            statement(
                "UseProjectKeyThroughServices",
                kms_actions,
                [args.kms_key_arn],
                condition={"StringLike": {"kms:ViaService": via}},
            )
        )
    else:
        # With MWAA's AWS-owned key: any key outside this account, and only through SQS.
        owned = {
            "Sid": "UseAwsOwnedKeyThroughSqs",
            "Effect": "Allow",
            "Action": kms_actions,
            "NotResource": pulumi.Output.concat(f"{arn}:kms:*:", account, ":key/*"),
            "Condition": {"StringLike": {"kms:ViaService": [f"sqs.{region}.amazonaws.com"]}},
        }
        statements.append(owned)
    return policy_document(*statements)
