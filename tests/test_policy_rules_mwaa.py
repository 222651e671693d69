"""MWAA policy rules (policy/platform_rules/mwaa.py) over the environment the platform really
declares (dev runs MWAA; prod on mwaa too): each rule passes on it and reports, with the
environment's URN, a copy changed to break it."""

from __future__ import annotations

import json

import pytest
from platform_rules import Level, Resource, Stack, Tier, evaluate
from platform_rules.mwaa import LOG_TYPES
from platform_rules.mwaa import UNSCOPABLE as RULE_UNSCOPABLE

from tests.test_mwaa import UNSCOPABLE
from tests.test_policy_rules_iam import (
    changed,
    module_rules,
    one,
    program_stack,
    rule,
    swapped,
    violations,
)

ENVIRONMENT = "aws:mwaa/environment:Environment"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def _environment(stack: Stack) -> Resource:
    return one(stack, ENVIRONMENT, "mwaa-environment")


def _execution_policy(stack: Stack) -> Resource:
    return one(stack, ROLE_POLICY, "mwaa-execution-policy")


def _with_statement(policy: Resource, statement: dict) -> Resource:
    doc = json.loads(policy.props["policy"])
    doc["Statement"].append(statement)
    return changed(policy, policy=json.dumps(doc))


# --- the environment as declared --------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "platform"), [("dev", None), ("pr-7", None), ("prod", "mwaa"), ("staging", "mwaa")]
)
def test_the_declared_environment_passes_every_mwaa_rule(stack, platform):
    assert evaluate(module_rules("mwaa"), program_stack(stack, platform)) == []


def test_the_rule_allows_on_star_exactly_what_the_component_tests_allow():
    assert set(RULE_UNSCOPABLE) == UNSCOPABLE


# --- mwaa-private-webserver -------------------------------------------------------------------


def test_public_webserver_is_reported_with_its_urn_and_refused_in_staging_and_prod():
    stack = program_stack("dev")
    environment = _environment(stack)
    public = changed(environment, webserverAccessMode="PUBLIC_ONLY")
    found = violations("mwaa-private-webserver", swapped(stack, public))
    assert [urn for urn, _ in found] == [environment.urn]
    assert "PUBLIC_ONLY" in found[0][1]
    levels = rule("mwaa-private-webserver").levels
    assert (levels[Tier.PROD], levels[Tier.STAGING]) == (Level.MANDATORY, Level.MANDATORY)
    assert (levels[Tier.DEV], levels[Tier.EPHEMERAL]) == (Level.ADVISORY, Level.ADVISORY)


# --- mwaa-all-log-types -----------------------------------------------------------------------


@pytest.mark.parametrize("log_type", LOG_TYPES)
def test_environment_with_a_log_type_off_is_reported_naming_it(log_type):
    stack = program_stack("dev")
    environment = _environment(stack)
    logging = dict(environment.props["loggingConfiguration"])
    logging[log_type] = {**logging[log_type], "enabled": False}
    found = violations(
        "mwaa-all-log-types", swapped(stack, changed(environment, loggingConfiguration=logging))
    )
    assert [urn for urn, _ in found] == [environment.urn]
    assert log_type in found[0][1]


# --- mwaa-execution-role-scoped ---------------------------------------------------------------


@pytest.mark.parametrize("action", sorted(UNSCOPABLE))
def test_unscopable_actions_may_stay_on_star(action):
    stack = program_stack("dev")
    policy = _with_statement(
        _execution_policy(stack),
        {"Sid": "Extra", "Effect": "Allow", "Action": action, "Resource": "*"},
    )
    assert violations("mwaa-execution-role-scoped", swapped(stack, policy)) == []


@pytest.mark.parametrize(
    ("statement", "complaint"),
    [
        ({"Action": ["s3:GetObject"], "Resource": "*"}, "s3:GetObject on every resource"),
        ({"Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:*:*:*"}, "sqs:SendMessage"),
        ({"Action": "*", "Resource": "arn:aws:s3:::bucket"}, "every action"),
        ({"NotAction": "iam:*", "Resource": "arn:aws:s3:::bucket"}, "NotAction"),
    ],
)
def test_unscoped_execution_role_statement_is_reported_on_the_environment(statement, complaint):
    stack = program_stack("dev")
    policy = _with_statement(
        _execution_policy(stack), {"Sid": "TooWide", "Effect": "Allow", **statement}
    )
    found = violations("mwaa-execution-role-scoped", swapped(stack, policy))
    assert [urn for urn, _ in found] == [_environment(stack).urn]
    assert "TooWide" in found[0][1]
    assert complaint in found[0][1]


def test_deny_on_star_is_not_a_grant():
    stack = program_stack("dev")
    policy = _with_statement(
        _execution_policy(stack), {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}
    )
    assert violations("mwaa-execution-role-scoped", swapped(stack, policy)) == []


def test_execution_role_outside_the_stack_is_reported():
    stack = program_stack("dev")
    environment = _environment(stack)
    elsewhere = changed(environment, executionRoleArn="arn:aws:iam::123456789012:role/shared")
    found = violations("mwaa-execution-role-scoped", swapped(stack, elsewhere))
    assert [urn for urn, _ in found] == [environment.urn]
    assert "not declared in this stack" in found[0][1]


def test_managed_policy_attached_to_the_execution_role_is_reported():
    stack = program_stack("dev")
    role = one(stack, ROLE, "mwaa-execution-role")
    attachment = Resource(
        type="aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        urn=role.urn + "-s3-full-access",
        name="mwaa-execution-s3-full-access",
        props={
            "role": role.props["name"],
            "policyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess",
        },
    )
    found = violations("mwaa-execution-role-scoped", swapped(stack, attachment))
    assert [urn for urn, _ in found] == [_environment(stack).urn]
    assert "AmazonS3FullAccess" in found[0][1]
