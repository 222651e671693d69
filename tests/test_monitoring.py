"""Monitoring in every stack's program: the encrypted alert topic and who may publish to it,
Slack through AWS Chatbot, the health probe and its schedules, every alarm wired to the topic,
the dashboard; and the monitoring section of the config."""

from __future__ import annotations

import json

import pytest
from health_probe import metrics as probe

from airflow_platform import alarms as alarm_module
from airflow_platform.alarms import AlarmSpec, Missing, Watched, alarm_specs, mwaa_task_capacity
from airflow_platform.config import ConfigError, Tier
from airflow_platform.plan.project import Project, read_stack_config
from airflow_platform.plan.runner import run_program
from tests.conftest import ROOT, settings_for

TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
CHATBOT = "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FUNCTION = "aws:lambda/function:Function"
SCHEDULE = "aws:scheduler/schedule:Schedule"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KEY = "aws:kms/key:Key"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
REPOSITORY_STACKS = ["dev", "staging", "prod", "pr-7"]

ALWAYS = {
    "metadatabase-unhealthy",
    "scheduler-unhealthy",
    "triggerer-unhealthy",
    "dag-processor-unhealthy",
    "backup-stale",
    "restore-drill-failed",
    "restore-drill-silent",
    "database-cpu",
    "database-storage",
    "database-memory",
    "database-connections",
    "health-probe-errors",
    "health-probe-dead-letters",
}
RUNTIME = {
    "mwaa": {"mwaa-scheduler-heartbeat", "mwaa-queued-tasks", "mwaa-running-tasks-saturated"},
    "eks": {"eks-nodes-failed", "eks-pods-pending", "eks-pods-failed"},
}


@pytest.fixture(scope="module")
def runs():
    project = Project.load(ROOT)
    return {stack: run_program(project, stack, read_stack_config(project, stack))
            for stack in REPOSITORY_STACKS}  # fmt: skip


def _of(run, token):
    return [r for r in run.resources if r.type == token]


def _one(run, token):
    found = _of(run, token)
    assert len(found) == 1, f"{token}: {len(found)} found"
    return found[0]


def _platform(run) -> str:
    return run.outputs["platform"]


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:eu-west-1:123456789012:{resource}"


@pytest.mark.parametrize("stack", REPOSITORY_STACKS)
def test_every_stack_has_topic_chatbot_probe_alarms_and_dashboard(runs, stack):
    run = runs[stack]
    topic = _one(run, TOPIC)
    assert topic.inputs["name"] == f"airflow-{stack}-alerts"
    chatbot = _one(run, CHATBOT)
    assert chatbot.inputs["snsTopicArns"] == [_arn("sns", f"airflow-{stack}-alerts")]
    assert chatbot.inputs["guardrailPolicyArns"] == [
        "arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess"
    ]
    assert chatbot.inputs["userAuthorizationRequired"] is True
    function = _one(run, FUNCTION)
    assert function.inputs["name"] == f"airflow-{stack}-health-probe"
    assert {s.inputs["scheduleExpression"] for s in _of(run, SCHEDULE)} == {
        "rate(1 minute)",
        "rate(15 minutes)",
    }
    names = [a.inputs["name"] for a in _of(run, ALARM)]
    assert {n.removeprefix(f"airflow-{stack}-") for n in names} == ALWAYS | RUNTIME[_platform(run)]
    dashboard = json.loads(_one(run, DASHBOARD).inputs["dashboardBody"])
    board = next(w for w in dashboard["widgets"] if w["type"] == "alarm")
    assert sorted(board["properties"]["alarms"]) == sorted(
        _arn("cloudwatch", f"alarm:{name}") for name in names
    )


@pytest.mark.parametrize("stack", REPOSITORY_STACKS)
def test_every_alarm_sends_alarm_and_ok_to_the_stacks_topic(runs, stack):
    run = runs[stack]
    topic_arn = _arn("sns", f"airflow-{stack}-alerts")
    for alarm in _of(run, ALARM):
        assert alarm.inputs["actionsEnabled"] is True, alarm.name
        assert alarm.inputs["alarmActions"] == [topic_arn], alarm.name
        assert alarm.inputs["okActions"] == [topic_arn], alarm.name


@pytest.mark.parametrize("stack", REPOSITORY_STACKS)
def test_topic_is_encrypted_with_a_key_that_lets_alarms_publish(runs, stack):
    run = runs[stack]
    key_arn = _one(run, TOPIC).inputs["kmsMasterKeyId"]
    # prod has the project key; the other tiers get one for the topic alone.
    prefix = "kms" if stack == "prod" else "monitoring-alerts-kms"
    alias = next(r for r in _of(run, "aws:kms/alias:Alias") if r.name == f"{prefix}-alias")
    assert key_arn == _arn("kms", f"key/{alias.inputs['targetKeyId']}")
    key = next(k for k in _of(run, KEY) if k.name == f"{prefix}-key")
    publishers = next(
        s
        for s in json.loads(key.inputs["policy"])["Statement"]
        if s["Sid"] == "AlarmsAndEventsPublishToEncryptedTopics"
    )
    assert set(publishers["Principal"]["Service"]) == {
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
    }
    if stack == "prod":
        assert key_arn == run.outputs["kmsKeyArn"]


@pytest.mark.parametrize("stack", REPOSITORY_STACKS)
def test_topic_policy_admits_only_this_accounts_cloudwatch_and_eventbridge(runs, stack):
    run = runs[stack]
    policy = json.loads(_one(run, TOPIC_POLICY).inputs["policy"])
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert {s["Principal"]["Service"] for s in allows} == {
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
    }
    for allow in allows:
        assert allow["Action"] == "sns:Publish"
        assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    deny = next(s for s in policy["Statement"] if s["Effect"] == "Deny")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("stack", REPOSITORY_STACKS)
def test_probe_lambda_meets_the_lambda_rules(runs, stack):
    run = runs[stack]
    inputs = _one(run, FUNCTION).inputs
    assert inputs["reservedConcurrentExecutions"] == 1
    assert inputs["tracingConfig"] == {"mode": "Active"}
    assert inputs["deadLetterConfig"]["targetArn"].startswith("arn:aws:sqs:")
    assert inputs["kmsKeyArn"] == _one(run, TOPIC).inputs["kmsMasterKeyId"]
    assert inputs["runtime"] == "python3.12"
    assert inputs["vpcConfig"]["subnetIds"], "the probe runs in the private subnets"
    variables = inputs["environment"]["variables"]
    assert set(variables) <= {
        "STACK", "METRICS_NAMESPACE", "TIMEOUT_SECONDS", "BACKUP_DATABASE",
        "MWAA_ENVIRONMENT", "AIRFLOW_API_URL",
    }  # fmt: skip
    assert variables["METRICS_NAMESPACE"] == probe.NAMESPACE
    if _platform(run) == "mwaa":
        assert variables["MWAA_ENVIRONMENT"] == f"airflow-{stack}"
    else:
        assert variables["AIRFLOW_API_URL"].startswith("http")
    group = next(
        g for g in _of(run, LOG_GROUP) if g.inputs["name"] == f"/aws/lambda/{inputs['name']}"
    )
    assert inputs["loggingConfig"]["logGroup"] == group.inputs["name"]
    assert group.inputs["kmsKeyId"] == inputs["kmsKeyArn"]
    assert group.inputs["retentionInDays"] >= 7


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_eks_api_endpoint_admits_the_probe_and_nothing_else_from_monitoring(runs, stack):
    run = runs[stack]
    admits = [r for r in _of(run, INGRESS) if "admits-probe" in r.name]
    assert len(admits) == 1
    assert admits[0].inputs["fromPort"] == admits[0].inputs["toPort"] == 8080


def test_mwaa_probe_may_invoke_only_the_viewer_role_of_its_environment(runs):
    run = runs["dev"]
    policies = [r for r in _of(run, "aws:iam/rolePolicy:RolePolicy") if "probe-policy" in r.name]
    statements = json.loads(policies[0].inputs["policy"])["Statement"]
    invoke = next(s for s in statements if s["Action"] == "airflow:InvokeRestApi")
    assert invoke["Resource"] == ("arn:aws:airflow:eu-west-1:123456789012:role/airflow-dev/Viewer")


def test_probe_code_is_packaged_deterministically_and_changes_with_its_source(tmp_path):
    from airflow_platform.components.health_probe import write_archive

    source = ROOT / "functions" / "health_probe"
    first, second = write_archive(source), write_archive(source)
    assert first == second
    copy = tmp_path / "probe"
    import shutil

    shutil.copytree(source / "health_probe", copy / "health_probe")
    (copy / "health_probe" / "handler.py").write_text(
        (copy / "health_probe" / "handler.py").read_text() + "\n# changed\n"
    )
    assert write_archive(copy).sha256_base64 != first.sha256_base64


# The alarm list itself.


def _watched(**overrides) -> Watched:
    values = {
        "stack": "s",
        "probe_function": "f",
        "probe_dead_letter_queue": "q",
        "backup_database": "airflow",
        "database_identifier": "db",
        "mwaa_environment": "e",
    }
    return Watched(**(values | overrides))


@pytest.mark.parametrize("tier", list(Tier))
def test_component_alarms_wait_the_tiers_minutes_and_treat_silence_as_unhealthy(tier):
    settings = settings_for(tier, platform="mwaa")
    minutes = settings.config.monitoring.alarms.unhealthy_minutes
    specs = {s.key: s for s in alarm_specs(settings.config, _watched())}
    for component in probe.COMPONENTS:
        spec = specs[f"{component.replace('_', '-')}-unhealthy"]
        assert (spec.period, spec.evaluation_periods) == (60, minutes)
        assert spec.missing is Missing.BREACHING
        assert (spec.comparison, spec.threshold) == ("LessThanThreshold", 1)


def test_tiers_alarm_sooner_the_more_they_matter():
    minutes = {t: settings_for(t).config.monitoring.alarms.unhealthy_minutes for t in Tier}
    assert minutes[Tier.PROD] < minutes[Tier.STAGING] < minutes[Tier.DEV] <= minutes[Tier.EPHEMERAL]


def test_backup_freshness_is_one_period_of_the_configured_hours():
    settings = settings_for(Tier.DEV, monitoring={"alarms": {"backupMaxAgeHours": 30}})
    spec = next(s for s in alarm_specs(settings.config, _watched()) if s.key == "backup-stale")
    assert (spec.period, spec.evaluation_periods, spec.statistic) == (30 * 3600, 1, "SampleCount")
    assert spec.missing is Missing.BREACHING


def test_an_alarm_beyond_cloudwatchs_evaluation_range_is_refused():
    with pytest.raises(ValueError, match="evaluation range"):
        AlarmSpec(key="k", watches="w", namespace="n", metric="m", dimensions={},
                  statistic="Sum", period=86400, evaluation_periods=8, comparison="c",
                  threshold=1, missing=Missing.BREACHING)  # fmt: skip
    with pytest.raises(ValueError, match="evaluation range"):
        AlarmSpec(key="k", watches="w", namespace="n", metric="m", dimensions={},
                  statistic="Sum", period=60, evaluation_periods=1441, comparison="c",
                  threshold=1, missing=Missing.BREACHING)  # fmt: skip


def test_mwaa_saturation_threshold_follows_class_workers_and_autoscale_override():
    base = settings_for(Tier.DEV, platform="mwaa").config
    assert mwaa_task_capacity(base) == 5 * base.mwaa.max_workers  # mw1.small: 5 per worker
    custom = settings_for(
        Tier.DEV, platform="mwaa", mwaa={"airflowOptions": {"celery.worker_autoscale": "8,2"}}
    ).config
    assert mwaa_task_capacity(custom) == 8 * custom.mwaa.max_workers


def test_mwaa_alarms_use_only_metrics_mwaa_publishes():
    config = settings_for(Tier.DEV, platform="mwaa").config
    for spec in alarm_specs(config, _watched()):
        if spec.namespace == alarm_module.MWAA_NAMESPACE:
            assert spec.metric in alarm_module.MWAA_METRICS
            assert spec.dimensions["Function"] == alarm_module.MWAA_METRICS[spec.metric]
            assert set(spec.dimensions) == {"Function", "Environment"}


def test_no_database_no_database_alarms():
    config = settings_for(Tier.DEV, platform="mwaa", database={"enabled": False}).config
    keys = {s.key for s in alarm_specs(config, _watched(database_identifier=None))}
    assert not {k for k in keys if k.startswith("database-")}


# The config section.


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ({"slack": {"workspaceId": "t0123", "channelId": "C0123ABCD45"}}, "workspaceId"),
        ({"slack": {"workspaceId": "T0123ABCD45", "channelId": "#alerts"}}, "channelId"),
        ({"emails": ["oncall.example.com"]}, "emails"),
        ({"alarms": {"unhealthyMinutes": 0}}, "unhealthyMinutes"),
        ({"alarms": {"restoreDrillMaxAgeDays": 20}}, "restoreDrillMaxAgeDays"),
    ],
)
def test_monitoring_keys_are_validated_naming_the_key(value, key):
    with pytest.raises(ConfigError, match=key):
        settings_for(Tier.DEV, monitoring=value)


@pytest.mark.parametrize("tier", [Tier.STAGING, Tier.PROD])
def test_staging_and_prod_refuse_a_stack_without_slack(tier):
    with pytest.raises(ConfigError, match=r"monitoring\.slack is required"):
        settings_for(tier, monitoring={"emails": ["oncall@example.com"]})


def test_free_storage_threshold_must_be_below_the_allocation():
    with pytest.raises(ConfigError, match="databaseFreeStorageGb"):
        settings_for(Tier.DEV, monitoring={"alarms": {"databaseFreeStorageGb": 20}})


def test_e_mail_subscribers_are_declared_for_each_address(declare):
    from airflow_platform.aws_context import AwsContext
    from airflow_platform.components.alerts import AlertTopic, AlertTopicArgs

    def build():
        AlertTopic(
            "alerts",
            AlertTopicArgs(
                stack="dev",
                aws=AwsContext.current("eu-west-1"),
                tags={"stack": "dev"},
                slack=None,
                emails=["a@example.com", "b@example.org"],
                log_retention_days=30,
            ),
        )

    declared = declare(build)
    subscriptions = declared.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == ["a@example.com", "b@example.org"]
    assert {s.inputs["protocol"] for s in subscriptions} == {"email"}
    assert not declared.of_type(CHATBOT), "no Slack configured: no Chatbot configuration"
