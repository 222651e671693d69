"""S3 policy rules (policy/platform_rules/s3.py) over the buckets the platform really declares:
each rule passes on them and reports, with the bucket's URN, a copy changed to break it."""

from __future__ import annotations

import json

import pytest
from platform_rules import Level, Resource, Stack, Tier, evaluate
from platform_rules.s3 import LOGGING_PRINCIPAL

from airflow_platform.aws_context import AwsContext
from airflow_platform.components.storage import Storage, StorageArgs
from airflow_platform.tagging import stack_tags
from tests.conftest import REGION, TIER_STACKS, settings_for
from tests.test_policy_rules_iam import (
    changed,
    declared_stack,
    module_rules,
    one,
    program_stack,
    rule,
    swapped,
    violating_urns,
    violations,
)

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/0e6a5f39-3bd7-4c5b-9d2e-1234567890ab"
# Reported everywhere in prod until a second region is chosen: advisory by design.
ADVISORY_ONLY = {"s3-cross-region-replication"}


def _prod() -> Stack:
    return program_stack("prod")


def _bucket(stack: Stack, purpose: str) -> Resource:
    return one(stack, BUCKET, f"storage-{purpose}")


def _setting(stack: Stack, token: str, purpose: str, suffix: str) -> Resource:
    return one(stack, token, f"storage-{purpose}-{suffix}")


def _storage_stack(declare, tier: Tier, access_logging: bool) -> Stack:
    """The Storage component alone, built under the mocks as `tier` configures it."""
    settings = settings_for(tier)

    def build() -> None:
        Storage(
            "storage",
            StorageArgs(
                stack=settings.stack,
                aws=AwsContext.current(REGION),
                log_archive=settings.config.storage.log_archive,
                backup=settings.config.backup,
                teardown=settings.teardown,
                tags=stack_tags(settings),
                kms_key_arn=KEY_ARN if settings.config.encryption.customer_managed_key else None,
                access_logging=access_logging,
            ),
        )

    return declared_stack(declare(build, TIER_STACKS[tier]), tier)


# --- the buckets as declared -----------------------------------------------------------------


def test_prod_buckets_pass_every_s3_rule_but_the_advisory_replication():
    found = evaluate(module_rules("s3"), _prod())
    assert {f.rule for f in found} <= ADVISORY_ONLY
    assert all(f.level is Level.ADVISORY for f in found)


def test_replication_is_advised_for_the_backup_and_log_archive_buckets_with_their_urns():
    stack = _prod()
    assert violating_urns("s3-cross-region-replication", stack) == {
        _bucket(stack, "backups").urn,
        _bucket(stack, "logs").urn,
    }


def test_storage_with_access_logging_passes_every_s3_rule_as_prod(declare):
    stack = _storage_stack(declare, Tier.PROD, access_logging=True)
    assert len(stack.of_type(BUCKET)) == 4
    assert {f.rule for f in evaluate(module_rules("s3"), stack)} <= ADVISORY_ONLY


def test_storage_without_access_logging_is_reported_bucket_by_bucket(declare):
    stack = _storage_stack(declare, Tier.DEV, access_logging=False)
    found = violating_urns("s3-access-logging", stack)
    assert found == {b.urn for b in stack.of_type(BUCKET)}
    assert rule("s3-access-logging").level(Tier.DEV) is Level.ADVISORY
    assert rule("s3-access-logging").level(Tier.PROD) is Level.MANDATORY


# --- s3-public-access-block ------------------------------------------------------------------


def test_bucket_without_public_access_block_is_reported_with_its_urn():
    stack = _prod()
    block = _setting(stack, PUBLIC_ACCESS_BLOCK, "dags", "public-access")
    found = violations("s3-public-access-block", swapped(stack, drop=[block]))
    assert [urn for urn, _ in found] == [_bucket(stack, "dags").urn]
    assert "no public access block" in found[0][1]


@pytest.mark.parametrize(
    "flag", ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]
)
def test_public_access_block_with_a_flag_off_is_reported_naming_it(flag):
    stack = _prod()
    block = _setting(stack, PUBLIC_ACCESS_BLOCK, "backups", "public-access")
    found = violations("s3-public-access-block", swapped(stack, changed(block, **{flag: False})))
    assert [urn for urn, _ in found] == [_bucket(stack, "backups").urn]
    assert flag in found[0][1]


# --- s3-acls-disabled ------------------------------------------------------------------------


def test_bucket_with_acls_enabled_is_reported_with_its_urn():
    stack = _prod()
    ownership = _setting(stack, OWNERSHIP, "logs", "ownership")
    preferred = changed(ownership, rule={"objectOwnership": "BucketOwnerPreferred"})
    found = violations("s3-acls-disabled", swapped(stack, preferred))
    assert [urn for urn, _ in found] == [_bucket(stack, "logs").urn]
    assert "BucketOwnerPreferred" in found[0][1]


def test_bucket_given_an_acl_is_reported_with_its_urn():
    stack = _prod()
    dags = _bucket(stack, "dags")
    acl = Resource(
        type="aws:s3/bucketAcl:BucketAcl",
        urn=dags.urn.replace("aws:s3/bucket:Bucket::storage-dags", "aws:s3/bucketAcl:BucketAcl::x"),
        name="public-read-acl",
        props={"bucket": dags.props["bucket"], "acl": "public-read"},
    )
    found = violations("s3-acls-disabled", swapped(stack, acl))
    assert [urn for urn, _ in found] == [dags.urn]
    assert "public-read-acl" in found[0][1]


# --- s3-versioning ---------------------------------------------------------------------------


def test_unversioned_bucket_is_reported_with_its_urn():
    stack = _prod()
    versioning = _setting(stack, VERSIONING, "backups", "versioning")
    suspended = changed(versioning, versioningConfiguration={"status": "Suspended"})
    found = violations("s3-versioning", swapped(stack, suspended))
    assert [urn for urn, _ in found] == [_bucket(stack, "backups").urn]
    assert "Suspended" in found[0][1]


# --- s3-default-encryption -------------------------------------------------------------------


def _encryption(stack: Stack, purpose: str) -> Resource:
    return _setting(stack, ENCRYPTION, purpose, "encryption")


@pytest.mark.parametrize(
    ("rules", "complaint"),
    [
        ([{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}], "S3-managed"),
        (
            [
                {
                    "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"},
                    "bucketKeyEnabled": True,
                }
            ],
            "AWS managed key",
        ),
        (
            [
                {
                    "applyServerSideEncryptionByDefault": {
                        "sseAlgorithm": "aws:kms",
                        "kmsMasterKeyId": KEY_ARN,
                    }
                }
            ],
            "Bucket Key",
        ),
        ([], "no default encryption"),
    ],
)
def test_prod_bucket_not_on_the_project_key_with_a_bucket_key_is_reported(rules, complaint):
    stack = _prod()
    found = violations(
        "s3-default-encryption", swapped(stack, changed(_encryption(stack, "dags"), rules=rules))
    )
    assert [urn for urn, _ in found] == [_bucket(stack, "dags").urn]
    assert complaint in found[0][1]


def test_s3_managed_keys_pass_outside_prod_and_on_the_access_log_bucket():
    assert violations("s3-default-encryption", program_stack("dev")) == []
    stack = _prod()
    access = _encryption(stack, "access-logs")
    assert access.props["rules"][0]["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "AES256"
    }
    assert violations("s3-default-encryption", stack) == []


# --- s3-tls-only-policy ----------------------------------------------------------------------


def _policy(stack: Stack, purpose: str) -> Resource:
    return _setting(stack, POLICY, purpose, "policy")


def _with_statements(resource: Resource, keep, *extra) -> Resource:
    doc = json.loads(resource.props["policy"])
    doc["Statement"] = [s for s in doc["Statement"] if keep(s)] + list(extra)
    return changed(resource, policy=json.dumps(doc))


def test_policy_without_the_plain_http_deny_is_reported_with_its_urn():
    stack = _prod()
    policy = _with_statements(_policy(stack, "logs"), lambda s: s["Sid"] != "DenyInsecureTransport")
    found = violations("s3-tls-only-policy", swapped(stack, policy))
    assert [urn for urn, _ in found] == [_bucket(stack, "logs").urn]
    assert "plain HTTP" in found[0][1]


def test_policy_allowing_everyone_is_reported_with_its_urn():
    stack = _prod()
    public_read = {
        "Sid": "PublicRead",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::whatever/*",
    }
    policy = _with_statements(_policy(stack, "dags"), lambda s: True, public_read)
    found = violations("s3-tls-only-policy", swapped(stack, policy))
    assert [urn for urn, _ in found] == [_bucket(stack, "dags").urn]
    assert "PublicRead" in found[0][1]


# --- s3-access-logging -----------------------------------------------------------------------


def test_bucket_without_access_logging_is_reported_with_its_urn():
    stack = _prod()
    logging = _setting(stack, LOGGING, "dags", "access-logging")
    found = violations("s3-access-logging", swapped(stack, drop=[logging]))
    assert [urn for urn, _ in found] == [_bucket(stack, "dags").urn]


@pytest.mark.parametrize(
    ("target", "complaint"),
    [("self", "to itself"), ("airflow-elsewhere-logs", "does not declare")],
)
def test_bucket_logging_anywhere_but_the_stacks_log_bucket_is_reported(target, complaint):
    stack = _prod()
    backups = _bucket(stack, "backups")
    logging = _setting(stack, LOGGING, "backups", "access-logging")
    target_name = backups.props["bucket"] if target == "self" else target
    found = violations(
        "s3-access-logging", swapped(stack, changed(logging, targetBucket=target_name))
    )
    assert [urn for urn, _ in found] == [backups.urn]
    assert complaint in found[0][1]


def test_the_access_log_bucket_itself_does_not_log():
    stack = _prod()
    access = _bucket(stack, "access-logs")
    assert not [r for r in stack.of_type(LOGGING) if r.props["bucket"] == access.props["bucket"]]
    assert access.urn not in violating_urns("s3-access-logging", stack)


# --- s3-access-log-target --------------------------------------------------------------------


def test_access_log_bucket_admits_the_logging_service_for_this_stacks_buckets():
    stack = _prod()
    doc = json.loads(_policy(stack, "access-logs").props["policy"])
    [grant] = [s for s in doc["Statement"] if s["Effect"] == "Allow"]
    assert grant["Principal"] == {"Service": LOGGING_PRINCIPAL}
    assert grant["Action"] == "s3:PutObject"
    assert grant["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert grant["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:s3:::airflow-prod-*-123456789012-{REGION}"
    }
    assert violations("s3-access-log-target", stack) == []


def test_log_target_whose_policy_does_not_admit_the_logging_service_is_reported():
    stack = _prod()
    policy = _with_statements(_policy(stack, "access-logs"), lambda s: s["Effect"] == "Deny")
    found = violations("s3-access-log-target", swapped(stack, policy))
    assert [urn for urn, _ in found] == [_bucket(stack, "access-logs").urn]
    assert LOGGING_PRINCIPAL in found[0][1]


def test_log_target_encrypted_with_kms_or_under_object_lock_is_reported():
    stack = _prod()
    access = _bucket(stack, "access-logs")
    kms = changed(
        _encryption(stack, "access-logs"),
        rules=[
            {
                "applyServerSideEncryptionByDefault": {
                    "sseAlgorithm": "aws:kms",
                    "kmsMasterKeyId": KEY_ARN,
                },
                "bucketKeyEnabled": True,
            }
        ],
    )
    lock = changed(
        _setting(stack, OBJECT_LOCK, "backups", "object-lock"),
        bucket=access.props["bucket"],
    )
    lock = Resource(type=lock.type, urn=lock.urn + "-copy", name="lock", props=lock.props)
    found = violations("s3-access-log-target", swapped(stack, kms, lock))
    assert {urn for urn, _ in found} == {access.urn}
    assert any("AES256" in message for _, message in found)
    assert any("object lock" in message for _, message in found)


# --- s3-log-lifecycle ------------------------------------------------------------------------


def test_log_archive_lifecycle_missing_a_part_is_reported_naming_it():
    stack = _prod()
    lifecycle = _setting(stack, LIFECYCLE, "logs", "lifecycle")
    rules = [
        {k: v for k, v in r.items() if k != "abortIncompleteMultipartUpload"}
        for r in lifecycle.props["rules"]
    ]
    found = violations("s3-log-lifecycle", swapped(stack, changed(lifecycle, rules=rules)))
    assert [urn for urn, _ in found] == [_bucket(stack, "logs").urn]
    assert "aborting incomplete multipart uploads" in found[0][1]
    assert "transitions" not in found[0][1]


def test_log_buckets_without_a_lifecycle_are_reported_and_others_are_not_judged():
    stack = _prod()
    drop = [_setting(stack, LIFECYCLE, p, "lifecycle") for p in ("logs", "access-logs", "dags")]
    found = dict(violations("s3-log-lifecycle", swapped(stack, drop=drop)))
    assert set(found) == {_bucket(stack, "logs").urn, _bucket(stack, "access-logs").urn}
    assert "transitions" in found[_bucket(stack, "logs").urn]


# --- s3-backup-object-lock -------------------------------------------------------------------


def test_backup_bucket_without_object_lock_is_reported_with_its_urn():
    stack = _prod()
    lock = _setting(stack, OBJECT_LOCK, "backups", "object-lock")
    assert lock.props["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 35}
    found = violations("s3-backup-object-lock", swapped(stack, drop=[lock]))
    assert [urn for urn, _ in found] == [_bucket(stack, "backups").urn]


def test_backup_object_lock_is_advised_in_dev_and_off_for_ephemeral_stacks():
    dev = program_stack("dev")
    [finding] = [f for f in evaluate(module_rules("s3"), dev) if f.rule == "s3-backup-object-lock"]
    assert finding.level is Level.ADVISORY
    assert finding.urn == _bucket(dev, "backups").urn
    assert rule("s3-backup-object-lock").level(Tier.EPHEMERAL) is Level.DISABLED


# --- s3-cross-region-replication -------------------------------------------------------------


def test_replicated_backup_bucket_passes_the_replication_rule():
    stack = _prod()
    backups = _bucket(stack, "backups")
    replication = Resource(
        type="aws:s3/bucketReplicationConfig:BucketReplicationConfig",
        urn=backups.urn + "-replication",
        name="storage-backups-replication",
        props={
            "bucket": backups.props["bucket"],
            "rules": [{"status": "Enabled", "destination": {"bucket": "arn:aws:s3:::copy"}}],
        },
    )
    assert violating_urns("s3-cross-region-replication", swapped(stack, replication)) == {
        _bucket(stack, "logs").urn
    }
