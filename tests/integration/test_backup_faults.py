"""Backups that fail: each leaves no object version and no multipart upload in the bucket,
and raises one clear message that never contains the password."""

from __future__ import annotations

import io
import signal
from typing import Any

import psutil
import pytest
from botocore.awsrequest import AWSResponse

from platform_ops.backup import AwsClients, BackupError, run_backup
from tests.integration.conftest import Seeded, assert_bucket_clean
from tests.integration.servers import PASSWORD, PgServer, free_port


class _Raw:
    """The raw body botocore reads an injected HTTP response from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def _s3_error_from_part(number: int) -> Any:
    """A before-send hook: UploadPart number >= `number` gets HTTP 500 InternalError from
    "S3" (after botocore's own retries, the backup sees the error)."""

    def hook(request: Any, **_: Any) -> AWSResponse | None:
        if "uploadId=" in request.url and f"partNumber={number}" in request.url:
            body = b"<Error><Code>InternalError</Code><Message>injected failure</Message></Error>"
            return AWSResponse(request.url, 500, {}, _Raw(body))
        return None

    return hook


def _failure(run: Any) -> str:
    with pytest.raises(BackupError) as raised:
        run()
    message = str(raised.value)
    assert PASSWORD not in message
    return message


def test_backup_aborts_the_upload_when_s3_fails_mid_upload(
    seeded: Seeded, settings: Any, clients: AwsClients, s3: Any, bucket: str
) -> None:
    clients.s3.meta.events.register("before-send.s3.UploadPart", _s3_error_from_part(3))

    message = _failure(lambda: run_backup(settings(seeded.dsn), clients=clients))

    assert "streaming pg_dump to S3" in message
    assert "UploadPart returned InternalError: injected failure" in message
    assert "Nothing was left in the bucket" in message
    assert_bucket_clean(s3, bucket)
    assert not _pg_dump_children(), "pg_dump was stopped"


def test_backup_fails_fast_when_s3_is_unreachable(
    seeded: Seeded, settings: Any, monkeypatch: pytest.MonkeyPatch, s3: Any, bucket: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")

    message = _failure(lambda: run_backup(settings(seeded.dsn)))

    assert "starting the multipart upload" in message
    assert "Could not connect to the endpoint URL" in message
    assert_bucket_clean(s3, bucket)
    assert not _pg_dump_children(), "pg_dump never started"


def test_backup_reports_the_login_failure_when_the_password_is_wrong(
    pg: PgServer, settings: Any, s3: Any, bucket: str
) -> None:
    dsn = pg.dsn("seeded", password="wrong-password-123")

    message = _failure(lambda: run_backup(settings(dsn)))

    assert 'password authentication failed for user "postgres"' in message
    # The first to log in is the session whose snapshot pg_dump would dump.
    assert "while opening the transaction whose snapshot pg_dump dumps" in message
    assert "psql exited with code 2" in message
    assert "wrong-password-123" not in message
    assert "postgresql://postgres:***@127.0.0.1" in message
    assert_bucket_clean(s3, bucket)


def test_backup_reports_the_missing_database_when_it_does_not_exist(
    pg: PgServer, settings: Any, s3: Any, bucket: str
) -> None:
    message = _failure(lambda: run_backup(settings(pg.dsn("no_such_db"))))

    assert 'database "no_such_db" does not exist' in message
    assert_bucket_clean(s3, bucket)


def test_backup_aborts_when_pg_dump_is_killed_midway(
    seeded: Seeded, settings: Any, clients: AwsClients, s3: Any, bucket: str
) -> None:
    killed: list[int] = []

    def kill_pg_dump(**_: Any) -> None:
        if not killed:
            for child in _pg_dump_children():
                child.send_signal(signal.SIGKILL)
                killed.append(child.pid)

    clients.s3.meta.events.register("after-call.s3.UploadPart", kill_pg_dump)

    message = _failure(lambda: run_backup(settings(seeded.dsn), clients=clients))

    assert killed, "pg_dump was still running after the first part"
    assert "pg_dump was killed by signal SIGKILL" in message
    assert_bucket_clean(s3, bucket)


def test_backup_deletes_the_completed_object_when_verification_fails(
    seeded: Seeded, settings: Any, clients: AwsClients, s3: Any, bucket: str
) -> None:
    def corrupt_read_back(parsed: dict[str, Any], **_: Any) -> None:
        data = bytearray(parsed["Body"].read())
        data[len(data) // 2] ^= 0xFF
        parsed["Body"] = _Body(bytes(data))

    clients.s3.meta.events.register("after-call.s3.GetObject", corrupt_read_back)

    message = _failure(lambda: run_backup(settings(seeded.dsn), clients=clients))

    assert "verifying the uploaded dump" in message
    assert "reads back as" in message
    assert_bucket_clean(s3, bucket)


def test_backup_rejects_a_part_size_below_s3_minimum(seeded: Seeded, settings: Any) -> None:
    with pytest.raises(ValueError, match="outside S3's limits"):
        settings(seeded.dsn, part_size=1024 * 1024)


class _Body(io.BytesIO):
    """Stands in for botocore's StreamingBody."""


def _pg_dump_children() -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if p.is_running() and p.status() != psutil.STATUS_ZOMBIE and p.name() == "pg_dump"
    ]
