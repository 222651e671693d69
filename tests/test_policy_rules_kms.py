"""KMS policy rules (policy/platform_rules/kms.py) over the stack's real project key."""

from __future__ import annotations

import json

import pytest
from platform_rules import evaluate

from tests.test_policy_rules_iam import (
    COMMITTED_STACKS,
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

KEY = "aws:kms/key:Key"


def _project_key():
    stack = program_stack("prod")
    return stack, one(stack, KEY, "kms-key")


@pytest.mark.parametrize("stack", COMMITTED_STACKS)
def test_every_declared_key_passes_every_kms_rule(stack):
    assert program_stack(stack).of_type(KEY), "every stack has a key (project or alerts)"
    assert evaluate(module_rules("kms"), program_stack(stack)) == []


def test_key_without_rotation_is_reported_with_its_urn():
    stack, key = _project_key()
    for rotation in (False, None):
        bad = changed(key, enableKeyRotation=rotation)
        found = violations("kms-key-rotation", swapped(stack, bad))
        assert [urn for urn, _ in found] == [key.urn]
        assert "enableKeyRotation" in found[0][1]


def test_asymmetric_key_needs_no_automatic_rotation():
    # KMS rotates symmetric encryption keys only; others are not reported.
    stack, key = _project_key()
    signing = changed(key, enableKeyRotation=None, customerMasterKeySpec="RSA_2048")
    assert violations("kms-key-rotation", swapped(stack, signing)) == []


def test_key_without_a_key_policy_is_reported_with_its_urn():
    stack, key = _project_key()
    found = violations("kms-key-policy-explicit", swapped(stack, changed(key, policy=None)))
    assert [urn for urn, _ in found] == [key.urn]


def test_service_principals_without_condition_are_not_a_public_key_policy():
    # The project key lets CloudWatch and EventBridge publish to encrypted topics: named
    # service principals, no condition; that is not "*".
    stack, key = _project_key()
    statements = json.loads(key.props["policy"])["Statement"]
    assert any("Condition" not in s and "Service" in s["Principal"] for s in statements)
    assert list(rule("kms-key-policy-not-public").check(key, stack)) == []


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}])
def test_key_policy_allowing_anyone_without_condition_is_reported_with_its_urn(principal):
    stack, key = _project_key()
    bad = with_statements(
        key,
        {"Sid": "Anyone", "Effect": "Allow", "Principal": principal, "Action": "kms:Decrypt",
         "Resource": "*"},
    )  # fmt: skip
    found = violations("kms-key-policy-not-public", swapped(stack, bad))
    assert [urn for urn, _ in found] == [key.urn]
    assert "'Anyone'" in found[0][1]


def test_key_policy_allowing_anyone_under_a_condition_passes():
    stack, key = _project_key()
    narrowed = with_statements(
        key,
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:CallerAccount": "123456789012"}},
        },
    )
    assert violating_urns("kms-key-policy-not-public", swapped(stack, narrowed)) == set()
