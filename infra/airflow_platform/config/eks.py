"""`airflow-platform:eks`: the EKS cluster's section of the stack config (eks stacks only).

The rules that depend on the tier (prod's endpoint is private only, prod runs task pods on
on-demand capacity and keeps control-plane logs a year) are tier floors in `model.py`.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from airflow_platform.config.base import (
    ConfigModel,
    LogRetentionDays,
    RuleProblem,
    enforce,
    matches,
)

# An IAM role ARN: arn:<partition>:iam::<12-digit account>:role/<optional path/><name>. Role
# names and path segments take letters, digits and + = , . @ _ - (IAM User Guide, "IAM
# identifiers" and "IAM and AWS STS quotas": names up to 64 characters). The partitions are
# those of the regions the config accepts (aws_context.partition_of).
_ROLE_ARN = re.compile(
    r"^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:role/(?:[\w+=,.@-]{1,512}/)*[\w+=,.@-]{1,64}$"
)
RoleArn = Annotated[
    str,
    matches(_ROLE_ARN, "an IAM role ARN such as arn:aws:iam::123456789012:role/platform-admins"),
]


class CapacityType(StrEnum):
    """EC2 capacity for task pods: Karpenter's `karpenter.sh/capacity-type` values, which EKS
    Auto Mode node pools take (EKS User Guide, "Create a Node Pool for EKS Auto Mode")."""

    SPOT = "spot"
    ON_DEMAND = "on-demand"


def _public_access_cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise ValueError("expected an IPv4 CIDR such as 203.0.113.0/24") from None
    if network.network_address != ipaddress.IPv4Address(value.split("/")[0]):
        # A CIDR with host bits set (203.0.113.7/24) is a typo, not a range.
        raise ValueError(f"has host bits set; the network is {network}")
    if network.prefixlen == 0:
        raise ValueError(
            "0.0.0.0/0 opens the cluster's Kubernetes API to the whole internet; list the "
            "networks that need it (or none: the endpoint is then private only)"
        )
    return str(network)


PublicAccessCidr = Annotated[str, AfterValidator(_public_access_cidr)]


def _duplicates(values: list[str]) -> list[str]:
    return sorted({value for value in values if values.count(value) > 1})


class EksConfig(ConfigModel):
    """`airflow-platform:eks`: the EKS cluster (eks stacks only)."""

    public_access_cidrs: list[PublicAccessCidr] = Field(default_factory=list)
    """IPv4 CIDRs that may reach the cluster's public Kubernetes API endpoint; empty turns the
    public endpoint off (the private one is always on). Never 0.0.0.0/0; prod: must be empty."""
    admin_role_arns: list[RoleArn] = Field(default_factory=list)
    """IAM roles given cluster-admin (an EKS access entry with AmazonEKSClusterAdminPolicy)."""
    deployer_role_arn: RoleArn | None = None
    """The IAM role `pulumi up` runs as inside the VPC (CI runner or CodeBuild in the private
    subnets); given cluster-admin through an access entry."""
    task_capacity_types: list[CapacityType] = Field(
        default_factory=lambda: [CapacityType.SPOT, CapacityType.ON_DEMAND], min_length=1
    )
    """EC2 capacity the task node pool may use: spot and/or on-demand (prod: on-demand only)."""
    log_retention_days: LogRetentionDays = 30
    """Retention of the control-plane log group, one of CloudWatch's allowed values (prod: at
    least 365)."""

    @field_validator("public_access_cidrs", "admin_role_arns", "task_capacity_types")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        repeated = _duplicates([str(value) for value in values])
        if repeated:
            raise ValueError(f"lists {', '.join(repeated)} more than once")
        return values

    @model_validator(mode="after")
    def _one_access_entry_per_role(self, info: ValidationInfo) -> EksConfig:
        problems = []
        # EKS keeps one access entry per principal: the deployer listed as an admin too would
        # be a second entry for the same role, which CreateAccessEntry refuses.
        if self.deployer_role_arn is not None and self.deployer_role_arn in self.admin_role_arns:
            problems.append(
                RuleProblem(
                    f"deployerRoleArn ({self.deployer_role_arn}) is also in adminRoleArns: it "
                    "gets cluster-admin as the deployer already; list it once",
                    ("deployerRoleArn", "adminRoleArns"),
                )
            )
        enforce(self, info, problems)
        return self
