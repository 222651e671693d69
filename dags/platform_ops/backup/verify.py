"""Reading a stored dump back: hashed on the way, streamed into a pg tool's stdin.

The same loop serves the backup's verification (`pg_restore --list`, which stops reading
after the archive's table of contents; the rest is still read and hashed) and the restore
(which holds back the final chunk until the hash is known; see `restore.py`).
"""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from platform_ops.backup.errors import BackupError
from platform_ops.backup.pgtools import ClientProcess

READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Fed:
    """What went through: the hash and size of everything read, the held-back tail."""

    sha256: str
    size: int
    tail: bytes
    closed_early: bool
    """The reader closed its stdin before the end (normal for `pg_restore --list`)."""


def write_all(stream: IO[bytes], data: bytes | memoryview) -> bool:
    """Write everything, or return False when the reader has gone (broken pipe)."""
    view = memoryview(data)
    try:
        while view:
            written = stream.write(view)
            view = view[written or 0 :]
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


def feed(
    body: Any,
    stdin: IO[bytes],
    *,
    hold_tail: bool,
    progress: Callable[[int], None] | None = None,
) -> Fed:
    """Copy `body` (a botocore StreamingBody) into `stdin`, hashing every byte.

    With `hold_tail`, the last chunk is hashed but not written: the caller writes it only
    once the hash has been checked.
    """
    sha256 = hashlib.sha256()
    size = 0
    pending = b""
    open_ = True
    while chunk := body.read(READ_CHUNK):
        sha256.update(chunk)
        size += len(chunk)
        if hold_tail:
            chunk, pending = pending, chunk
        if open_ and chunk:
            open_ = write_all(stdin, chunk)
        if progress:
            progress(size)
    return Fed(sha256.hexdigest(), size, pending, not open_)


def close_quietly(stream: IO[bytes] | None) -> None:
    """Close a pipe whose reader may already have gone."""
    if stream is None:
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stream.close()


def check_archive(
    s3: Any,
    bucket: str,
    key: str,
    version_id: str | None,
    pg_restore: str,
    *,
    expected: tuple[str, int],
) -> None:
    """Read the object back: its SHA-256 and size must be `expected`, and `pg_restore
    --list` must read its table of contents. Raises `BackupError` otherwise."""
    extra = {"VersionId": version_id} if version_id else {}
    body = s3.get_object(Bucket=bucket, Key=key, **extra)["Body"]
    lister = ClientProcess(pg_restore, ["--list"], None, stdin=subprocess.PIPE)
    assert lister.process.stdin is not None
    try:
        fed = feed(body, lister.process.stdin, hold_tail=False)
        close_quietly(lister.process.stdin)
        code = lister.wait(timeout=300)
    finally:
        lister.kill()
        body.close()
    if code != 0:
        raise BackupError(f"pg_restore --list rejected the stored archive: {lister.failure()}")
    sha256, size = expected
    if (fed.sha256, fed.size) != (sha256, size):
        raise BackupError(
            f"the stored object reads back as {fed.size} bytes with SHA-256 {fed.sha256}; "
            f"{size} bytes with SHA-256 {sha256} were uploaded"
        )
