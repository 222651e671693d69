"""The `eks` section: tier defaults, and every rule refusing a bad value with the key named."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from airflow_platform.config import ConfigError, Tier, settings_from_values
from airflow_platform.config.eks import CapacityType, EksConfig
from tests.conftest import REGION, TIER_STACKS, with_slack

NS = "airflow-platform"
ADMIN = "arn:aws:iam::123456789012:role/platform-admins"
DEPLOYER = "arn:aws:iam::123456789012:role/ci/airflow-deployer"


def _values(tier: Tier, **config) -> dict:
    values = {"aws:region": REGION, **{f"{NS}:{k}": v for k, v in config.items()}}
    if tier is not Tier.EPHEMERAL:
        values[f"{NS}:tier"] = tier.value
    return with_slack(values)


def _eks(tier: Tier, **config) -> EksConfig:
    return settings_from_values(NS, TIER_STACKS[tier], _values(tier, **config)).config.eks


def _refused(tier: Tier, **config) -> str:
    with pytest.raises(ConfigError) as caught:
        settings_from_values(NS, TIER_STACKS[tier], _values(tier, **config))
    return str(caught.value)


@pytest.mark.parametrize(
    ("tier", "capacity", "retention"),
    [
        (Tier.EPHEMERAL, ["spot", "on-demand"], 7),
        (Tier.DEV, ["spot", "on-demand"], 30),
        (Tier.STAGING, ["spot", "on-demand"], 30),
        (Tier.PROD, ["on-demand"], 365),
    ],
)
def test_tier_defaults_keep_the_endpoint_private_and_size_capacity_and_retention(
    tier, capacity, retention
):
    eks = _eks(tier)
    assert eks.public_access_cidrs == []
    assert eks.admin_role_arns == []
    assert eks.deployer_role_arn is None
    assert [c.value for c in eks.task_capacity_types] == capacity
    assert eks.log_retention_days == retention


@pytest.mark.parametrize("tier", list(Tier))
def test_the_whole_internet_is_refused_on_every_tier_naming_the_key(tier):
    message = _refused(tier, eks={"publicAccessCidrs": ["0.0.0.0/0"]})
    assert f"{NS}:eks.publicAccessCidrs.0 = '0.0.0.0/0' is not allowed" in message
    assert "whole internet" in message


@pytest.mark.parametrize(
    ("eks", "named", "allowed"),
    [
        (
            {"publicAccessCidrs": ["203.0.113.300/24"]},
            f"{NS}:eks.publicAccessCidrs.0 = '203.0.113.300/24'",
            "IPv4 CIDR such as",
        ),
        (
            {"publicAccessCidrs": ["2001:db8::/32"]},
            f"{NS}:eks.publicAccessCidrs.0 = '2001:db8::/32'",
            "IPv4 CIDR",
        ),
        (
            {"publicAccessCidrs": ["203.0.113.7/24"]},
            f"{NS}:eks.publicAccessCidrs.0 = '203.0.113.7/24'",
            "203.0.113.0/24",
        ),
        (
            {"publicAccessCidrs": ["198.51.100.0/24", "198.51.100.0/24"]},
            f"{NS}:eks.publicAccessCidrs",
            "more than once",
        ),
        (
            {"adminRoleArns": ["arn:aws:iam::1234:role/admins"]},
            f"{NS}:eks.adminRoleArns.0 = 'arn:aws:iam::1234:role/admins'",
            "an IAM role ARN such as",
        ),
        (
            {"adminRoleArns": ["arn:aws:iam::123456789012:user/alice"]},
            f"{NS}:eks.adminRoleArns.0 = 'arn:aws:iam::123456789012:user/alice'",
            "an IAM role ARN",
        ),
        (
            {"adminRoleArns": ["arn:aws:sts::123456789012:assumed-role/admins/me"]},
            f"{NS}:eks.adminRoleArns.0",
            "an IAM role ARN",
        ),
        (
            {"adminRoleArns": [ADMIN, ADMIN]},
            f"{NS}:eks.adminRoleArns",
            "more than once",
        ),
        (
            {"deployerRoleArn": "airflow-deployer"},
            f"{NS}:eks.deployerRoleArn = 'airflow-deployer'",
            "arn:aws:iam::123456789012:role/",
        ),
        (
            {"deployerRoleArn": DEPLOYER, "adminRoleArns": [DEPLOYER]},
            f"{NS}:eks: deployerRoleArn ({DEPLOYER}) is also in adminRoleArns",
            "list it once",
        ),
        (
            {"taskCapacityTypes": ["reserved"]},
            f"{NS}:eks.taskCapacityTypes.0 = 'reserved'",
            "'spot' or 'on-demand'",
        ),
        (
            {"taskCapacityTypes": []},
            f"{NS}:eks.taskCapacityTypes = []",
            "at least 1",
        ),
        (
            {"taskCapacityTypes": ["spot", "spot"]},
            f"{NS}:eks.taskCapacityTypes",
            "more than once",
        ),
        (
            {"logRetentionDays": 100},
            f"{NS}:eks.logRetentionDays = 100",
            "365",
        ),
        (
            {"adminRoleArn": [ADMIN]},
            f"{NS}:eks.adminRoleArn is not a known key",
            "did you mean adminRoleArns",
        ),
    ],
    ids=lambda value: str(value)[:60] if isinstance(value, str) else None,
)
def test_bad_values_are_refused_naming_key_and_allowed(eks, named, allowed):
    message = _refused(Tier.DEV, eks=eks)
    assert named in message
    assert allowed in message


@pytest.mark.parametrize(
    ("eks", "named", "reason"),
    [
        (
            {"publicAccessCidrs": ["198.51.100.0/24"]},
            f"{NS}:eks.publicAccessCidrs = ['198.51.100.0/24'] is not allowed",
            "private only",
        ),
        (
            {"taskCapacityTypes": ["spot", "on-demand"]},
            f"{NS}:eks.taskCapacityTypes = ['spot', 'on-demand'] is not allowed",
            "on-demand capacity only",
        ),
        (
            {"taskCapacityTypes": ["spot"]},
            f"{NS}:eks.taskCapacityTypes = ['spot'] is not allowed",
            "on-demand capacity only",
        ),
        (
            {"logRetentionDays": 180},
            f"{NS}:eks.logRetentionDays = 180 is not allowed",
            "at least 365",
        ),
    ],
    ids=["public endpoint", "spot and on-demand", "spot only", "short log retention"],
)
def test_prod_refuses_a_public_endpoint_spot_tasks_and_short_logs(eks, named, reason):
    message = _refused(Tier.PROD, eks=eks)
    assert named in message
    assert reason in message


def test_prod_reports_every_eks_floor_and_a_bad_arn_in_one_message():
    message = _refused(
        Tier.PROD,
        eks={
            "publicAccessCidrs": ["198.51.100.0/24"],
            "taskCapacityTypes": ["spot"],
            "logRetentionDays": 30,
            "deployerRoleArn": "not-an-arn",
        },
    )
    for key in ("publicAccessCidrs", "taskCapacityTypes", "logRetentionDays", "deployerRoleArn"):
        assert f"{NS}:eks.{key}" in message, key


@pytest.mark.parametrize("tier", [Tier.EPHEMERAL, Tier.DEV, Tier.STAGING])
def test_other_tiers_may_open_the_public_endpoint_to_listed_networks_and_use_spot(tier):
    cidrs = ["198.51.100.0/24", "203.0.113.10"]
    eks = _eks(tier, eks={"publicAccessCidrs": cidrs, "taskCapacityTypes": ["spot"]})
    # A bare address is its /32.
    assert eks.public_access_cidrs == ["198.51.100.0/24", "203.0.113.10/32"]
    assert eks.task_capacity_types == [CapacityType.SPOT]


def test_prod_accepts_admins_a_deployer_and_on_demand_tasks():
    admins = [ADMIN, "arn:aws-us-gov:iam::210987654321:role/team/sub/eks-admins"]
    eks = _eks(Tier.PROD, eks={"adminRoleArns": admins, "deployerRoleArn": DEPLOYER})
    assert eks.admin_role_arns == admins
    assert eks.deployer_role_arn == DEPLOYER
    assert eks.task_capacity_types == [CapacityType.ON_DEMAND]


def test_flat_keys_as_pulumi_config_set_writes_them():
    eks = _eks(
        Tier.STAGING,
        **{
            "eks.publicAccessCidrs": '["198.51.100.0/24"]',
            "eks.adminRoleArns": f'["{ADMIN}"]',
            "eks.deployerRoleArn": DEPLOYER,
            "eks.logRetentionDays": "90",
        },
    )
    assert eks.public_access_cidrs == ["198.51.100.0/24"]
    assert eks.admin_role_arns == [ADMIN]
    assert eks.deployer_role_arn == DEPLOYER
    assert eks.log_retention_days == 90


def test_section_built_directly_refuses_the_deployer_listed_as_admin():
    with pytest.raises(ValidationError, match="is also in adminRoleArns"):
        EksConfig(admin_role_arns=[DEPLOYER], deployer_role_arn=DEPLOYER)
