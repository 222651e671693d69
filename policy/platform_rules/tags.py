"""Tags: every taggable resource carries the stack's required tags (cost, ownership, and the
reaper's `expires-at` on ephemeral stacks)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from platform_rules.model import Resource, Rule, Stack, Tier

REQUIRED_TAGS = ("project", "stack", "tier", "owner")
EXPIRES_AT = "expires-at"
"""When the reaper may destroy an ephemeral stack (airflow_platform.tagging)."""
EXPIRES_AT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# Whether a type takes tags is a property of the provider's resource class (it has a `tags`
# input). The policy pack runs without the provider SDKs, so the types the platform declares
# are listed here; tests/test_policy_rules_tags.py checks this list against pulumi_aws for
# every type the program declares, so a new taggable type cannot slip past. Any other AWS
# resource that states `tags` is checked too.
TAGGABLE_TYPES = frozenset(
    {
        "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration",
        "aws:cloudwatch/compositeAlarm:CompositeAlarm",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "aws:ec2/eip:Eip",
        "aws:ec2/flowLog:FlowLog",
        "aws:ec2/instance:Instance",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:ecr/repository:Repository",
        "aws:eks/accessEntry:AccessEntry",
        "aws:eks/addon:Addon",
        "aws:eks/cluster:Cluster",
        "aws:eks/podIdentityAssociation:PodIdentityAssociation",
        "aws:iam/policy:Policy",
        "aws:iam/role:Role",
        "aws:kms/key:Key",
        "aws:lambda/function:Function",
        "aws:mwaa/environment:Environment",
        "aws:rds/instance:Instance",
        "aws:rds/parameterGroup:ParameterGroup",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "aws:scheduler/scheduleGroup:ScheduleGroup",
        "aws:secretsmanager/secret:Secret",
        "aws:sns/topic:Topic",
        "aws:sqs/queue:Queue",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    }
)
# Kubernetes objects carry labels, an image's `tags` are image tags, and a provider carries
# default tags for others rather than tags of its own.
_NOT_TAGGABLE_PREFIXES = ("kubernetes:", "docker-build:", "pulumi:")


def is_taggable(resource: Resource) -> bool:
    if resource.type.startswith(_NOT_TAGGABLE_PREFIXES):
        return False
    return resource.type in TAGGABLE_TYPES or (
        resource.type.startswith("aws:") and "tags" in resource.props
    )


def missing_tags(resource: Resource, tier: Tier) -> list[str]:
    """The required tags `resource` lacks (or has empty) on a stack of `tier`."""
    tags = resource.get("tags")
    tags = tags if isinstance(tags, Mapping) else {}
    required = [*REQUIRED_TAGS, *([EXPIRES_AT] if tier is Tier.EPHEMERAL else [])]
    return [key for key in required if not str(tags.get(key) or "").strip()]


def _expires_at_problem(resource: Resource) -> str | None:
    tags = resource.get("tags")
    value = tags.get(EXPIRES_AT) if isinstance(tags, Mapping) else None
    if not value:
        return None
    try:
        datetime.strptime(str(value), EXPIRES_AT_FORMAT)
    except ValueError:
        return (
            f"tag {EXPIRES_AT} = {value!r} is not a UTC time like 2026-01-31T18:00:00Z, so "
            "the reaper cannot read it: let the stack set it (airflow_platform.tagging)"
        )
    return None


def _required_tags(stack: Stack) -> Iterable[tuple[str, str]]:
    for resource in stack.resources:
        if not is_taggable(resource):
            continue
        missing = missing_tags(resource, stack.tier)
        if missing:
            yield (
                resource.urn,
                f"missing tag(s) {', '.join(missing)}: give the resource the stack's tags "
                "(airflow_platform.tagging.resource_tags)",
            )
        if stack.tier is Tier.EPHEMERAL:
            problem = _expires_at_problem(resource)
            if problem:
                yield resource.urn, problem


RULES: list[Rule] = [
    Rule(
        name="tags-required",
        service="Tags",
        description="Every taggable resource has the project, stack, tier and owner tags, and "
        "expires-at on ephemeral stacks.",
        stack_check=_required_tags,
    ),
]
