"""Logs, alarms and SNS: log groups expire and are encrypted (audit logs kept a year in prod),
alarms are on and reach the stack's topic, every monitored part of the platform has its
alarm, and the topic is encrypted and not public."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from platform_rules.iam import public_allows
from platform_rules.model import Level, Resource, Rule, Stack, Tier, levels
from platform_rules.reading import at, is_true, items

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
ALARM_TYPES = frozenset({METRIC_ALARM, COMPOSITE_ALARM})
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
RDS_INSTANCE = "aws:rds/instance:Instance"
STACK_TYPE = "pulumi:pulumi:Stack"

AUDIT_RETENTION_DAYS = 365
"""Prod keeps audit logs at least a year: long enough to investigate an incident found late
and to answer a yearly audit."""
# Audit logs record who did what, rather than how the software ran:
# - EKS control-plane logs, /aws/eks/<cluster>/cluster: the Kubernetes audit and authenticator
#   logs (every API call and who made it) land in that one group (EKS User Guide, "Send control
#   plane logs to CloudWatch Logs");
# - VPC flow logs: every connection in and out of the VPC;
# - RDS PostgreSQL logs, /aws/rds/instance/<id>/postgresql: connections and, with pgaudit,
#   statement auditing (the `upgrade` log next to it is not audit);
# - CloudTrail, whatever the group's name says so.
# Airflow's own logs (MWAA, task logs), the probe's and Chatbot's logs are operational.
_AUDIT_NAMES = (
    re.compile(r"^/aws/eks/[^/]+/cluster$"),
    re.compile(r"(^|[/_-])(vpc[-_]?)?flow[-_]?logs?($|[/_-])", re.IGNORECASE),
    re.compile(r"^/aws/rds/(instance|cluster)/[^/]+/(postgresql|audit)$"),
    re.compile(r"cloudtrail", re.IGNORECASE),
)

# The alarms every platform stack has (infra/airflow_platform/alarms.py; each is named
# `airflow-<stack>-<key>`), by what they watch. The database's alarms are found by the
# instance they watch instead (one set per RDS instance).
REQUIRED_ALARMS: Mapping[str, str] = {
    "metadatabase-unhealthy": "Airflow's metadatabase (health API)",
    "scheduler-unhealthy": "the Airflow scheduler",
    "triggerer-unhealthy": "the Airflow triggerer",
    "dag-processor-unhealthy": "the Airflow DAG processor",
    "backup-stale": "the metadata backup",
    "restore-drill-failed": "the restore drill",
    "restore-drill-silent": "the restore drill's schedule",
    "health-probe-errors": "the health probe Lambda",
    "health-probe-dead-letters": "the health probe's dead-letter queue",
}


# --- log groups ---------------------------------------------------------------------------


def is_audit_log_group(resource: Resource, stack: Stack) -> bool:
    """Whether a log group holds audit logs: by its name, or as a flow log's destination."""
    name = resource.get("name")
    if isinstance(name, str) and any(p.search(name) for p in _AUDIT_NAMES):
        return True
    if not isinstance(name, str):
        return False
    return any(
        str(flow.get("logDestination", "")).endswith(f":log-group:{name}")
        for flow in stack.of_type(FLOW_LOG)
    )


def _retention_set(resource: Resource, stack: Stack) -> Iterable[str]:
    days = resource.get("retentionInDays")
    if not isinstance(days, int | float) or days <= 0:
        yield (
            "the log group keeps its events forever (no retentionInDays): set a retention "
            "(the stack's log retention setting)"
        )


def _audit_retention(resource: Resource, stack: Stack) -> Iterable[str]:
    if stack.tier is not Tier.PROD or not is_audit_log_group(resource, stack):
        return
    days = resource.get("retentionInDays")
    # No retention at all keeps everything: that satisfies this rule (logs-retention-set
    # reports it).
    if isinstance(days, int | float) and 0 < days < AUDIT_RETENTION_DAYS:
        yield (
            f"audit log group {resource.get('name')} keeps {days:g} days in prod: set "
            f"retentionInDays to at least {AUDIT_RETENTION_DAYS}"
        )


def _log_group_encrypted(resource: Resource, stack: Stack) -> Iterable[str]:
    if not resource.get("kmsKeyId"):
        yield (
            "the log group is not encrypted with a customer-managed key: set kmsKeyId to a KMS "
            "key in the log group's region whose policy lets CloudWatch Logs use it"
        )


# --- log groups AWS creates on a resource's behalf ---------------------------------------------


@dataclass(frozen=True)
class ImplicitLogGroups:
    """A resource type that makes AWS create log groups of its own on first write: untagged,
    unencrypted and kept forever, and left behind by `pulumi destroy`. `names` gives, from the
    resource's inputs, each group's exact name and the region it is in (None: the resource's
    own); `source` is where AWS documents it."""

    type: str
    names: Callable[[Resource], list[tuple[str, str | None]]]
    source: str


def _lambda_groups(function: Resource) -> list[tuple[str, str | None]]:
    custom = function.get("loggingConfig.logGroup")
    if isinstance(custom, str) and custom:
        return [(custom, None)]
    name = function.get("name")
    return [(f"/aws/lambda/{name}", None)] if isinstance(name, str) else []


def _rds_groups(kind: str, id_key: str) -> Callable[[Resource], list[tuple[str, str | None]]]:
    def names(database: Resource) -> list[tuple[str, str | None]]:
        identifier = database.get(id_key)
        if not isinstance(identifier, str):
            return []
        return [
            (f"/aws/rds/{kind}/{identifier}/{export}", None)
            for export in items(database.get("enabledCloudwatchLogsExports"))
            if isinstance(export, str)
        ]

    return names


def _eks_groups(cluster: Resource) -> list[tuple[str, str | None]]:
    name = cluster.get("name")
    if not isinstance(name, str) or not items(cluster.get("enabledClusterLogTypes")):
        return []
    return [(f"/aws/eks/{name}/cluster", None)]


# The provider's loggingConfiguration keys and the module name in MWAA's group names.
MWAA_LOG_MODULES = {
    "dagProcessingLogs": "DAGProcessing",
    "schedulerLogs": "Scheduler",
    "taskLogs": "Task",
    "webserverLogs": "WebServer",
    "workerLogs": "Worker",
}


def _mwaa_groups(environment: Resource) -> list[tuple[str, str | None]]:
    name = environment.get("name")
    if not isinstance(name, str):
        return []
    return [
        (f"airflow-{name}-{module}", None)
        for key, module in MWAA_LOG_MODULES.items()
        if is_true(environment.get(f"loggingConfiguration.{key}.enabled"))
    ]


CHATBOT_LOG_REGION = "us-east-1"


def _chatbot_groups(channel: Resource) -> list[tuple[str, str | None]]:
    name = channel.get("configurationName")
    return [(f"/aws/chatbot/{name}", CHATBOT_LOG_REGION)] if isinstance(name, str) else []


OBSERVABILITY_ADDON = "amazon-cloudwatch-observability"
# Fluent Bit's groups, on unless the add-on's configuration turns container logs off.
CONTAINER_LOG_GROUPS = ("application", "dataplane", "host")


def _addon_groups(addon: Resource) -> list[tuple[str, str | None]]:
    cluster = addon.get("clusterName")
    if addon.get("addonName") != OBSERVABILITY_ADDON or not isinstance(cluster, str):
        return []
    kinds = ["performance"]
    configuration = addon.get("configurationValues")
    try:
        values = json.loads(configuration) if isinstance(configuration, str) else None
    except ValueError:
        values = None
    if at(values, "containerLogs.enabled") is not False:
        kinds += CONTAINER_LOG_GROUPS
    return [(f"/aws/containerinsights/{cluster}/{kind}", None) for kind in kinds]


_LOG_GROUP_ARN = re.compile(r":log-group:([^:]+)(:\*)?$")


def _flow_log_groups(flow: Resource) -> list[tuple[str, str | None]]:
    if flow.get("logDestinationType", "cloud-watch-logs") != "cloud-watch-logs":
        return []
    destination = flow.get("logDestination")
    match = _LOG_GROUP_ARN.search(destination) if isinstance(destination, str) else None
    if match:
        return [(match.group(1), None)]
    name = flow.get("logGroupName")
    return [(name, None)] if isinstance(name, str) and name else []


IMPLICIT_LOG_GROUPS: list[ImplicitLogGroups] = [
    ImplicitLogGroups(
        "aws:lambda/function:Function",
        _lambda_groups,
        'Lambda Developer Guide, "Configuring CloudWatch log groups": /aws/lambda/<function '
        "name>, created on first invoke, unless loggingConfig.logGroup names another",
    ),
    ImplicitLogGroups(
        "aws:rds/instance:Instance",
        _rds_groups("instance", "identifier"),
        'RDS User Guide, "Publishing database logs to Amazon CloudWatch Logs": '
        "/aws/rds/instance/<identifier>/<log type> per enabledCloudwatchLogsExports",
    ),
    ImplicitLogGroups(
        "aws:rds/cluster:Cluster",
        _rds_groups("cluster", "clusterIdentifier"),
        'Aurora User Guide, "Publishing database logs to Amazon CloudWatch Logs": '
        "/aws/rds/cluster/<cluster>/<log type>",
    ),
    ImplicitLogGroups(
        "aws:eks/cluster:Cluster",
        _eks_groups,
        'EKS User Guide, "Send control plane logs to CloudWatch Logs": '
        "/aws/eks/<cluster>/cluster once any log type is enabled",
    ),
    ImplicitLogGroups(
        "aws:mwaa/environment:Environment",
        _mwaa_groups,
        'MWAA User Guide, "Amazon MWAA execution role" (log-group:airflow-<environment>-*) '
        'and "Accessing Airflow logs in Amazon CloudWatch": airflow-<environment>-<Module> '
        "per enabled log type",
    ),
    ImplicitLogGroups(
        "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration",
        _chatbot_groups,
        'aws_chatbot construct library, "Log Group": /aws/chatbot/<configuration name> in '
        "us-east-1",
    ),
    ImplicitLogGroups(
        "aws:eks/addon:Addon",
        _addon_groups,
        "CloudWatch User Guide, Container Insights on EKS: the agent's "
        "/aws/containerinsights/<cluster>/performance, and Fluent Bit's application, dataplane "
        "and host groups unless containerLogs.enabled is false",
    ),
    ImplicitLogGroups(
        "aws:ec2/flowLog:FlowLog",
        _flow_log_groups,
        'VPC User Guide, "Publish flow logs to CloudWatch Logs": the destination group is '
        "created if it does not exist",
    ),
]
"""What AWS creates log groups for. Not here: RDS Enhanced Monitoring's `RDSOSMetrics`, one
group per account and region shared by every instance (AmazonRDSEnhancedMonitoringRole lets
RDS create `RDS*`): a stack that declared it would delete the other stacks' metrics on
destroy, and a second stack could not create it."""


def implicit_log_groups(resource: Resource) -> list[tuple[str, str | None]]:
    """The (name, region) of each log group AWS would create for `resource` on its own."""
    return [
        group
        for spec in IMPLICIT_LOG_GROUPS
        if spec.type == resource.type
        for group in spec.names(resource)
    ]


def _implicit_log_groups_declared(stack: Stack) -> Iterable[tuple[str, str]]:
    declared = [
        (group, group.get("name"), group.get("region")) for group in stack.of_type(LOG_GROUP)
    ]
    for resource in stack.resources:
        for name, region in implicit_log_groups(resource):
            where = region or resource.get("region")
            found = [g for g, n, r in declared if n == name and r == where]
            in_region = f" in {where}" if where else ""
            if not found:
                yield (
                    resource.urn,
                    f"AWS creates log group {name}{in_region} on its own on first write: "
                    "untagged, unencrypted and kept forever, and left behind by destroy; declare "
                    f"an aws.cloudwatch.LogGroup named {name}{in_region} with the stack's "
                    "retention, key and tags, and make this resource depend on it",
                )
            elif not any(g.urn in resource.dependencies for g in found):
                yield (
                    resource.urn,
                    f"log group {name} is declared but this resource does not depend on it, so "
                    "AWS may create it first (and the group may go before the resource on "
                    "destroy): add it to depends_on",
                )


# --- alarms -------------------------------------------------------------------------------


def _actions_enabled(resource: Resource, stack: Stack) -> Iterable[str]:
    if resource.get("actionsEnabled") is False:
        yield "the alarm's actions are disabled: set actionsEnabled = true"
    if not items(resource.get("alarmActions")):
        yield "the alarm notifies no one: set alarmActions to the stack's alert topic"


def _topic_arns(stack: Stack) -> tuple[set[str], set[str]]:
    """(ARNs, names) of the stack's SNS topics: the ARN when a topic policy states it, the
    name from the topic itself (its ARN ends with it)."""
    arns = {str(p.get("arn")) for p in stack.of_type(TOPIC_POLICY) if p.get("arn")}
    names = {str(t.get("name")) for t in stack.of_type(TOPIC) if t.get("name")}
    return arns, names


def _is_stack_topic(arn: object, arns: set[str], names: set[str]) -> bool:
    if not isinstance(arn, str):
        return False
    parts = arn.split(":")
    return arn in arns or (len(parts) == 6 and parts[2] == "sns" and parts[5] in names)


def _alarms_notify_stack_topic(stack: Stack) -> Iterable[tuple[str, str]]:
    arns, names = _topic_arns(stack)
    for alarm in stack.of_type(*ALARM_TYPES):
        for actions in ("alarmActions", "okActions"):
            if not any(_is_stack_topic(a, arns, names) for a in items(alarm.get(actions))):
                yield (
                    alarm.urn,
                    f"{actions} does not include the stack's alert topic: add the topic's ARN "
                    "so the alarm (and its recovery) reaches Slack and e-mail",
                )


def _stack_urn(stack: Stack) -> str | None:
    """The stack's own URN: where a finding about something missing is reported."""
    for resource in stack.resources:
        if resource.type == STACK_TYPE:
            return resource.urn
    if not stack.resources:
        return None
    # urn:pulumi:<stack>::<project>::<types>::<name>
    head, _, _ = stack.resources[0].urn.partition("::")
    name = head.removeprefix("urn:pulumi:")
    project = stack.resources[0].urn.split("::")[1]
    return f"{head}::{project}::{STACK_TYPE}::{project}-{name}"


def _alarm_names(stack: Stack) -> list[str]:
    return [str(a.get("name") or a.name) for a in stack.of_type(*ALARM_TYPES)]


def _alarms_cover_components(stack: Stack) -> Iterable[tuple[str, str]]:
    root = _stack_urn(stack)
    if root is None:
        return
    names = _alarm_names(stack)
    for key, watched in REQUIRED_ALARMS.items():
        if not any(name == key or name.endswith(f"-{key}") for name in names):
            yield (
                root,
                f"no alarm watches {watched}: declare the `{key}` alarm "
                "(airflow_platform.alarms) wired to the stack's topic",
            )
    database_alarms = {
        str((alarm.get("dimensions") or {}).get("DBInstanceIdentifier"))
        for alarm in stack.of_type(METRIC_ALARM)
        if alarm.get("namespace") == "AWS/RDS"
    }
    for instance in stack.of_type(RDS_INSTANCE):
        if str(instance.get("identifier")) not in database_alarms:
            yield (
                instance.urn,
                "no alarm watches this database (AWS/RDS metrics with its "
                "DBInstanceIdentifier): declare the database alarms (CPU, storage, memory, "
                "connections)",
            )


# --- SNS ----------------------------------------------------------------------------------


def _topic_encrypted(resource: Resource, stack: Stack) -> Iterable[str]:
    if not resource.get("kmsMasterKeyId"):
        yield (
            "the topic is not encrypted: set kmsMasterKeyId to a customer-managed key whose "
            "policy lets CloudWatch and EventBridge use it (alias/aws/sns cannot)"
        )


def _topic_not_public(resource: Resource, stack: Stack) -> Iterable[str]:
    for where in public_allows(resource.get("policy")):
        yield (
            f'topic policy {where} allows any principal ("*") without a condition: name '
            "the publishing service or account, or add a condition such as aws:SourceAccount"
        )


RULES: list[Rule] = [
    Rule(
        name="logs-retention-set",
        service="Logs",
        description="Every log group has a retention.",
        types=frozenset({LOG_GROUP}),
        check=_retention_set,
    ),
    Rule(
        name="logs-audit-retention",
        service="Logs",
        description=f"Prod keeps audit log groups (EKS control plane, VPC flow logs, RDS "
        f"PostgreSQL, CloudTrail) at least {AUDIT_RETENTION_DAYS} days.",
        # A threshold of prod's: other tiers keep their logs as briefly as they like.
        levels=levels(others=Level.DISABLED),
        types=frozenset({LOG_GROUP}),
        check=_audit_retention,
    ),
    Rule(
        name="logs-encrypted",
        service="Logs",
        description="Every log group is encrypted with a customer-managed KMS key.",
        types=frozenset({LOG_GROUP}),
        check=_log_group_encrypted,
    ),
    Rule(
        name="logs-implicit-groups-declared",
        service="Logs",
        description="Every log group AWS would create for a declared resource (Lambda, RDS, "
        "EKS, MWAA, Chatbot, Container Insights, flow logs) is declared by the stack with "
        "that exact name, and the resource depends on it.",
        # Mandatory where an orphan costs most: prod (a group without retention or key
        # escapes logs-retention-set and logs-encrypted) and ephemeral (destroy leaves it
        # behind). Advisory on dev and staging, like the other log rules.
        levels=levels(ephemeral=Level.MANDATORY),
        stack_check=_implicit_log_groups_declared,
    ),
    Rule(
        name="alarms-actions-enabled",
        service="Alarms",
        description="Every alarm has its actions enabled and an alarm action.",
        types=ALARM_TYPES,
        check=_actions_enabled,
    ),
    Rule(
        name="alarms-notify-stack-topic",
        service="Alarms",
        description="Every alarm's alarmActions and okActions include the stack's SNS topic.",
        stack_check=_alarms_notify_stack_topic,
    ),
    Rule(
        name="alarms-cover-components",
        service="Alarms",
        description="Each monitored component (Airflow's four, database, backup, restore "
        "drill, health probe) has its alarm.",
        stack_check=_alarms_cover_components,
    ),
    Rule(
        name="sns-topic-encrypted",
        service="SNS",
        description="Every SNS topic is encrypted with a KMS key.",
        types=frozenset({TOPIC}),
        check=_topic_encrypted,
    ),
    Rule(
        name="sns-topic-not-public",
        service="SNS",
        description="No topic policy allows the * principal without a condition.",
        types=frozenset({TOPIC, TOPIC_POLICY}),
        check=_topic_not_public,
    ),
]
