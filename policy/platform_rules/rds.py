"""RDS: the metadata database private, encrypted, backed up and observable, its master
password managed by RDS, its connections TLS-only.

Per-instance rules read the `aws:rds/instance:Instance` inputs; the parameter group and the
cross-region backup copies are resources of their own, so those rules read the whole stack.
Thresholds and key requirements follow the tier: prod keeps two weeks of backups and uses the
project's KMS key; the protections a stack built to be destroyed must not have (deletion
protection, retained backups) apply to prod only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from platform_rules.model import Check, Level, Resource, Rule, Stack, StackCheck, Tier, levels
from platform_rules.reading import is_customer_key, is_true, items, name_of, number

INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
BACKUP_REPLICATION = (
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
)
MIN_BACKUP_DAYS = 7
MIN_PROD_BACKUP_DAYS = 14
# Inputs that would put a master password in the program, the state and the plan.
PASSWORD_INPUTS = ("password", "passwordWo")


def _label(instance: Resource) -> str:
    return f"database {instance.get('identifier') or name_of(instance)}"


def _postgres(instance: Resource) -> bool:
    return str(instance.get("engine") or "").startswith("postgres")


def storage_encryption(instance: Resource, stack: Stack) -> Iterable[str]:
    if not is_true(instance.get("storageEncrypted")):
        yield (
            f"{_label(instance)} has unencrypted storage: set storage_encrypted True (it can "
            "only be set at creation: restore a snapshot into an encrypted instance)"
        )
    elif stack.tier is Tier.PROD and not is_customer_key(instance.get("kmsKeyId")):
        yield (
            f"{_label(instance)} is encrypted with the AWS managed key aws/rds: in prod set "
            "kms_key_id to the project key's ARN (airflow-platform:encryption.customerManagedKey)"
        )


def not_public(instance: Resource, stack: Stack) -> Iterable[str]:
    if is_true(instance.get("publiclyAccessible")):
        yield (
            f"{_label(instance)} is publicly accessible: set publicly_accessible False; it is "
            "reached from the Airflow runtime's security group only"
        )


def backup_retention(instance: Resource, stack: Stack) -> Iterable[str]:
    floor = MIN_PROD_BACKUP_DAYS if stack.tier is Tier.PROD else MIN_BACKUP_DAYS
    days = number(instance.get("backupRetentionPeriod"))
    if days is None:
        yield (
            f"{_label(instance)} leaves backup retention to the default: state "
            f"backup_retention_period, at least {floor} days on tier {stack.tier.value} "
            "(airflow-platform:backup.retentionDays)"
        )
    elif days < floor:
        yield (
            f"{_label(instance)} keeps automated backups {days:g} "
            f"day{'' if days == 1 else 's'}: keep at least {floor} on tier {stack.tier.value} "
            "(airflow-platform:backup.retentionDays)"
        )


def multi_az(instance: Resource, stack: Stack) -> Iterable[str]:
    if not is_true(instance.get("multiAz")):
        yield (
            f"{_label(instance)} has no standby: set multi_az True (airflow-platform:"
            "database.multiAz), so an AZ outage or a patch is a failover, not downtime"
        )


def deletion_protection(instance: Resource, stack: Stack) -> Iterable[str]:
    if not is_true(instance.get("deletionProtection")):
        yield (f"{_label(instance)} can be deleted by one API call: set deletion_protection True")


def final_snapshot(instance: Resource, stack: Stack) -> Iterable[str]:
    if is_true(instance.get("skipFinalSnapshot")) or not instance.get("finalSnapshotIdentifier"):
        yield (
            f"{_label(instance)} would be deleted without a final snapshot: set "
            "skip_final_snapshot False and a final_snapshot_identifier"
        )


def retain_automated_backups(instance: Resource, stack: Stack) -> Iterable[str]:
    # The provider's default is True: deleting the instance would delete its backups too.
    if instance.get("deleteAutomatedBackups") is not False:
        yield (
            f"{_label(instance)} would lose its automated backups with it: set "
            "delete_automated_backups False, so a deleted database can still be restored"
        )


def copy_tags_to_snapshot(instance: Resource, stack: Stack) -> Iterable[str]:
    if not is_true(instance.get("copyTagsToSnapshot")):
        yield (
            f"{_label(instance)} does not copy its tags to snapshots: set "
            "copy_tags_to_snapshot True, so snapshots stay attributable (owner, stack, cost)"
        )


def auto_minor_version_upgrade(instance: Resource, stack: Stack) -> Iterable[str]:
    if instance.get("autoMinorVersionUpgrade") is False:
        yield (
            f"{_label(instance)} skips minor versions: set auto_minor_version_upgrade True, "
            "so security fixes arrive in the maintenance window"
        )


def log_exports(instance: Resource, stack: Stack) -> Iterable[str]:
    if _postgres(instance) and "postgresql" not in items(
        instance.get("enabledCloudwatchLogsExports")
    ):
        yield (
            f"{_label(instance)} does not export its PostgreSQL log: add postgresql to "
            "enabled_cloudwatch_logs_exports (slow statements and errors, in CloudWatch)"
        )


def enhanced_monitoring(instance: Resource, stack: Stack) -> Iterable[str]:
    interval = number(instance.get("monitoringInterval")) or 0
    if interval <= 0 or not instance.get("monitoringRoleArn"):
        yield (
            f"{_label(instance)} has no Enhanced Monitoring: set monitoring_interval (1-60 "
            "seconds) and a monitoring_role_arn, for the OS metrics CloudWatch lacks"
        )


def performance_insights(instance: Resource, stack: Stack) -> Iterable[str]:
    if not is_true(instance.get("performanceInsightsEnabled")):
        yield (
            f"{_label(instance)} has no Performance Insights: set performance_insights_enabled True"
        )
    elif stack.tier is Tier.PROD and not is_customer_key(
        instance.get("performanceInsightsKmsKeyId")
    ):
        yield (
            f"{_label(instance)}'s Performance Insights data (query texts) is encrypted with "
            "the AWS managed key: in prod set performance_insights_kms_key_id to the project key"
        )


def iam_authentication(instance: Resource, stack: Stack) -> Iterable[str]:
    if not is_true(instance.get("iamDatabaseAuthenticationEnabled")):
        yield (
            f"{_label(instance)} has IAM database authentication off: set "
            "iam_database_authentication_enabled True, so people connect with short-lived "
            "IAM tokens, not shared passwords"
        )


def managed_master_password(instance: Resource, stack: Stack) -> Iterable[str]:
    given = [key for key in PASSWORD_INPUTS if instance.get(key) is not None]
    if given:
        yield (
            f"{_label(instance)} is given a master password ({', '.join(given)}): remove it "
            "and set manage_master_user_password True, so RDS generates and rotates it in "
            "Secrets Manager and it is never in config, program or state"
        )
    elif not is_true(instance.get("manageMasterUserPassword")):
        yield (
            f"{_label(instance)} does not let RDS manage its master password: set "
            "manage_master_user_password True"
        )


def _parameters(stack: Stack, instance: Resource) -> Mapping[str, Any] | None:
    """The instance's parameter group's parameters by name, or None when the stack does not
    declare its group (RDS's default group, or one made elsewhere)."""
    wanted = instance.get("parameterGroupName")
    if not wanted:
        return None
    for group in stack.of_type(PARAMETER_GROUP):
        # An auto-named group's name is its logical name plus a suffix the provider adds.
        name = group.get("name") or group.name
        prefix = group.get("namePrefix")
        if name == wanted or (isinstance(prefix, str) and str(wanted).startswith(prefix)):
            return {
                p.get("name"): p.get("value")
                for p in items(group.get("parameters"))
                if isinstance(p, Mapping)
            }
    return None


def _parameter_rule(parameter: str, valid: Callable[[Any], bool], fix: str) -> StackCheck:
    """The check that the instance's parameter group sets `parameter` to a `valid` value."""

    def check(stack: Stack) -> Iterator[tuple[str, str]]:
        for instance in stack.of_type(INSTANCE):
            if not _postgres(instance):
                continue
            params = _parameters(stack, instance)
            if params is None:
                yield (
                    instance.urn,
                    (
                        f"{_label(instance)} uses a parameter group this stack does not declare "
                        f"({instance.get('parameterGroupName') or 'the default'}): give it an "
                        f"aws.rds.ParameterGroup that sets {fix}"
                    ),
                )
            elif not valid(params.get(parameter)):
                yield (
                    instance.urn,
                    (
                        f"{_label(instance)}'s parameter group sets {parameter} = "
                        f"{params.get(parameter, '(default)')}: set {fix}"
                    ),
                )

    return check


def _is_one(value: Any) -> bool:
    return str(value).strip() == "1"


def _logs_statements(value: Any) -> bool:
    milliseconds = number(value)
    return milliseconds is not None and milliseconds >= 0


def cross_region_backups(stack: Stack) -> Iterator[tuple[str, str]]:
    replicated = {str(r.get("sourceDbInstanceArn")) for r in stack.of_type(BACKUP_REPLICATION)}
    for instance in stack.of_type(INSTANCE):
        identifier = instance.get("identifier")
        if not any(arn.endswith(f":db:{identifier}") for arn in replicated):
            yield (
                instance.urn,
                (
                    f"{_label(instance)}'s automated backups stay in one region: set "
                    "airflow-platform:backup.replicaRegion, which adds an "
                    "aws.rds.InstanceAutomatedBackupsReplication to a second region"
                ),
            )


def _instance_rule(name: str, description: str, check: Check, **kwargs: Any) -> Rule:
    return Rule(
        name=name,
        service="RDS",
        description=description,
        types=frozenset({INSTANCE}),
        check=check,
        **kwargs,
    )


# What only prod keeps: ephemeral stacks must be destroyable, dev and staging cheap.
_PROD_ONLY = levels(others=Level.DISABLED)

RULES: list[Rule] = [
    _instance_rule(
        "rds-storage-encrypted",
        "Storage is encrypted; in prod with the project's KMS key.",
        storage_encryption,
    ),
    _instance_rule("rds-not-public", "The instance is not publicly accessible.", not_public),
    _instance_rule(
        "rds-backup-retention",
        "Backup retention is stated: at least 7 days, 14 in prod.",
        backup_retention,
    ),
    _instance_rule("rds-multi-az", "Prod runs a Multi-AZ standby.", multi_az, levels=_PROD_ONLY),
    _instance_rule(
        "rds-deletion-protection",
        "Prod's instance has deletion protection.",
        deletion_protection,
        levels=_PROD_ONLY,
    ),
    _instance_rule(
        "rds-final-snapshot",
        "Deleting the instance takes a final snapshot.",
        final_snapshot,
        levels=levels(ephemeral=Level.DISABLED),
    ),
    _instance_rule(
        "rds-retain-automated-backups",
        "Prod's automated backups outlive the instance (delete_automated_backups False).",
        retain_automated_backups,
        levels=_PROD_ONLY,
    ),
    Rule(
        name="rds-cross-region-backups",
        service="RDS",
        description="Prod's automated backups are replicated to a second region.",
        levels=levels(prod=Level.ADVISORY, others=Level.DISABLED),
        stack_check=cross_region_backups,
    ),
    _instance_rule(
        "rds-copy-tags-to-snapshot", "Snapshots carry the instance's tags.", copy_tags_to_snapshot
    ),
    _instance_rule(
        "rds-auto-minor-version-upgrade",
        "Minor versions are applied in the maintenance window.",
        auto_minor_version_upgrade,
    ),
    Rule(
        name="rds-force-ssl",
        service="RDS",
        description="The parameter group refuses plain-text connections (rds.force_ssl=1).",
        stack_check=_parameter_rule("rds.force_ssl", _is_one, "rds.force_ssl = 1"),
    ),
    Rule(
        name="rds-slow-statement-log",
        service="RDS",
        description="The parameter group logs slow statements (log_min_duration_statement).",
        stack_check=_parameter_rule(
            "log_min_duration_statement",
            _logs_statements,
            "log_min_duration_statement to a threshold in ms (airflow-platform:"
            "database.slowStatementMs)",
        ),
    ),
    _instance_rule("rds-log-exports", "The PostgreSQL log is exported to CloudWatch.", log_exports),
    _instance_rule(
        "rds-enhanced-monitoring",
        "Enhanced Monitoring is on, with its role.",
        enhanced_monitoring,
    ),
    _instance_rule(
        "rds-performance-insights",
        "Performance Insights is on; in prod encrypted with the project's KMS key.",
        performance_insights,
    ),
    _instance_rule(
        "rds-iam-authentication", "IAM database authentication is on.", iam_authentication
    ),
    _instance_rule(
        "rds-managed-master-password",
        "RDS manages the master password; no password is an input.",
        managed_master_password,
    ),
]
