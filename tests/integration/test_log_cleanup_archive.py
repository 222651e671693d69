"""Archiving before deleting, against moto's S3 over HTTP: each (folder, UTC day) becomes one
tar.gz holding exactly that day's expired files, byte for byte; files go only once their
archive is stored; an S3 failure keeps every file of the day it hit and leaves no object and
no multipart upload; a dry run writes nothing."""

from __future__ import annotations

import io
import os
import socket
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from typer.testing import CliRunner

from airflow_platform.cli import app
from platform_ops import log_archive
from platform_ops.log_cleanup import MIN_PART_SIZE, ArchiveTarget, CleanupOptions, clean_logs
from tests.dags.logtrees import DAY, aged, files
from tests.integration.conftest import assert_bucket_clean
from tests.integration.servers import free_port

NOW = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC)
DAY_1 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC).timestamp()
DAY_2 = datetime(2026, 5, 2, 23, 59, 59, tzinfo=UTC).timestamp()
RECENT = datetime(2026, 6, 14, tzinfo=UTC).timestamp()
# (folder, path) -> (content, mtime); the day-1 and day-2 files are expired at NOW (7 days).
TREE = {
    ("logs", "dag_id=a/run_id=1/task_id=t/attempt=1.log"): (b"a1 day one\n" * 50, DAY_1),
    ("logs", "dag_id=a/run_id=1/task_id=u/attempt=1.log"): (b"u1 day one\n", DAY_1 + 60),
    ("logs", "dag_id=b/run_id=9/task_id=t/attempt=2.log"): (b"day two\n", DAY_2),
    ("logs", "dag_id=b/run_id=10/task_id=t/attempt=1.log"): (b"recent\n", RECENT),
    ("dag_processor", "2026-05-01/team/a.py.log"): (b"parsed\n", DAY_1),
}


def build(tmp_path: Path, tree: dict[tuple[str, str], tuple[bytes, float]] = TREE) -> Path:
    for (folder, rel), (content, mtime) in tree.items():
        path = tmp_path / folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (mtime, mtime))
    return tmp_path


def expired(folder: str, day: float) -> dict[str, bytes]:
    start = day - day % 86_400
    return {
        rel: content
        for (f, rel), (content, mtime) in TREE.items()
        if f == folder and start <= mtime < start + 86_400
    }


def options(root: Path, bucket: str, **overrides: Any) -> CleanupOptions:
    return CleanupOptions(
        folders=(str(root / "logs"), str(root / "dag_processor")),
        older_than_days=7,
        archive=ArchiveTarget(bucket, "airflow-logs"),
        now=NOW,
        **overrides,
    )


def keys(s3: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def untar(s3: Any, bucket: str, key: str) -> dict[str, tuple[bytes, float]]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        return {
            m.name: (archive.extractfile(m).read(), m.mtime)  # type: ignore[union-attr]
            for m in archive.getmembers()
        }


def no_uploads_left(s3: Any, bucket: str) -> None:
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert uploads == [], f"multipart uploads left in {bucket}: {uploads}"


@pytest.fixture
def client(moto: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The S3 client the cleanup uses, without retries (an injected failure fails at once),
    for hooks to be registered on."""
    s3 = boto3.client("s3", config=Config(retries={"max_attempts": 1}))
    monkeypatch.setattr(log_archive, "s3_client", lambda: s3)
    return s3


def test_each_folder_and_day_becomes_one_archive_of_exactly_its_expired_files(
    tmp_path: Path, s3: Any, bucket: str
) -> None:
    root = build(tmp_path)

    report = clean_logs(options(root, bucket))

    assert report.ok, report.errors
    stored = keys(s3, bucket)
    run = stored[0].rsplit("/", 1)[1]
    assert run.startswith(f"{socket.gethostname()}-20260615T120000Z-")
    assert stored == [
        f"airflow-logs/dag_processor/2026/05/01/{run}",
        f"airflow-logs/logs/2026/05/01/{run}",
        f"airflow-logs/logs/2026/05/02/{run}",
    ]
    assert sorted(report.archives) == [f"s3://{bucket}/{key}" for key in stored]
    for folder, day, key in [("dag_processor", DAY_1, stored[0]), ("logs", DAY_1, stored[1]),
                             ("logs", DAY_2, stored[2])]:  # fmt: skip
        members = untar(s3, bucket, key)
        assert {name: content for name, (content, _) in members.items()} == expired(folder, day)
        for name, (_, mtime) in members.items():
            assert mtime == TREE[(folder, name)][1]
    assert files(root / "logs") == {"dag_id=b/run_id=10/task_id=t/attempt=1.log"}
    assert files(root / "dag_processor") == set()
    assert (report.files_archived, report.files_deleted) == (4, 4)
    assert (
        report.bytes_archived
        == report.bytes_deleted
        == sum(len(c) for (f, r), (c, m) in TREE.items() if m < RECENT)
    )
    no_uploads_left(s3, bucket)


def test_files_are_still_on_disk_when_their_archive_upload_completes(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    root = build(tmp_path)
    on_disk: dict[str, set[str]] = {}

    def record(params: dict[str, Any], **_: Any) -> None:
        folder = params["Key"].split("/")[1]
        on_disk[params["Key"]] = files(root / folder)

    client.meta.events.register("before-parameter-build.s3.CompleteMultipartUpload", record)

    report = clean_logs(options(root, bucket))

    assert report.ok
    assert len(on_disk) == 3
    for key, present in on_disk.items():
        folder, year, month, day = key.split("/")[1:5]
        mtime = datetime(int(year), int(month), int(day), tzinfo=UTC).timestamp()
        assert set(expired(folder, mtime)) <= present, f"{key}: deleted before it was stored"


def _fail_uploads_of(day: str) -> Any:
    """A before-send hook: UploadPart of archives of `day` (YYYY/MM/DD) gets HTTP 500."""

    def hook(request: Any, **_: Any) -> AWSResponse | None:
        if "partNumber=" in request.url and f"/{day}/" in request.url:
            body = b"<Error><Code>InternalError</Code><Message>injected failure</Message></Error>"
            return AWSResponse(request.url, 500, {}, _Raw(body))
        return None

    return hook


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def test_an_s3_failure_keeps_every_file_of_that_day_and_leaves_no_upload(
    tmp_path: Path, client: Any, s3: Any, bucket: str
) -> None:
    root = build(tmp_path)
    client.meta.events.register("before-send.s3.UploadPart", _fail_uploads_of("2026/05/01"))

    report = clean_logs(options(root, bucket))

    assert report.error_count == 2  # day 1 of each folder
    assert "UploadPart returned InternalError: injected failure" in report.errors[0]
    assert report.errors[0].endswith(
        f"the upload was aborted, so the 2 expired file(s) of 2026-05-01 in {root / 'logs'} "
        "were kept"
    )
    assert [k.split("/")[1:5] for k in keys(s3, bucket)] == [["logs", "2026", "05", "02"]]
    assert files(root / "logs") == set(expired("logs", DAY_1)) | {
        "dag_id=b/run_id=10/task_id=t/attempt=1.log"
    }
    assert files(root / "dag_processor") == set(expired("dag_processor", DAY_1))
    no_uploads_left(s3, bucket)


def test_a_missing_bucket_keeps_every_file_and_says_so(tmp_path: Path, moto: Any) -> None:
    root = build(tmp_path)

    report = clean_logs(options(root, "no-such-bucket-here"))

    assert not report.ok
    assert "CreateMultipartUpload returned NoSuchBucket" in report.errors[0]
    assert report.files_deleted == 0
    assert len(files(root / "logs")) == 4


def test_an_unreachable_s3_keeps_every_file_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3: Any, bucket: str
) -> None:
    root = build(tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr(
        log_archive, "_CLIENT_CONFIG", Config(retries={"mode": "standard", "max_attempts": 1})
    )

    report = clean_logs(options(root, bucket))

    assert report.error_count == 3
    assert "Could not connect to the endpoint URL" in report.errors[0]
    assert report.files_deleted == 0
    assert len(files(root / "logs")) == 4
    assert_bucket_clean(s3, bucket)


def test_a_file_rewritten_during_its_upload_is_archived_as_scanned_and_kept(
    tmp_path: Path, client: Any, s3: Any, bucket: str
) -> None:
    root = build(tmp_path)
    target = root / "logs" / "dag_id=b/run_id=9/task_id=t/attempt=2.log"

    def rewrite(params: dict[str, Any], **_: Any) -> None:
        if "/logs/2026/05/02/" in params["Key"]:  # read into its archive, not yet deleted
            with target.open("ab") as stream:
                stream.write(b"appended while archiving\n")

    client.meta.events.register("before-parameter-build.s3.CompleteMultipartUpload", rewrite)

    report = clean_logs(options(root, bucket))

    assert report.ok
    assert target.read_bytes() == b"day two\nappended while archiving\n"
    assert report.kept_rewritten == 1
    assert report.files_deleted == 3
    day_two = next(k for k in keys(s3, bucket) if "/logs/2026/05/02/" in k)
    assert untar(s3, bucket, day_two)["dag_id=b/run_id=9/task_id=t/attempt=2.log"][0] == (
        b"day two\n"
    )


def test_an_archive_larger_than_a_part_goes_up_in_parts_and_round_trips(
    tmp_path: Path, client: Any, s3: Any, bucket: str
) -> None:
    big = os.urandom(MIN_PART_SIZE + MIN_PART_SIZE // 2)  # incompressible: two parts
    root = build(tmp_path, {("logs", "big/attempt=1.log"): (big, DAY_1)})
    parts: list[int] = []
    client.meta.events.register(
        "before-parameter-build.s3.UploadPart",
        lambda params, **_: parts.append(params["PartNumber"]),
    )

    single = CleanupOptions(
        (str(root / "logs"),), 7, ArchiveTarget(bucket, ""), now=NOW, part_size=MIN_PART_SIZE
    )
    report = clean_logs(single)

    assert report.ok
    assert parts == [1, 2]
    (key,) = keys(s3, bucket)
    assert key.startswith("logs/2026/05/01/")
    assert untar(s3, bucket, key)["big/attempt=1.log"][0] == big
    assert not (root / "logs" / "big").exists()


def test_a_dry_run_with_an_archive_writes_nothing_and_names_the_archives_it_would_write(
    tmp_path: Path, s3: Any, bucket: str
) -> None:
    root = build(tmp_path)

    report = clean_logs(options(root, bucket, dry_run=True))

    assert_bucket_clean(s3, bucket)
    assert len(files(root / "logs")) == 4
    assert (report.files_archived, report.files_deleted) == (4, 4)
    assert [u.split("/")[3:8] for u in report.archives] == [
        ["airflow-logs", "logs", "2026", "05", "01"],
        ["airflow-logs", "logs", "2026", "05", "02"],
        ["airflow-logs", "dag_processor", "2026", "05", "01"],
    ]


def test_cli_archives_then_deletes_and_lists_the_archives(
    tmp_path: Path, s3: Any, bucket: str
) -> None:
    now = time.time()
    aged(tmp_path / "logs" / "dag_id=a" / "attempt=1.log", 10 * DAY, now, b"old one\n")
    aged(tmp_path / "logs" / "dag_id=a" / "attempt=2.log", 10 * DAY, now, b"old two\n")
    aged(tmp_path / "logs" / "dag_id=b" / "attempt=1.log", 60, now)

    result = CliRunner().invoke(
        app,
        ["clean-logs", str(tmp_path / "logs"), "--older-than", "7", "--archive",
         f"s3://{bucket}/cli"],
        env={"COLUMNS": "200"},
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert files(tmp_path / "logs") == {"dag_id=b/attempt=1.log"}
    (key,) = keys(s3, bucket)  # the two old files share their UTC day
    assert f"archived to s3://{bucket}/{key}" in result.stdout
    assert set(untar(s3, bucket, key)) == {"dag_id=a/attempt=1.log", "dag_id=a/attempt=2.log"}
    assert "files archived" in result.stdout
