"""Logs, alarms and SNS policy rules (policy/platform_rules/logs.py) over the stacks' real log
groups, alarms and alert topic."""

from __future__ import annotations

import dataclasses
import json

import pytest
from platform_rules import Level, Tier, evaluate
from platform_rules.logs import (
    AUDIT_RETENTION_DAYS,
    REQUIRED_ALARMS,
    implicit_log_groups,
    is_audit_log_group,
)

from airflow_platform.alarms import Watched, alarm_specs
from airflow_platform.config import Platform
from tests.conftest import settings_for
from tests.test_policy_rules_iam import (
    COMMITTED_STACKS,
    blocking,
    changed,
    module_rules,
    one,
    program_stack,
    rule,
    swapped,
    violating_urns,
    violations,
    with_statements,
)

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
CHATBOT_LOGS = "monitoring-alerts-chatbot-logs"
# Log groups the platform keeps as audit logs, by their logical names.
AUDIT_GROUPS = {"eks-logs", "network-flow-logs", "database-log-postgresql"}


# --- the committed stacks --------------------------------------------------------------------


@pytest.mark.parametrize("stack", COMMITTED_STACKS)
def test_committed_stacks_block_only_on_the_chatbot_log_group(stack):
    # Chatbot logs to us-east-1, where the stack's regional key cannot encrypt (CloudWatch Logs
    # needs a key in the log group's region): prod needs a waiver of logs-encrypted for it.
    findings = blocking(program_stack(stack), module_rules("logs"))
    expected = [("logs-encrypted", CHATBOT_LOGS)] if stack == "prod" else []
    assert [(f.rule, f.urn.rsplit("::", 1)[1]) for f in findings] == expected


def test_prod_on_mwaa_blocks_only_on_the_chatbot_log_group():
    findings = blocking(program_stack("prod", "mwaa"), module_rules("logs"))
    assert [(f.rule, f.urn.rsplit("::", 1)[1]) for f in findings] == [
        ("logs-encrypted", CHATBOT_LOGS)
    ]


@pytest.mark.parametrize("stack", COMMITTED_STACKS)
def test_alarm_and_topic_rules_pass_on_every_committed_stack(stack):
    names = {"alarms-actions-enabled", "alarms-notify-stack-topic", "alarms-cover-components",
             "sns-topic-encrypted", "sns-topic-not-public", "logs-retention-set"}  # fmt: skip
    assert (
        evaluate([r for r in module_rules("logs") if r.name in names], program_stack(stack)) == []
    )


# --- logs-retention-set ---------------------------------------------------------------------


def test_log_group_without_retention_is_reported_with_its_urn():
    stack = program_stack("prod")
    group = one(stack, LOG_GROUP, "monitoring-probe-logs")
    for days in (None, 0):
        found = violations(
            "logs-retention-set", swapped(stack, changed(group, retentionInDays=days))
        )
        assert [urn for urn, _ in found] == [group.urn]


# --- logs-audit-retention -------------------------------------------------------------------


def test_audit_log_groups_are_the_control_plane_flow_and_database_logs():
    stack = program_stack("prod")
    audit = {g.name for g in stack.of_type(LOG_GROUP) if is_audit_log_group(g, stack)}
    assert audit == AUDIT_GROUPS


def test_prod_audit_log_groups_keep_a_year():
    stack = program_stack("prod")
    for group in stack.of_type(LOG_GROUP):
        if group.name in AUDIT_GROUPS:
            assert group.props["retentionInDays"] >= AUDIT_RETENTION_DAYS, group.name
    assert violations("logs-audit-retention", stack) == []


@pytest.mark.parametrize("name", sorted(AUDIT_GROUPS))
def test_prod_audit_log_group_kept_less_than_a_year_is_reported_with_its_urn(name):
    stack = program_stack("prod")
    group = one(stack, LOG_GROUP, name)
    found = violations("logs-audit-retention", swapped(stack, changed(group, retentionInDays=90)))
    assert [urn for urn, _ in found] == [group.urn]
    assert str(AUDIT_RETENTION_DAYS) in found[0][1]


def test_flow_log_destination_counts_as_audit_whatever_its_name():
    stack = program_stack("prod")
    group = one(stack, LOG_GROUP, "network-flow-logs")
    renamed = changed(group, name="/airflow-platform/prod/network", retentionInDays=30)
    flow = one(stack, "aws:ec2/flowLog:FlowLog", "network-flow-log")
    pointed = changed(
        flow,
        logDestination="arn:aws:logs:eu-west-1:123456789012:log-group:/airflow-platform/prod/network",
    )
    assert violating_urns("logs-audit-retention", swapped(stack, renamed, pointed)) == {group.urn}


def test_short_retention_outside_prod_is_not_an_audit_finding():
    # Dev keeps its logs 30 days, its database logs included: prod's threshold only.
    assert rule("logs-audit-retention").level(Tier.DEV) is Level.DISABLED
    dev = program_stack("dev")
    assert one(dev, LOG_GROUP, "database-log-postgresql").props["retentionInDays"] < 365
    assert violations("logs-audit-retention", dev) == []


# --- logs-encrypted -------------------------------------------------------------------------


def test_encrypted_log_group_passes_and_unencrypted_is_reported_with_its_urn():
    stack = program_stack("prod")
    group = one(stack, LOG_GROUP, "monitoring-probe-logs")
    assert list(rule("logs-encrypted").check(group, stack)) == []
    found = violations("logs-encrypted", swapped(stack, changed(group, kmsKeyId=None)))
    assert group.urn in {urn for urn, _ in found}


def test_chatbot_log_group_lives_outside_the_keys_region():
    # Why it needs a waiver rather than the project key.
    stack = program_stack("prod")
    group = one(stack, LOG_GROUP, CHATBOT_LOGS)
    assert group.props["region"] == "us-east-1"
    key_arn = one(stack, LOG_GROUP, "monitoring-probe-logs").props["kmsKeyId"]
    assert key_arn.split(":")[3] == "eu-west-1"
    assert violating_urns("logs-encrypted", stack) == {group.urn}


# --- alarms-actions-enabled -----------------------------------------------------------------


def _scheduler_alarm(stack):
    return one(stack, ALARM, "monitoring-scheduler-unhealthy")


@pytest.mark.parametrize(
    ("change", "complaint"),
    [({"actionsEnabled": False}, "actionsEnabled"), ({"alarmActions": []}, "notifies no one")],
)
def test_alarm_that_cannot_notify_is_reported_with_its_urn(change, complaint):
    stack = program_stack("prod")
    alarm = _scheduler_alarm(stack)
    found = violations("alarms-actions-enabled", swapped(stack, changed(alarm, **change)))
    assert [urn for urn, _ in found] == [alarm.urn]
    assert complaint in found[0][1]


# --- alarms-notify-stack-topic --------------------------------------------------------------


@pytest.mark.parametrize("actions", ["alarmActions", "okActions"])
def test_alarm_notifying_another_topic_is_reported_with_its_urn(actions):
    stack = program_stack("prod")
    alarm = _scheduler_alarm(stack)
    elsewhere = changed(alarm, **{actions: ["arn:aws:sns:eu-west-1:123456789012:someone-else"]})
    found = violations("alarms-notify-stack-topic", swapped(stack, elsewhere))
    assert [urn for urn, _ in found] == [alarm.urn]
    assert actions in found[0][1]


def test_alarms_of_a_stack_without_a_topic_are_all_reported():
    stack = program_stack("prod")
    topicless = swapped(stack, drop=stack.of_type(TOPIC, TOPIC_POLICY))
    assert violating_urns("alarms-notify-stack-topic", topicless) == {
        a.urn for a in stack.of_type(ALARM)
    }


# --- alarms-cover-components ----------------------------------------------------------------


def test_required_alarms_are_what_the_platform_declares_on_both_runtimes():
    # The rule's list matches airflow_platform.alarms for mwaa and eks alike.
    for platform in Platform:
        config = settings_for(Tier.PROD, platform=platform.value).config
        keys = {spec.key for spec in alarm_specs(config, Watched(
            stack="prod", probe_function="f", probe_dead_letter_queue="q",
            backup_database="airflow", database_identifier="db", mwaa_environment="m",
            eks_cluster="c",
        ))}  # fmt: skip
        assert set(REQUIRED_ALARMS) <= keys, platform


@pytest.mark.parametrize("key", sorted(REQUIRED_ALARMS))
def test_missing_component_alarm_is_reported_on_the_stack(key):
    stack = program_stack("prod")
    alarm = next(a for a in stack.of_type(ALARM) if a.props["name"].endswith(f"-{key}"))
    found = violations("alarms-cover-components", swapped(stack, drop=[alarm]))
    # Nothing to point at but the stack itself.
    root = "urn:pulumi:prod::airflow-platform::pulumi:pulumi:Stack::airflow-platform-prod"
    assert [urn for urn, _ in found] == [root]
    assert key in found[0][1]


def test_database_without_alarms_is_reported_with_the_instances_urn():
    stack = program_stack("prod")
    rds = [a for a in stack.of_type(ALARM) if a.props["namespace"] == "AWS/RDS"]
    assert len(rds) == 4
    found = violations("alarms-cover-components", swapped(stack, drop=rds))
    instance = one(stack, "aws:rds/instance:Instance", "database-instance")
    assert [urn for urn, _ in found] == [instance.urn]


# --- sns-topic-encrypted, sns-topic-not-public ----------------------------------------------


def test_unencrypted_topic_is_reported_with_its_urn():
    stack = program_stack("prod")
    topic = one(stack, TOPIC, "monitoring-alerts-topic")
    assert list(rule("sns-topic-encrypted").check(topic, stack)) == []
    found = violations("sns-topic-encrypted", swapped(stack, changed(topic, kmsMasterKeyId=None)))
    assert [urn for urn, _ in found] == [topic.urn]


def test_deny_to_anyone_is_not_a_public_topic_policy():
    stack = program_stack("prod")
    policy = one(stack, TOPIC_POLICY, "monitoring-alerts-topic-policy")
    denies = [s for s in json.loads(policy.props["policy"])["Statement"] if s["Effect"] == "Deny"]
    assert [s["Principal"] for s in denies] == ["*"]
    assert list(rule("sns-topic-not-public").check(policy, stack)) == []


def test_topic_policy_letting_anyone_publish_is_reported_with_its_urn():
    stack = program_stack("prod")
    policy = one(stack, TOPIC_POLICY, "monitoring-alerts-topic-policy")
    bad = with_statements(
        policy,
        {"Sid": "AnyonePublishes", "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": "sns:Publish", "Resource": policy.props["arn"]},
    )  # fmt: skip
    found = violations("sns-topic-not-public", swapped(stack, bad))
    assert [urn for urn, _ in found] == [policy.urn]
    assert "'AnyonePublishes'" in found[0][1]


# --- logs-implicit-groups-declared ------------------------------------------------------------

IMPLICIT = "logs-implicit-groups-declared"
# Each resource AWS writes logs for, in the stacks' plans, and the groups it would create.
WRITERS = {
    ("pr-7", "mwaa"): {
        "monitoring-probe-function": ["/aws/lambda/airflow-pr-7-health-probe"],
        "database-instance": [
            "/aws/rds/instance/airflow-pr-7-metadata/postgresql",
            "/aws/rds/instance/airflow-pr-7-metadata/upgrade",
        ],
        "mwaa-environment": [
            f"airflow-airflow-pr-7-{module}"
            for module in ("DAGProcessing", "Scheduler", "Task", "WebServer", "Worker")
        ],
        "monitoring-alerts-chatbot": ["/aws/chatbot/airflow-pr-7-alerts"],
    },
    ("pr-7", "eks"): {
        "eks-cluster": ["/aws/eks/airflow-pr-7/cluster"],
        "eks-amazon-cloudwatch-observability": ["/aws/containerinsights/airflow-pr-7/performance"],
    },
    ("prod", None): {"network-flow-log": None},
}


def _urn_of(stack, name):
    [found] = [r for r in stack.resources if r.name == name]
    return found


def _groups_named(stack, name):
    return [g for g in stack.of_type(LOG_GROUP) if g.get("name") == name]


@pytest.mark.parametrize(("stack", "platform"), [*((s, None) for s in COMMITTED_STACKS),
                         ("pr-7", "eks"), ("pr-7", "mwaa"), ("prod", "mwaa")])  # fmt: skip
def test_every_plan_declares_each_implicit_log_group_first(stack, platform):
    assert violations(IMPLICIT, program_stack(stack, platform)) == []


@pytest.mark.parametrize(("key", "writer"), [(k, w) for k, ws in WRITERS.items() for w in ws])
def test_each_log_writer_is_found_with_its_groups_declared_and_depended_on(key, writer):
    stack = program_stack(*key)
    resource = _urn_of(stack, writer)
    groups = implicit_log_groups(resource)
    expected = WRITERS[key][writer]
    if expected is not None:
        assert [name for name, _ in groups] == expected
    assert groups, writer
    for name, _ in groups:
        [group] = _groups_named(stack, name)
        assert group.urn in resource.dependencies, (writer, name)


@pytest.mark.parametrize(("key", "writer"), [(k, w) for k, ws in WRITERS.items() for w in ws])
def test_a_missing_implicit_log_group_is_reported_on_its_writer(key, writer):
    stack = program_stack(*key)
    resource = _urn_of(stack, writer)
    name = implicit_log_groups(resource)[0][0]
    found = violations(IMPLICIT, swapped(stack, drop=_groups_named(stack, name)))
    assert [urn for urn, _ in found] == [resource.urn]
    assert name in found[0][1]
    assert "declare an aws.cloudwatch.LogGroup" in found[0][1]


def test_a_group_the_resource_does_not_depend_on_is_reported():
    stack = program_stack("pr-7", "mwaa")
    environment = _urn_of(stack, "mwaa-environment")
    [task] = _groups_named(stack, "airflow-airflow-pr-7-Task")
    loose = dataclasses.replace(
        environment, dependencies=tuple(d for d in environment.dependencies if d != task.urn)
    )
    found = violations(IMPLICIT, swapped(stack, loose))
    assert [urn for urn, _ in found] == [environment.urn]
    assert "does not depend on it" in found[0][1]


def test_a_group_under_another_name_does_not_count():
    # MWAA's module names are case-sensitive: airflow-<env>-task is not airflow-<env>-Task.
    stack = program_stack("pr-7", "mwaa")
    [task] = _groups_named(stack, "airflow-airflow-pr-7-Task")
    renamed = changed(task, name="airflow-airflow-pr-7-task")
    found = violations(IMPLICIT, swapped(stack, renamed))
    assert [urn for urn, _ in found] == [_urn_of(stack, "mwaa-environment").urn]


def test_the_chatbot_group_must_be_in_us_east_1():
    stack = program_stack("pr-7", "mwaa")
    [group] = _groups_named(stack, "/aws/chatbot/airflow-pr-7-alerts")
    assert group.get("region") == "us-east-1"
    found = violations(IMPLICIT, swapped(stack, changed(group, region=None)))
    assert [urn for urn, _ in found] == [_urn_of(stack, "monitoring-alerts-chatbot").urn]
    assert "in us-east-1" in found[0][1]


def test_a_lambda_logging_elsewhere_needs_that_group_not_the_default():
    stack = program_stack("pr-7", "mwaa")
    function = _urn_of(stack, "monitoring-probe-function")
    elsewhere = changed(
        function, loggingConfig={"logGroup": "/platform/probe", "logFormat": "JSON"}
    )
    found = violations(IMPLICIT, swapped(stack, elsewhere))
    assert [urn for urn, _ in found] == [function.urn]
    assert "/platform/probe" in found[0][1]


def test_container_logs_on_need_the_fluent_bit_groups():
    stack = program_stack("pr-7", "eks")
    addon = _urn_of(stack, "eks-amazon-cloudwatch-observability")
    values = json.loads(addon.get("configurationValues"))
    values["containerLogs"] = {"enabled": True}
    found = violations(
        IMPLICIT, swapped(stack, changed(addon, configurationValues=json.dumps(values)))
    )
    assert [urn for urn, _ in found] == [addon.urn] * 3
    for kind in ("application", "dataplane", "host"):
        assert any(f"/aws/containerinsights/airflow-pr-7/{kind}" in m for _, m in found), kind


def test_what_writes_no_logs_needs_no_group():
    stack = program_stack("pr-7", "eks")
    cluster = _urn_of(stack, "eks-cluster")
    [group] = _groups_named(stack, "/aws/eks/airflow-pr-7/cluster")
    quiet = changed(cluster, enabledClusterLogTypes=[])
    assert violations(IMPLICIT, swapped(stack, quiet, drop=[group])) == []
    mwaa = program_stack("pr-7", "mwaa")
    environment = _urn_of(mwaa, "mwaa-environment")
    logging = {**environment.get("loggingConfiguration"), "taskLogs": {"enabled": False}}
    [task] = _groups_named(mwaa, "airflow-airflow-pr-7-Task")
    off = changed(environment, loggingConfiguration=logging)
    assert violations(IMPLICIT, swapped(mwaa, off, drop=[task])) == []


def test_implicit_log_groups_block_prod_and_ephemeral_only():
    assert {t: rule(IMPLICIT).level(t) for t in Tier} == {
        Tier.PROD: Level.MANDATORY,
        Tier.EPHEMERAL: Level.MANDATORY,
        Tier.STAGING: Level.ADVISORY,
        Tier.DEV: Level.ADVISORY,
    }
