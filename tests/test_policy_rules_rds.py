"""RDS policy rules (policy/platform_rules/rds.py) over the database the platform really
declares: each rule passes on it and reports, with the instance's URN, a copy changed to break
it."""

from __future__ import annotations

import functools

import pytest
from platform_rules import Level, Resource, Stack, Tier, evaluate

from airflow_platform.plan.project import Project, StackConfig, read_stack_config
from airflow_platform.plan.runner import run_program
from tests.conftest import ROOT
from tests.test_policy_rules_iam import (
    as_stack,
    changed,
    module_rules,
    one,
    program_stack,
    rule,
    swapped,
    violating_urns,
    violations,
)

INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/0e6a5f39-3bd7-4c5b-9d2e-1234567890ab"


def _prod() -> Stack:
    return program_stack("prod")


def _instance(stack: Stack) -> Resource:
    return one(stack, INSTANCE, "database-instance")


def _broken(name: str, stack: Stack, **props) -> list[tuple[str, str]]:
    """`name`'s violations once the instance's inputs are changed by `props`."""
    return violations(name, swapped(stack, changed(_instance(stack), **props)))


@functools.cache
def _prod_with_replica() -> Stack:
    """Prod with its automated backups copied to a second region (backup.replicaRegion)."""
    project = Project.load(ROOT)
    config = read_stack_config(project, "prod")
    values = {**config.values, "airflow-platform:backup": {"replicaRegion": "eu-central-1"}}
    return as_stack(
        run_program(project, "prod", StackConfig(values, config.secret_keys)), Tier.PROD
    )


# --- the database as declared ----------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "pr-7"])
def test_the_declared_database_blocks_nothing(stack):
    found = evaluate(module_rules("rds"), program_stack(stack))
    assert [f for f in found if f.blocking] == []


def test_prod_database_is_only_advised_to_copy_its_backups_to_a_second_region():
    found = evaluate(module_rules("rds"), _prod())
    assert [(f.rule, f.level, f.urn) for f in found] == [
        ("rds-cross-region-backups", Level.ADVISORY, _instance(_prod()).urn)
    ]


def test_prod_with_a_replica_region_passes_every_rds_rule():
    assert evaluate(module_rules("rds"), _prod_with_replica()) == []


def test_ephemeral_one_day_backups_are_advised_against_not_refused():
    [finding] = [f for f in evaluate(module_rules("rds"), program_stack("pr-7"))]
    assert (finding.rule, finding.level) == ("rds-backup-retention", Level.ADVISORY)
    assert "1 day:" in finding.message


# --- each rule, broken ------------------------------------------------------------------------

CASES = [
    ("rds-storage-encrypted", {"storageEncrypted": False}, "unencrypted storage"),
    ("rds-storage-encrypted", {"kmsKeyId": None}, "AWS managed key"),
    ("rds-not-public", {"publiclyAccessible": True}, "publicly accessible"),
    ("rds-backup-retention", {"backupRetentionPeriod": 1}, "1 day"),
    ("rds-backup-retention", {"backupRetentionPeriod": 7}, "at least 14"),
    ("rds-backup-retention", {"backupRetentionPeriod": None}, "default"),
    ("rds-multi-az", {"multiAz": False}, "standby"),
    ("rds-deletion-protection", {"deletionProtection": False}, "deletion_protection"),
    ("rds-final-snapshot", {"skipFinalSnapshot": True}, "final snapshot"),
    ("rds-final-snapshot", {"finalSnapshotIdentifier": None}, "final snapshot"),
    ("rds-retain-automated-backups", {"deleteAutomatedBackups": True}, "automated backups"),
    ("rds-retain-automated-backups", {"deleteAutomatedBackups": None}, "automated backups"),
    ("rds-copy-tags-to-snapshot", {"copyTagsToSnapshot": False}, "tags"),
    ("rds-auto-minor-version-upgrade", {"autoMinorVersionUpgrade": False}, "minor"),
    ("rds-log-exports", {"enabledCloudwatchLogsExports": ["upgrade"]}, "postgresql"),
    ("rds-enhanced-monitoring", {"monitoringInterval": 0}, "Enhanced Monitoring"),
    ("rds-enhanced-monitoring", {"monitoringRoleArn": None}, "Enhanced Monitoring"),
    ("rds-performance-insights", {"performanceInsightsEnabled": False}, "Performance"),
    ("rds-performance-insights", {"performanceInsightsKmsKeyId": None}, "AWS managed key"),
    ("rds-iam-authentication", {"iamDatabaseAuthenticationEnabled": False}, "IAM"),
    ("rds-managed-master-password", {"password": "[secret]"}, "master password (password)"),
    ("rds-managed-master-password", {"manageMasterUserPassword": False}, "manage"),
]


@pytest.mark.parametrize(
    ("name", "props", "complaint"), CASES, ids=[f"{c[0]}-{next(iter(c[1]))}" for c in CASES]
)
def test_instance_breaking_a_rule_is_reported_with_its_urn(name, props, complaint):
    stack = _prod()
    assert violations(name, stack) == []
    found = _broken(name, stack, **props)
    assert [urn for urn, _ in found] == [_instance(stack).urn]
    assert complaint in found[0][1]


def test_aws_managed_keys_are_enough_outside_prod():
    staging = program_stack("staging")
    assert "kmsKeyId" not in _instance(staging).props
    assert violations("rds-storage-encrypted", staging) == []
    assert violations("rds-performance-insights", staging) == []


def test_protections_that_would_stop_a_teardown_apply_to_prod_only():
    for name in ("rds-multi-az", "rds-deletion-protection", "rds-retain-automated-backups"):
        levels = rule(name).levels
        assert levels[Tier.PROD] is Level.MANDATORY, name
        assert {levels[t] for t in (Tier.DEV, Tier.STAGING, Tier.EPHEMERAL)} == {Level.DISABLED}
    assert rule("rds-final-snapshot").level(Tier.EPHEMERAL) is Level.DISABLED


# --- the parameter group ----------------------------------------------------------------------


def _parameter_group(stack: Stack) -> Resource:
    return one(stack, PARAMETER_GROUP, "database-params")


@pytest.mark.parametrize(
    ("name", "parameter", "value"),
    [
        ("rds-force-ssl", "rds.force_ssl", "0"),
        ("rds-slow-statement-log", "log_min_duration_statement", "-1"),
    ],
)
def test_parameter_group_without_the_setting_is_reported_on_the_instance(name, parameter, value):
    stack = _prod()
    group = _parameter_group(stack)
    assert {p["name"]: p["value"] for p in group.props["parameters"]}[parameter] != value
    parameters = [
        {**p, "value": value} if p["name"] == parameter else p for p in group.props["parameters"]
    ]
    found = violations(name, swapped(stack, changed(group, parameters=parameters)))
    assert [urn for urn, _ in found] == [_instance(stack).urn]
    assert f"{parameter} = {value}" in found[0][1]


def test_instance_on_a_parameter_group_the_stack_does_not_declare_is_reported():
    stack = _prod()
    found = _broken("rds-force-ssl", stack, parameterGroupName="default.postgres16")
    assert [urn for urn, _ in found] == [_instance(stack).urn]
    assert "does not declare" in found[0][1]


# --- rds-cross-region-backups -----------------------------------------------------------------


def test_backup_replication_names_the_prod_instance():
    stack = _prod_with_replica()
    [replication] = stack.of_type(
        "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
    )
    assert replication.props["sourceDbInstanceArn"].endswith(":db:airflow-prod-metadata")
    assert violating_urns("rds-cross-region-backups", swapped(stack, drop=[replication])) == {
        _instance(stack).urn
    }
