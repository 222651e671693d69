"""The stack's naming rule (teardown/naming.py) against what the program really declares: every
log group, bucket, schedule, secret and named role of the offline plan is owned by its own
stack's rule and by no other stack's, `pr-70`'s or `pr-7-alerts`'s included."""

from __future__ import annotations

import dataclasses
import functools

import pytest

from airflow_platform.config import Tier
from airflow_platform.plan.mocks import PLACEHOLDER_ACCOUNT_ID
from airflow_platform.plan.project import Project, StackConfig, read_stack_config
from airflow_platform.plan.runner import DeclaredResource, ProgramRun, run_program
from airflow_platform.teardown.audit import audit_regions
from airflow_platform.teardown.naming import NamingRule, naming_rule
from tests.conftest import EXAMPLE_SLACK, ROOT, settings_for

PROJECT = "airflow-platform"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
BUCKET = "aws:s3/bucket:Bucket"
SCHEDULE = "aws:scheduler/schedule:Schedule"
SECRET = "aws:secretsmanager/secret:Secret"
ROLE = "aws:iam/role:Role"
# (stack, platform, extra config): the ephemeral stack on both platforms, and prod with the
# optional names switched on (flow logs' group, the access-log bucket).
SCENARIOS = {
    "pr-7-mwaa": ("pr-7", None, {}),
    "pr-7-eks": ("pr-7", "eks", {}),
    "prod-everything": (
        "prod",
        None,
        {"airflow-platform:network.flowLogs": True, "airflow-platform:storage.accessLogging": True},
    ),
}


@functools.cache
def declared(scenario: str) -> ProgramRun:
    stack, platform, extra = SCENARIOS[scenario]
    project = Project.load(ROOT)
    config = read_stack_config(project, stack)
    values = {**config.values, **extra}
    if platform is not None:
        values["airflow-platform:platform"] = platform
    return run_program(project, stack, StackConfig(values, config.secret_keys))


def region_of(run: ProgramRun, resource: DeclaredResource) -> str:
    """The resource's own `region` input (the AWS provider's per-resource region), else the
    stack file's."""
    region = resource.inputs.get("region")
    if isinstance(region, str):
        return region
    return str(read_stack_config(Project.load(ROOT), run.stack).values["aws:region"])


def others(stack: str) -> list[str]:
    """Stacks whose names extend or shorten `stack`: what a prefix would wrongly reach
    (`pr`'s rule must not own `pr-7`'s names, nor `pr-7`'s those of `pr-70`)."""
    shorter = [stack.rsplit("-", 1)[0]] if "-" in stack else []
    return [*shorter, f"{stack}0", f"{stack}-alerts", f"{stack}-metadata", f"{stack}-health"]


def named(run: ProgramRun) -> list[tuple[str, str, DeclaredResource]]:
    """(what, name, resource) of every declared name the naming rule covers."""
    keys = {LOG_GROUP: "name", BUCKET: "bucket", SCHEDULE: "name", SECRET: "name", ROLE: "name"}
    found = []
    for resource in run.resources:
        key = keys.get(resource.type)
        if key is not None and isinstance(resource.inputs.get(key), str):
            found.append((resource.type, resource.inputs[key], resource))
    return found


def owns(rule: NamingRule, token: str, name: str) -> bool:
    return {
        LOG_GROUP: rule.owns_log_group,
        BUCKET: rule.owns_bucket,
        SCHEDULE: rule.owns_schedule,
        SECRET: rule.owns_secret,
        ROLE: rule.owns_role,
    }[token](name)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_declared_name_is_owned_by_its_stacks_rule_when_planned(scenario):
    run = declared(scenario)
    names = named(run)
    kinds = {token for token, _, _ in names}
    assert {LOG_GROUP, BUCKET, SCHEDULE, SECRET, ROLE} <= kinds, kinds

    for token, name, resource in names:
        rule = naming_rule(PROJECT, run.stack, PLACEHOLDER_ACCOUNT_ID, region_of(run, resource))
        assert owns(rule, token, name), f"{resource.urn}: {name!r} is not owned by the rule"


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_no_declared_name_is_owned_by_another_stacks_rule_when_planned(scenario):
    run = declared(scenario)

    for token, name, resource in named(run):
        region = region_of(run, resource)
        for other in others(run.stack):
            rule = naming_rule(PROJECT, other, PLACEHOLDER_ACCOUNT_ID, region)
            if token == ROLE:
                # The one hyphen-ended prefix: `pr`'s `airflow-pr-` does start pr-7's role
                # names. The audit applies it to roles without stack tags only (every role the
                # program declares is tagged, so it is decided by its tags):
                # tests/integration/test_orphan_audit.py checks a pr-70 role is not reported.
                continue
            assert not owns(rule, token, name), f"{resource.urn}: {name!r} owned by {other}"


def test_the_optional_names_are_planned_when_switched_on():
    names = {name for _, name, _ in named(declared("prod-everything"))}

    assert "/airflow-platform/prod/vpc-flow-logs" in names
    assert any(name.startswith("airflow-prod-access-logs-") for name in names)


def test_chatbot_log_group_is_owned_in_us_east_1_only():
    chatbot = "/aws/chatbot/airflow-pr-7-alerts"

    assert naming_rule(PROJECT, "pr-7", "111122223333", "us-east-1").owns_log_group(chatbot)
    assert not naming_rule(PROJECT, "pr-7", "111122223333", "eu-west-1").owns_log_group(chatbot)


@pytest.mark.parametrize(
    ("owner", "name"),
    [
        ("log_group", "/aws/lambda/airflow-pr-70-health-probe"),
        ("log_group", "/aws/rds/instance/airflow-pr-70-metadata/postgresql"),
        ("log_group", "/aws/eks/airflow-pr-70/cluster"),
        ("log_group", "/aws/containerinsights/airflow-pr-70/application"),
        ("log_group", "/airflow-platform/pr-70/vpc-flow-logs"),
        ("log_group", "airflow-airflow-pr-70-Task"),
        ("bucket", "airflow-pr-70-dags-111122223333-eu-west-1"),
        ("bucket", "airflow-pr-7-dags-999999999999-eu-west-1"),
        ("schedule", "airflow-pr-70-health-probe"),
        ("secret", "airflow/pr-70/variables/mode"),
        ("role", "airflow-pr-70-execution"),
        # A stack whose name extends pr-7's at a hyphen.
        ("log_group", "/aws/lambda/airflow-pr-7-eu-health-probe"),
        ("log_group", "airflow-airflow-pr-7-eu-Task"),
        ("bucket", "airflow-pr-7-eu-dags-111122223333-eu-west-1"),
        ("schedule", "airflow-pr-7-eu-health-probe"),
        ("secret", "airflow/pr-7-eu/variables/mode"),
    ],
)
def test_rule_of_pr_7_owns_nothing_of_pr_70_pr_7_eu_or_another_account(owner, name):
    rule = naming_rule(PROJECT, "pr-7", "111122223333", "eu-west-1")

    assert not getattr(rule, f"owns_{owner}")(name)


def test_rule_owns_what_aws_creates_under_the_stacks_paths():
    rule = naming_rule(PROJECT, "pr-7", "111122223333", "eu-west-1")

    # Container Insights' agent creates these when it runs; RDS one per exported log type.
    assert rule.owns_log_group("/aws/containerinsights/airflow-pr-7/application")
    assert rule.owns_log_group("/aws/rds/instance/airflow-pr-7-metadata/iam-db-auth-error")
    assert rule.cluster_name == "airflow-pr-7"


@pytest.mark.parametrize(
    ("slack", "region", "expected"),
    [
        (True, "eu-west-1", ("eu-west-1", "us-east-1")),
        (False, "eu-west-1", ("eu-west-1",)),
        (True, "us-east-1", ("us-east-1",)),
    ],
)
def test_audit_regions_add_chatbots_region_only_when_the_stack_has_slack(slack, region, expected):
    overrides = {"monitoring": {"slack": EXAMPLE_SLACK}} if slack else {}
    settings = settings_for(Tier.EPHEMERAL, **overrides)
    settings = dataclasses.replace(settings, region=region)

    assert audit_regions(settings) == expected
