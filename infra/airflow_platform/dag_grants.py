"""What the platform's own DAGs need from AWS, on either runtime: the metadata backup writes
dumps under the backup bucket's `metadata-db/` prefix, the log cleanup archives under the
log-archive bucket's `airflow-logs/` prefix. One definition for MWAA's execution role and the
eks task pods' role, so the two runtimes grant exactly the same."""

from __future__ import annotations

from typing import Any

import pulumi

from airflow_platform.airflow_settings import BACKUP_PREFIX, LOG_ARCHIVE_PREFIX
from airflow_platform.iam import statement


def backup_statements(backup_bucket_arn: pulumi.Input[str]) -> list[dict[str, Any]]:
    """Write, verify and clean up dumps under `metadata-db/`, nothing else of the bucket."""
    return [
        statement(
            "WriteMetadataBackups",
            [
                "s3:PutObject",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            [pulumi.Output.concat(backup_bucket_arn, f"/{BACKUP_PREFIX}/*")],
        ),
        statement(
            "ListMetadataBackups",
            ["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"],
            [backup_bucket_arn],
            condition={"StringLike": {"s3:prefix": [f"{BACKUP_PREFIX}/*"]}},
        ),
        # Under prod's object lock only the staging copies of a dump may be removed early.
        statement(
            "RemoveBackupStaging",
            ["s3:BypassGovernanceRetention"],
            [pulumi.Output.concat(backup_bucket_arn, f"/{BACKUP_PREFIX}/*.partial")],
        ),
    ]


def log_archive_statement(log_archive_bucket_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Multipart uploads of log archives under `airflow-logs/`; no reads, no deletes."""
    return statement(
        "ArchiveLocalLogs",
        ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        [pulumi.Output.concat(log_archive_bucket_arn, f"/{LOG_ARCHIVE_PREFIX}/*")],
    )
