"""A dump's manifest: the fingerprint of the data in it, stored beside it in S3.

Key: `<dump key>.manifest.json` (a name `latest` never takes for a dump). Why a sidecar
object and not the dump's user metadata: S3 allows 2 KB of user metadata per object, and a
row count per table outgrows that with a few dozen tables (Airflow alone has more than 50).

The backup writes the manifest *before* the dump's final key appears (the same way it only
publishes a verified dump), so whoever sees a dump finds its manifest; a backup that cannot
write it fails and removes what it wrote. The manifest names the dump's SHA-256, which binds
it to those bytes: a manifest that does not describe the object beside it is detected, not
trusted.

    {
      "format": "airflow-platform-backup-manifest",
      "version": 1,
      "dump_key": "metadata-db/airflow/2026/01/04/airflow-20260104T033000Z.dump",
      "database": "airflow",
      "sha256": "<hex SHA-256 of the dump>",
      "bytes": 123456,
      "taken_at": "2026-01-04T03:30:00+00:00",
      "server_version": "17.2",
      "settings": {"TimeZone": "UTC", ...},          # the text-affecting settings pinned
      "checksum_method": "md5(<rows>:...)",
      "tables": [{"schema": "public", "table": "dag", "rows": 12}, ...],
      "checksums": [{"schema": "public", "table": "dag", "checksum": "<md5 hex>"}, ...]
    }
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from platform_ops.backup.errors import BackupError, describe_error
from platform_ops.backup.fingerprint import CHECKSUM_METHOD, TEXT_SETTINGS, Fingerprint
from platform_ops.backup.s3 import CHECKSUM_ALGORITHM

MANIFEST_SUFFIX = ".manifest.json"
FORMAT = "airflow-platform-backup-manifest"
VERSION = 1


class ManifestError(BackupError):
    """A manifest is missing, unreadable, or not one this code understands."""


def manifest_key(dump_key: str) -> str:
    return dump_key + MANIFEST_SUFFIX


@dataclass(frozen=True)
class Manifest:
    """What a backup recorded about its dump."""

    dump_key: str
    database: str
    sha256: str
    size: int
    taken_at: datetime
    server_version: str
    fingerprint: Fingerprint
    settings: dict[str, str] = field(default_factory=lambda: dict(TEXT_SETTINGS))
    checksum_method: str = CHECKSUM_METHOD

    def to_json(self) -> bytes:
        document = {
            "format": FORMAT,
            "version": VERSION,
            "dump_key": self.dump_key,
            "database": self.database,
            "sha256": self.sha256,
            "bytes": self.size,
            "taken_at": self.taken_at.isoformat(),
            "server_version": self.server_version,
            "settings": self.settings,
            "checksum_method": self.checksum_method,
            **self.fingerprint.to_json(),
        }
        return (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        """Parse a manifest; `ManifestError` when it is not a version this code reads."""
        try:
            document = json.loads(data)
            if document.get("format") != FORMAT or document.get("version") != VERSION:
                raise ManifestError(
                    f"format {document.get('format')!r} version {document.get('version')!r}; "
                    f"this code reads {FORMAT!r} version {VERSION}"
                )
            return cls(
                dump_key=str(document["dump_key"]),
                database=str(document["database"]),
                sha256=str(document["sha256"]),
                size=int(document["bytes"]),
                taken_at=datetime.fromisoformat(document["taken_at"]),
                server_version=str(document["server_version"]),
                fingerprint=Fingerprint.from_json(document),
                settings=dict(document["settings"]),
                checksum_method=str(document["checksum_method"]),
            )
        except ManifestError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ManifestError(f"not a valid manifest: {describe_error(error)}") from error


def write_manifest(s3: Any, bucket: str, manifest: Manifest) -> str | None:
    """Store the manifest beside its dump; its version id (None when unversioned)."""
    response = s3.put_object(
        Bucket=bucket,
        Key=manifest_key(manifest.dump_key),
        Body=manifest.to_json(),
        ContentType="application/json",
        # S3 refuses a write into an object-locked bucket without a checksum header.
        ChecksumAlgorithm=CHECKSUM_ALGORITHM,
    )
    return response.get("VersionId")


def read_manifest(s3: Any, bucket: str, dump_key: str) -> Manifest:
    """The manifest of the dump at `dump_key`; `ManifestError` naming the key otherwise."""
    key = manifest_key(dump_key)
    where = f"s3://{bucket}/{key}"
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            data = body.read()
        finally:
            body.close()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("NoSuchKey", "404", "NotFound"):
            raise ManifestError(
                f"the dump s3://{bucket}/{dump_key} has no manifest ({where} does not exist): "
                "it was taken before backups recorded one, or its backup did not finish; its "
                "restore cannot be checked"
            ) from None
        raise ManifestError(f"cannot read {where}: {describe_error(error)}") from error
    except BotoCoreError as error:
        raise ManifestError(f"cannot read {where}: {describe_error(error)}") from error
    try:
        manifest = Manifest.from_json(data)
    except ManifestError as error:
        raise ManifestError(f"{where}: {error}") from error
    if manifest.dump_key != dump_key:
        raise ManifestError(
            f"{where} describes {manifest.dump_key}, not the dump beside it ({dump_key})"
        )
    return manifest
