"""Ship the DAG bundle to the DAG bucket by content: `airflow-platform ship-dags`.

A DAG-only deploy (like `astro deploy --dags`): the files of `bundle_files(source)` go to
`dags/<path>` in the bucket, the keys the Pulumi DagBundle component uses, and only files
whose content differs from the bucket's are uploaded. Keys outside `dags/` (MWAA's
`requirements.txt`, `plugins.zip` and startup script, which Pulumi owns) are never touched.

**What counts as changed.** Every object this uploads carries its SHA-256 in the user
metadata `sha256`. ListObjectsV2 gives each object's size and ETag but no user metadata, so
a file is decided without a request per object wherever possible:

1. no object under its key: *new*;
2. the object's size differs from the file's: *changed*;
3. the object's ETag is the file's MD5: *unchanged*. S3 documents the ETag of an object
   written by a single PutObject/CopyObject, unencrypted or with SSE-S3, as the MD5 of its
   bytes; an MD5 match says the bytes are the same (a collision would have to be crafted by
   someone who can already write to the bucket). An object without the `sha256` metadata is
   left as it is in this case: re-uploading identical bytes would only add a version;
4. otherwise (SSE-KMS and multipart ETags are not MD5s, and never match one) a HeadObject,
   concurrent, reads the `sha256` metadata: equal is *unchanged*; different or missing is
   *changed*.

`verify_metadata=True` (`--verify-metadata`) skips step 3: every same-size object is
HEADed and one without the metadata is re-uploaded, which repairs a bucket another tool
wrote. `bench/ship.py` measures both against `aws s3 sync`.

Uploads run concurrently (PutObject, Content-Type by extension, encryption left to the
bucket default), then objects under `dags/` without a file are deleted (DeleteObjects, 1,000
keys a call), so a DAG that moves between files is never missing in between. A failed
upload stops the ship before any delete; what was uploaded stays, and running it again
finishes the job. The DAG bucket is versioned: replaced and deleted files keep their old
versions (for 30 days, the bucket's lifecycle) to roll back to.
"""

from __future__ import annotations

import hashlib
import mimetypes
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from airflow_platform.bundle.files import DAGS_PREFIX, BundleFile

SHA256_METADATA = "sha256"
"""User-metadata key (x-amz-meta-sha256) holding the hex SHA-256 of the object's bytes."""
DEFAULT_CONCURRENCY = 8
DELETE_BATCH = 1000
"""DeleteObjects takes at most 1,000 keys."""
MAX_PUT_BYTES = 5 * 1024**3
"""PutObject's limit; a DAG bundle file is a few KB."""
_PREFIX = f"{DAGS_PREFIX}/"
_MD5 = frozenset("0123456789abcdef")

Reason = Literal["new", "changed"]
_T = TypeVar("_T")
_R = TypeVar("_R")


class ShipError(Exception):
    """Shipping failed; the message names the step, the key and the cause."""


@dataclass(frozen=True)
class RemoteObject:
    """An object under `dags/` as ListObjectsV2 describes it."""

    key: str
    size: int
    etag: str
    """Without its quotes."""


@dataclass(frozen=True)
class Upload:
    """A file to upload and why."""

    file: BundleFile
    reason: Reason


@dataclass(frozen=True)
class ShipPlan:
    """What shipping `files` to `bucket` does."""

    bucket: str
    uploads: tuple[Upload, ...]
    deletes: tuple[str, ...]
    """Keys under `dags/` whose file no longer exists."""
    unchanged: tuple[BundleFile, ...]
    head_requests: int
    """HeadObject calls the comparison needed."""

    @property
    def upload_bytes(self) -> int:
        return sum(upload.file.size for upload in self.uploads)

    @property
    def changes_nothing(self) -> bool:
        return not self.uploads and not self.deletes


@dataclass(frozen=True)
class ShipResult:
    """What a ship did (a dry run did nothing: its counts are what it would do)."""

    plan: ShipPlan
    dry_run: bool
    uploaded: int
    deleted: int
    bytes_uploaded: int
    duration_seconds: float

    @property
    def unchanged(self) -> int:
        return len(self.plan.unchanged)


def s3_client(concurrency: int = DEFAULT_CONCURRENCY, region: str | None = None) -> Any:
    """A low-level S3 client from boto3's default chain (so `AWS_ENDPOINT_URL` works), with
    standard retries and a connection per worker thread."""
    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=max(10, concurrency),
    )
    core = botocore.session.get_session()
    # Nothing here reads a timestamp, and parsing LastModified with dateutil is most of the
    # CPU time of a large listing (awscli v1 leaves them unparsed the same way).
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_as_is)
    return boto3.session.Session(botocore_session=core).client(
        "s3", region_name=region, config=config
    )


def _as_is(value: str) -> str:
    return value


def content_type(path: str) -> str:
    """Content-Type by extension (`.py` is text/x-python); unknown ones are octet-stream."""
    guessed, _ = mimetypes.guess_type(path, strict=False)
    return guessed or "application/octet-stream"


def list_remote(s3: Any, bucket: str) -> dict[str, RemoteObject]:
    """Every object under `dags/` (folder placeholders ending in `/` aside)."""
    found: dict[str, RemoteObject] = {}
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=_PREFIX):
            for entry in page.get("Contents", []):
                key = entry["Key"]
                if key.endswith("/"):
                    continue
                found[key] = RemoteObject(key, int(entry["Size"]), entry["ETag"].strip('"'))
    except (BotoCoreError, ClientError) as error:
        raise ShipError(f"listing s3://{bucket}/{_PREFIX} failed: {error}") from None
    return found


def plan_ship(
    s3: Any,
    bucket: str,
    files: Sequence[BundleFile],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    verify_metadata: bool = False,
) -> ShipPlan:
    """Compare `files` with the objects under `dags/` (see the module docstring)."""
    _check_files(files)
    remote = list_remote(s3, bucket)
    uploads: list[Upload] = []
    unchanged: list[BundleFile] = []
    to_head: list[BundleFile] = []
    for file in files:
        current = remote.get(file.key)
        if current is None:
            uploads.append(Upload(file, "new"))
        elif current.size != file.size:
            uploads.append(Upload(file, "changed"))
        elif not verify_metadata and _is_md5(current.etag) and current.etag == _md5(file):
            unchanged.append(file)
        else:
            to_head.append(file)
    for file, stored in zip(to_head, _stored_hashes(s3, bucket, to_head, concurrency), strict=True):
        if stored == file.sha256:
            unchanged.append(file)
        else:
            uploads.append(Upload(file, "changed"))
    shipped = {file.key for file in files}
    return ShipPlan(
        bucket=bucket,
        uploads=tuple(sorted(uploads, key=lambda upload: upload.file.key)),
        deletes=tuple(sorted(key for key in remote if key not in shipped)),
        unchanged=tuple(sorted(unchanged, key=lambda file: file.key)),
        head_requests=len(to_head),
    )


def apply_plan(
    s3: Any,
    plan: ShipPlan,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int, int]:
    """Upload, then delete; `progress(bytes)` after each upload. Returns (uploaded, deleted,
    bytes uploaded)."""

    def put(upload: Upload) -> int:
        _put(s3, plan.bucket, upload.file)
        if progress is not None:
            progress(upload.file.size)
        return upload.file.size

    sizes = list(_run_all(put, plan.uploads, concurrency))
    deleted = _delete(s3, plan.bucket, plan.deletes)
    return len(sizes), deleted, sum(sizes)


def ship_dags(
    s3: Any,
    bucket: str,
    files: Sequence[BundleFile],
    *,
    dry_run: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    verify_metadata: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ShipResult:
    """Plan, then (unless `dry_run`) apply: the whole of `ship-dags` after its checks."""
    started = time.monotonic()
    plan = plan_ship(s3, bucket, files, concurrency=concurrency, verify_metadata=verify_metadata)
    if dry_run:
        return ShipResult(plan, True, len(plan.uploads), len(plan.deletes), plan.upload_bytes,
                          time.monotonic() - started)  # fmt: skip
    uploaded, deleted, sent = apply_plan(s3, plan, concurrency=concurrency, progress=progress)
    return ShipResult(plan, False, uploaded, deleted, sent, time.monotonic() - started)


def _check_files(files: Sequence[BundleFile]) -> None:
    keys = [file.key for file in files]
    if len(set(keys)) != len(keys):
        raise ShipError("the bundle lists a key twice")
    if any(not key.startswith(_PREFIX) for key in keys):
        raise ShipError(f"every shipped key must be under {_PREFIX}")
    too_big = [file.path for file in files if file.size > MAX_PUT_BYTES]
    if too_big:
        raise ShipError(f"larger than 5 GiB, not a DAG bundle file: {', '.join(too_big)}")


def _is_md5(etag: str) -> bool:
    return len(etag) == 32 and _MD5.issuperset(etag)


def _md5(file: BundleFile) -> str:
    # Only for files whose size matches an object's: a second read of a small file.
    return hashlib.md5(file.source.read_bytes(), usedforsecurity=False).hexdigest()


def _stored_hashes(
    s3: Any, bucket: str, files: Sequence[BundleFile], concurrency: int
) -> list[str | None]:
    def head(file: BundleFile) -> str | None:
        try:
            response = s3.head_object(Bucket=bucket, Key=file.key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None  # deleted since the listing: upload it again
            raise ShipError(f"HeadObject s3://{bucket}/{file.key} failed: {error}") from None
        except BotoCoreError as error:
            raise ShipError(f"HeadObject s3://{bucket}/{file.key} failed: {error}") from None
        return response.get("Metadata", {}).get(SHA256_METADATA)

    return list(_run_all(head, files, concurrency))


def _put(s3: Any, bucket: str, file: BundleFile) -> None:
    body = file.source.read_bytes()
    # The metadata must describe the bytes sent, not a file edited since it was hashed.
    if hashlib.sha256(body).hexdigest() != file.sha256:
        raise ShipError(f"{file.path} changed while shipping; run ship-dags again")
    try:
        s3.put_object(
            Bucket=bucket,
            Key=file.key,
            Body=body,
            ContentType=content_type(file.path),
            Metadata={SHA256_METADATA: file.sha256},
        )
    except (BotoCoreError, ClientError) as error:
        raise ShipError(
            f"uploading {file.path} to s3://{bucket}/{file.key} failed: {error}"
        ) from None


def _delete(s3: Any, bucket: str, keys: Sequence[str]) -> int:
    deleted = 0
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        try:
            response = s3.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
        except (BotoCoreError, ClientError) as error:
            raise ShipError(
                f"deleting {len(batch)} objects from s3://{bucket} failed: {error}"
            ) from None
        errors = response.get("Errors", [])
        if errors:
            details = "; ".join(
                f"{e.get('Key')}: {e.get('Code')} {e.get('Message')}" for e in errors[:5]
            )
            raise ShipError(f"deleting from s3://{bucket} failed for {len(errors)} keys: {details}")
        deleted += len(batch)
    return deleted


def _run_all(work: Callable[[_T], _R], items: Iterable[_T], concurrency: int) -> Iterator[_R]:
    """`work` over `items` on `concurrency` threads, results in order; the first failure
    cancels what has not started and is raised."""
    items = list(items)
    if not items:
        return iter(())
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(items)))) as pool:
        futures: list[Future[_R]] = [pool.submit(work, item) for item in items]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f in done and f.exception() is not None), None)
        if failed is not None:
            for future in futures:
                future.cancel()
            raise failed.exception()  # type: ignore[misc]
        return iter([future.result() for future in futures])
