"""Streaming a tar.gz of log files into an S3 multipart upload, memory bounded by one part.

Used by `platform_ops.log_cleanup` only when it archives, so boto3 is imported only then.
The client comes from boto3's default chain, so `AWS_ENDPOINT_URL` (or
`AWS_ENDPOINT_URL_S3`) points it at an emulator as it would any boto3 program.

Every archive is a multipart upload, even a small one (a single part may be under S3's 5 MiB
minimum): an upload that fails at any point, S3 or a local read, is aborted, so a failure
leaves no object and no unfinished upload, and the caller deletes nothing. A completed
upload is checked with a HEAD (size) before the caller may delete the files it holds.
"""

from __future__ import annotations

import gzip
import tarfile
from collections.abc import Iterable
from typing import IO, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Logs compress about as well at 6 as at 9, for a fraction of the CPU.
COMPRESS_LEVEL = 6
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
_S3_ERRORS = (BotoCoreError, ClientError)


class ArchiveUploadError(RuntimeError):
    """An archive could not be stored; its upload was aborted (the message says if that
    failed too)."""


def s3_client() -> Any:
    """An S3 client from boto3's default chain, with standard retries."""
    return boto3.client("s3", config=_CLIENT_CONFIG)


def describe(error: BaseException) -> str:
    """One line: S3's operation, code and message, else the exception's text."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"{error.operation_name} returned {info.get('Code')}: {info.get('Message')}"
    return str(error).strip() or type(error).__name__


class MultipartWriter:
    """A write-only file whose bytes become the parts of one multipart upload.

    Holds at most one part (plus one write) in memory; `complete()` sends the rest and
    completes the upload, `abort()` discards it.
    """

    def __init__(self, s3: Any, bucket: str, key: str, part_size: int) -> None:
        self.s3, self.bucket, self.key, self.part_size = s3, bucket, key, part_size
        self.size = 0
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/gzip")
        self.upload_id: str = upload["UploadId"]

    def write(self, data: bytes) -> int:
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= self.part_size:
            self._send(bytes(self._buffer[: self.part_size]))
            del self._buffer[: self.part_size]
        return len(data)

    def flush(self) -> None:
        """Parts go out when full; nothing to do before then."""

    def _send(self, chunk: bytes) -> None:
        number = len(self._parts) + 1
        result = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number,
            Body=chunk,
        )  # fmt: skip
        self._parts.append({"PartNumber": number, "ETag": result["ETag"]})

    def complete(self) -> None:
        if self._buffer or not self._parts:
            self._send(bytes(self._buffer))
            self._buffer.clear()
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
            MultipartUpload={"Parts": self._parts},
        )  # fmt: skip

    def abort(self) -> None:
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)


def upload_tar_gz(
    s3: Any,
    bucket: str,
    key: str,
    members: Iterable[tuple[tarfile.TarInfo, IO[bytes]]],
    part_size: int,
) -> int:
    """Store the members (TarInfo, content of exactly `info.size` bytes) as one tar.gz at
    s3://bucket/key; the archive's size. ArchiveUploadError, with the upload aborted, when S3
    or reading a member fails."""
    try:
        writer = MultipartWriter(s3, bucket, key, part_size)
    except _S3_ERRORS as error:
        raise ArchiveUploadError(f"starting the upload: {describe(error)}") from error
    try:
        # Closed explicitly, not in `with`: on an error their close would write (and upload)
        # the archive's end into an upload about to be aborted.
        compressed = gzip.GzipFile(fileobj=writer, mode="wb", compresslevel=COMPRESS_LEVEL)  # type: ignore[arg-type]
        archive = tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        for info, content in members:
            archive.addfile(info, content)
        archive.close()
        compressed.close()
        writer.complete()
    except (*_S3_ERRORS, OSError) as error:
        raise ArchiveUploadError(_abort(writer, error)) from error
    except BaseException as error:
        _abort(writer, error)
        raise
    try:
        stored = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    except _S3_ERRORS as error:
        raise ArchiveUploadError(f"stored, but checking it failed: {describe(error)}") from error
    if stored != writer.size:
        raise ArchiveUploadError(f"the stored object has {stored} bytes, {writer.size} were sent")
    return writer.size


def _abort(writer: MultipartWriter, error: BaseException) -> str:
    """Abort the upload; the message for `error`, saying if the abort failed too."""
    message = describe(error)
    try:
        writer.abort()
    except _S3_ERRORS as abort_error:
        message += (
            f" (and aborting upload {writer.upload_id} failed: {describe(abort_error)}; the "
            "bucket's lifecycle rule removes unfinished uploads)"
        )
    return message
