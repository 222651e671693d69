"""KMS: customer-managed keys rotate and carry an explicit key policy that opens them to no
one."""

from __future__ import annotations

from collections.abc import Iterable

from platform_rules.iam import public_allows
from platform_rules.model import Resource, Rule, Stack

KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
# Automatic rotation exists for symmetric encryption keys only (KMS Developer Guide, "Rotate
# AWS KMS keys": asymmetric, HMAC and imported-material keys cannot rotate automatically,
# https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html).
_ROTATABLE_SPEC = "SYMMETRIC_DEFAULT"


def _key_rotates(resource: Resource, stack: Stack) -> Iterable[str]:
    spec = resource.get("customerMasterKeySpec") or resource.get("keySpec") or _ROTATABLE_SPEC
    if spec != _ROTATABLE_SPEC:
        return  # nothing to rotate automatically; such keys are rotated by replacing them
    if resource.get("enableKeyRotation") is not True:
        yield "the key does not rotate: set enableKeyRotation = true (yearly by default)"


def _key_policy_explicit(resource: Resource, stack: Stack) -> Iterable[str]:
    policy = resource.get("policy")
    if not policy:
        yield (
            "the key has no key policy of its own, so KMS applies its default: set policy to "
            "a document naming who administers and who uses the key"
        )


def _key_policy_not_public(resource: Resource, stack: Stack) -> Iterable[str]:
    for where in public_allows(resource.get("policy")):
        yield (
            f'key policy {where} allows any principal ("*") without a condition: name the '
            "principals, or limit the statement with a condition (kms:CallerAccount, "
            "kms:ViaService)"
        )


RULES: list[Rule] = [
    Rule(
        name="kms-key-rotation",
        service="KMS",
        description="Symmetric customer-managed keys rotate automatically.",
        types=frozenset({KEY}),
        check=_key_rotates,
    ),
    Rule(
        name="kms-key-policy-explicit",
        service="KMS",
        description="Every key states its key policy.",
        types=frozenset({KEY}),
        check=_key_policy_explicit,
    ),
    Rule(
        name="kms-key-policy-not-public",
        service="KMS",
        description="No key policy allows the * principal without a condition.",
        types=frozenset({KEY, KEY_POLICY}),
        check=_key_policy_not_public,
    ),
]
