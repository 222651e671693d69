"""Where backups live: `s3://bucket/prefix` URLs and the key layout.

A dump's key is `<prefix>/<database>/<YYYY>/<MM>/<DD>/<database>-<YYYYmmddTHHMMSSZ>.dump`;
the timestamp (UTC, second resolution) sorts lexicographically, which is how `--latest`
finds the newest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from platform_ops.s3url import is_bucket_name, split_s3_url

DEFAULT_PREFIX = "metadata-db"
DUMP_SUFFIX = ".dump"
STAGING_SUFFIX = ".partial"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_DUMP_NAME = re.compile(r"(?P<database>.+)-(?P<stamp>\d{8}T\d{6}Z)\.dump")
_DATABASE_NAME = re.compile(r"[A-Za-z0-9_.$-]+")


class LocationError(ValueError):
    """An S3 URL, prefix or database name that cannot name a backup."""


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key or key prefix (no leading or trailing slash)."""

    bucket: str
    key: str = ""

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """`s3://bucket/some/prefix` -> S3Location("bucket", "some/prefix")."""
        parts = split_s3_url(url)
        if parts is None:
            raise LocationError(f"expected s3://<bucket>/<key or prefix>, got {url!r}")
        bucket, key = parts
        if not is_bucket_name(bucket):
            raise LocationError(f"{bucket!r} is not a valid S3 bucket name (in {url!r})")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def dump_key(prefix: str, database: str, when: datetime) -> str:
    """The key of a dump of `database` taken at `when` (converted to UTC)."""
    if not _DATABASE_NAME.fullmatch(database):
        raise LocationError(
            f"database name {database!r} cannot be used in a key: letters, digits, _ . $ - only"
        )
    utc = when.astimezone(UTC)
    name = f"{database}-{utc.strftime(TIMESTAMP_FORMAT)}{DUMP_SUFFIX}"
    parts = [prefix.strip("/"), database, f"{utc:%Y}", f"{utc:%m}", f"{utc:%d}", name]
    return "/".join(p for p in parts if p)


def parse_dump_key(key: str) -> tuple[str, datetime] | None:
    """(database, UTC time) of a dump key, or None when `key` is not one of ours."""
    match = _DUMP_NAME.fullmatch(key.rsplit("/", 1)[-1])
    if match is None:
        return None
    stamp = datetime.strptime(match["stamp"], TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    return match["database"], stamp
