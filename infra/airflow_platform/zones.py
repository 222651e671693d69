"""The region's Availability Zones: looked up once, before any resource, and checked
against `network.azCount`.

Without the check a count above the region's zones passes validation and fails in the middle
of `pulumi up` (a subnet asking for a zone that is not there). Offline, the plan's mocks
answer each region's real zones (`airflow_platform.plan.regions`), so the plan refuses the
same stacks `pulumi up` would.
"""

from __future__ import annotations

import pulumi_aws as aws

from airflow_platform.config import NAMESPACE, ConfigError, Settings

# Real Availability Zones only: Local Zones and Wavelength Zones the account opted into are
# also "available", but MWAA and RDS Multi-AZ do not run there.
ZONE_FILTERS = [{"name": "zone-type", "values": ["availability-zone"]}]


def region_zones() -> list[str]:
    """Names of the Availability Zones of the stack's region, in EC2's order."""
    return list(aws.get_availability_zones(state="available", filters=ZONE_FILTERS).names)


def check_zone_count(settings: Settings, zones: list[str]) -> None:
    """Refuse a new VPC over more AZs than the region offers this account."""
    network = settings.config.network
    if network.existing_vpc is not None or network.az_count <= len(zones):
        return
    raise ConfigError(
        f"invalid config for stack {settings.stack!r}:\n"
        f"  - {NAMESPACE}:network.azCount = {network.az_count} is not allowed: "
        f"{settings.region} offers {len(zones)} Availability Zones to this account "
        f"({', '.join(zones)}); use at most {len(zones)}"
    )
