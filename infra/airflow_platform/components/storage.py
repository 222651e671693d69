"""Storage: the DAG bucket, the log-archive bucket and the backup bucket, and where
`storage.accessLogging` is on (prod), the access-log bucket their server access logs go to.

Every bucket gets the same hardening (public access blocked on all four flags, ACLs off,
default encryption, versioning, a TLS-only policy); what differs between them is data:
one `BucketSpec` each, turned into resources by one loop.

The access-log bucket differs in two ways S3 dictates (S3 User Guide, "Enabling Amazon S3
server access logging"): its default encryption is SSE-S3 (AES256), since "Default
server-side encryption with AWS KMS keys (SSE-KMS) is not supported" on a log target, and its
policy admits the logging service principal, `logging.s3.amazonaws.com`, which delivers the
logs (ACLs are off, so only the policy can). It has no object lock (S3 refuses a locked
target) and does not log itself (a loop). The log archive keeps the project key: Airflow's
archived task logs stay under it, and only the access records go to the SSE-S3 bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from airflow_platform.aws_context import AwsContext
from airflow_platform.config import Teardown
from airflow_platform.config.model import BackupConfig, LogArchiveConfig
from airflow_platform.iam import policy_document, statement
from airflow_platform.tagging import resource_tags

# Old DAG versions are only kept to roll back a bad deploy.
DAG_NONCURRENT_VERSION_DAYS = 30
ACCESS_LOGS = "access-logs"
# The service principal S3 delivers server access logs as (S3 User Guide, "Permissions for
# log delivery").
LOGGING_SERVICE = "logging.s3.amazonaws.com"
# Backups: a replaced/deleted dump stays 1 more day (object lock still holds it until its
# retention ends, whatever this says).
BACKUP_NONCURRENT_VERSION_DAYS = 1
ABORT_INCOMPLETE_BACKUP_UPLOAD_DAYS = 1


def bucket_name(stack: str, purpose: str, account_id: str, region: str) -> str:
    """Globally unique and stable: `airflow-<stack>-<purpose>-<account>-<region>`.

    MWAA requires its source bucket's name to start with `airflow-`.
    """
    return f"airflow-{stack}-{purpose}-{account_id}-{region}"


def _whole_bucket(rule_id: str, **actions: Any) -> dict[str, Any]:
    return {"id": rule_id, "status": "Enabled", "filter": {}, **actions}


def _delete_markers_rule() -> dict[str, Any]:
    # An expiration that sets days leaves delete markers behind; this rule removes them
    # once no version is left under them.
    return _whole_bucket(
        "remove-expired-delete-markers", expiration={"expired_object_delete_marker": True}
    )


def log_archive_rules(config: LogArchiveConfig) -> list[dict[str, Any]]:
    """Standard-IA, then a Glacier class, then expiry; old versions and stale uploads go."""
    return [
        _whole_bucket(
            "archive-then-expire-logs",
            transitions=[
                {"days": config.transition_to_ia_days, "storage_class": "STANDARD_IA"},
                {
                    "days": config.transition_to_glacier_days,
                    "storage_class": config.glacier_class.value,
                },
            ],
            expiration={"days": config.expire_days},
            noncurrent_version_expiration={
                "noncurrent_days": config.noncurrent_version_expire_days
            },
            abort_incomplete_multipart_upload={
                "days_after_initiation": config.abort_incomplete_upload_days
            },
        ),
        _delete_markers_rule(),
    ]


def backup_rules(config: BackupConfig) -> list[dict[str, Any]]:
    """Dumps expire with the backup retention, so the bucket holds what RDS would."""
    return [
        _whole_bucket(
            "expire-backups-after-retention",
            expiration={"days": config.retention_days},
            noncurrent_version_expiration={"noncurrent_days": BACKUP_NONCURRENT_VERSION_DAYS},
            abort_incomplete_multipart_upload={
                "days_after_initiation": ABORT_INCOMPLETE_BACKUP_UPLOAD_DAYS
            },
        ),
        _delete_markers_rule(),
    ]


def dag_rules(abort_days: int) -> list[dict[str, Any]]:
    """Current DAG files stay; replaced ones are kept long enough to roll back."""
    return [
        _whole_bucket(
            "expire-old-dag-versions",
            noncurrent_version_expiration={"noncurrent_days": DAG_NONCURRENT_VERSION_DAYS},
            expiration={"expired_object_delete_marker": True},
            abort_incomplete_multipart_upload={"days_after_initiation": abort_days},
        )
    ]


@dataclass(frozen=True)
class BucketSpec:
    """What makes one bucket different from the others."""

    purpose: str
    """Short name: part of the bucket's name and of its resources' names."""
    lifecycle_rules: list[dict[str, Any]]
    """Lifecycle rules, in the provider's input shape."""
    holds_data: bool
    """Lost data cannot be rebuilt from git: protected in tiers that protect data."""
    object_lock_days: int | None = None
    """Default governance-mode retention, or None for no object lock."""
    access_log_target: bool = False
    """The access-log bucket: SSE-S3, and its policy admits the logging service."""


@dataclass(frozen=True)
class StorageArgs:
    """Inputs of Storage."""

    stack: str
    """Stack name, part of the bucket names."""
    aws: AwsContext
    """Account and region, part of the bucket names."""
    log_archive: LogArchiveConfig
    """Lifecycle of the log-archive bucket."""
    backup: BackupConfig
    """Retention and object lock of the backup bucket."""
    teardown: Teardown
    """Protection (prod) or force-destroy (ephemeral)."""
    tags: Mapping[str, str]
    """The stack's tags."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Customer-managed key for default encryption; SSE-S3 when None."""
    access_logging: bool = False
    """Deliver the buckets' server access logs to an access-log bucket of their own."""


class Storage(pulumi.ComponentResource):
    """The platform's three buckets, each private, encrypted, versioned and TLS-only.

    Outputs: `dag_bucket`, `log_archive_bucket`, `backup_bucket` (names) and their `*_arn`;
    `access_log_bucket` (its name) where access logging is on, else None.
    `dag_bucket_ready` holds the DAG bucket's versioning and public-access block: what writes
    objects MWAA reads by version, or creates the environment (which checks the block), must
    depend on them.
    """

    dag_bucket_ready: list[pulumi.Resource]
    dag_bucket: pulumi.Output[str]
    dag_bucket_arn: pulumi.Output[str]
    log_archive_bucket: pulumi.Output[str]
    log_archive_bucket_arn: pulumi.Output[str]
    backup_bucket: pulumi.Output[str]
    backup_bucket_arn: pulumi.Output[str]
    access_log_bucket: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("airflow-platform:aws:Storage", name, None, opts)
        self._name = name
        self._args = args
        specs = [
            BucketSpec("dags", dag_rules(args.log_archive.abort_incomplete_upload_days), False),
            BucketSpec("logs", log_archive_rules(args.log_archive), True),
            BucketSpec(
                "backups",
                backup_rules(args.backup),
                True,
                object_lock_days=args.backup.retention_days if args.backup.object_lock else None,
            ),
        ]
        self._ready: dict[str, list[pulumi.Resource]] = {}
        self._policies: dict[str, pulumi.Resource] = {}
        # The target first: every other bucket's logging names it and waits for its policy.
        self._access_logs: tuple[aws.s3.Bucket, pulumi.Resource] | None = None
        self.access_log_bucket = None
        if args.access_logging:
            target = self._bucket(
                BucketSpec(
                    ACCESS_LOGS,
                    log_archive_rules(args.log_archive),
                    # Audit records of who read or changed the data: kept like the data.
                    True,
                    access_log_target=True,
                )
            )
            self._access_logs = (target, self._policies[ACCESS_LOGS])
            self.access_log_bucket = target.bucket
        buckets = {spec.purpose: self._bucket(spec) for spec in specs}
        self.dag_bucket_ready = self._ready["dags"]
        self.dag_bucket, self.dag_bucket_arn = buckets["dags"].bucket, buckets["dags"].arn
        self.log_archive_bucket = buckets["logs"].bucket
        self.log_archive_bucket_arn = buckets["logs"].arn
        self.backup_bucket, self.backup_bucket_arn = (
            buckets["backups"].bucket,
            buckets["backups"].arn,
        )
        self.register_outputs(
            {
                "access_log_bucket": self.access_log_bucket,
                "dag_bucket": self.dag_bucket,
                "dag_bucket_arn": self.dag_bucket_arn,
                "log_archive_bucket": self.log_archive_bucket,
                "log_archive_bucket_arn": self.log_archive_bucket_arn,
                "backup_bucket": self.backup_bucket,
                "backup_bucket_arn": self.backup_bucket_arn,
            }
        )

    def _bucket(self, spec: BucketSpec) -> aws.s3.Bucket:
        args = self._args
        prefix = f"{self._name}-{spec.purpose}"
        protect = spec.holds_data and args.teardown.protect_data
        opts = pulumi.ResourceOptions(parent=self, protect=protect)

        def after(*resources: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=list(resources))
            )

        name = args.aws.account_id.apply(
            lambda account: bucket_name(args.stack, spec.purpose, account, args.aws.region)
        )
        # No `object_lock_enabled` here: on the bucket it is a creation-only flag, and turning
        # object lock on for an existing bucket would replace it (and lose its data). The
        # object-lock configuration below enables it on new and existing buckets alike.
        bucket = aws.s3.Bucket(
            prefix,
            bucket=name,
            force_destroy=args.teardown.force_destroy,
            tags=resource_tags(args.tags, prefix, {"purpose": spec.purpose}),
            opts=opts,
        )
        # Each setting names the bucket by its `bucket` output, not its id: both hold the name,
        # but a new bucket's id is unknown until it exists, while its name is known in `pulumi
        # preview`, where the policy pack matches each setting to its bucket by that input.
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{prefix}-public-access",
            bucket=bucket.bucket,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=opts,
        )
        aws.s3.BucketOwnershipControls(
            f"{prefix}-ownership",
            bucket=bucket.bucket,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=opts,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{prefix}-encryption",
            bucket=bucket.bucket,
            rules=[self._encryption_rule(spec)],
            opts=opts,
        )
        versioning = aws.s3.BucketVersioning(
            f"{prefix}-versioning",
            bucket=bucket.bucket,
            versioning_configuration={"status": "Enabled"},
            opts=opts,
        )
        # Lifecycle rules act on versions, so they follow versioning.
        aws.s3.BucketLifecycleConfiguration(
            f"{prefix}-lifecycle",
            bucket=bucket.bucket,
            rules=spec.lifecycle_rules,
            # Small log files are not worth a transition request each (S3's own default, stated
            # so the plan shows it).
            transition_default_minimum_object_size="all_storage_classes_128K",
            opts=after(versioning),
        )
        self._ready[spec.purpose] = [versioning, public_access]
        if spec.object_lock_days is not None:
            # S3 enables object lock on an existing bucket once versioning is on (S3 User
            # Guide, "Enable Object Lock on an existing S3 bucket"); the provider's resource
            # does it through PutObjectLockConfiguration (pulumi registry,
            # aws.s3.BucketObjectLockConfiguration: "enable Object Lock for new and existing
            # buckets"). It cannot be turned off again: removing this only drops the default
            # retention.
            aws.s3.BucketObjectLockConfiguration(
                f"{prefix}-object-lock",
                bucket=bucket.bucket,
                object_lock_enabled="Enabled",
                rule={"default_retention": {"mode": "GOVERNANCE", "days": spec.object_lock_days}},
                opts=after(versioning),
            )
        self._policies[spec.purpose] = aws.s3.BucketPolicy(
            f"{prefix}-policy",
            bucket=bucket.bucket,
            policy=self._policy(bucket.arn, spec),
            # S3 rejects a policy and a public-access block written at the same moment.
            opts=after(public_access),
        )
        if self._access_logs is not None and not spec.access_log_target:
            target, target_policy = self._access_logs
            aws.s3.BucketLogging(
                f"{prefix}-access-logging",
                bucket=bucket.bucket,
                target_bucket=target.bucket,
                target_prefix=f"{spec.purpose}/",
                # Keys partitioned by the request's date (`<prefix><account>/<region>/<bucket>/
                # <yyyy>/<mm>/<dd>/...`: the provider's BucketLogging docs), so a day's
                # requests are one prefix to query.
                target_object_key_format={
                    "partitioned_prefix": {"partition_date_source": "EventTime"}
                },
                # Logs are delivered from the first request on: the target admits the logging
                # service before any bucket names it.
                opts=after(target_policy),
            )
        return bucket

    def _encryption_rule(self, spec: BucketSpec) -> dict[str, Any]:
        if self._args.kms_key_arn is None or spec.access_log_target:
            return {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}
        return {
            "apply_server_side_encryption_by_default": {
                "sse_algorithm": "aws:kms",
                "kms_master_key_id": self._args.kms_key_arn,
            },
            # One data key per bucket instead of a KMS call per object: cost and KMS quotas.
            "bucket_key_enabled": True,
        }

    def _policy(self, bucket_arn: pulumi.Output[str], spec: BucketSpec) -> pulumi.Output[str]:
        """TLS only; the access-log bucket also admits the logging service, for this
        stack's buckets in this account only (the S3 User Guide's policy for the logging
        service principal, with its aws:SourceArn and aws:SourceAccount conditions)."""
        resources = [bucket_arn, bucket_arn.apply(lambda arn: f"{arn}/*")]
        statements = self._tls_only_statements(resources)
        if spec.access_log_target:
            ctx = self._args.aws
            sources = ctx.account_id.apply(
                lambda account: "arn:{}:s3:::{}".format(
                    ctx.partition, bucket_name(self._args.stack, "*", account, ctx.region)
                )
            )
            statements.append(
                statement(
                    "S3ServerAccessLogDelivery",
                    ["s3:PutObject"],
                    [resources[1]],
                    principal={"Service": LOGGING_SERVICE},
                    condition={
                        "ArnLike": {"aws:SourceArn": sources},
                        "StringEquals": {"aws:SourceAccount": ctx.account_id},
                    },
                )
            )
        return policy_document(*statements)

    @staticmethod
    def _tls_only_statements(resources: list[Any]) -> list[dict[str, Any]]:
        return [
            statement(
                "DenyInsecureTransport",
                ["s3:*"],
                resources,
                effect="Deny",
                principal={"AWS": "*"},
                condition={"Bool": {"aws:SecureTransport": "false"}},
            ),
            statement(
                "DenyOutdatedTls",
                ["s3:*"],
                resources,
                effect="Deny",
                principal={"AWS": "*"},
                condition={"NumericLessThan": {"s3:TlsVersion": "1.2"}},
            ),
        ]
