"""The Availability Zones each region offers, for the offline plan's mocks.

`pulumi up` asks EC2 (DescribeAvailabilityZones); the offline plan has no account to ask, so
its mocks answer from this table, and a stack asking for more AZs than its region has is
refused offline exactly as it is at deploy time.

Source: AWS, "AWS Availability Zones"
(https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-availability-zones.html),
read 2026-11-30; names are the region code plus the letters accounts are given. Where an
account sees fewer zones than the region has (us-west-1 offers most accounts two of its
three), the table lists what accounts see; the deploy-time lookup is the authority either
way. Add a region here when a stack moves to one that is missing.
"""

from __future__ import annotations

from airflow_platform.plan.project import ProjectError

_LETTERS: dict[str, str] = {
    "us-east-1": "abcdef",
    "us-east-2": "abc",
    "us-west-1": "ac",
    "us-west-2": "abcd",
    "us-gov-east-1": "abc",
    "us-gov-west-1": "abc",
    "ca-central-1": "abd",
    "ca-west-1": "abc",
    "mx-central-1": "abc",
    "sa-east-1": "abc",
    "eu-central-1": "abc",
    "eu-central-2": "abc",
    "eu-north-1": "abc",
    "eu-south-1": "abc",
    "eu-south-2": "abc",
    "eu-west-1": "abc",
    "eu-west-2": "abc",
    "eu-west-3": "abc",
    "il-central-1": "abc",
    "me-central-1": "abc",
    "me-south-1": "abc",
    "af-south-1": "abc",
    "ap-east-1": "abc",
    "ap-east-2": "abc",
    "ap-northeast-1": "acd",
    "ap-northeast-2": "abcd",
    "ap-northeast-3": "abc",
    "ap-south-1": "abc",
    "ap-south-2": "abc",
    "ap-southeast-1": "abc",
    "ap-southeast-2": "abc",
    "ap-southeast-3": "abc",
    "ap-southeast-4": "abc",
    "ap-southeast-5": "abc",
    "ap-southeast-6": "abc",
    "ap-southeast-7": "abc",
}

AVAILABILITY_ZONES: dict[str, tuple[str, ...]] = {
    region: tuple(f"{region}{letter}" for letter in letters) for region, letters in _LETTERS.items()
}
"""Region code to the names of its Availability Zones (Local and Wavelength Zones excluded)."""


class UnknownRegionError(ProjectError):
    """The offline plan does not know a region's Availability Zones."""


def availability_zones(region: str) -> tuple[str, ...]:
    """The region's Availability Zone names; UnknownRegionError names the table to extend."""
    try:
        return AVAILABILITY_ZONES[region]
    except KeyError:
        raise UnknownRegionError(
            f"the offline plan does not know the Availability Zones of {region}; add them to "
            "infra/airflow_platform/plan/regions.py (aws ec2 describe-availability-zones "
            f"--region {region} --filters Name=zone-type,Values=availability-zone)"
        ) from None
