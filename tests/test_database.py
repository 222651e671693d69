"""MetadataDatabase under each tier, and the program's wiring of it (disabled, replicated)."""

from __future__ import annotations

import json
import re

import pulumi
import pulumi_aws as aws
import pytest

from airflow_platform.aws_context import AwsContext
from airflow_platform.components.database import (
    MetadataDatabase,
    MetadataDatabaseArgs,
    instance_identifier,
)
from airflow_platform.config import ConfigError, Tier
from airflow_platform.config.windows import (
    parse_daily_window,
    parse_weekly_window,
    windows_overlap,
)
from airflow_platform.plan.project import StackConfig
from airflow_platform.plan.runner import run_program
from airflow_platform.tagging import stack_tags
from tests.conftest import REGION, TIER_STACKS, settings_for, with_slack

INSTANCE = "aws:rds/instance:Instance"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/test"
REPLICA_KEY_ARN = "arn:aws:kms:eu-central-1:123456789012:key/replica"
VPC_ID = "vpc-0123456789abcdef0"
SUBNET_IDS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
RUNTIME_SG = "sg-0123456789abcdef0"
TIERS = list(Tier)


def _args(settings, **options):
    """The component's args as the program builds them for `settings`, plus `options`."""
    return MetadataDatabaseArgs(
        stack=settings.stack,
        aws=AwsContext.current(REGION),
        config=settings.config.database,
        backup=settings.config.backup,
        teardown=settings.teardown,
        vpc_id=VPC_ID,
        subnet_ids=SUBNET_IDS,
        client_security_group_id=RUNTIME_SG,
        tags=stack_tags(settings),
        **options,
    )


def _database(settings, kms_key_arn=None, replica_region=None):
    def build():
        provider = (
            aws.Provider("replica", region=replica_region) if replica_region is not None else None
        )
        MetadataDatabase(
            "database",
            _args(
                settings,
                kms_key_arn=kms_key_arn,
                replica_provider=provider,
                replica_kms_key_arn=REPLICA_KEY_ARN if provider else None,
            ),
        )

    return build


def _declared(declare, tier, **overrides):
    settings = settings_for(tier, **overrides)
    key = KEY_ARN if settings.config.encryption.customer_managed_key else None
    return settings, declare(_database(settings, key), TIER_STACKS[tier])


def _instance(declared):
    return declared.one(INSTANCE, "database-instance")


@pytest.mark.parametrize("tier", TIERS)
def test_database_keeps_automated_backups_for_the_tier_retention_when_stack_states_none(
    declare, tier
):
    _, declared = _declared(declare, tier)
    expected = {Tier.EPHEMERAL: 1, Tier.DEV: 7, Tier.STAGING: 14, Tier.PROD: 35}[tier]
    assert _instance(declared).inputs["backupRetentionPeriod"] == expected


@pytest.mark.parametrize("tier", TIERS)
def test_database_windows_are_set_and_do_not_overlap_when_tier_defaults(declare, tier):
    _, declared = _declared(declare, tier)
    inputs = _instance(declared).inputs
    backup = parse_daily_window(inputs["backupWindow"])
    maintenance = parse_weekly_window(inputs["maintenanceWindow"])
    assert not windows_overlap(backup, maintenance)


def test_database_windows_follow_stack_config_when_stated(declare):
    windows = {"backupWindow": "22:00-23:00", "maintenanceWindow": "Sat:01:00-Sat:02:00"}
    _, declared = _declared(declare, Tier.DEV, database=windows)
    inputs = _instance(declared).inputs
    assert inputs["backupWindow"] == "22:00-23:00"
    assert inputs["maintenanceWindow"] == "sat:01:00-sat:02:00", "lowercase, as RDS reports it"


RANDOM_ID = "random:index/randomId:RandomId"


@pytest.mark.parametrize("tier", TIERS)
def test_database_protection_and_final_snapshot_follow_the_tier_teardown(declare, tier):
    settings, declared = _declared(declare, tier)
    instance = _instance(declared)
    inputs = instance.inputs
    prod, ephemeral = tier is Tier.PROD, tier is Tier.EPHEMERAL
    assert inputs["deletionProtection"] is prod, instance.urn
    assert instance.protect is prod, instance.urn
    assert inputs["deleteAutomatedBackups"] is not prod, "prod keeps backups after deletion"
    assert inputs["skipFinalSnapshot"] is ephemeral, "only ephemeral skips the final snapshot"
    if ephemeral:
        assert "finalSnapshotIdentifier" not in inputs
        assert declared.of_type(RANDOM_ID) == []
    else:
        [suffix] = declared.of_type(RANDOM_ID)
        assert re.fullmatch(
            rf"airflow-{settings.stack}-metadata-final-[0-9a-f]{{8}}",
            inputs["finalSnapshotIdentifier"],
        ), inputs["finalSnapshotIdentifier"]
        assert suffix.inputs["keepers"]["identifier"] == f"airflow-{settings.stack}-metadata"
    assert inputs["copyTagsToSnapshot"] is True


@pytest.mark.parametrize("tier", TIERS)
def test_database_is_multi_az_only_in_prod_when_tier_defaults(declare, tier):
    _, declared = _declared(declare, tier)
    assert _instance(declared).inputs["multiAz"] is (tier is Tier.PROD)


@pytest.mark.parametrize("tier", TIERS)
def test_database_storage_is_encrypted_gp3_and_autoscaled_with_project_key_in_prod(declare, tier):
    settings, declared = _declared(declare, tier)
    inputs = _instance(declared).inputs
    assert inputs["storageEncrypted"] is True
    assert inputs["storageType"] == "gp3"
    assert inputs["allocatedStorage"] == settings.config.database.allocated_storage_gb
    assert inputs["maxAllocatedStorage"] > inputs["allocatedStorage"]
    if tier is Tier.PROD:
        assert inputs["kmsKeyId"] == KEY_ARN
        assert inputs["performanceInsightsKmsKeyId"] == KEY_ARN
        assert inputs["masterUserSecretKmsKeyId"] == KEY_ARN
    else:
        assert "kmsKeyId" not in inputs, "AWS managed key when the stack has no project key"


@pytest.mark.parametrize("tier", TIERS)
def test_database_is_private_and_its_password_is_managed_by_rds(declare, tier):
    _, declared = _declared(declare, tier)
    inputs = _instance(declared).inputs
    assert inputs["publiclyAccessible"] is False
    assert inputs["manageMasterUserPassword"] is True
    for key in ("password", "passwordWo", "passwordWoVersion"):
        assert key not in inputs, f"{key} would put a password in config or state"
    assert inputs["iamDatabaseAuthenticationEnabled"] is True
    assert inputs["autoMinorVersionUpgrade"] is True


@pytest.mark.parametrize("tier", TIERS)
def test_database_parameter_group_forces_ssl_and_logs_slow_statements(declare, tier):
    settings, declared = _declared(declare, tier)
    group = declared.one("aws:rds/parameterGroup:ParameterGroup", "database-params")
    assert group.inputs["family"] == "postgres16"
    params = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert params["rds.force_ssl"] == "1"
    assert params["log_min_duration_statement"] == str(settings.config.database.slow_statement_ms)
    instance = _instance(declared).inputs
    assert instance["parameterGroupName"] == "database-params"
    assert instance["engine"] == "postgres"
    assert instance["engineVersion"] == "16"


def test_database_engine_version_picks_the_parameter_group_family_when_stated(declare):
    _, declared = _declared(declare, Tier.DEV, database={"engineVersion": "17"})
    group = declared.one("aws:rds/parameterGroup:ParameterGroup", "database-params")
    assert group.inputs["family"] == "postgres17"
    assert _instance(declared).inputs["engineVersion"] == "17"


@pytest.mark.parametrize("tier", TIERS)
def test_database_admits_only_the_runtime_group_on_5432(declare, tier):
    _, declared = _declared(declare, tier)
    [group] = declared.of_type(SECURITY_GROUP)
    assert "ingress" not in group.inputs, "rules are separate resources"
    assert "egress" not in group.inputs, "rules are separate resources"
    assert group.inputs["vpcId"] == VPC_ID
    [rule] = declared.of_type(INGRESS)
    assert rule.inputs["referencedSecurityGroupId"] == RUNTIME_SG
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == (
        "tcp",
        5432,
        5432,
    )
    for key in ("cidrIpv4", "cidrIpv6", "prefixListId"):
        assert key not in rule.inputs, f"{rule.urn} opens {key}"
    assert rule.inputs["description"]
    assert declared.of_type(EGRESS) == [], "the database opens no connections"
    instance = _instance(declared).inputs
    assert instance["vpcSecurityGroupIds"] == [rule.inputs["securityGroupId"]]
    subnets = declared.one("aws:rds/subnetGroup:SubnetGroup", "database-subnets")
    assert subnets.inputs["subnetIds"] == SUBNET_IDS
    assert instance["dbSubnetGroupName"] == "database-subnets"


@pytest.mark.parametrize("tier", TIERS)
def test_database_exports_logs_to_retained_groups_and_has_performance_insights(declare, tier):
    settings, declared = _declared(declare, tier)
    instance = _instance(declared)
    inputs = instance.inputs
    assert inputs["performanceInsightsEnabled"] is True
    assert inputs["performanceInsightsRetentionPeriod"] == 7
    assert inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    identifier = instance_identifier(settings.stack)
    groups = {g.inputs["name"]: g for g in declared.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert set(groups) == {
        f"/aws/rds/instance/{identifier}/postgresql",
        f"/aws/rds/instance/{identifier}/upgrade",
    }
    for group in groups.values():
        assert group.inputs["retentionInDays"] == settings.config.database.log_retention_days
        assert group.urn in instance.dependencies, "RDS must find the group, not create it"
        assert ("kmsKeyId" in group.inputs) is (tier is Tier.PROD), group.urn


@pytest.mark.parametrize("tier", TIERS)
def test_database_enhanced_monitoring_uses_a_role_trusted_by_rds_monitoring(declare, tier):
    settings, declared = _declared(declare, tier)
    instance = _instance(declared)
    role = declared.one("aws:iam/role:Role", "database-monitoring-role")
    assert "managedPolicyArns" not in role.inputs, "attached by its own resource"
    trust = json.loads(role.inputs["assumeRolePolicy"])
    [assume] = trust["Statement"]
    assert assume["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert assume["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
    attachment = declared.one(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "database-monitoring-policy"
    )
    assert attachment.inputs["role"] == "database-monitoring-role"
    assert attachment.inputs["policyArn"] == (
        "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
    )
    assert instance.inputs["monitoringInterval"] == (
        settings.config.database.monitoring_interval_seconds
    )
    assert instance.inputs["monitoringRoleArn"] == (
        "arn:aws:iam::123456789012:role/database-monitoring-role"
    )
    assert attachment.urn in instance.dependencies


@pytest.mark.parametrize("tier", TIERS)
def test_database_identifier_is_stable_and_tagged_when_tier_defaults(declare, tier):
    settings, declared = _declared(declare, tier)
    inputs = _instance(declared).inputs
    assert inputs["identifier"] == f"airflow-{settings.stack}-metadata"
    assert inputs["tags"]["stack"] == settings.stack
    assert ("expires-at" in inputs["tags"]) is (tier is Tier.EPHEMERAL)


def test_database_identifier_refuses_names_rds_would_refuse():
    assert instance_identifier("prod") == "airflow-prod-metadata"
    with pytest.raises(ValueError, match="invalid RDS identifier"):
        instance_identifier("x" * 60)
    with pytest.raises(ValueError, match="invalid RDS identifier"):
        instance_identifier("a--b")


def test_database_replicates_backups_through_the_replica_provider_when_given(declare):
    settings = settings_for(Tier.PROD, backup={"replicaRegion": "eu-central-1"})
    declared = declare(_database(settings, KEY_ARN, replica_region="eu-central-1"), "prod")
    [replication] = declared.of_type(REPLICATION)
    assert replication.inputs["sourceDbInstanceArn"] == (
        "arn:aws:rds:eu-west-1:123456789012:db:airflow-prod-metadata"
    )
    assert replication.inputs["kmsKeyId"] == REPLICA_KEY_ARN
    assert replication.inputs["retentionPeriod"] == 35


@pytest.mark.parametrize("tier", TIERS)
def test_database_has_no_backup_replication_when_no_replica_provider(declare, tier):
    _, declared = _declared(declare, tier)
    assert declared.of_type(REPLICATION) == []


@pytest.mark.parametrize("tier", [Tier.DEV, Tier.STAGING, Tier.EPHEMERAL])
def test_database_replica_region_is_refused_when_tier_is_not_prod(tier):
    with pytest.raises(ConfigError, match="cross-region backup copies are for prod only"):
        settings_for(tier, backup={"replicaRegion": "eu-central-1"})


def test_database_refuses_a_replica_provider_without_a_replica_key(declare):
    settings = settings_for(Tier.PROD)

    def build():
        MetadataDatabase(
            "database",
            _args(settings, replica_provider=aws.Provider("replica", region="eu-central-1")),
        )

    with pytest.raises(ValueError, match="replica_kms_key_arn"):
        declare(build, "prod")


# The program as `pulumi up` runs it: what the stack config switches on and off.


def _program(project, stack, **config):
    values = {"aws:region": REGION, **{f"airflow-platform:{k}": v for k, v in config.items()}}
    return run_program(project, stack, StackConfig(values=with_slack(values), secret_keys=[]))


def test_database_program_declares_no_rds_resources_when_disabled_on_mwaa(project):
    run = _program(project, "dev", tier="dev", platform="mwaa", database={"enabled": False})
    assert not [r.urn for r in run.resources if r.type.startswith("aws:rds/")]
    assert not [r.urn for r in run.resources if r.name.startswith("database")]
    assert "databaseEndpoint" not in run.outputs
    assert "runtimeSecurityGroupId" in run.outputs, "the runtime group does not depend on it"


def test_database_program_wires_runtime_group_and_exports_endpoint_when_enabled(project):
    run = _program(project, "dev", tier="dev", platform="mwaa")
    [rule] = [
        r
        for r in run.resources
        if r.type == INGRESS
        and r.inputs["securityGroupId"] == run.outputs["databaseSecurityGroupId"]
    ]
    assert rule.inputs["referencedSecurityGroupId"] == run.outputs["runtimeSecurityGroupId"]
    assert run.outputs["databaseEndpoint"].startswith("airflow-dev-metadata.")
    assert run.outputs["databaseEndpoint"].endswith(f".{REGION}.rds.amazonaws.com:5432")
    assert run.outputs["databaseSecretArn"].startswith(
        f"arn:aws:secretsmanager:{REGION}:123456789012:secret:rds!"
    )
    assert run.outputs["databaseSecurityGroupId"] == rule.inputs["securityGroupId"]
    assert [r.type for r in run.resources].count("pulumi:providers:aws") == 0


def test_database_program_replicates_backups_to_the_replica_region_when_configured(project):
    run = _program(
        project, "prod", tier="prod", platform="eks", backup={"replicaRegion": "eu-central-1"}
    )
    [provider] = [r for r in run.resources if r.type == "pulumi:providers:aws"]
    assert provider.inputs["region"] == "eu-central-1"
    [replication] = [r for r in run.resources if r.type == REPLICATION]
    replica_keys = [r for r in run.resources if r.type == "aws:kms/key:Key" and "replica" in r.urn]
    assert len(replica_keys) == 1
    assert replica_keys[0].protect is True, "prod protects its keys"
    assert replication.inputs["kmsKeyId"].startswith("arn:aws:kms:eu-central-1:"), (
        "the copies are encrypted with a key of the destination region"
    )


def test_database_program_has_no_replica_region_resources_when_not_configured(project):
    run = _program(project, "prod", tier="prod", platform="eks")
    assert not [r.urn for r in run.resources if r.type in (REPLICATION, "pulumi:providers:aws")]


def test_database_outputs_are_registered_once_with_the_real_values(declare):
    settings = settings_for(Tier.DEV)

    def build():
        database = MetadataDatabase(
            "database",
            MetadataDatabaseArgs(
                stack=settings.stack,
                aws=AwsContext.current(REGION),
                config=settings.config.database,
                backup=settings.config.backup,
                teardown=settings.teardown,
                vpc_id=VPC_ID,
                subnet_ids=SUBNET_IDS,
                client_security_group_id=RUNTIME_SG,
                tags=stack_tags(settings),
            ),
        )
        pulumi.export("port", database.port)
        pulumi.export("address", database.address)
        pulumi.export("arn", database.arn)

    declared = declare(build, "dev")
    assert declared.run.outputs["port"] == 5432
    assert declared.run.outputs["address"].startswith("airflow-dev-metadata.")
    assert declared.run.outputs["arn"] == (
        "arn:aws:rds:eu-west-1:123456789012:db:airflow-dev-metadata"
    )
