"""The tags rule (policy/platform_rules/tags.py) over every resource the stacks declare, and
its list of taggable types against the provider SDK."""

from __future__ import annotations

import pytest
from platform_rules import Resource, Tier, evaluate
from platform_rules.tags import EXPIRES_AT, REQUIRED_TAGS, TAGGABLE_TYPES, is_taggable

from tests.test_plan import taggable
from tests.test_policy_rules_iam import (
    COMMITTED_STACKS,
    changed,
    module_rules,
    one,
    program_stack,
    swapped,
    violations,
)

ALL_VARIANTS = [(stack, None) for stack in COMMITTED_STACKS] + [
    ("prod", "mwaa"),
    ("dev", "eks"),
    ("pr-7", "eks"),
]


@pytest.mark.parametrize(("stack", "platform"), ALL_VARIANTS)
def test_every_taggable_resource_of_every_stack_carries_the_required_tags(stack, platform):
    assert evaluate(module_rules("tags"), program_stack(stack, platform)) == []


@pytest.mark.parametrize(("stack", "platform"), ALL_VARIANTS)
def test_the_rule_finds_taggable_exactly_as_the_provider_sdk_does(stack, platform):
    # The pack runs without pulumi_aws: its list must agree with the SDK's classes for every
    # type the program declares.
    for resource in program_stack(stack, platform).resources:
        assert is_taggable(resource) is taggable(resource.type), resource.type


def test_every_listed_type_is_taggable_in_the_provider_sdk():
    assert sorted(t for t in TAGGABLE_TYPES if not taggable(t)) == []


def test_an_unlisted_aws_type_that_states_tags_is_checked():
    stray = Resource(
        "aws:glue/job:Job", "urn:pulumi:prod::p::aws:glue/job:Job::j", "j", {"tags": {}}
    )
    assert is_taggable(stray)


@pytest.mark.parametrize("tag", REQUIRED_TAGS)
def test_resource_missing_a_required_tag_is_reported_with_its_urn(tag):
    stack = program_stack("prod")
    bucket = one(stack, "aws:s3/bucket:Bucket", "storage-logs")
    untagged = changed(bucket, tags={k: v for k, v in bucket.props["tags"].items() if k != tag})
    found = violations("tags-required", swapped(stack, untagged))
    assert [urn for urn, _ in found] == [bucket.urn]
    assert tag in found[0][1]


def test_taggable_resource_without_any_tags_is_reported_with_its_urn():
    stack = program_stack("prod")
    rule_ = one(stack, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                "database-ingress-from-runtime")  # fmt: skip
    found = violations("tags-required", swapped(stack, changed(rule_, tags=None)))
    assert [urn for urn, _ in found] == [rule_.urn]


def test_ephemeral_resource_without_expires_at_is_reported_with_its_urn():
    stack = program_stack("pr-7")
    assert stack.tier is Tier.EPHEMERAL
    queue = one(stack, "aws:sqs/queue:Queue", "monitoring-probe-dead-letters")
    tags = {k: v for k, v in queue.props["tags"].items() if k != EXPIRES_AT}
    found = violations("tags-required", swapped(stack, changed(queue, tags=tags)))
    assert [urn for urn, _ in found] == [queue.urn]
    assert EXPIRES_AT in found[0][1]


def test_ephemeral_expires_at_the_reaper_cannot_read_is_reported_with_its_urn():
    stack = program_stack("pr-7")
    queue = one(stack, "aws:sqs/queue:Queue", "monitoring-probe-dead-letters")
    tags = {**queue.props["tags"], EXPIRES_AT: "next friday"}
    found = violations("tags-required", swapped(stack, changed(queue, tags=tags)))
    assert [urn for urn, _ in found] == [queue.urn]
    assert "next friday" in found[0][1]


def test_expires_at_is_not_required_outside_ephemeral_stacks():
    stack = program_stack("prod")
    assert not any(EXPIRES_AT in (r.props.get("tags") or {}) for r in stack.resources)
    assert violations("tags-required", stack) == []
