"""S3: every bucket private, ACL-free, versioned, encrypted, TLS-only and access-logged; log
buckets with a lifecycle, the backup bucket under object lock.

In pulumi-aws 7 a bucket's settings are resources of their own (BucketVersioning,
BucketServerSideEncryptionConfiguration, BucketPolicy, BucketPublicAccessBlock,
BucketOwnershipControls, BucketLifecycleConfiguration, BucketObjectLockConfiguration,
BucketLogging), each naming the bucket in its `bucket` input. So these are stack rules: each
bucket is judged by the settings resources the stack declares for it, and a setting that is
missing is a violation of the bucket (its URN is the one reported).

Which bucket is which comes from its `purpose` tag (Storage sets dags, logs, backups and
access-logs) and from the logging settings themselves: a bucket some BucketLogging delivers to
is an access-log target.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from platform_rules.model import Level, Resource, Rule, Stack, Tier, levels
from platform_rules.reading import (
    at,
    bucket_name,
    buckets,
    is_customer_key,
    is_true,
    items,
    name_of,
    number,
    principals,
    purpose,
    settings_of,
    statements,
)

# Each setting's type, and its deprecated V2 alias (the same resource under its old token).
PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
OWNERSHIP = ("aws:s3/bucketOwnershipControls:BucketOwnershipControls",)
ACL = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
VERSIONING = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)
LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
LIFECYCLE = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
OBJECT_LOCK = (
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
)
REPLICATION = ("aws:s3/bucketReplicationConfig:BucketReplicationConfig",)

PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
# The service principal S3 delivers server access logs as (S3 User Guide, "Enabling Amazon S3
# server access logging", "Permissions for log delivery").
LOGGING_PRINCIPAL = "logging.s3.amazonaws.com"
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
# Buckets whose loss is data loss, worth a copy in a second region.
REPLICATED_PURPOSES = ("backups", "logs")


def _settings(stack: Stack, types: tuple[str, ...], bucket: Resource) -> list[Resource]:
    return [r for token in types for r in settings_of(stack, token, bucket)]


def _log_targets(stack: Stack) -> set[Any]:
    """Names of the buckets other buckets' server access logs are delivered to (a bucket
    logging to itself does not make it a log bucket: that is a violation of its own)."""
    targets = set()
    for token in LOGGING:
        for logging in stack.of_type(token):
            target = logging.get("targetBucket")
            if target is not None and target != logging.get("bucket"):
                targets.add(target)
    return targets


def _is_access_log_target(bucket: Resource, targets: set[Any]) -> bool:
    return purpose(bucket) == "access-logs" or bucket_name(bucket) in targets


def _each_bucket(stack: Stack) -> Iterator[tuple[Resource, str]]:
    for bucket in buckets(stack):
        yield bucket, f"bucket {name_of(bucket)}"


def public_access_block(stack: Stack) -> Iterator[tuple[str, str]]:
    for bucket, label in _each_bucket(stack):
        blocks = _settings(stack, PUBLIC_ACCESS_BLOCK, bucket)
        if not blocks:
            yield (
                bucket.urn,
                (
                    f"{label} has no public access block: declare an "
                    "aws.s3.BucketPublicAccessBlock for it with block_public_acls, "
                    "block_public_policy, ignore_public_acls and restrict_public_buckets all True"
                ),
            )
            continue
        off = sorted({f for b in blocks for f in PUBLIC_ACCESS_FLAGS if not is_true(b.get(f))})
        if off:
            yield (
                bucket.urn,
                (
                    f"{label}'s public access block leaves {', '.join(off)} off: set all four "
                    "flags True, so no ACL or policy can make the bucket public"
                ),
            )


def acls_disabled(stack: Stack) -> Iterator[tuple[str, str]]:
    for bucket, label in _each_bucket(stack):
        owners = [o.get("rule.objectOwnership") for o in _settings(stack, OWNERSHIP, bucket)]
        if "BucketOwnerEnforced" not in owners:
            found = ", ".join(str(o) for o in owners) or "none"
            yield (
                bucket.urn,
                (
                    f"{label} keeps ACLs (object ownership: {found}): declare an "
                    "aws.s3.BucketOwnershipControls with object_ownership BucketOwnerEnforced, "
                    "which disables ACLs and leaves access to policies alone"
                ),
            )
        acls = _settings(stack, ACL, bucket)
        if acls or bucket.get("acl") is not None or bucket.get("grants"):
            yield (
                bucket.urn,
                (
                    f"{label} is given an ACL "
                    f"({', '.join(name_of(a) for a in acls) or 'acl/grants'}): remove it and "
                    "grant access through the bucket policy"
                ),
            )


def versioning(stack: Stack) -> Iterator[tuple[str, str]]:
    for bucket, label in _each_bucket(stack):
        states = [
            v.get("versioningConfiguration.status") for v in _settings(stack, VERSIONING, bucket)
        ]
        if "Enabled" not in states and not is_true(bucket.get("versioning.enabled")):
            found = ", ".join(str(s) for s in states) or "no BucketVersioning"
            yield (
                bucket.urn,
                (
                    f"{label} is not versioned ({found}): declare an aws.s3.BucketVersioning with "
                    "status Enabled, so an overwrite or delete can be undone"
                ),
            )


def _default_encryption(stack: Stack, bucket: Resource) -> list[Mapping[str, Any]]:
    rules = []
    for config in _settings(stack, ENCRYPTION, bucket):
        rules += [r for r in items(config.get("rules")) if isinstance(r, Mapping)]
    return rules


def default_encryption(stack: Stack) -> Iterator[tuple[str, str]]:
    targets = _log_targets(stack)
    for bucket, label in _each_bucket(stack):
        rules = _default_encryption(stack, bucket)
        defaults = [r.get("applyServerSideEncryptionByDefault") for r in rules]
        defaults = [d for d in defaults if isinstance(d, Mapping) and d.get("sseAlgorithm")]
        if not defaults:
            yield (
                bucket.urn,
                (
                    f"{label} has no default encryption: declare an "
                    "aws.s3.BucketServerSideEncryptionConfiguration for it"
                    + (
                        " with sse_algorithm aws:kms and the project key"
                        if stack.tier is Tier.PROD
                        else ""
                    )
                ),
            )
            continue
        if _is_access_log_target(bucket, targets):
            continue  # S3 delivers access logs only under SSE-S3: s3-access-log-target checks it
        kms = [
            r
            for r in rules
            if (r.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
            in KMS_ALGORITHMS
        ]
        if stack.tier is Tier.PROD and not kms:
            yield (
                bucket.urn,
                (
                    f"{label} is encrypted with S3-managed keys: in prod use sse_algorithm "
                    "aws:kms with the project's KMS key (airflow-platform:encryption."
                    "customerManagedKey), so reading the data needs the key as well as the bucket"
                ),
            )
            continue
        for rule in kms:
            key = at(rule, "applyServerSideEncryptionByDefault.kmsMasterKeyId")
            if stack.tier is Tier.PROD and not is_customer_key(key):
                yield (
                    bucket.urn,
                    (
                        f"{label} is encrypted with {key or 'the AWS managed key aws/s3'}: in prod "
                        "set kms_master_key_id to the project key's ARN (a customer-managed key "
                        "whose policy the stack controls)"
                    ),
                )
            if not is_true(rule.get("bucketKeyEnabled")):
                yield (
                    bucket.urn,
                    (
                        f"{label} encrypts with KMS without an S3 Bucket Key: set "
                        "bucket_key_enabled True (one data key per bucket instead of a KMS request "
                        "per object: cost and KMS request quotas)"
                    ),
                )


def _covers_bucket(resources: list[Any], name: Any) -> bool:
    values = {str(r) for r in resources}
    whole = any(v == "*" or v.endswith(f":::{name}") or v.endswith(f":::{name}*") for v in values)
    objects = any(v == "*" or v.endswith((f":::{name}/*", f":::{name}*")) for v in values)
    return whole and objects


def _denies_plain_http(statement: Mapping[str, Any], name: Any) -> bool:
    if statement.get("Effect") != "Deny" or "*" not in principals(statement):
        return False
    actions = {str(a) for a in items(statement.get("Action"))}
    if not actions & {"*", "s3:*"}:
        return False
    condition = statement.get("Condition")
    secure = condition.get("Bool") if isinstance(condition, Mapping) else None
    values = items(secure.get("aws:SecureTransport")) if isinstance(secure, Mapping) else []
    if not any(str(v).lower() == "false" for v in values):
        return False
    return _covers_bucket(items(statement.get("Resource")), name)


def tls_only_policy(stack: Stack) -> Iterator[tuple[str, str]]:
    for bucket, label in _each_bucket(stack):
        documents = [p.get("policy") for p in _settings(stack, POLICY, bucket)]
        if bucket.get("policy") is not None:
            documents.append(bucket.get("policy"))
        found = [s for doc in documents for s in statements(doc)]
        name = bucket_name(bucket)
        if not any(_denies_plain_http(s, name) for s in found):
            yield (
                bucket.urn,
                (
                    f"{label}'s policy does not deny plain HTTP: add a Deny of s3:* for Principal "
                    "* on the bucket and bucket/* when aws:SecureTransport is false"
                ),
            )
        for statement in found:
            if statement.get("Effect") == "Allow" and "*" in principals(statement):
                yield (
                    bucket.urn,
                    (
                        f"{label}'s policy allows Principal * (statement "
                        f"{statement.get('Sid') or '(no Sid)'}): name the principals, services or "
                        "roles that need access instead"
                    ),
                )


def access_logging(stack: Stack) -> Iterator[tuple[str, str]]:
    targets = _log_targets(stack)
    names = {bucket_name(b) for b in buckets(stack)}
    for bucket, label in _each_bucket(stack):
        if _is_access_log_target(bucket, targets):
            continue  # S3 User Guide: a target bucket should not log itself (a log loop)
        loggings = _settings(stack, LOGGING, bucket)
        if not loggings:
            yield (
                bucket.urn,
                (
                    f"{label} has no server access logging: declare an aws.s3.BucketLogging "
                    "delivering to the stack's access-log bucket (airflow-platform:"
                    "storage.accessLogging), so every request to the bucket leaves a record"
                ),
            )
        for logging in loggings:
            target = logging.get("targetBucket")
            if target == bucket_name(bucket):
                yield (
                    bucket.urn,
                    (
                        f"{label} delivers its access logs to itself, an endless loop of log "
                        "records: deliver them to the stack's access-log bucket"
                    ),
                )
            elif target not in names:
                yield (
                    bucket.urn,
                    (
                        f"{label} delivers its access logs to {target}, which this stack does not "
                        "declare: deliver them to the stack's access-log bucket, whose retention "
                        "and policy the stack controls"
                    ),
                )


def access_log_target(stack: Stack) -> Iterator[tuple[str, str]]:
    targets = _log_targets(stack)
    for bucket, label in _each_bucket(stack):
        if bucket_name(bucket) not in targets:
            continue
        documents = [p.get("policy") for p in _settings(stack, POLICY, bucket)]
        grants = [
            s
            for doc in documents
            for s in statements(doc)
            if s.get("Effect") == "Allow"
            and LOGGING_PRINCIPAL in principals(s)
            and {str(a) for a in items(s.get("Action"))} & {"s3:PutObject", "s3:*", "*"}
        ]
        if not grants:
            yield (
                bucket.urn,
                (
                    f"{label} receives server access logs but its policy does not allow "
                    f"{LOGGING_PRINCIPAL} s3:PutObject: with ACLs disabled the logs are dropped "
                    "unless the bucket policy grants it (S3 User Guide, Permissions for log "
                    "delivery)"
                ),
            )
        algorithms = {
            (r.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
            for r in _default_encryption(stack, bucket)
        }
        if algorithms & set(KMS_ALGORITHMS):
            yield (
                bucket.urn,
                (
                    f"{label} receives server access logs but encrypts with KMS by default: S3 "
                    "supports only SSE-S3 (AES256) default encryption on a log target (S3 User "
                    "Guide, Enabling server access logging); set sse_algorithm AES256 on it"
                ),
            )
        if _settings(stack, OBJECT_LOCK, bucket) or is_true(bucket.get("objectLockEnabled")):
            yield (
                bucket.urn,
                (
                    f"{label} receives server access logs but has object lock, which S3 refuses "
                    "on a log target: deliver the logs to a bucket without object lock"
                ),
            )


def _lifecycle_rules(stack: Stack, bucket: Resource) -> list[Mapping[str, Any]]:
    rules = []
    for config in _settings(stack, LIFECYCLE, bucket):
        rules += [
            r
            for r in items(config.get("rules"))
            if isinstance(r, Mapping) and r.get("status") == "Enabled"
        ]
    return rules


def log_lifecycle(stack: Stack) -> Iterator[tuple[str, str]]:
    targets = _log_targets(stack)
    for bucket, _ in _each_bucket(stack):
        if purpose(bucket) != "logs" and not _is_access_log_target(bucket, targets):
            continue
        rules = _lifecycle_rules(stack, bucket)
        missing = []
        if not any(items(r.get("transitions")) for r in rules):
            missing.append("transitions to cheaper storage classes")
        if not any(number(at(r, "expiration.days")) for r in rules):
            missing.append("expiration (days)")
        if not any(number(at(r, "noncurrentVersionExpiration.noncurrentDays")) for r in rules):
            missing.append("noncurrent-version expiration")
        if not any(
            number(at(r, "abortIncompleteMultipartUpload.daysAfterInitiation")) for r in rules
        ):
            missing.append("aborting incomplete multipart uploads")
        if missing:
            yield (
                bucket.urn,
                (
                    f"log bucket {name_of(bucket)}'s lifecycle lacks {', '.join(missing)}: add "
                    "them to an enabled rule of its aws.s3.BucketLifecycleConfiguration "
                    "(airflow-platform:storage.logArchive), or logs are kept, and paid for, forever"
                ),
            )


def backup_object_lock(stack: Stack) -> Iterator[tuple[str, str]]:
    for bucket, label in _each_bucket(stack):
        if purpose(bucket) != "backups":
            continue
        locks = _settings(stack, OBJECT_LOCK, bucket)
        retained = [
            lock
            for lock in locks
            if lock.get("objectLockEnabled", "Enabled") == "Enabled"
            and lock.get("rule.defaultRetention.mode") in ("GOVERNANCE", "COMPLIANCE")
            and (
                number(lock.get("rule.defaultRetention.days"))
                or number(lock.get("rule.defaultRetention.years"))
            )
        ]
        if not retained:
            yield (
                bucket.urn,
                (
                    f"backup {label} has no object lock with a default retention: declare an "
                    "aws.s3.BucketObjectLockConfiguration (airflow-platform:backup.objectLock), so "
                    "a dump cannot be overwritten or deleted before its retention ends"
                ),
            )


def cross_region_replication(stack: Stack) -> Iterator[tuple[str, str]]:
    for bucket, label in _each_bucket(stack):
        if purpose(bucket) not in REPLICATED_PURPOSES:
            continue
        configs = _settings(stack, REPLICATION, bucket)
        enabled = [
            rule
            for config in configs
            for rule in items(config.get("rules"))
            if isinstance(rule, Mapping) and rule.get("status") == "Enabled"
        ]
        if not enabled:
            yield (
                bucket.urn,
                (
                    f"{label} is kept in one region only: an aws.s3.BucketReplicationConfig to a "
                    "bucket in a second region keeps a copy through a regional outage"
                ),
            )


# Object lock and replication make no sense on a stack built to be destroyed.
_NOT_EPHEMERAL = levels(ephemeral=Level.DISABLED)

RULES: list[Rule] = [
    Rule(
        name="s3-public-access-block",
        service="S3",
        description="Every bucket has a public access block with all four flags on.",
        stack_check=public_access_block,
    ),
    Rule(
        name="s3-acls-disabled",
        service="S3",
        description="Every bucket disables ACLs (object ownership BucketOwnerEnforced).",
        stack_check=acls_disabled,
    ),
    Rule(
        name="s3-versioning",
        service="S3",
        description="Every bucket is versioned.",
        stack_check=versioning,
    ),
    Rule(
        name="s3-default-encryption",
        service="S3",
        description="Every bucket has default encryption; in prod with the project's KMS key "
        "and an S3 Bucket Key.",
        stack_check=default_encryption,
    ),
    Rule(
        name="s3-tls-only-policy",
        service="S3",
        description="Every bucket's policy denies plain HTTP and allows nothing to Principal *.",
        stack_check=tls_only_policy,
    ),
    Rule(
        name="s3-access-logging",
        service="S3",
        description="Every bucket delivers server access logs to the stack's access-log bucket.",
        stack_check=access_logging,
    ),
    Rule(
        name="s3-access-log-target",
        service="S3",
        description="An access-log bucket admits the logging service, uses SSE-S3 and has no "
        "object lock (what S3 needs to deliver).",
        stack_check=access_log_target,
    ),
    Rule(
        name="s3-log-lifecycle",
        service="S3",
        description="Log buckets transition, expire, expire old versions and abort stale uploads.",
        stack_check=log_lifecycle,
    ),
    Rule(
        name="s3-backup-object-lock",
        service="S3",
        description="The backup bucket has object lock with a default retention.",
        levels=_NOT_EPHEMERAL,
        stack_check=backup_object_lock,
    ),
    Rule(
        name="s3-cross-region-replication",
        service="S3",
        description="The backup and log-archive buckets replicate to a second region.",
        levels=levels(prod=Level.ADVISORY, others=Level.DISABLED),
        stack_check=cross_region_replication,
    ),
]
