"""HealthProbe: the Lambda that reads Airflow's health API every minute and publishes what it
finds (functions/health_probe), with its schedules, role, network access and dead letters."""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
from health_probe import metrics as probe_metrics

from airflow_platform.aws_context import AwsContext
from airflow_platform.config.base import LogRetentionDays
from airflow_platform.config.model import Platform
from airflow_platform.iam import policy_document, service_trust_policy, statement
from airflow_platform.packaging import deterministic_zip
from airflow_platform.tagging import resource_tags

PACKAGE = "health_probe"
HANDLER = "health_probe.handler.handler"
# A runtime Lambda supports well past this release (deprecation 2028-10-31:
# https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html); the code uses only the
# standard library and the runtime's boto3.
RUNTIME = "python3.12"
# The probe waits at most TIMEOUT_SECONDS for Airflow; the function's own limit leaves time to
# publish "unhealthy" after a timeout.
PROBE_TIMEOUT_SECONDS = 10
FUNCTION_TIMEOUT_SECONDS = 30
HEALTH_EVERY = "rate(1 minute)"
FRESHNESS_EVERY = "rate(15 minutes)"
# The RBAC role MWAA maps the REST API call to: the health endpoint needs none, and Viewer is
# the least of MWAA's roles (airflow:InvokeRestApi's resource is
# arn:aws:airflow:<region>:<account>:role/<environment>/<Airflow role>:
# https://docs.aws.amazon.com/mwaa/latest/userguide/access-mwaa-apache-airflow-rest-api.html).
MWAA_API_ROLE = "Viewer"
HTTPS = 443


@dataclass(frozen=True)
class HealthProbeArgs:
    """Inputs of HealthProbe."""

    stack: str
    aws: AwsContext
    platform: Platform
    source_root: Path
    """Directory holding the `health_probe` package (functions/health_probe)."""
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    """Private subnets: the probe reaches the EKS API server's in-VPC address, and AWS APIs
    through the NAT."""
    log_retention_days: LogRetentionDays
    tags: Mapping[str, str]
    backup_database: str
    """The database the metadata backup dumps (the freshness check's `Database` dimension)."""
    kms_key_arn: pulumi.Input[str]
    """Encrypts the function's environment and its log group."""
    mwaa_environment: pulumi.Input[str] | None = None
    """mwaa stacks: the environment whose REST API is invoked with IAM."""
    api_url: pulumi.Input[str] | None = None
    """eks stacks: the API server's in-VPC URL."""
    api_security_group_id: pulumi.Input[str] | None = None
    """eks stacks: the API server endpoint's security group, which admits the probe."""
    api_port: int = 8080


class HealthProbe(pulumi.ComponentResource):
    """A VPC Lambda run every minute (health) and every 15 minutes (backup and restore-drill
    freshness) by EventBridge Scheduler, with reserved concurrency 1, X-Ray tracing, a KMS-
    encrypted environment holding no secret, its own log group and an encrypted dead-letter
    queue for both the scheduler and the function.

    Outputs: `function_name`, `function_arn`, `security_group_id`, `dead_letter_queue_name`.
    """

    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    dead_letter_queue_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: HealthProbeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("airflow-platform:aws:HealthProbe", name, None, opts)
        if args.platform is Platform.MWAA and args.mwaa_environment is None:
            raise ValueError("HealthProbe on mwaa needs mwaa_environment")
        if args.platform is Platform.EKS and (
            args.api_url is None or args.api_security_group_id is None
        ):
            raise ValueError("HealthProbe on eks needs api_url and api_security_group_id")
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self._function_name = f"airflow-{args.stack}-health-probe"

        queue = aws.sqs.Queue(
            f"{name}-dead-letters",
            name=f"{self._function_name}-dead-letters",
            sqs_managed_sse_enabled=True,
            message_retention_seconds=14 * 24 * 3600,
            tags=self._tags("dead-letters"),
            opts=self._child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{self._function_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=self._tags("logs"),
            opts=self._child,
        )
        group = self._security_group()
        role, role_policy = self._role(queue, log_group)
        archive = write_archive(args.source_root)
        function = aws.lambda_.Function(
            f"{name}-function",
            name=self._function_name,
            description="Reads Airflow's health API and publishes per-component health",
            role=role.arn,
            runtime=RUNTIME,
            architectures=["arm64"],
            handler=HANDLER,
            code=pulumi.FileArchive(str(archive.path)),
            source_code_hash=archive.sha256_base64,
            timeout=FUNCTION_TIMEOUT_SECONDS,
            memory_size=128,
            reserved_concurrent_executions=1,
            environment={"variables": self._environment()},
            kms_key_arn=args.kms_key_arn,
            tracing_config={"mode": "Active"},
            dead_letter_config={"target_arn": queue.arn},
            vpc_config={"subnet_ids": args.subnet_ids, "security_group_ids": [group.id]},
            logging_config={"log_format": "JSON", "log_group": log_group.name},
            tags=self._tags("function"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, role_policy]),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async",
            function_name=function.name,
            # A health reading a minute late is replaced by the next one; retrying only
            # doubles the load on an Airflow that is already struggling.
            maximum_retry_attempts=0,
            maximum_event_age_in_seconds=60,
            destination_config={"on_failure": {"destination": queue.arn}},
            opts=self._child,
        )
        self._schedules(function, queue)
        self.function_name = function.name
        self.function_arn = function.arn
        self.security_group_id = group.id
        self.dead_letter_queue_name = queue.name
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "security_group_id": self.security_group_id,
                "dead_letter_queue_name": self.dead_letter_queue_name,
            }
        )

    def _tags(self, suffix: str) -> dict[str, str]:
        return resource_tags(self._args.tags, f"{self._name}-{suffix}")

    def _environment(self) -> dict[str, pulumi.Input[str]]:
        args = self._args
        variables: dict[str, pulumi.Input[str]] = {
            "STACK": args.stack,
            "METRICS_NAMESPACE": probe_metrics.NAMESPACE,
            "TIMEOUT_SECONDS": str(PROBE_TIMEOUT_SECONDS),
            "BACKUP_DATABASE": args.backup_database,
        }
        if args.platform is Platform.MWAA:
            assert args.mwaa_environment is not None
            variables["MWAA_ENVIRONMENT"] = args.mwaa_environment
        else:
            assert args.api_url is not None
            variables["AIRFLOW_API_URL"] = args.api_url
        return variables

    def _security_group(self) -> aws.ec2.SecurityGroup:
        args, name = self._args, self._name
        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            name=f"{self._function_name}",
            description="Airflow health probe Lambda",
            vpc_id=args.vpc_id,
            tags=self._tags("sg"),
            opts=self._child,
        )
        # AWS APIs (CloudWatch, MWAA) through the NAT gateway.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-egress-https",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            cidr_ipv4="0.0.0.0/0",
            description="AWS APIs over HTTPS",
            tags=self._tags("egress-https"),
            opts=self._child,
        )
        if args.platform is Platform.EKS:
            assert args.api_security_group_id is not None
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-egress-airflow-api",
                security_group_id=group.id,
                ip_protocol="tcp",
                from_port=args.api_port,
                to_port=args.api_port,
                referenced_security_group_id=args.api_security_group_id,
                description="The Airflow API server's in-VPC endpoint",
                tags=self._tags("egress-airflow-api"),
                opts=self._child,
            )
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-airflow-api-admits-probe",
                security_group_id=args.api_security_group_id,
                ip_protocol="tcp",
                from_port=args.api_port,
                to_port=args.api_port,
                referenced_security_group_id=group.id,
                description="The health probe Lambda reads /api/v2/monitor/health",
                tags=self._tags("airflow-api-admits-probe"),
                opts=self._child,
            )
        return group

    def _role(
        self, queue: aws.sqs.Queue, log_group: aws.cloudwatch.LogGroup
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        args, name, ctx = self._args, self._name, self._args.aws
        role = aws.iam.Role(
            f"{name}-role",
            name=self._function_name,
            assume_role_policy=service_trust_policy("lambda.amazonaws.com", ctx.account_id),
            tags=self._tags("role"),
            opts=self._child,
        )
        statements = [
            statement(
                "WriteOwnLogs",
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [log_group.arn.apply(lambda arn: f"{arn}:*")],
            ),
            statement(
                "PublishHealthMetrics",
                ["cloudwatch:PutMetricData"],
                ["*"],  # PutMetricData has no resource type; the namespace condition limits it
                condition={"StringEquals": {"cloudwatch:namespace": probe_metrics.NAMESPACE}},
            ),
            statement(
                "ReadBackupMetrics",
                ["cloudwatch:GetMetricData"],
                ["*"],  # no resource-level permissions for GetMetricData
            ),
            statement(
                # The ENI actions Lambda needs in a VPC (the AWSLambdaVPCAccessExecutionRole
                # managed policy's list); they support no resource scoping.
                "AttachToVpc",
                [
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:CreateNetworkInterface",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                ["*"],
            ),
            statement("Trace", ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], ["*"]),
            statement("DeadLetters", ["sqs:SendMessage"], [queue.arn]),
            statement("DecryptEnvironment", ["kms:Decrypt"], [args.kms_key_arn]),
        ]
        if args.platform is Platform.MWAA:
            assert args.mwaa_environment is not None
            api_role = pulumi.Output.all(ctx.account_id, args.mwaa_environment).apply(
                lambda values: (
                    f"arn:{ctx.partition}:airflow:{ctx.region}:{values[0]}:role/"
                    f"{values[1]}/{MWAA_API_ROLE}"
                )
            )
            statements.append(statement("ReadAirflowHealth", ["airflow:InvokeRestApi"], [api_role]))
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=policy_document(*statements),
            opts=self._child,
        )
        return role, policy

    def _schedules(self, function: aws.lambda_.Function, queue: aws.sqs.Queue) -> None:
        _args, name, ctx = self._args, self._name, self._args.aws
        schedule_arn = ctx.account_id.apply(
            lambda account: (
                f"arn:{ctx.partition}:scheduler:{ctx.region}:{account}:schedule/"
                f"default/{self._function_name}*"
            )
        )
        role = aws.iam.Role(
            f"{name}-scheduler-role",
            name=f"{self._function_name}-scheduler",
            assume_role_policy=service_trust_policy(
                "scheduler.amazonaws.com", ctx.account_id, source_arn=schedule_arn
            ),
            tags=self._tags("scheduler-role"),
            opts=self._child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-scheduler-policy",
            role=role.id,
            policy=policy_document(
                statement("InvokeProbe", ["lambda:InvokeFunction"], [function.arn]),
                statement("DeadLetters", ["sqs:SendMessage"], [queue.arn]),
            ),
            opts=self._child,
        )
        for suffix, expression, check in (
            ("", HEALTH_EVERY, "health"),
            ("-freshness", FRESHNESS_EVERY, "freshness"),
        ):
            aws.scheduler.Schedule(
                f"{name}-schedule{suffix}",
                name=f"{self._function_name}{suffix}",
                description=f"Runs the health probe's {check} check",
                schedule_expression=expression,
                flexible_time_window={"mode": "OFF"},
                target={
                    "arn": function.arn,
                    "role_arn": role.arn,
                    "input": json.dumps({"check": check}),
                    "retry_policy": {
                        "maximum_event_age_in_seconds": 60,
                        "maximum_retry_attempts": 0,
                    },
                    "dead_letter_config": {"arn": queue.arn},
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            )


@dataclass(frozen=True)
class Archive:
    """The probe's deterministic zip, written where Pulumi can read it."""

    path: Path
    sha256_base64: str


def write_archive(source_root: Path) -> Archive:
    """Zip the probe package and write it under a name made of its hash, so concurrent plans
    and repeated runs share one file and the upload changes only with the code."""
    data = deterministic_zip(source_root, [PACKAGE])
    digest = hashlib.sha256(data)
    directory = Path(tempfile.gettempdir()) / "airflow-platform-lambda"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{PACKAGE}-{digest.hexdigest()[:16]}.zip"
    if not path.is_file() or path.read_bytes() != data:
        partial = path.with_suffix(f".{digest.hexdigest()[16:24]}.partial")
        partial.write_bytes(data)
        partial.replace(path)
    return Archive(path=path, sha256_base64=base64.b64encode(digest.digest()).decode())
