"""MetadataDatabase: RDS for PostgreSQL, private, encrypted, backed up by tier.

On eks stacks this is Airflow's metadata database. On mwaa stacks MWAA keeps its own
metadata database, and this one is the platform's Postgres that DAGs use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from airflow_platform.aws_context import AwsContext
from airflow_platform.config import Teardown
from airflow_platform.config.model import BackupConfig, DatabaseConfig
from airflow_platform.iam import service_trust_policy
from airflow_platform.tagging import resource_tags

PORT = 5432
# Exported to CloudWatch: the server log (slow statements, errors) and major-upgrade logs.
LOG_EXPORTS = ("postgresql", "upgrade")
DATABASE_NAME = "airflow"
MASTER_USERNAME = "platform_admin"
_MAX_IDENTIFIER_LENGTH = 63


def instance_identifier(stack: str) -> str:
    """The RDS instance's name, `airflow-<stack>-metadata`: stable, so logs and alarms can
    name it, and within RDS's 63 characters (the stack name rule keeps it so)."""
    identifier = f"airflow-{stack}-metadata"
    if len(identifier) > _MAX_IDENTIFIER_LENGTH or "--" in identifier:
        raise ValueError(f"stack name {stack!r} makes an invalid RDS identifier {identifier!r}")
    return identifier


def final_snapshot_identifier(stack: str, suffix: str) -> str:
    """Name of the snapshot RDS takes when the instance is deleted (all tiers but ephemeral):
    `airflow-<stack>-metadata-final-<suffix>`, the suffix generated once per instance, so a
    second destroy of a recreated stack, or a replaced instance, does not reuse a name RDS
    already holds (it refuses a taken one and the delete fails)."""
    return f"{instance_identifier(stack)}-final-{suffix}"


# The final-snapshot suffix is keyed on the inputs that replace the instance when they change
# (the provider's ForceNew fields this component sets; plan/replacement.py lists them all) and
# on the identifier the name carries: a new instance gets a new suffix, and the old one's
# snapshot keeps its name.
def _instance_keepers(
    identifier: str, kms_key_arn: pulumi.Input[str] | None
) -> dict[str, pulumi.Input[str]]:
    return {
        "identifier": identifier,
        "engine": "postgres",
        "dbName": DATABASE_NAME,
        "username": MASTER_USERNAME,
        "kmsKeyId": kms_key_arn if kms_key_arn is not None else "aws/rds",
    }


def parameters(config: DatabaseConfig) -> list[dict[str, str]]:
    """The parameter group's settings, in the provider's input shape. Both are dynamic
    parameters, so they apply without a reboot."""
    return [
        # Plain-text connections are refused; clients must use TLS.
        {"name": "rds.force_ssl", "value": "1", "apply_method": "immediate"},
        {
            "name": "log_min_duration_statement",
            "value": str(config.slow_statement_ms),
            "apply_method": "immediate",
        },
    ]


@dataclass(frozen=True)
class MetadataDatabaseArgs:
    """Inputs of MetadataDatabase."""

    stack: str
    """Stack name, part of the instance identifier and the final snapshot's name."""
    aws: AwsContext
    """Account and region, for the monitoring role's trust and the managed policy ARN."""
    config: DatabaseConfig
    """The stack's `database` section (tier defaults applied)."""
    backup: BackupConfig
    """Retention of automated backups (and of their cross-region copies)."""
    teardown: Teardown
    """Deletion protection and retained backups (prod) or no final snapshot (ephemeral)."""
    vpc_id: pulumi.Input[str]
    """VPC of the database's security group."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Private subnets, in at least two AZs (RDS requires two even without Multi-AZ)."""
    client_security_group_id: pulumi.Input[str]
    """Security group of the Airflow runtime: the only source admitted on port 5432."""
    tags: Mapping[str, str]
    """The stack's tags."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Project key for storage, Performance Insights, the master secret and the log groups;
    AWS managed keys when None."""
    replica_provider: pulumi.ProviderResource | None = None
    """AWS provider of the region automated backups are copied to; no copies when None."""
    replica_kms_key_arn: pulumi.Input[str] | None = None
    """Key in the replica region that encrypts the copies; required with `replica_provider`
    (the instance is always encrypted, and keys do not cross regions)."""


class MetadataDatabase(pulumi.ComponentResource):
    """An RDS PostgreSQL instance reachable only from the Airflow runtime's security group.

    gp3 storage encrypted and autoscaled, TLS forced, master password generated and kept in
    Secrets Manager by RDS, IAM authentication, automated backups per tier, Performance
    Insights, Enhanced Monitoring and PostgreSQL logs in CloudWatch.

    Outputs: `endpoint` (host:port), `address`, `port`, `arn`, `identifier`, `secret_arn` (the
    master user's secret), `security_group_id`.
    """

    endpoint: pulumi.Output[str]
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    arn: pulumi.Output[str]
    identifier: pulumi.Output[str]
    secret_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: MetadataDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("airflow-platform:aws:MetadataDatabase", name, None, opts)
        if args.replica_provider is not None and args.replica_kms_key_arn is None:
            raise ValueError("replica_provider needs replica_kms_key_arn: the copies are encrypted")
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        config, teardown = args.config, args.teardown
        identifier = instance_identifier(args.stack)

        security_group = self._security_group()
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            description=f"{identifier}: private subnets",
            subnet_ids=args.subnet_ids,
            tags=self._tags("subnets"),
            opts=child,
        )
        parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            # A new major version needs a new family; auto-naming lets Pulumi create the new
            # group before deleting the old one.
            family=f"postgres{config.engine_major}",
            description=f"{identifier}: TLS only, slow statements logged",
            parameters=parameters(config),
            tags=self._tags("params"),
            opts=child,
        )
        # Created here rather than by RDS on first export, so they get a retention and the
        # project key, and a destroy removes them.
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-log-{kind}",
                name=f"/aws/rds/instance/{identifier}/{kind}",
                retention_in_days=config.log_retention_days,
                kms_key_id=args.kms_key_arn,
                tags=self._tags(f"log-{kind}"),
                opts=child,
            )
            for kind in LOG_EXPORTS
        ]
        monitoring_role, monitoring_policy = self._monitoring_role()
        final_snapshot = None
        if not teardown.force_destroy:
            # Generated once and kept in the state; regenerated only when the instance itself
            # is replaced (its keepers are the inputs that replace it).
            suffix = random.RandomId(
                f"{name}-final-snapshot-suffix",
                byte_length=4,
                keepers=_instance_keepers(identifier, args.kms_key_arn),
                opts=child,
            )
            final_snapshot = suffix.hex.apply(
                lambda hex_suffix: final_snapshot_identifier(args.stack, hex_suffix)
            )

        instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=identifier,
            engine="postgres",
            engine_version=config.engine_version,
            # Only ever exercised by changing engineVersion in the stack file, on purpose.
            allow_major_version_upgrade=True,
            auto_minor_version_upgrade=True,
            instance_class=config.instance_class,
            db_name=DATABASE_NAME,
            username=MASTER_USERNAME,
            # RDS generates and rotates the password in Secrets Manager: it is never in
            # config, in the program or in the state.
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.kms_key_arn,
            iam_database_authentication_enabled=True,
            port=PORT,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_group.id],
            parameter_group_name=parameter_group.name,
            publicly_accessible=False,
            multi_az=config.multi_az,
            storage_type="gp3",
            allocated_storage=config.allocated_storage_gb,
            max_allocated_storage=config.max_allocated_storage_gb,
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            backup_retention_period=args.backup.retention_days,
            backup_window=config.backup_window,
            maintenance_window=config.maintenance_window,
            copy_tags_to_snapshot=True,
            deletion_protection=teardown.protect_data,
            delete_automated_backups=not teardown.protect_data,
            skip_final_snapshot=teardown.force_destroy,
            final_snapshot_identifier=final_snapshot,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.kms_key_arn,
            performance_insights_retention_period=config.performance_insights_retention_days,
            monitoring_interval=config.monitoring_interval_seconds,
            monitoring_role_arn=monitoring_role.arn,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            tags=self._tags("instance"),
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=teardown.protect_data,
                # RDS checks the role can be assumed and its policy is attached when the
                # instance is created.
                depends_on=[*log_groups, monitoring_policy],
            ),
        )
        if args.replica_provider is not None:
            aws.rds.InstanceAutomatedBackupsReplication(
                f"{name}-backup-replication",
                source_db_instance_arn=instance.arn,
                kms_key_id=args.replica_kms_key_arn,
                retention_period=args.backup.retention_days,
                # Managed from the destination region, as the RDS API requires.
                opts=pulumi.ResourceOptions(parent=self, provider=args.replica_provider),
            )

        self.endpoint = instance.endpoint
        self.address = instance.address
        self.port = instance.port
        self.arn = instance.arn
        self.identifier = instance.identifier
        self.secret_arn = instance.master_user_secrets.apply(lambda secrets: secrets[0].secret_arn)
        self.security_group_id = security_group.id
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "address": self.address,
                "port": self.port,
                "arn": self.arn,
                "secret_arn": self.secret_arn,
                "security_group_id": self.security_group_id,
            }
        )

    def _tags(self, suffix: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return resource_tags(self._args.tags, f"{self._name}-{suffix}", extra)

    def _security_group(self) -> aws.ec2.SecurityGroup:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        # No egress rule: the provider removes AWS's default allow-all, and the database
        # never opens connections.
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description="RDS PostgreSQL: reachable only from the Airflow runtime",
            tags=self._tags("sg"),
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-ingress-from-runtime",
            security_group_id=security_group.id,
            referenced_security_group_id=args.client_security_group_id,
            ip_protocol="tcp",
            from_port=PORT,
            to_port=PORT,
            description="PostgreSQL from the Airflow runtime security group",
            tags=self._tags("ingress-from-runtime"),
            opts=child,
        )
        return security_group

    def _monitoring_role(self) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
        name, ctx = self._name, self._args.aws
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-monitoring-role",
            description="RDS Enhanced Monitoring: OS metrics of the database to CloudWatch",
            assume_role_policy=service_trust_policy("monitoring.rds.amazonaws.com", ctx.account_id),
            tags=self._tags("monitoring-role"),
            opts=child,
        )
        # Its own resource, not the role's managed_policy_arns: a role that mixes the two
        # has them overwrite each other.
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-monitoring-policy",
            role=role.name,
            policy_arn=(
                f"arn:{ctx.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
            ),
            opts=child,
        )
        return role, attachment
