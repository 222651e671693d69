"""IAM policy rules (policy/platform_rules/iam.py) over what the program really declares, and
the helpers the other rule tests share: the committed stacks run under mocks once per session,
as platform_rules sees them, and resources changed one property at a time."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Iterable
from typing import Any

import pulumi_aws as aws
import pytest
from platform_rules import Finding, Level, Resource, Rule, Stack, Tier, all_rules, evaluate
from platform_rules.iam import GITHUB_OIDC, UNSCOPABLE_WRITES

from airflow_platform.plan.project import Project, StackConfig, read_stack_config
from airflow_platform.plan.runner import ProgramRun, run_program
from tests.conftest import ROOT, Declared
from tests.test_mwaa import UNSCOPABLE

COMMITTED_STACKS = ("dev", "staging", "prod", "pr-7")
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"

# --- shared helpers -------------------------------------------------------------------------


def as_stack(run: ProgramRun, tier: Tier) -> Stack:
    """What the rules see of a program run: its custom resources, as the plan hands them over
    (airflow_platform.plan.policies); components and the stack itself are not resources."""
    return Stack(
        tier=tier,
        resources=[
            Resource(
                type=r.type,
                urn=r.urn,
                name=r.name,
                props=r.inputs,
                protect=r.protect,
                retain_on_delete=r.retain_on_delete,
                dependencies=tuple(r.dependencies),
            )
            for r in run.resources
            if r.custom
        ],
    )


def declared_stack(declared: Declared, tier: Tier = Tier.PROD) -> Stack:
    """What the rules see of resources built with the `declare` fixture."""
    return as_stack(declared.run, tier)


@functools.cache
def program_stack(stack: str, platform: str | None = None) -> Stack:
    """The committed stack `stack` (its stack file; pr-<n> follows dev), optionally on the
    other platform, as the rules see it. Cached: each is run once per session."""
    project = Project.load(ROOT)
    config = read_stack_config(project, stack)
    values = dict(config.values)
    if platform is not None:
        values["airflow-platform:platform"] = platform
    run = run_program(project, stack, StackConfig(values, config.secret_keys))
    tier_value = values.get("airflow-platform:tier")
    tier = Tier.EPHEMERAL if stack.startswith("pr-") else Tier(str(tier_value))
    return as_stack(run, tier)


def rule(name: str) -> Rule:
    found = [r for r in all_rules() if r.name == name]
    assert len(found) == 1, f"one rule named {name}"
    return found[0]


def module_rules(module: str) -> list[Rule]:
    import importlib

    return list(importlib.import_module(f"platform_rules.{module}").RULES)


def one(stack: Stack, token: str, name: str) -> Resource:
    found = [r for r in stack.of_type(token) if r.name == name]
    assert len(found) == 1, f"expected one {token} named {name}, found {len(found)}"
    return found[0]


def changed(resource: Resource, **props: Any) -> Resource:
    """`resource` with some input properties replaced (None removes one)."""
    merged = {**resource.props, **props}
    return dataclasses.replace(resource, props={k: v for k, v in merged.items() if v is not None})


def swapped(stack: Stack, *new: Resource, drop: Iterable[Resource] = ()) -> Stack:
    """`stack` with resources replaced by URN, and some removed."""
    by_urn = {r.urn: r for r in new}
    gone = {r.urn for r in drop}
    resources = [by_urn.pop(r.urn, r) for r in stack.resources if r.urn not in gone]
    return dataclasses.replace(stack, resources=[*resources, *by_urn.values()])


def violations(name: str, stack: Stack) -> list[tuple[str, str]]:
    return rule(name).violations(stack)


def violating_urns(name: str, stack: Stack) -> set[str]:
    return {urn for urn, _ in violations(name, stack)}


def blocking(stack: Stack, rules: list[Rule]) -> list[Finding]:
    return [f for f in evaluate(rules, stack) if f.blocking]


def document(resource: Resource, key: str = "policy") -> dict[str, Any]:
    return json.loads(resource.props[key])


def with_statements(resource: Resource, *extra: dict[str, Any], key: str = "policy") -> Resource:
    doc = document(resource, key)
    doc["Statement"] = [*doc["Statement"], *extra]
    return changed(resource, **{key: json.dumps(doc)})


def edit_statement(
    resource: Resource, sid: str, edit: Callable[[dict[str, Any]], None], key: str = "policy"
) -> Resource:
    doc = document(resource, key)
    matching = [s for s in doc["Statement"] if s.get("Sid") == sid]
    assert len(matching) == 1, sid
    edit(matching[0])
    return changed(resource, **{key: json.dumps(doc)})


# --- the committed stacks --------------------------------------------------------------------


def test_prod_on_mwaa_has_no_blocking_iam_finding():
    assert blocking(program_stack("prod", "mwaa"), module_rules("iam")) == []


@pytest.mark.parametrize("stack", COMMITTED_STACKS)
def test_every_declared_identity_policy_passes_every_iam_rule(stack):
    # Advisory tiers too: the platform's own policies are clean everywhere.
    assert evaluate(module_rules("iam"), program_stack(stack)) == []


# --- iam-no-admin-statement -----------------------------------------------------------------


def _probe_policy(stack: Stack) -> Resource:
    return one(stack, ROLE_POLICY, "monitoring-probe-policy")


def test_admin_statement_in_a_role_policy_is_reported_with_its_urn():
    stack = program_stack("prod")
    policy = with_statements(
        _probe_policy(stack),
        {"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"},
    )
    found = violations("iam-no-admin-statement", swapped(stack, policy))
    assert [urn for urn, _ in found] == [policy.urn]
    assert "'Everything'" in found[0][1]


def test_admin_statement_in_a_role_inline_policy_is_reported_with_its_urn():
    stack = program_stack("prod")
    role = one(stack, ROLE, "monitoring-probe-role")
    admin = {"Statement": [{"Effect": "Allow", "Action": "*:*", "Resource": "*"}]}
    bad = changed(role, inlinePolicies=[{"name": "admin", "policy": json.dumps(admin)}])
    assert violating_urns("iam-no-admin-statement", swapped(stack, bad)) == {role.urn}


def test_deny_statement_on_everything_is_not_an_admin_statement():
    stack = program_stack("prod")
    policy = with_statements(
        _probe_policy(stack), {"Effect": "Deny", "Action": "*", "Resource": "*"}
    )
    assert violations("iam-no-admin-statement", swapped(stack, policy)) == []


# --- iam-no-wildcard-actions ----------------------------------------------------------------


def test_narrow_prefix_wildcards_pass_the_wildcard_action_rule():
    stack = program_stack("prod")
    chatbot = one(stack, ROLE_POLICY, "monitoring-alerts-chatbot-read-alarms")
    assert "cloudwatch:Get*" in json.dumps(document(chatbot))
    assert list(rule("iam-no-wildcard-actions").check(chatbot, stack)) == []


@pytest.mark.parametrize("action", ["s3:*", "*"])
def test_service_wide_wildcard_action_is_reported_with_its_urn(action):
    stack = program_stack("prod")
    policy = edit_statement(
        _probe_policy(stack), "DeadLetters", lambda s: s.update(Action=["sqs:SendMessage", action])
    )
    found = violations("iam-no-wildcard-actions", swapped(stack, policy))
    assert [urn for urn, _ in found] == [policy.urn]
    assert action in found[0][1]


def test_not_action_in_an_allow_is_reported_with_its_urn():
    stack = program_stack("prod")
    policy = with_statements(
        _probe_policy(stack),
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::bucket"},
    )
    assert violating_urns("iam-no-wildcard-actions", swapped(stack, policy)) == {policy.urn}


# --- iam-no-star-resource-for-writes --------------------------------------------------------


def test_documented_unscopable_writes_and_reads_may_use_star():
    stack = program_stack("prod")
    probe = _probe_policy(stack)
    sids = {s["Sid"] for s in document(probe)["Statement"] if s["Resource"] == "*"}
    # PutMetricData (namespace condition), GetMetricData, the VPC ENI actions and X-Ray.
    assert sids == {"PublishHealthMetrics", "ReadBackupMetrics", "AttachToVpc", "Trace"}
    assert list(rule("iam-no-star-resource-for-writes").check(probe, stack)) == []
    auto_mode = one(stack, ROLE_POLICY, "eks-cluster-role-tags")
    assert list(rule("iam-no-star-resource-for-writes").check(auto_mode, stack)) == []


def test_mwaa_unscopable_actions_are_accepted_on_star():
    # tests/test_mwaa.py's list of what may use "*", with the condition each needs.
    stack = program_stack("prod")
    for action in UNSCOPABLE:
        statement = {"Effect": "Allow", "Action": action, "Resource": "*"}
        entry = next((e for e in UNSCOPABLE_WRITES if e.action == action), None)
        if entry is not None and entry.condition_key:
            statement["Condition"] = {"StringEquals": {entry.condition_key: "AirflowPlatform"}}
        policy = with_statements(_probe_policy(stack), statement)
        assert list(rule("iam-no-star-resource-for-writes").check(policy, stack)) == [], action


def test_put_metric_data_without_its_namespace_condition_is_reported_with_its_urn():
    stack = program_stack("prod")
    policy = edit_statement(
        _probe_policy(stack), "PublishHealthMetrics", lambda s: s.pop("Condition")
    )
    found = violations("iam-no-star-resource-for-writes", swapped(stack, policy))
    assert [urn for urn, _ in found] == [policy.urn]
    assert "cloudwatch:PutMetricData" in found[0][1]


@pytest.mark.parametrize(
    "action", ["s3:PutObject", "sqs:SendMessage", "secretsmanager:GetSecretValue", "s3:Get*"]
)
def test_write_or_data_read_on_star_is_reported_with_its_urn(action):
    stack = program_stack("prod")
    policy = edit_statement(_probe_policy(stack), "DeadLetters", lambda s: s.update(
        Action=action, Resource="*"
    ))  # fmt: skip
    assert violating_urns("iam-no-star-resource-for-writes", swapped(stack, policy)) == {policy.urn}


def test_not_resource_is_reported_unless_it_is_mwaas_aws_owned_key_statement():
    dev = program_stack("dev")  # mwaa without a customer key: MWAA's documented NotResource
    execution = one(dev, ROLE_POLICY, "mwaa-execution-policy")
    assert "NotResource" in json.dumps(document(execution))
    assert list(rule("iam-no-star-resource-for-writes").check(execution, dev)) == []
    stack = program_stack("prod")
    policy = with_statements(
        _probe_policy(stack),
        {"Effect": "Allow", "Action": "s3:PutObject", "NotResource": "arn:aws:s3:::private/*"},
    )
    assert violating_urns("iam-no-star-resource-for-writes", swapped(stack, policy)) == {policy.urn}


# --- iam-no-admin-managed-policies ----------------------------------------------------------


@pytest.mark.parametrize("managed", ["AdministratorAccess", "IAMFullAccess"])
def test_attaching_admin_managed_policies_is_reported_with_its_urn(managed):
    stack = program_stack("prod")
    attachment = one(stack, ATTACHMENT, "eks-cluster-role-AmazonEKSClusterPolicy")
    bad = changed(attachment, policyArn=f"arn:aws:iam::aws:policy/{managed}")
    found = violations("iam-no-admin-managed-policies", swapped(stack, bad))
    assert [urn for urn, _ in found] == [attachment.urn]
    assert managed in found[0][1]


def test_admin_policy_in_managed_policy_arns_is_reported_with_the_roles_urn():
    stack = program_stack("prod")
    role = one(stack, ROLE, "monitoring-probe-role")
    bad = changed(role, managedPolicyArns=["arn:aws:iam::aws:policy/AdministratorAccess"])
    assert violating_urns("iam-no-admin-managed-policies", swapped(stack, bad)) == {role.urn}


def test_a_customer_policy_named_like_an_aws_one_is_not_the_aws_policy():
    stack = program_stack("prod")
    attachment = one(stack, ATTACHMENT, "eks-cluster-role-AmazonEKSClusterPolicy")
    own = changed(attachment, policyArn="arn:aws:iam::123456789012:policy/AdministratorAccess")
    assert violations("iam-no-admin-managed-policies", swapped(stack, own)) == []


# --- iam-trust-names-principals -------------------------------------------------------------


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["arn:aws:iam::1:root", "*"]}])
def test_trust_policy_with_any_principal_is_reported_with_its_urn(principal):
    stack = program_stack("prod")
    role = one(stack, ROLE, "monitoring-probe-role")
    bad = edit_statement(
        role, "AssumeFromService", lambda s: s.update(Principal=principal), key="assumeRolePolicy"
    )
    assert violating_urns("iam-trust-names-principals", swapped(stack, bad)) == {role.urn}


# --- iam-github-oidc-pinned -----------------------------------------------------------------

OIDC_PROVIDER = f"arn:aws:iam::123456789012:oidc-provider/{GITHUB_OIDC}"


def _github_role(declare, condition: dict[str, Any]) -> tuple[Stack, Resource]:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitHubDeploys",
                "Effect": "Allow",
                "Principal": {"Federated": OIDC_PROVIDER},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }
        ],
    }
    stack = declared_stack(
        declare(lambda: aws.iam.Role("ci-deployer", assume_role_policy=json.dumps(trust)))
    )
    return stack, one(stack, ROLE, "ci-deployer")


def test_github_oidc_role_pinned_to_repo_and_branch_passes(declare):
    stack, _ = _github_role(
        declare,
        {
            "StringEquals": {
                f"{GITHUB_OIDC}:aud": "sts.amazonaws.com",
                f"{GITHUB_OIDC}:sub": "repo:example-org/airflow-platform:ref:refs/heads/main",
            }
        },
    )
    assert violations("iam-github-oidc-pinned", stack) == []


@pytest.mark.parametrize(
    ("condition", "complaint"),
    [
        (
            {
                "StringEquals": {f"{GITHUB_OIDC}:aud": "sts.amazonaws.com"},
                "StringLike": {f"{GITHUB_OIDC}:sub": "repo:example-org/*"},
            },
            "repository and branch",
        ),
        (
            {
                "StringEquals": {f"{GITHUB_OIDC}:aud": "sts.amazonaws.com"},
                "StringLike": {f"{GITHUB_OIDC}:sub": "repo:example-org/airflow-platform:*"},
            },
            "repository and branch",
        ),
        ({"StringEquals": {f"{GITHUB_OIDC}:aud": "sts.amazonaws.com"}}, "repository and branch"),
        (
            {"StringEquals": {f"{GITHUB_OIDC}:sub": "repo:o/r:ref:refs/heads/main"}},
            "audience",
        ),
    ],
)
def test_github_oidc_role_not_pinned_is_reported_with_its_urn(declare, condition, complaint):
    stack, role = _github_role(declare, condition)
    found = violations("iam-github-oidc-pinned", stack)
    assert {urn for urn, _ in found} == {role.urn}
    assert any(complaint in message for _, message in found)


def test_the_program_declares_no_github_oidc_role_yet():
    # The rule is ready for the CI role; today no committed stack trusts GitHub at all.
    for stack in COMMITTED_STACKS:
        roles = program_stack(stack).of_type(ROLE)
        assert not any(GITHUB_OIDC in str(r.props.get("assumeRolePolicy")) for r in roles)


# --- iam-role-policies-not-mixed ------------------------------------------------------------


def test_role_with_managed_policy_arns_and_separate_attachments_is_reported_with_its_urn():
    stack = program_stack("prod")
    role = one(stack, ROLE, "eks-cluster-role")
    bad = changed(role, managedPolicyArns=["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"])
    found = violations("iam-role-policies-not-mixed", swapped(stack, bad))
    assert [urn for urn, _ in found] == [role.urn]
    assert "eks-cluster-role-AmazonEKSClusterPolicy" in found[0][1]


def test_role_with_inline_policies_and_a_separate_role_policy_is_reported_with_its_urn():
    stack = program_stack("prod")
    role = one(stack, ROLE, "monitoring-probe-role")
    bad = changed(role, inlinePolicies=[])  # even empty, the provider then owns them
    assert violating_urns("iam-role-policies-not-mixed", swapped(stack, bad)) == {role.urn}


def test_role_with_only_its_own_inline_policies_passes(declare):
    def build() -> None:
        aws.iam.Role(
            "self-contained",
            name="self-contained",
            assume_role_policy=json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ]
                }
            ),
            inline_policies=[
                {
                    "name": "logs",
                    "policy": json.dumps(
                        {
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "logs:PutLogEvents",
                                    "Resource": "arn:aws:logs:eu-west-1:1:log-group:x:*",
                                }
                            ]
                        }
                    ),
                }
            ],
        )

    stack = declared_stack(declare(build))
    assert violations("iam-role-policies-not-mixed", stack) == []
    assert evaluate(module_rules("iam"), stack) == []


def test_iam_rules_are_mandatory_in_prod_and_advisory_elsewhere():
    for iam_rule in module_rules("iam"):
        assert iam_rule.level(Tier.PROD) is Level.MANDATORY, iam_rule.name
        for tier in (Tier.DEV, Tier.STAGING, Tier.EPHEMERAL):
            assert iam_rule.level(tier) is Level.ADVISORY, iam_rule.name
