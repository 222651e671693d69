"""Monitoring: one per stack, for either runtime. The alert topic and its subscribers, the
health probe, every alarm of `airflow_platform.alarms` wired to the topic, and a dashboard."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from airflow_platform.alarms import AlarmSpec, Watched, alarm_specs
from airflow_platform.aws_context import AwsContext
from airflow_platform.components.alerts import AlertTopic, AlertTopicArgs
from airflow_platform.components.health_probe import HealthProbe, HealthProbeArgs
from airflow_platform.config.model import Platform, PlatformConfig
from airflow_platform.config.tiers import TEARDOWN
from airflow_platform.dashboard import dashboard_body
from airflow_platform.tagging import resource_tags


@dataclass(frozen=True)
class MonitoringArgs:
    """Inputs of Monitoring."""

    stack: str
    aws: AwsContext
    config: PlatformConfig
    tags: Mapping[str, str]
    probe_source_root: Path
    """functions/health_probe: the directory holding the probe's package."""
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    backup_database: str
    """The database the metadata backup dumps (the backup metrics' `Database`)."""
    kms_key_arn: pulumi.Input[str] | None = None
    database_identifier: pulumi.Input[str] | None = None
    database_arn: pulumi.Input[str] | None = None
    mwaa_environment: pulumi.Input[str] | None = None
    eks_cluster: pulumi.Input[str] | None = None
    api_url: pulumi.Input[str] | None = None
    api_security_group_id: pulumi.Input[str] | None = None


class Monitoring(pulumi.ComponentResource):
    """Alarms to an encrypted topic that Slack (AWS Chatbot) and e-mail hear, the health probe
    feeding the Airflow component alarms, and a dashboard of all of them.

    Outputs: `topic_arn`, `dashboard_name`, `alarm_names`, `probe_function_name`.
    """

    topic_arn: pulumi.Output[str]
    dashboard_name: pulumi.Output[str]
    alarm_names: list[pulumi.Output[str]]
    probe_function_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("airflow-platform:aws:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        monitoring = args.config.monitoring
        alerts = AlertTopic(
            f"{name}-alerts",
            AlertTopicArgs(
                stack=args.stack,
                aws=args.aws,
                tags=args.tags,
                slack=monitoring.slack,
                emails=monitoring.emails,
                log_retention_days=monitoring.probe_log_retention_days,
                kms_key_arn=args.kms_key_arn,
                database_arn=args.database_arn,
                key_deletion_window_days=TEARDOWN[args.config.tier].key_deletion_window_days,
            ),
            opts=child,
        )
        probe = HealthProbe(
            f"{name}-probe",
            HealthProbeArgs(
                stack=args.stack,
                aws=args.aws,
                platform=args.config.platform,
                source_root=args.probe_source_root,
                vpc_id=args.vpc_id,
                subnet_ids=args.subnet_ids,
                log_retention_days=monitoring.probe_log_retention_days,
                tags=args.tags,
                backup_database=args.backup_database,
                kms_key_arn=alerts.key_arn,
                mwaa_environment=args.mwaa_environment,
                api_url=args.api_url,
                api_security_group_id=args.api_security_group_id,
            ),
            opts=child,
        )
        specs = alarm_specs(
            args.config,
            Watched(
                stack=args.stack,
                probe_function=probe.function_name,
                probe_dead_letter_queue=probe.dead_letter_queue_name,
                backup_database=args.backup_database,
                database_identifier=args.database_identifier,
                mwaa_environment=(
                    args.mwaa_environment if args.config.platform is Platform.MWAA else None
                ),
                eks_cluster=args.eks_cluster,
            ),
        )
        alarms = [self._alarm(name, args, spec, alerts.topic_arn) for spec in specs]
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"airflow-{args.stack}",
            dashboard_body=pulumi.Output.all(*[alarm.arn for alarm in alarms]).apply(
                lambda arns: dashboard_body(
                    args.aws.region, args.stack, list(zip(specs, arns, strict=True))
                )
            ),
            opts=child,
        )
        self.topic_arn = alerts.topic_arn
        self.dashboard_name = dashboard.dashboard_name
        self.alarm_names = [alarm.name for alarm in alarms]
        self.probe_function_name = probe.function_name
        self.register_outputs(
            {
                "topic_arn": self.topic_arn,
                "dashboard_name": self.dashboard_name,
                "probe_function_name": self.probe_function_name,
            }
        )

    def _alarm(
        self, name: str, args: MonitoringArgs, spec: AlarmSpec, topic_arn: pulumi.Output[str]
    ) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{spec.key}",
            name=f"airflow-{args.stack}-{spec.key}",
            alarm_description=spec.watches,
            namespace=spec.namespace,
            metric_name=spec.metric,
            dimensions=dict(spec.dimensions),
            statistic=spec.statistic,
            period=spec.period,
            evaluation_periods=spec.evaluation_periods,
            datapoints_to_alarm=spec.datapoints,
            comparison_operator=spec.comparison,
            threshold=spec.threshold,
            treat_missing_data=spec.missing.value,
            actions_enabled=True,
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
            tags=resource_tags(args.tags, f"{name}-{spec.key}"),
            opts=pulumi.ResourceOptions(parent=self),
        )
