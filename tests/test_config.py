"""Stack config: tier defaults, and every rule refusing a bad value with the key named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_platform.config import ConfigError, Tier, settings_from_values
from airflow_platform.config.tiers import TEARDOWN
from tests.conftest import with_slack

BASE = {"aws:region": "eu-west-1", "airflow-platform:tier": "dev"}


def _refused(values: dict, stack: str = "dev") -> str:
    with pytest.raises(ConfigError) as caught:
        settings_from_values("airflow-platform", stack, values)
    return str(caught.value)


@pytest.mark.parametrize(
    ("override", "named", "allowed"),
    [
        ({"airflow-platform:tier": "prdo"}, "airflow-platform:tier = 'prdo'", "ephemeral"),
        ({"airflow-platform:platform": "ecs"}, "airflow-platform:platform = 'ecs'", "'mwaa'"),
        ({"airflow-platform:tierr": "dev"}, "airflow-platform:tierr is not a known key", "tier?"),
        (
            {"airflow-platform:network": {"azCuont": 3}},
            "airflow-platform:network.azCuont is not a known key",
            "did you mean azCount",
        ),
        ({"airflow-platform:network": {"azCount": 7}}, "airflow-platform:network.azCount = 7", "6"),
        ({"airflow-platform:network": {"azCount": 1}}, "airflow-platform:network.azCount = 1", "2"),
        (
            {"airflow-platform:network": {"vpcCidr": "10.0.0.0/24"}},
            "airflow-platform:network.vpcCidr = '10.0.0.0/24'",
            "/16 to /20",
        ),
        (
            {"airflow-platform:network": {"vpcCidr": "8.8.0.0/16"}},
            "airflow-platform:network.vpcCidr = '8.8.0.0/16'",
            "private",
        ),
        (
            {"airflow-platform:network": {"flowLogRetentionDays": 100}},
            "airflow-platform:network.flowLogRetentionDays = 100",
            "365",
        ),
        (
            {
                "airflow-platform:network": {
                    "vpcCidr": "10.1.0.0/16",
                    "existingVpc": {
                        "vpcId": "vpc-0123456789abcdef0",
                        "privateSubnetIds": [
                            "subnet-0123456789abcdef0",
                            "subnet-0123456789abcdef1",
                        ],
                    },
                }
            },
            "airflow-platform:network sets existingVpc together with vpcCidr",
            "not both",
        ),
        (
            {
                "airflow-platform:network": {
                    "existingVpc": {
                        "vpcId": "vpc-xyz",
                        "privateSubnetIds": [
                            "subnet-0123456789abcdef0",
                            "subnet-0123456789abcdef1",
                        ],
                    }
                }
            },
            "airflow-platform:network.existingVpc.vpcId = 'vpc-xyz'",
            "vpc-0123456789abcdef0",
        ),
        (
            {
                "airflow-platform:network": {
                    "existingVpc": {
                        "vpcId": "vpc-0123456789abcdef0",
                        "privateSubnetIds": ["subnet-0123456789abcdef0"],
                    }
                }
            },
            "airflow-platform:network.existingVpc.privateSubnetIds",
            "at least 2",
        ),
        (
            {"airflow-platform:storage": {"logArchive": {"transitionToIaDays": 10}}},
            "airflow-platform:storage.logArchive.transitionToIaDays = 10",
            "30",
        ),
        (
            {"airflow-platform:storage": {"logArchive": {"transitionToGlacierDays": 45}}},
            "airflow-platform:storage.logArchive: transitionToGlacierDays (45)",
            "30 days after",
        ),
        (
            {"airflow-platform:storage": {"logArchive": {"expireDays": 90}}},
            "airflow-platform:storage.logArchive: expireDays (90)",
            "after transitionToGlacierDays",
        ),
        (
            {"airflow-platform:storage": {"logArchive": {"glacierClass": "TAPE"}}},
            "airflow-platform:storage.logArchive.glacierClass = 'TAPE'",
            "GLACIER_IR",
        ),
        (
            {"airflow-platform:storage": {"logArchive": {"abortIncompleteUploadDays": 0}}},
            "airflow-platform:storage.logArchive.abortIncompleteUploadDays = 0",
            "1",
        ),
        (
            {"airflow-platform:backup": {"retentionDays": 36}},
            "airflow-platform:backup.retentionDays = 36",
            "35",
        ),
        (
            {"airflow-platform:ephemeral": {"ttlHours": 0}},
            "airflow-platform:ephemeral.ttlHours = 0",
            "1",
        ),
        (
            {"airflow-platform:ephemeral": {"expiresAt": "2026-12-01T00:00:00"}},
            "airflow-platform:ephemeral.expiresAt",
            "zone",
        ),
        (
            {"airflow-platform:tags": {"owner": "me"}},
            "airflow-platform:tags",
            "set by the platform",
        ),
        (
            {"airflow-platform:tags": {"aws:x": "y"}},
            "airflow-platform:tags",
            "not a valid AWS tag key",
        ),
        ({"airflow-platform:owner": "a" * 300}, "airflow-platform:owner", "1-256"),
        ({"aws:region": "mars-1"}, "aws:region = 'mars-1'", "eu-west-1"),
        (
            {"airflow-platform:database": {"engineVersion": "12"}},
            "airflow-platform:database.engineVersion = '12'",
            "13 to 17",
        ),
        (
            {"airflow-platform:database": {"engineVersion": "sixteen"}},
            "airflow-platform:database.engineVersion = 'sixteen'",
            "13 to 17",
        ),
        (
            {"airflow-platform:database": {"instanceClass": "m7g.large"}},
            "airflow-platform:database.instanceClass = 'm7g.large'",
            "db.t4g.micro",
        ),
        (
            {"airflow-platform:database": {"instanceClas": "db.t4g.small"}},
            "airflow-platform:database.instanceClas is not a known key",
            "did you mean instanceClass",
        ),
        (
            {"airflow-platform:database": {"allocatedStorageGb": 10}},
            "airflow-platform:database.allocatedStorageGb = 10",
            "20",
        ),
        (
            {
                "airflow-platform:database": {
                    "allocatedStorageGb": 100,
                    "maxAllocatedStorageGb": 105,
                }
            },
            "airflow-platform:database: maxAllocatedStorageGb (105)",
            "10% above allocatedStorageGb (100)",
        ),
        (
            {"airflow-platform:database": {"performanceInsightsRetentionDays": 30}},
            "airflow-platform:database.performanceInsightsRetentionDays = 30",
            "731",
        ),
        (
            {"airflow-platform:database": {"monitoringIntervalSeconds": 0}},
            "airflow-platform:database.monitoringIntervalSeconds = 0",
            "1, 5, 10, 15, 30, 60",
        ),
        (
            {"airflow-platform:database": {"logRetentionDays": 100}},
            "airflow-platform:database.logRetentionDays = 100",
            "365",
        ),
        (
            {"airflow-platform:database": {"slowStatementMs": -1}},
            "airflow-platform:database.slowStatementMs = -1",
            "0",
        ),
        (
            {"airflow-platform:database": {"backupWindow": "2:00-3:00"}},
            "airflow-platform:database.backupWindow = '2:00-3:00'",
            "hh:mm-hh:mm",
        ),
        (
            {"airflow-platform:database": {"backupWindow": "02:00-02:15"}},
            "airflow-platform:database.backupWindow = '02:00-02:15'",
            "at least 30",
        ),
        (
            {"airflow-platform:database": {"maintenanceWindow": "sunday:04:00-sunday:05:00"}},
            "airflow-platform:database.maintenanceWindow = 'sunday:04:00-sunday:05:00'",
            "ddd:hh:mm-ddd:hh:mm",
        ),
        (
            {"airflow-platform:database": {"backupWindow": "04:30-05:30"}},
            "airflow-platform:database: backupWindow (04:30-05:30) overlaps maintenanceWindow",
            "sun:04:00-sun:05:00",
        ),
        (
            {"airflow-platform:platform": "eks", "airflow-platform:database": {"enabled": False}},
            "airflow-platform:database.enabled = False is not allowed on platform eks",
            "only mwaa",
        ),
        (
            {"airflow-platform:backup": {"replicaRegion": "eu-central-1"}},
            "airflow-platform:backup.replicaRegion = 'eu-central-1' is not allowed on tier dev",
            "prod only",
        ),
        (
            {"airflow-platform:backup": {"replicaRegion": "mars"}},
            "airflow-platform:backup.replicaRegion = 'mars'",
            "eu-west-1",
        ),
    ],
    ids=lambda value: str(value)[:60] if isinstance(value, str) else None,
)
def test_config_rejects_bad_value_naming_key_and_allowed(override, named, allowed):
    message = _refused({**BASE, **override})
    assert named in message
    assert allowed in message


def test_config_requires_tier_on_named_stacks():
    assert "airflow-platform:tier is required" in _refused({"aws:region": "eu-west-1"})


def test_config_requires_region():
    assert "aws:region is required" in _refused({"airflow-platform:tier": "dev"})


def test_config_refuses_non_ephemeral_tier_on_pr_stacks():
    message = _refused({**BASE, "airflow-platform:tier": "prod"}, stack="pr-3")
    assert "airflow-platform:tier = 'prod'" in message
    assert "always ephemeral" in message


def test_config_refuses_stack_names_too_long_for_bucket_names():
    message = _refused(BASE, stack="a-very-long-stack-name-indeed")
    assert "too long for bucket names" in message


def test_config_prod_keeps_logs_at_least_a_year_whatever_the_stack_file_says():
    values = {
        **BASE,
        "airflow-platform:tier": "prod",
        "airflow-platform:storage": {"logArchive": {"expireDays": 200}},
    }
    message = _refused(values, stack="prod")
    assert "airflow-platform:storage.logArchive.expireDays = 200" in message
    assert "365" in message


PROD = with_slack({**BASE, "airflow-platform:tier": "prod"})


@pytest.mark.parametrize(
    ("override", "named", "allowed"),
    [
        (
            {"airflow-platform:backup": {"replicaRegion": "eu-west-1"}},
            "airflow-platform:backup.replicaRegion = 'eu-west-1'",
            "stack's own aws:region",
        ),
        (
            {"airflow-platform:backup": {"retentionDays": 7}},
            "airflow-platform:backup.retentionDays = 7",
            "at least 14 days",
        ),
        (
            {"airflow-platform:database": {"multiAz": False}},
            "airflow-platform:database.multiAz = False",
            "standby in a second AZ",
        ),
        (
            {
                "airflow-platform:platform": "mwaa",
                "airflow-platform:database": {"enabled": False},
                "airflow-platform:backup": {"replicaRegion": "eu-central-1"},
            },
            "airflow-platform:backup.replicaRegion = 'eu-central-1'",
            "database.enabled = False",
        ),
    ],
    ids=lambda value: str(value)[:60] if isinstance(value, str) else None,
)
def test_config_prod_rejects_unsafe_database_settings_naming_key_and_allowed(
    override, named, allowed
):
    message = _refused({**PROD, **override}, stack="prod")
    assert named in message
    assert allowed in message


def test_config_prod_accepts_a_replica_region_other_than_its_own():
    values = {**PROD, "airflow-platform:backup": {"replicaRegion": "eu-central-1"}}
    settings = settings_from_values("airflow-platform", "prod", values)
    assert settings.config.backup.replica_region == "eu-central-1"


def test_config_mwaa_stack_may_turn_the_database_off():
    values = {**BASE, "airflow-platform:database": {"enabled": False}}
    assert settings_from_values("airflow-platform", "dev", values).config.database.enabled is False


def test_config_refuses_stack_names_rds_identifiers_cannot_hold():
    assert "two hyphens in a row" in _refused(BASE, stack="team--dev")


@pytest.mark.parametrize(
    ("tier", "instance_class", "multi_az"),
    [
        (Tier.EPHEMERAL, "db.t4g.micro", False),
        (Tier.DEV, "db.t4g.micro", False),
        (Tier.STAGING, "db.t4g.medium", False),
        (Tier.PROD, "db.m7g.large", True),
    ],
)
def test_config_tier_sizes_the_database_when_stack_file_states_nothing(
    tier, instance_class, multi_az
):
    stack = "pr-1" if tier is Tier.EPHEMERAL else "s"
    values = {"aws:region": "eu-west-1"}
    if tier is not Tier.EPHEMERAL:
        values["airflow-platform:tier"] = tier.value
    database = settings_from_values("airflow-platform", stack, with_slack(values)).config.database
    assert database.enabled is True
    assert database.engine_version == "16"
    assert database.instance_class == instance_class
    assert database.multi_az is multi_az
    assert database.max_allocated_storage_gb * 10 >= database.allocated_storage_gb * 11


def test_config_reports_every_problem_in_one_message():
    message = _refused({**BASE, "airflow-platform:netwrok": {}, "airflow-platform:platform": "x"})
    assert "netwrok" in message
    assert "platform = 'x'" in message


@pytest.mark.parametrize("tier", list(Tier))
def test_config_tier_supplies_defaults_when_stack_file_states_only_tier(tier):
    stack = "pr-1" if tier is Tier.EPHEMERAL else "s"
    values = {"aws:region": "eu-west-1"}
    if tier is not Tier.EPHEMERAL:
        values["airflow-platform:tier"] = tier.value
    settings = settings_from_values("airflow-platform", stack, with_slack(values))
    assert settings.tier is tier
    assert (
        settings.config.backup.retention_days
        == {"ephemeral": 1, "dev": 7, "staging": 14, "prod": 35}[tier.value]
    )
    assert settings.config.storage.log_archive.abort_incomplete_upload_days == 7
    if tier is Tier.PROD:
        assert settings.config.storage.log_archive.expire_days >= 365
        assert settings.config.network.nat_gateway_per_az
        assert settings.config.network.flow_logs


def test_config_stack_value_overrides_only_the_key_it_states():
    values = {**BASE, "airflow-platform:network": {"azCount": 3}}
    network = settings_from_values("airflow-platform", "dev", values).config.network
    assert network.az_count == 3
    assert network.nat_gateway_per_az is False  # still the dev default


def test_config_pr_stack_is_ephemeral_and_expires_after_ttl():
    now = datetime(2026, 11, 25, 9, 41, tzinfo=UTC)
    settings = settings_from_values("airflow-platform", "pr-42", {"aws:region": "eu-west-1"}, now)
    assert settings.tier is Tier.EPHEMERAL
    assert settings.expires_at == datetime(2026, 11, 25, 9, tzinfo=UTC) + timedelta(hours=72)
    custom = settings_from_values(
        "airflow-platform",
        "pr-42",
        {"aws:region": "eu-west-1", "airflow-platform:ephemeral": {"ttlHours": 8}},
        now,
    )
    assert custom.expires_at == datetime(2026, 11, 25, 17, tzinfo=UTC)


def test_config_long_lived_tiers_never_expire():
    assert settings_from_values("airflow-platform", "dev", BASE).expires_at is None


def test_config_only_ephemeral_tier_force_destroys_and_only_prod_protects():
    assert [t for t, d in TEARDOWN.items() if d.force_destroy] == [Tier.EPHEMERAL]
    assert [t for t, d in TEARDOWN.items() if d.protect_data] == [Tier.PROD]
