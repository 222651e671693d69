"""MWAA: the Airflow UI private, every log type on, the execution role scoped to the
environment's own resources.

The source (DAG) bucket is a bucket of the stack like any other, so the S3 rules cover it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from platform_rules.model import Level, Resource, Rule, Stack, Tier, levels
from platform_rules.reading import is_true, items, name_of, statements

ENVIRONMENT = "aws:mwaa/environment:Environment"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
# MWAA's five log types (the provider's `logging_configuration` keys).
LOG_TYPES = ("dagProcessingLogs", "schedulerLogs", "taskLogs", "webserverLogs", "workerLogs")
PRIVATE_ONLY = "PRIVATE_ONLY"
# The actions an execution role may hold on Resource "*": IAM offers them no resource to
# scope to, which is why the MWAA User Guide's sample execution-role policy ("Amazon MWAA
# execution role") grants them on "*" (CloudWatch's PutMetricData is then limited by its
# namespace condition). Kept in step with tests/test_mwaa.py's UNSCOPABLE.
UNSCOPABLE = frozenset(
    {"logs:DescribeLogGroups", "s3:GetAccountPublicAccessBlock", "cloudwatch:PutMetricData"}
)
# An ARN whose resource part is nothing but a wildcard (`arn:aws:s3:::*`) scopes nothing.
_WILDCARD_ARN = re.compile(r"^arn:[^:]*:[^:]*:[^:]*:[^:]*:\*$")


def _label(environment: Resource) -> str:
    return f"MWAA environment {environment.get('name') or name_of(environment)}"


def private_webserver(environment: Resource, stack: Stack) -> Iterable[str]:
    # Absent, MWAA's default is PRIVATE_ONLY (the provider's webserver_access_mode).
    mode = environment.get("webserverAccessMode") or PRIVATE_ONLY
    if mode != PRIVATE_ONLY:
        yield (
            f"{_label(environment)}'s Airflow UI is {mode}: set webserver_access_mode "
            f"PRIVATE_ONLY (airflow-platform:mwaa.webserverAccess) and reach it through the VPC"
        )


def all_log_types(environment: Resource, stack: Stack) -> Iterable[str]:
    off = [
        t for t in LOG_TYPES if not is_true(environment.get(f"loggingConfiguration.{t}.enabled"))
    ]
    if off:
        yield (
            f"{_label(environment)} does not send {', '.join(off)} to CloudWatch: enable all "
            "five log types in logging_configuration, or failures leave no trace"
        )


def _is_unscoped(resource: Any) -> bool:
    return resource == "*" or (
        isinstance(resource, str) and bool(_WILDCARD_ARN.fullmatch(resource))
    )


def statement_problems(statement: Mapping[str, Any]) -> list[str]:
    """What makes one Allow statement broader than the environment's own resources."""
    if statement.get("Effect") != "Allow":
        return []
    sid = statement.get("Sid") or "(no Sid)"
    actions = [str(a) for a in items(statement.get("Action"))]
    problems = []
    if statement.get("NotAction") is not None:
        problems.append(f"{sid} allows every action but those in NotAction")
    if "*" in actions:
        problems.append(f"{sid} allows every action (*)")
    if any(_is_unscoped(r) for r in items(statement.get("Resource"))):
        wide = sorted(set(actions) - UNSCOPABLE)
        if wide:
            problems.append(f"{sid} grants {', '.join(wide)} on every resource (*)")
    return problems


def _role_name(arn: Any) -> str | None:
    if not isinstance(arn, str) or ":role/" not in arn:
        return None
    return arn.rsplit("/", 1)[-1]


def _role_documents(stack: Stack, role_name: str) -> tuple[list[tuple[str, Any]], list[str]]:
    """(where, document) of each policy the stack gives the role, and the managed policies
    attached to it that the stack does not declare (their statements cannot be read)."""
    documents: list[tuple[str, Any]] = []
    for role in stack.of_type(ROLE):
        if (role.get("name") or role.name) == role_name:
            for inline in items(role.get("inlinePolicies")):
                if isinstance(inline, Mapping):
                    documents.append((f"inline policy {inline.get('name')}", inline.get("policy")))
    for policy in stack.of_type(ROLE_POLICY):
        if policy.get("role") == role_name:
            documents.append((f"role policy {name_of(policy)}", policy.get("policy")))
    declared = {(p.get("name") or p.name): p for p in stack.of_type(POLICY)}
    unreadable = []
    for attachment in stack.of_type(ATTACHMENT):
        if attachment.get("role") != role_name:
            continue
        arn = str(attachment.get("policyArn"))
        policy = declared.get(arn.rsplit("/", 1)[-1])
        if policy is not None and ":aws:policy/" not in arn:
            documents.append((f"policy {name_of(policy)}", policy.get("policy")))
        else:
            unreadable.append(arn)
    return documents, unreadable


def scoped_execution_role(stack: Stack) -> Iterator[tuple[str, str]]:
    for environment in stack.of_type(ENVIRONMENT):
        role_name = _role_name(environment.get("executionRoleArn"))
        if role_name is None or not any(
            (r.get("name") or r.name) == role_name for r in stack.of_type(ROLE)
        ):
            yield (
                environment.urn,
                (
                    f"{_label(environment)}'s execution role "
                    f"({environment.get('executionRoleArn')}) is not declared in this stack, so "
                    "its permissions cannot be checked: declare the role and its scoped policy here"
                ),
            )
            continue
        documents, unreadable = _role_documents(stack, role_name)
        for where, document in documents:
            for statement in statements(document):
                for problem in statement_problems(statement):
                    yield (
                        environment.urn,
                        (
                            f"{_label(environment)}'s execution role {role_name}, {where}: "
                            f"{problem}: name the environment's own resources (its bucket, log "
                            "groups, queues, secrets); only "
                            f"{', '.join(sorted(UNSCOPABLE))} may stay on *"
                        ),
                    )
        for arn in unreadable:
            yield (
                environment.urn,
                (
                    f"{_label(environment)}'s execution role {role_name} has managed policy {arn} "
                    "attached, whose scope this stack does not show: replace it with a scoped role "
                    "policy"
                ),
            )


RULES: list[Rule] = [
    Rule(
        name="mwaa-private-webserver",
        service="MWAA",
        description="The Airflow UI is PRIVATE_ONLY (mandatory in staging and prod).",
        levels={**levels(), Tier.STAGING: Level.MANDATORY},
        types=frozenset({ENVIRONMENT}),
        check=private_webserver,
    ),
    Rule(
        name="mwaa-all-log-types",
        service="MWAA",
        description="All five MWAA log types go to CloudWatch.",
        types=frozenset({ENVIRONMENT}),
        check=all_log_types,
    ),
    Rule(
        name="mwaa-execution-role-scoped",
        service="MWAA",
        description="The execution role grants nothing on * but the actions IAM cannot scope.",
        stack_check=scoped_execution_role,
    ),
]
