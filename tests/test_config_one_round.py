"""Every problem of a stack's config in one message: field errors, each section's rules across
keys, the tier floors and the loader's own checks, none hiding another, and no rule
complaining about a value the stack file did not state. Also MWAA's worker quota."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from airflow_platform.config import ConfigError, settings_from_values
from airflow_platform.config.mwaa import MWAA_DEFAULT_WORKER_QUOTA, MwaaConfig
from tests.conftest import with_slack

NS = "airflow-platform"


def _problems(stack: str, **config) -> list[str]:
    values = {"aws:region": "eu-west-1", **{f"{NS}:{k}": v for k, v in config.items()}}
    if not stack.startswith("pr-"):
        values.setdefault(f"{NS}:tier", stack)
    with pytest.raises(ConfigError) as caught:
        settings_from_values(NS, stack, with_slack(values))
    lines = str(caught.value).splitlines()
    assert lines[0] == f"invalid config for stack {stack!r}:"
    return [line.removeprefix("  - ") for line in lines[1:]]


def _has(problems: list[str], *fragments: str) -> None:
    for fragment in fragments:
        assert any(fragment in problem for problem in problems), (fragment, problems)


def test_a_bad_value_does_not_hide_a_rule_broken_in_its_own_section():
    problems = _problems("dev", mwaa={"logLevel": "LOUD", "minWorkers": 3, "maxWorkers": 2})
    _has(
        problems,
        f"{NS}:mwaa.logLevel = 'LOUD' is not allowed",
        f"{NS}:mwaa: maxWorkers (2) must be at least minWorkers (3)",
    )


@pytest.mark.parametrize(
    ("config", "field", "floor"),
    [
        (
            {"network": {"azCount": 9}, "backup": {"retentionDays": 3}},
            f"{NS}:network.azCount = 9 is not allowed",
            f"{NS}:backup.retentionDays = 3 is not allowed: prod keeps database backups",
        ),
        (
            {"mwaa": {"maxWorkers": "x"}, "database": {"multiAz": False}},
            f"{NS}:mwaa.maxWorkers = 'x' is not allowed",
            f"{NS}:database.multiAz = False is not allowed",
        ),
    ],
    ids=["azCount and backup floor", "maxWorkers and multiAz floor"],
)
def test_a_bad_value_does_not_hide_a_tier_floor(config, field, floor):
    problems = _problems("prod", **config)
    _has(problems, field, floor)
    assert len(problems) == 2, problems


def test_rules_of_two_sections_and_the_region_check_are_reported_together_in_schema_order():
    problems = _problems(
        "prod",
        storage={"logArchive": {"transitionToGlacierDays": 45}},
        backup={"replicaRegion": "eu-west-1"},
        database={"backupWindow": "04:30-05:30"},
    )
    assert problems == [
        f"{NS}:storage.logArchive: transitionToGlacierDays (45) must be at least 30 days after "
        "transitionToIaDays (30): S3 keeps objects 30 days in Standard-IA",
        f"{NS}:backup.replicaRegion = 'eu-west-1' is not allowed: it is the stack's own "
        "aws:region; choose a second region",
        f"{NS}:database: backupWindow (04:30-05:30) overlaps maintenanceWindow "
        "(sun:04:00-sun:05:00) on at least one day: RDS needs them apart",
    ]


def test_a_value_breaking_a_rule_and_a_floor_gets_both_complaints():
    problems = _problems("prod", storage={"logArchive": {"expireDays": 90}})
    _has(
        problems,
        f"{NS}:storage.logArchive: expireDays (90) must be after transitionToGlacierDays (90)",
        f"{NS}:storage.logArchive.expireDays = 90 is not allowed: prod keeps logs",
    )


def test_no_rule_complains_about_the_default_that_replaced_a_bad_value():
    # allocatedStorageGb = 10 is refused and stands in as dev's 20 for the rest of the check;
    # maxAllocatedStorageGb = 15 is below 20 + 10%, but that 20 is not the stack file's.
    problems = _problems("dev", database={"allocatedStorageGb": 10, "maxAllocatedStorageGb": 15})
    assert problems == [
        f"{NS}:database.allocatedStorageGb = 10 is not allowed: "
        "Input should be greater than or equal to 20"
    ]


def test_an_unknown_tier_still_reports_bad_values_but_no_rule_about_stand_in_defaults():
    problems = _problems(
        "dev",
        tier="prdo",
        network={"azCount": 9},
        mwaa={"minWorkers": 3},  # above dev's maxWorkers, which is not the stack file's
        backup={"replicaRegion": "eu-central-1"},  # prod only, but the tier is unknown
    )
    assert problems == [
        f"{NS}:tier = 'prdo' is not allowed; allowed: dev, staging, prod, ephemeral",
        f"{NS}:network.azCount = 9 is not allowed: Input should be less than or equal to 6",
    ]


def test_one_round_reporting_is_stable():
    config = {
        "mwaa": {"logLevel": "LOUD", "minWorkers": 3, "maxWorkers": 2},
        "network": {"azCount": 9, "vpcCidr": "8.8.0.0/16"},
        "backup": {"retentionDays": 3},
    }
    first = _problems("prod", **config)
    assert first == _problems("prod", **dict(reversed(config.items())))
    assert [p.split(" ")[0].split(":")[1].rstrip(":") for p in first] == [
        "network.vpcCidr",
        "network.azCount",
        "backup.retentionDays",
        "mwaa",
        "mwaa.logLevel",
    ]


def test_sections_built_directly_still_refuse_broken_rules():
    with pytest.raises(ValidationError) as caught:
        MwaaConfig(min_workers=3, max_workers=2)
    assert "maxWorkers (2) must be at least minWorkers (3)" in str(caught.value)


def test_mwaa_workers_are_capped_by_the_default_worker_quota_naming_the_quota_key():
    assert MWAA_DEFAULT_WORKER_QUOTA == 25
    settings = settings_from_values(
        NS,
        "dev",
        {"aws:region": "eu-west-1", f"{NS}:tier": "dev", f"{NS}:mwaa": {"maxWorkers": 25}},
    )
    assert settings.config.mwaa.max_workers_quota == 25
    problems = _problems("dev", mwaa={"minWorkers": 26, "maxWorkers": 30})
    _has(
        problems,
        f"{NS}:mwaa: minWorkers (26) is above maxWorkersQuota (25)",
        f"{NS}:mwaa: maxWorkers (30) is above maxWorkersQuota (25)",
        f"set {NS}:mwaa.maxWorkersQuota",
    )


def test_raising_the_worker_quota_allows_more_workers():
    settings = settings_from_values(
        NS,
        "dev",
        {
            "aws:region": "eu-west-1",
            f"{NS}:tier": "dev",
            f"{NS}:mwaa": {"minWorkers": 30, "maxWorkers": 40},
            f"{NS}:mwaa.maxWorkersQuota": "50",  # as `pulumi config set` writes it
        },
    )
    assert (settings.config.mwaa.min_workers, settings.config.mwaa.max_workers) == (30, 40)
    problems = _problems("dev", mwaa={"maxWorkers": 60, "maxWorkersQuota": 50})
    _has(problems, f"{NS}:mwaa: maxWorkers (60) is above maxWorkersQuota (50)")


def test_worker_quota_is_at_least_one():
    problems = _problems("dev", mwaa={"maxWorkersQuota": 0})
    _has(problems, f"{NS}:mwaa.maxWorkersQuota = 0 is not allowed")
