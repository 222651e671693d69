"""AlertTopic: the stack's encrypted SNS topic, and who hears it (Slack through AWS Chatbot,
e-mail), plus the RDS events EventBridge forwards to it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from airflow_platform.aws_context import AwsContext
from airflow_platform.components.encryption import ProjectKey, ProjectKeyArgs
from airflow_platform.config.base import LogRetentionDays
from airflow_platform.config.monitoring import SlackConfig
from airflow_platform.iam import policy_document, service_trust_policy, statement
from airflow_platform.tagging import resource_tags

# AWS Chatbot writes its logs to /aws/chatbot/<configuration name> in us-east-1, creating the
# group without retention on first use (the aws_chatbot construct library's "Log Group"
# section, https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_chatbot-readme.html);
# the component creates it first, with one.
CHATBOT_LOG_REGION = "us-east-1"
# Read-only: what Chatbot's own "notification permissions" template grants, so alarm posts
# can show their graphs, and the same as the channel's guardrail, which caps what any
# channel member's command could do.
CHATBOT_GUARDRAIL_POLICY = "arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess"
# RDS event categories that need a person (the RDS events reference:
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.Messages.html).
DATABASE_EVENT_CATEGORIES = ("availability", "failover", "failure", "low storage")


@dataclass(frozen=True)
class AlertTopicArgs:
    """Inputs of AlertTopic."""

    stack: str
    aws: AwsContext
    tags: Mapping[str, str]
    slack: SlackConfig | None
    """Where Chatbot posts; None: no Chatbot configuration."""
    emails: Sequence[str]
    """E-mail subscribers (each confirms once)."""
    log_retention_days: LogRetentionDays
    """Retention of Chatbot's log group."""
    kms_key_arn: pulumi.Input[str] | None = None
    """The project key; without one the component creates a key for the topic, since
    CloudWatch cannot publish to a topic under the AWS managed SNS key."""
    database_arn: pulumi.Input[str] | None = None
    """The RDS instance whose events are forwarded to the topic."""
    key_deletion_window_days: int = 30
    """Recovery window of the topic's own key, when the component creates one (the tier's
    `Teardown.key_deletion_window_days`)."""


class AlertTopic(pulumi.ComponentResource):
    """An SNS topic under a customer-managed key that only this account's CloudWatch alarms
    and EventBridge rules may publish to, its Slack and e-mail subscribers, and the database's
    events.

    Outputs: `topic_arn`, `key_arn` (the key encrypting the topic), `chatbot_arn` (None without
    Slack).
    """

    topic_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    chatbot_arn: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("airflow-platform:aws:AlertTopic", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        # SNS encrypts with a key whose policy lets CloudWatch and EventBridge use it; the AWS
        # managed alias/aws/sns cannot be given that, so alarms could never publish
        # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
        if args.kms_key_arn is not None:
            key_arn = pulumi.Output.from_input(args.kms_key_arn)
        else:
            key_arn = ProjectKey(
                f"{name}-kms",
                ProjectKeyArgs(
                    aws=args.aws,
                    alias=f"airflow-{args.stack}-alerts",
                    tags=args.tags,
                    deletion_window_days=args.key_deletion_window_days,
                ),
                opts=self._child,
            ).key_arn
        self.key_arn = key_arn
        topic = aws.sns.Topic(
            f"{name}-topic",
            name=f"airflow-{args.stack}-alerts",
            kms_master_key_id=key_arn,
            tags=resource_tags(args.tags, f"{name}-topic"),
            opts=self._child,
        )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=self._topic_policy(topic.arn),
            opts=self._child,
        )
        for index, address in enumerate(args.emails):
            aws.sns.TopicSubscription(
                f"{name}-email-{index}",
                topic=topic.arn,
                protocol="email",
                endpoint=address,
                opts=self._child,
            )
        self.chatbot_arn = self._chatbot(topic.arn) if args.slack is not None else None
        if args.database_arn is not None:
            self._database_events(topic, args.database_arn)
        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn, "key_arn": self.key_arn})

    def _topic_policy(self, topic_arn: pulumi.Output[str]) -> pulumi.Output[str]:
        account = self._args.aws.account_id
        same_account = {"StringEquals": {"aws:SourceAccount": account}}
        return policy_document(
            statement(
                "CloudWatchAlarmsPublish",
                ["sns:Publish"],
                [topic_arn],
                principal={"Service": "cloudwatch.amazonaws.com"},
                condition=same_account,
            ),
            statement(
                "EventBridgeRulesPublish",
                ["sns:Publish"],
                [topic_arn],
                principal={"Service": "events.amazonaws.com"},
                condition=same_account,
            ),
            # Resource policies only add to IAM in one account; this makes the topic refuse
            # plain-HTTP publishers whatever an identity policy grants.
            statement(
                "RefuseUnencryptedTransport",
                ["sns:Publish"],
                [topic_arn],
                effect="Deny",
                principal="*",
                condition={"Bool": {"aws:SecureTransport": "false"}},
            ),
        )

    def _chatbot(self, topic_arn: pulumi.Output[str]) -> pulumi.Output[str]:
        args, name = self._args, self._name
        assert args.slack is not None
        configuration_name = f"airflow-{args.stack}-alerts"
        role = aws.iam.Role(
            f"{name}-chatbot-role",
            name=f"airflow-{args.stack}-chatbot",
            assume_role_policy=service_trust_policy("chatbot.amazonaws.com", args.aws.account_id),
            tags=resource_tags(args.tags, f"{name}-chatbot-role"),
            opts=self._child,
        )
        aws.iam.RolePolicy(
            f"{name}-chatbot-read-alarms",
            role=role.id,
            policy=policy_document(
                statement(
                    "ReadAlarmGraphs",
                    ["cloudwatch:Describe*", "cloudwatch:Get*", "cloudwatch:List*"],
                    ["*"],
                )
            ),
            opts=self._child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-chatbot-logs",
            name=f"/aws/chatbot/{configuration_name}",
            region=CHATBOT_LOG_REGION,
            retention_in_days=args.log_retention_days,
            tags=resource_tags(args.tags, f"{name}-chatbot-logs"),
            opts=self._child,
        )
        configuration = aws.chatbot.SlackChannelConfiguration(
            f"{name}-chatbot",
            configuration_name=configuration_name,
            iam_role_arn=role.arn,
            slack_team_id=args.slack.workspace_id,
            slack_channel_id=args.slack.channel_id,
            sns_topic_arns=[topic_arn],
            guardrail_policy_arns=[CHATBOT_GUARDRAIL_POLICY],
            logging_level="ERROR",
            user_authorization_required=True,
            tags=resource_tags(args.tags, f"{name}-chatbot"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )
        return configuration.chat_configuration_arn

    def _database_events(self, topic: aws.sns.Topic, database_arn: pulumi.Input[str]) -> None:
        args, name = self._args, self._name
        pattern = pulumi.Output.from_input(database_arn).apply(
            lambda arn: json.dumps(
                {
                    "source": ["aws.rds"],
                    "detail-type": ["RDS DB Instance Event"],
                    "resources": [arn],
                    "detail": {"EventCategories": list(DATABASE_EVENT_CATEGORIES)},
                },
                sort_keys=True,
            )
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-database-events",
            name=f"airflow-{args.stack}-database-events",
            description="RDS availability, failover, failure and low-storage events",
            event_pattern=pattern,
            tags=resource_tags(args.tags, f"{name}-database-events"),
            opts=self._child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-database-events-to-topic",
            rule=rule.name,
            arn=topic.arn,
            opts=self._child,
        )
