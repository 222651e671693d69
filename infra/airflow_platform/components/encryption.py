"""ProjectKey: the stack's customer-managed KMS key, for buckets, log groups and later RDS."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from airflow_platform.aws_context import AwsContext
from airflow_platform.iam import policy_document, statement
from airflow_platform.tagging import resource_tags


@dataclass(frozen=True)
class ProjectKeyArgs:
    """Inputs of ProjectKey."""

    aws: AwsContext
    """Account and region, for the key policy."""
    alias: str
    """Alias, unique in the account and region (without the `alias/` prefix)."""
    tags: Mapping[str, str]
    """The stack's tags."""
    deletion_window_days: int = 30
    """Days a deleted key can still be recovered (7-30); the longest by default."""


class ProjectKey(pulumi.ComponentResource):
    """A symmetric KMS key with yearly rotation, an explicit key policy and an alias.

    Outputs: `key_arn`, `key_id`, `alias_name`.
    """

    key_arn: pulumi.Output[str]
    key_id: pulumi.Output[str]
    alias_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: ProjectKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("airflow-platform:aws:ProjectKey", name, None, opts)
        ctx = args.aws
        root = ctx.account_id.apply(lambda a: f"arn:{ctx.partition}:iam::{a}:root")
        log_groups = ctx.account_id.apply(
            lambda a: f"arn:{ctx.partition}:logs:{ctx.region}:{a}:log-group:*"
        )
        key_policy = policy_document(
            # Without this statement IAM policies in the account cannot grant use of the key
            # and the key becomes unmanageable; it is the documented default key policy.
            statement("AccountAdministersKey", ["kms:*"], ["*"], principal={"AWS": root}),
            statement(
                "CloudWatchLogsUseKey",
                [
                    "kms:Decrypt*",
                    "kms:Describe*",
                    "kms:Encrypt*",
                    "kms:GenerateDataKey*",
                    "kms:ReEncrypt*",
                ],
                ["*"],
                principal={"Service": f"logs.{ctx.region}.amazonaws.com"},
                condition={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
            ),
            # CloudWatch alarms and EventBridge rules publish to the stack's encrypted alert
            # topic; SNS then asks KMS on their behalf (the SNS guide's key policy for AWS
            # service publishers:
            # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
            statement(
                "AlarmsAndEventsPublishToEncryptedTopics",
                ["kms:Decrypt", "kms:GenerateDataKey*"],
                ["*"],
                principal={"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
            ),
        )
        child = pulumi.ResourceOptions(parent=self)
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{name}: data at rest of this Airflow platform stack",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=args.deletion_window_days,
            policy=key_policy,
            tags=resource_tags(args.tags, f"{name}-key"),
            opts=child,
        )
        alias = aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{args.alias}",
            target_key_id=key.key_id,
            opts=child,
        )
        self.key_arn = key.arn
        self.key_id = key.key_id
        self.alias_name = alias.name
        self.register_outputs(
            {"key_arn": self.key_arn, "key_id": self.key_id, "alias_name": self.alias_name}
        )
