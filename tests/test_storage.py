"""Storage under each tier: the hardening every bucket gets, and what differs between them."""

from __future__ import annotations

import json

import pytest

from airflow_platform.aws_context import AwsContext
from airflow_platform.components.storage import Storage, StorageArgs
from airflow_platform.config import Tier
from airflow_platform.tagging import stack_tags
from tests.conftest import REGION, TIER_STACKS, settings_for

BUCKET = "aws:s3/bucket:Bucket"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/test"


def _storage(settings, kms_key_arn=None):
    def build():
        Storage(
            "storage",
            StorageArgs(
                stack=settings.stack,
                aws=AwsContext.current(REGION),
                log_archive=settings.config.storage.log_archive,
                backup=settings.config.backup,
                teardown=settings.teardown,
                tags=stack_tags(settings),
                kms_key_arn=kms_key_arn,
            ),
        )

    return build


def _declared(declare, tier, **overrides):
    settings = settings_for(tier, **overrides)
    key = KEY_ARN if settings.config.encryption.customer_managed_key else None
    return settings, declare(_storage(settings, key), TIER_STACKS[tier])


def _bucket(declared, purpose):
    return declared.one(BUCKET, f"storage-{purpose}")


def _rules(declared, bucket):
    return declared.for_bucket(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket
    ).inputs["rules"]


@pytest.mark.parametrize("tier", list(Tier))
def test_storage_every_bucket_is_private_encrypted_versioned_and_tls_only(declare, tier):
    settings, declared = _declared(declare, tier)
    buckets = declared.of_type(BUCKET)
    assert sorted(b.name for b in buckets) == ["storage-backups", "storage-dags", "storage-logs"]
    for bucket in buckets:
        assert bucket.inputs["bucket"].startswith(f"airflow-{settings.stack}-"), bucket.urn
        block = declared.for_bucket(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket
        )
        for flag in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        ):
            assert block.inputs[flag] is True, f"{flag} off on {bucket.urn}"
        ownership = declared.for_bucket(
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls", bucket
        )
        assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        versioning = declared.for_bucket("aws:s3/bucketVersioning:BucketVersioning", bucket)
        assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
        policy = json.loads(
            declared.for_bucket("aws:s3/bucketPolicy:BucketPolicy", bucket).inputs["policy"]
        )
        tls = [
            s
            for s in policy["Statement"]
            if s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false"
        ]
        assert tls, f"no TLS-only statement on {bucket.urn}"
        assert tls[0]["Effect"] == "Deny", bucket.urn
        assert not [s for s in policy["Statement"] if s["Effect"] == "Allow"], bucket.urn
        assert policy_depends_on_public_access_block(declared, bucket, block)


def policy_depends_on_public_access_block(declared, bucket, block):
    policy = declared.for_bucket("aws:s3/bucketPolicy:BucketPolicy", bucket)
    return block.urn in policy.dependencies


@pytest.mark.parametrize("tier", list(Tier))
def test_storage_encrypts_with_project_key_in_prod_and_sse_s3_elsewhere(declare, tier):
    _, declared = _declared(declare, tier)
    for bucket in declared.of_type(BUCKET):
        rule = declared.for_bucket(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            bucket,
        ).inputs["rules"][0]
        default = rule["applyServerSideEncryptionByDefault"]
        if tier is Tier.PROD:
            assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}, bucket.urn
            assert rule["bucketKeyEnabled"] is True
        else:
            assert default == {"sseAlgorithm": "AES256"}, bucket.urn


@pytest.mark.parametrize("tier", list(Tier))
def test_storage_log_archive_transitions_then_expires_per_tier(declare, tier):
    settings, declared = _declared(declare, tier)
    expected = settings.config.storage.log_archive
    rule = next(r for r in _rules(declared, _bucket(declared, "logs")) if r.get("transitions"))
    assert rule["filter"] == {}
    assert rule["status"] == "Enabled"
    assert [(t["storageClass"], t["days"]) for t in rule["transitions"]] == [
        ("STANDARD_IA", expected.transition_to_ia_days),
        (expected.glacier_class.value, expected.transition_to_glacier_days),
    ]
    assert rule["expiration"]["days"] == expected.expire_days
    assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == (
        expected.noncurrent_version_expire_days
    )
    assert rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7
    if tier is Tier.PROD:
        assert rule["expiration"]["days"] >= 365


def test_storage_log_archive_lifecycle_follows_stack_config(declare):
    _, declared = _declared(declare, Tier.DEV, storage={"logArchive": {"expireDays": 400}})
    rules = _rules(declared, _bucket(declared, "logs"))
    assert rules[0]["expiration"]["days"] == 400


@pytest.mark.parametrize("tier", list(Tier))
def test_storage_backup_lifecycle_follows_backup_retention(declare, tier):
    settings, declared = _declared(declare, tier)
    rules = _rules(declared, _bucket(declared, "backups"))
    assert rules[0]["expiration"]["days"] == settings.config.backup.retention_days


@pytest.mark.parametrize("tier", list(Tier))
def test_storage_force_destroy_only_on_ephemeral_and_data_protected_only_in_prod(declare, tier):
    _, declared = _declared(declare, tier)
    for bucket in declared.of_type(BUCKET):
        assert bucket.inputs["forceDestroy"] is (tier is Tier.EPHEMERAL), bucket.urn
        holds_data = bucket.name != "storage-dags"
        assert bucket.protect is (holds_data and tier is Tier.PROD), bucket.urn
        assert bucket.retain_on_delete is False, bucket.urn


@pytest.mark.parametrize("tier", list(Tier))
def test_storage_backup_object_lock_in_prod_only(declare, tier):
    settings, declared = _declared(declare, tier)
    backups = _bucket(declared, "backups")
    locks = declared.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    # Never the bucket's creation-only flag: that would replace an existing bucket.
    assert "objectLockEnabled" not in backups.inputs
    if tier is Tier.PROD:
        assert locks[0].inputs["objectLockEnabled"] == "Enabled"
        assert locks[0].inputs["bucket"] == backups.inputs["bucket"]
        assert locks[0].inputs["rule"]["defaultRetention"] == {
            "mode": "GOVERNANCE",
            "days": settings.config.backup.retention_days,
        }
    else:
        assert locks == []


def test_storage_dag_bucket_keeps_old_versions_for_rollback_then_expires_them(declare):
    _, declared = _declared(declare, Tier.DEV)
    rule = _rules(declared, _bucket(declared, "dags"))[0]
    assert "days" not in rule.get("expiration", {}), "current DAG files never expire"
    assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == 30


@pytest.mark.parametrize("tier", list(Tier))
def test_storage_access_logs_go_to_their_own_sse_s3_bucket_in_prod_by_default(declare, tier):
    settings = settings_for(tier)
    assert settings.config.storage.access_logging is (tier is Tier.PROD)

    def build():
        Storage(
            "storage",
            StorageArgs(
                stack=settings.stack,
                aws=AwsContext.current(REGION),
                log_archive=settings.config.storage.log_archive,
                backup=settings.config.backup,
                teardown=settings.teardown,
                tags=stack_tags(settings),
                kms_key_arn=KEY_ARN,
                access_logging=True,
            ),
        )

    declared = declare(build, TIER_STACKS[tier])
    target = _bucket(declared, "access-logs")
    assert target.inputs["bucket"] == f"airflow-{settings.stack}-access-logs-123456789012-{REGION}"
    # S3 delivers access logs only under SSE-S3, whatever key the other buckets use.
    encryption = declared.for_bucket(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        target,
    )
    assert encryption.inputs["rules"] == [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
    ]
    policy = declared.for_bucket("aws:s3/bucketPolicy:BucketPolicy", target)
    loggings = declared.of_type("aws:s3/bucketLogging:BucketLogging")
    assert sorted(r.inputs["targetPrefix"] for r in loggings) == ["backups/", "dags/", "logs/"]
    for logging in loggings:
        assert logging.inputs["targetBucket"] == target.inputs["bucket"]
        # Delivery works from the first request: the target admits the service first.
        assert policy.urn in logging.dependencies, logging.urn
    # S3 refuses a target under object lock.
    locks = declared.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert all(lock.inputs["bucket"] != target.inputs["bucket"] for lock in locks)
