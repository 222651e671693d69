"""The S3 and CloudWatch calls backups need, on boto3's low-level clients.

Clients come from boto3's default chain, so `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`,
`AWS_ENDPOINT_URL_CLOUDWATCH`) points them at an emulator exactly as it would any boto3
program (botocore >= 1.31 reads them; the integration tests run through them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from platform_ops.backup.location import parse_dump_key

# One CopyObject copies at most 5 GiB; larger objects are copied part by part.
MAX_SINGLE_COPY_BYTES = 5 * 1024**3
# Checksum S3 computes on the server-side copies (and requires under object lock).
CHECKSUM_ALGORITHM = "SHA256"
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


@dataclass(frozen=True)
class AwsClients:
    """The two clients a backup uses; tests and the DAG may pass their own."""

    s3: Any
    cloudwatch: Any

    @classmethod
    def default(cls) -> AwsClients:
        return cls(s3=s3_client(), cloudwatch=boto3.client("cloudwatch", config=_CLIENT_CONFIG))


def s3_client() -> Any:
    """An S3 client from boto3's default chain, with standard retries."""
    return boto3.client("s3", config=_CLIENT_CONFIG)


def delete_all_versions(s3: Any, bucket: str, key: str, *, bypass_governance: bool = False) -> int:
    """Delete every version and delete marker of exactly `key`; how many were deleted.

    Under object lock (prod's backup bucket, governance mode) every new version is retained,
    so removing one early needs `bypass_governance` and the caller's
    s3:BypassGovernanceRetention (the execution role has it for staging keys only); without
    them the version stays until retention ends and the caller's error says so.
    """
    deleted = 0
    bypass = {"BypassGovernanceRetention": True} if bypass_governance else {}
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=key):
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if entry["Key"] == key:
                s3.delete_object(Bucket=bucket, Key=key, VersionId=entry["VersionId"], **bypass)
                deleted += 1
    return deleted


def copy_with_metadata(
    s3: Any,
    bucket: str,
    source: dict[str, str],
    key: str,
    size: int,
    metadata: dict[str, str],
    max_single_copy: int = MAX_SINGLE_COPY_BYTES,
) -> dict[str, Any]:
    """Server-side copy of `source` ({"Bucket", "Key", "VersionId"}) to `key` with new
    user metadata; CopyObject up to `max_single_copy` bytes, UploadPartCopy above."""
    if size <= max_single_copy:
        return s3.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource=source,
            MetadataDirective="REPLACE",
            Metadata=metadata,
            ContentType="application/octet-stream",
            # S3 refuses a write into an object-locked bucket without a checksum header.
            ChecksumAlgorithm=CHECKSUM_ALGORITHM,
        )
    upload = s3.create_multipart_upload(
        Bucket=bucket,
        Key=key,
        Metadata=metadata,
        ContentType="application/octet-stream",
        ChecksumAlgorithm=CHECKSUM_ALGORITHM,
    )
    try:
        parts = []
        for number, start in enumerate(range(0, size, max_single_copy), start=1):
            end = min(start + max_single_copy, size) - 1
            result = s3.upload_part_copy(
                Bucket=bucket,
                Key=key,
                UploadId=upload["UploadId"],
                PartNumber=number,
                CopySource=source,
                CopySourceRange=f"bytes={start}-{end}",
            )
            parts.append({"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]})
        return s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
        )
    except BaseException:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
        raise


def dump_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    """Keys of dumps under `prefix` (a folder: `a/b` matches `a/b/...`, not `a/bc/...`)."""
    folder = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
        keys.extend(o["Key"] for o in page.get("Contents", []) if parse_dump_key(o["Key"]))
    return keys
