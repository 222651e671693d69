"""`s3://bucket/key` URLs, shared by the backup and the log archive. Standard library only,
so the light modules (log cleanup) can use it without loading boto3."""

from __future__ import annotations

import re

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def split_s3_url(url: str) -> tuple[str, str] | None:
    """(bucket, key without leading or trailing slashes), or None when `url` is not s3://."""
    if not url.startswith("s3://"):
        return None
    bucket, _, key = url[len("s3://") :].partition("/")
    return bucket, key.strip("/")


def is_bucket_name(name: str) -> bool:
    """S3's rule: 3-63 lowercase letters, digits, dots and hyphens, alphanumeric at both ends."""
    return _BUCKET_NAME.fullmatch(name) is not None
