"""Teardown policy rules (policy/platform_rules/teardown.py): what an ephemeral stack leaves
behind, over the pr-<n> stack the program really declares."""

from __future__ import annotations

import dataclasses

import pytest
from platform_rules import Level, Tier, evaluate

from tests.test_policy_rules_iam import (
    blocking,
    changed,
    module_rules,
    one,
    program_stack,
    swapped,
    violations,
)

BUCKET = "aws:s3/bucket:Bucket"
DATABASE = "aws:rds/instance:Instance"
REPOSITORY = "aws:ecr/repository:Repository"


@pytest.mark.parametrize("platform", [None, "eks"])
def test_the_ephemeral_stack_passes_every_teardown_rule(platform):
    stack = program_stack("pr-7", platform)
    assert stack.tier is Tier.EPHEMERAL
    assert evaluate(module_rules("teardown"), stack) == []


def test_teardown_rules_are_mandatory_on_ephemeral_stacks_only():
    for teardown_rule in module_rules("teardown"):
        assert teardown_rule.level(Tier.EPHEMERAL) is Level.MANDATORY
        for tier in (Tier.DEV, Tier.STAGING, Tier.PROD):
            assert teardown_rule.level(tier) is Level.DISABLED


def test_prod_keeps_its_data_without_teardown_findings():
    # What teardown forbids is what prod is meant to do: protect and keep its data.
    prod = program_stack("prod")
    assert any(r.protect for r in prod.resources)
    assert one(prod, DATABASE, "database-instance").props["deletionProtection"] is True
    assert evaluate(module_rules("teardown"), prod) == []
    assert blocking(prod, module_rules("teardown")) == []


@pytest.mark.parametrize("option", ["protect", "retain_on_delete"])
def test_protected_or_retained_resource_is_reported_with_its_urn(option):
    stack = program_stack("pr-7")
    bucket = one(stack, BUCKET, "storage-backups")
    kept = dataclasses.replace(bucket, **{option: True})
    found = violations("teardown-nothing-protected", swapped(stack, kept))
    assert [urn for urn, _ in found] == [bucket.urn]


@pytest.mark.parametrize("force_destroy", [False, None])
def test_bucket_not_force_destroyable_is_reported_with_its_urn(force_destroy):
    stack = program_stack("pr-7")
    bucket = one(stack, BUCKET, "storage-logs")
    found = violations(
        "teardown-buckets-force-destroy",
        swapped(stack, changed(bucket, forceDestroy=force_destroy)),
    )
    assert [urn for urn, _ in found] == [bucket.urn]


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"deletionProtection": True}, "deletionProtection"),
        ({"skipFinalSnapshot": False}, "skipFinalSnapshot"),
        ({"skipFinalSnapshot": None}, "skipFinalSnapshot"),
    ],
)
def test_database_that_survives_destroy_is_reported_with_its_urn(change, complaint):
    stack = program_stack("pr-7")
    database = one(stack, DATABASE, "database-instance")
    found = violations("teardown-rds-deletable", swapped(stack, changed(database, **change)))
    assert [urn for urn, _ in found] == [database.urn]
    assert complaint in found[0][1]


def test_repository_not_force_deletable_is_reported_with_its_urn():
    stack = program_stack("pr-7", "eks")
    repository = one(stack, REPOSITORY, "image-repository")
    assert repository.props["forceDelete"] is True
    found = violations(
        "teardown-ecr-force-delete", swapped(stack, changed(repository, forceDelete=False))
    )
    assert [urn for urn, _ in found] == [repository.urn]
