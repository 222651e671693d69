"""`airflow-platform:monitoring`: where alarms go and when they fire."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

from airflow_platform.config.base import ConfigModel, LogRetentionDays, matches

# Slack ids as Slack shows them (workspace: T..., channel: C... public, G... private), in
# the upper-case alphanumerics AWS Chatbot's API takes (SlackTeamId / SlackChannelId:
# https://docs.aws.amazon.com/chatbot/latest/APIReference/API_CreateSlackChannelConfiguration.html).
_SLACK_WORKSPACE_ID = re.compile(r"^T[A-Z0-9]{6,20}$")
_SLACK_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,20}$")
# What SNS accepts as an e-mail endpoint is wider; this refuses the typos that matter
# (no @, spaces, no domain dot) without a dependency.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")

SlackWorkspaceId = Annotated[
    str, matches(_SLACK_WORKSPACE_ID, "a Slack workspace id such as T0123ABCD45")
]
SlackChannelId = Annotated[
    str, matches(_SLACK_CHANNEL_ID, "a Slack channel id such as C0123ABCD45 (or G... private)")
]
Email = Annotated[str, matches(_EMAIL, "an e-mail address such as oncall@example.com")]


class SlackConfig(ConfigModel):
    """The Slack channel alarms are posted to through AWS Chatbot."""

    workspace_id: SlackWorkspaceId
    """Slack workspace (team) id, T...; the workspace must be authorised in the AWS Chatbot
    console once per account (README: Alerts in Slack)."""
    channel_id: SlackChannelId
    """Slack channel id, C... (public) or G... (private; invite the AWS app to it)."""


class AlarmThresholds(ConfigModel):
    """When each alarm fires (tier defaults in the README's tier table)."""

    unhealthy_minutes: int = Field(default=5, ge=1, le=60)
    """Minutes an Airflow component may report unhealthy (or the probe stay silent) before
    its alarm fires (1-60)."""
    database_cpu_percent: int = Field(default=80, ge=1, le=100)
    """Database CPU above this for 15 minutes alarms."""
    database_free_storage_gb: int = Field(default=2, ge=1)
    """Database free storage below this many GiB alarms (storage autoscaling normally keeps
    it above 10% of the allocation; this fires when it cannot)."""
    database_free_memory_mb: int = Field(default=64, ge=1)
    """Database freeable memory below this many MiB for 15 minutes alarms."""
    database_connections: int = Field(default=60, ge=1)
    """Database connections above this for 15 minutes alarms (RDS's max_connections depends
    on the instance class's memory; keep this below it)."""
    queued_tasks: int = Field(default=20, ge=1)
    """MWAA: tasks queued above this for 15 minutes alarms. EKS: task pods pending above
    this for 15 minutes alarms."""
    backup_max_age_hours: int = Field(default=26, ge=2, le=168)
    """No successful metadata backup for this many hours alarms (daily backup + margin)."""
    restore_drill_max_age_days: int = Field(default=8, ge=2, le=13)
    """No successful restore drill for this many days alarms (weekly drill + a day; at most
    13, inside the probe's 14-day look-back)."""


class MonitoringConfig(ConfigModel):
    """`airflow-platform:monitoring`: the alert topic's subscribers and the alarm thresholds."""

    slack: SlackConfig | None = None
    """Post alarms to this Slack channel through AWS Chatbot (required in staging and prod)."""
    emails: list[Email] = Field(default_factory=list, max_length=10)
    """Also e-mail alarms to these addresses (each confirms the subscription once)."""
    alarms: AlarmThresholds = AlarmThresholds()
    """Alarm thresholds."""
    probe_log_retention_days: LogRetentionDays = 30
    """Retention of the health probe's and AWS Chatbot's log groups."""
