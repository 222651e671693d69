"""Facts about the AWS account and region that resource names and policies need."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


def partition_of(region: str) -> str:
    """The ARN partition of a region (aws, aws-cn or aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


@dataclass(frozen=True)
class AwsContext:
    """The account the stack deploys into and its region."""

    account_id: pulumi.Output[str]
    region: str

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    @classmethod
    def current(cls, region: str) -> AwsContext:
        """Look up the account of the credentials (the stack's AWS provider)."""
        return cls(account_id=aws.get_caller_identity_output().account_id, region=region)
