"""IAM: least privilege in identity policies, no administrator policies, trust that names its
principals, and one way of attaching policies per role.

Also the policy-document helpers the KMS, SNS and ECR rules read resource policies with
(`is_public_principal`, `public_allows`; documents are read with `platform_rules.reading`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from platform_rules.model import Resource, Rule, Stack
from platform_rules.reading import items, statements

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
# Resources holding an identity policy document in `policy`.
POLICY_DOCUMENT_TYPES = frozenset(
    {
        ROLE_POLICY,
        "aws:iam/policy:Policy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/groupPolicy:GroupPolicy",
    }
)
# Identity policies: the documents above, and a role's own `inlinePolicies`.
IDENTITY_POLICY_TYPES = POLICY_DOCUMENT_TYPES | {ROLE}
# Resources that attach managed policies: `policyArn`, or a list in `policyArns` /
# `managedPolicyArns`.
ATTACHMENT_TYPES = frozenset(
    {
        ROLE_POLICY_ATTACHMENT,
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
        "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
        ROLE,
    }
)
# AWS managed policies that hand out the whole account, or the means to take it (IAMFullAccess
# can create an administrator): never attached by the platform.
FORBIDDEN_MANAGED_POLICIES = ("AdministratorAccess", "IAMFullAccess")
_AWS_MANAGED_POLICY = re.compile(r"^arn:[a-z-]+:iam::aws:policy/(?:.*/)?(?P<name>[^/]+)$")

# Action names (after `service:`) whose access level is read or list in the Service
# Authorization Reference: they may be granted on "*" (many list and describe actions have no
# resource type at all, e.g. logs:DescribeLogGroups, s3:GetAccountPublicAccessBlock,
# cloudwatch:GetMetricData). Anything else counts as a write.
_READ_VERBS = ("Get", "List", "Describe", "BatchGet", "BatchDescribe", "Head", "Lookup", "Search")
# Reads that hand out data or secrets rather than metadata: scoped like writes.
_DATA_READS = (
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "s3:GetObject",
    "s3:GetObjectVersion",
)


@dataclass(frozen=True)
class Unscopable:
    """A write action allowed on "*", and the condition key that must then limit it."""

    action: str
    condition_key: str | None
    source: str


# Writes AWS offers no useful resource scope for, each with where AWS says so. Explicit on
# purpose: a new entry is a reviewed decision, not a pattern that happens to match.
UNSCOPABLE_WRITES: tuple[Unscopable, ...] = (
    # PutMetricData has no resource type; the namespace condition is its only scope (CloudWatch
    # User Guide, "Using condition keys to limit access to CloudWatch namespaces",
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html).
    Unscopable("cloudwatch:PutMetricData", "cloudwatch:namespace", "CloudWatch namespaces"),
    # The network-interface actions a VPC Lambda's execution role needs, granted on "*" by
    # AWS's own AWSLambdaVPCAccessExecutionRole
    # (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaVPCAccessExecutionRole.html):
    # Lambda creates the interfaces, so their ids are not known to the policy.
    *(
        Unscopable(f"ec2:{action}", None, "AWSLambdaVPCAccessExecutionRole")
        for action in (
            "CreateNetworkInterface",
            "DeleteNetworkInterface",
            "AssignPrivateIpAddresses",
            "UnassignPrivateIpAddresses",
        )
    ),
    # X-Ray trace upload has no resource type (AWSXRayDaemonWriteAccess grants it on "*":
    # https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSXRayDaemonWriteAccess.html).
    Unscopable("xray:PutTraceSegments", None, "AWSXRayDaemonWriteAccess"),
    Unscopable("xray:PutTelemetryRecords", None, "AWSXRayDaemonWriteAccess"),
    # EKS Auto Mode creating load balancers with a Service's extra tags, and nodes with a
    # NodeClass's tags: what it creates has no ARN yet, so the documented policy scopes by the
    # request's cluster tag (EKS User Guide, "Learn about identity and access in EKS Auto
    # Mode", "Custom AWS tags for EKS Auto resources", its "LoadBalancer" and "Compute"
    # statements).
    *(
        Unscopable(action, "aws:RequestTag/eks:eks-cluster-name", "EKS Auto Mode custom tags")
        for action in (
            "ec2:CreateFleet",
            "ec2:RunInstances",
            "ec2:CreateLaunchTemplate",
            "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing:CreateTargetGroup",
            "elasticloadbalancing:CreateListener",
            "elasticloadbalancing:CreateRule",
            "ec2:CreateSecurityGroup",
        )
    ),
    # Tagging on create, limited to the create calls (ELB User Guide, "ELB API permissions to
    # tag resources during creation").
    Unscopable(
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:CreateAction",
        "ELB tagging on creation",
    ),
)

# GitHub's OIDC issuer. A role it may assume must pin the repository and branch in `sub` and
# the audience in `aud` (GitHub Docs, "Configuring OpenID Connect in Amazon Web Services":
# https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/configuring-openid-connect-in-amazon-web-services).
GITHUB_OIDC = "token.actions.githubusercontent.com"
_PINNED_SUB = re.compile(r"^repo:[^/*?:]+/[^/*?:]+:ref:refs/heads/[^*?]+$")


# --- policy documents ---------------------------------------------------------------------


def is_allow(statement: Mapping[str, Any]) -> bool:
    return statement.get("Effect") == "Allow"


def label(statement: Mapping[str, Any], index: int) -> str:
    """How a message names a statement: its Sid, else its position."""
    sid = statement.get("Sid")
    return f"statement {sid!r}" if sid else f"statement #{index + 1}"


def is_public_principal(principal: Any) -> bool:
    """Whether a Principal element lets anyone in: `"*"`, or `"*"` among its values."""
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return any("*" in items(values) for values in principal.values())
    return False


def condition_keys(statement: Mapping[str, Any]) -> set[str]:
    """Every condition key a statement tests, lower-cased (IAM compares them so)."""
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return set()
    return {
        str(key).lower()
        for block in condition.values()
        if isinstance(block, Mapping)
        for key in block
    }


def public_allows(value: Any) -> list[str]:
    """Labels of the statements of a resource policy that allow anyone (`*` principal)
    without a condition narrowing who: what makes a topic, key or repository public."""
    return [
        label(statement, index)
        for index, statement in enumerate(statements(value))
        if is_allow(statement)
        and is_public_principal(statement.get("Principal"))
        and not condition_keys(statement)
    ]


def identity_policies(resource: Resource) -> list[tuple[str, Any]]:
    """(where, document) for each identity policy a resource holds."""
    if resource.type == ROLE:
        return [
            (f"inline policy {entry.get('name') or index + 1!s}", entry.get("policy"))
            for index, entry in enumerate(items(resource.get("inlinePolicies")))
            if isinstance(entry, Mapping)
        ]
    return [("policy", resource.get("policy"))]


def _allow_statements(resource: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for where, document in identity_policies(resource):
        for index, statement in enumerate(statements(document)):
            if is_allow(statement):
                yield f"{where}, {label(statement, index)}", statement


def _is_read(action: str) -> bool:
    if any(fnmatchcase(data.lower(), action.lower()) for data in _DATA_READS):
        return False
    _, _, name = action.partition(":")
    return name.startswith(_READ_VERBS)


def _unscopable(action: str, statement: Mapping[str, Any]) -> bool:
    keys = condition_keys(statement)
    return any(
        entry.action.lower() == action.lower()
        and (entry.condition_key is None or entry.condition_key.lower() in keys)
        for entry in UNSCOPABLE_WRITES
    )


def _aws_owned_key_use(statement: Mapping[str, Any]) -> bool:
    """The one NotResource the platform accepts: KMS use of keys outside the account (an
    AWS-owned key, whose ARN is AWS's to know), only through a named service. It is MWAA's
    documented execution-role statement for environments without a customer key (MWAA User
    Guide, "Amazon MWAA execution role", the policy for an AWS owned key:
    https://docs.aws.amazon.com/mwaa/latest/userguide/mwaa-create-role.html)."""
    actions = [a for a in items(statement.get("Action")) if isinstance(a, str)]
    return (
        bool(actions)
        and all(a.lower().startswith("kms:") for a in actions)
        and "kms:viaservice" in condition_keys(statement)
    )


# --- resource checks ----------------------------------------------------------------------


def _no_admin_statement(resource: Resource, stack: Stack) -> Iterable[str]:
    for where, statement in _allow_statements(resource):
        actions = items(statement.get("Action"))
        if {"*", "*:*"} & set(actions) and "*" in items(statement.get("Resource")):
            yield (
                f"{where} allows every action on every resource (administrator access): "
                "grant the specific actions this role needs on the resources it uses"
            )


def _no_wildcard_actions(resource: Resource, stack: Stack) -> Iterable[str]:
    for where, statement in _allow_statements(resource):
        wildcards = [
            action
            for action in items(statement.get("Action"))
            if isinstance(action, str) and (action == "*" or action.endswith(":*"))
        ]
        if wildcards:
            yield (
                f"{where} allows the wildcard action(s) {', '.join(wildcards)}: list the "
                "actions needed (service:Verb, or a narrow prefix such as service:Get*)"
            )
        if "NotAction" in statement:
            yield (
                f"{where} allows NotAction, which grants every action not listed: list the "
                "allowed actions in Action instead"
            )


def _no_star_resource_for_writes(resource: Resource, stack: Stack) -> Iterable[str]:
    for where, statement in _allow_statements(resource):
        if "NotResource" in statement and not _aws_owned_key_use(statement):
            yield (
                f"{where} uses NotResource, which grants every resource not listed: name the "
                "resources in Resource instead"
            )
        if "*" not in items(statement.get("Resource")):
            continue
        writes = [
            action
            for action in items(statement.get("Action"))
            if isinstance(action, str)
            and not _is_read(action)
            and not _unscopable(action, statement)
        ]
        if writes:
            yield (
                f'{where} allows {", ".join(writes)} on every resource ("*"): scope Resource '
                "to the ARNs it acts on (a write AWS cannot scope needs its documented "
                "condition, e.g. cloudwatch:namespace for cloudwatch:PutMetricData)"
            )


def _attached_policy_arns(resource: Resource) -> list[str]:
    arns = [resource.get("policyArn")]
    arns += items(resource.get("policyArns")) + items(resource.get("managedPolicyArns"))
    return [arn for arn in arns if isinstance(arn, str)]


def _no_admin_managed_policies(resource: Resource, stack: Stack) -> Iterable[str]:
    for arn in _attached_policy_arns(resource):
        match = _AWS_MANAGED_POLICY.match(arn)
        if match and match["name"] in FORBIDDEN_MANAGED_POLICIES:
            yield (
                f"attaches the AWS managed policy {match['name']} ({arn}): attach a policy "
                "granting only what this principal needs"
            )


def _trust_names_principals(resource: Resource, stack: Stack) -> Iterable[str]:
    for index, statement in enumerate(statements(resource.get("assumeRolePolicy"))):
        if not is_allow(statement):
            continue
        if is_public_principal(statement.get("Principal")):
            yield (
                f'trust policy {label(statement, index)} lets any principal ("*") assume the '
                "role: name the service, account or role that may assume it"
            )
        if "NotPrincipal" in statement:
            yield (
                f"trust policy {label(statement, index)} uses NotPrincipal, which trusts every "
                "principal not listed: name the trusted principals in Principal"
            )


def _trusts_github(statement: Mapping[str, Any]) -> bool:
    principal = statement.get("Principal")
    federated = principal.get("Federated") if isinstance(principal, Mapping) else None
    return any(isinstance(p, str) and GITHUB_OIDC in p for p in items(federated))


def _condition_values(statement: Mapping[str, Any], key: str) -> list[tuple[str, list[Any]]]:
    """(operator, values) for every test of `key` in the statement's Condition."""
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return []
    return [
        (str(operator), items(value))
        for operator, block in condition.items()
        if isinstance(block, Mapping)
        for name, value in block.items()
        if str(name).lower() == key.lower()
    ]


def _github_oidc_pinned(resource: Resource, stack: Stack) -> Iterable[str]:
    for index, statement in enumerate(statements(resource.get("assumeRolePolicy"))):
        if not is_allow(statement) or not _trusts_github(statement):
            continue
        where = f"trust policy {label(statement, index)}"
        subs = _condition_values(statement, f"{GITHUB_OIDC}:sub")
        pinned = bool(subs) and all(
            operator in {"StringEquals", "StringLike"}
            and values
            and all(isinstance(v, str) and _PINNED_SUB.match(v) for v in values)
            for operator, values in subs
        )
        if not pinned:
            yield (
                f"{where} trusts GitHub Actions without pinning the repository and branch: "
                f"add StringEquals {GITHUB_OIDC}:sub = repo:<owner>/<repo>:ref:refs/heads/"
                "<branch> (no wildcards)"
            )
        auds = _condition_values(statement, f"{GITHUB_OIDC}:aud")
        if not auds or any(values != ["sts.amazonaws.com"] for _, values in auds):
            yield (
                f"{where} trusts GitHub Actions without limiting the audience: add "
                f"StringEquals {GITHUB_OIDC}:aud = sts.amazonaws.com"
            )


# --- stack checks -------------------------------------------------------------------------


def _role_keys(role: Resource) -> set[str]:
    """What a RolePolicy or RolePolicyAttachment may name the role by: its name (which is also
    its id), or its ARN."""
    name = role.get("name")
    if not isinstance(name, str) or not name:
        return set()
    return {name}


def _names_role(reference: Any, keys: set[str]) -> bool:
    if not isinstance(reference, str):
        return False
    # An ARN ends with the role's path and name: arn:aws:iam::<account>:role/<path/>name.
    arn_name = reference.rsplit("/", 1)[-1] if ":role/" in reference else None
    return reference in keys or arn_name in keys


def _role_policies_not_mixed(stack: Stack) -> Iterable[tuple[str, str]]:
    separate = stack.of_type(ROLE_POLICY, ROLE_POLICY_ATTACHMENT)
    for role in stack.of_type(ROLE):
        keys = _role_keys(role)
        # Present, even empty: the provider then owns the role's whole set of inline or
        # managed policies and removes what other resources add.
        owned = [a for a in ("inlinePolicies", "managedPolicyArns") if role.get(a) is not None]
        if not owned or not keys:
            continue
        others = [r.name for r in separate if _names_role(r.get("role"), keys)]
        if others:
            yield (
                role.urn,
                f"the role sets {' and '.join(owned)} and is also given policies by "
                f"{', '.join(sorted(others))}: the two fight over the role's policies on every "
                "update; use only separate RolePolicy/RolePolicyAttachment resources",
            )


RULES: list[Rule] = [
    Rule(
        name="iam-no-admin-statement",
        service="IAM",
        description="No identity policy statement allows action * on resource *.",
        types=IDENTITY_POLICY_TYPES,
        check=_no_admin_statement,
    ),
    Rule(
        name="iam-no-wildcard-actions",
        service="IAM",
        description="Identity policies allow no wildcard action (* or service:*) and no NotAction.",
        types=IDENTITY_POLICY_TYPES,
        check=_no_wildcard_actions,
    ),
    Rule(
        name="iam-no-star-resource-for-writes",
        service="IAM",
        description='Write actions are scoped to resources; Resource "*" only for reads and '
        "the documented unscopable writes (with their condition).",
        types=IDENTITY_POLICY_TYPES,
        check=_no_star_resource_for_writes,
    ),
    Rule(
        name="iam-no-admin-managed-policies",
        service="IAM",
        description="AdministratorAccess and IAMFullAccess are never attached.",
        types=ATTACHMENT_TYPES,
        check=_no_admin_managed_policies,
    ),
    Rule(
        name="iam-trust-names-principals",
        service="IAM",
        description="Role trust policies name who may assume the role (no * principal).",
        types=frozenset({ROLE}),
        check=_trust_names_principals,
    ),
    Rule(
        name="iam-github-oidc-pinned",
        service="IAM",
        description="A role trusting GitHub Actions OIDC pins repository and branch in sub and "
        "the audience in aud.",
        types=frozenset({ROLE}),
        check=_github_oidc_pinned,
    ),
    Rule(
        name="iam-role-policies-not-mixed",
        service="IAM",
        description="A role's policies come either from its inlinePolicies/managedPolicyArns "
        "or from separate RolePolicy/RolePolicyAttachment resources, not both.",
        stack_check=_role_policies_not_mixed,
    ),
]
