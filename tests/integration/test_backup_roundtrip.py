"""Backup then restore through real PostgreSQL, pg_dump/pg_restore and S3 over HTTP."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from platform_ops.backup import (
    AwsClients,
    BackupSettings,
    RestoreSettings,
    S3Location,
    run_backup,
    run_restore,
)
from platform_ops.backup.s3 import copy_with_metadata
from tests.integration.conftest import Seeded, assert_bucket_clean
from tests.integration.seed import fingerprint
from tests.integration.servers import PgServer


def test_backup_round_trip_restores_identical_data_when_restored_into_a_fresh_database(
    pg: PgServer, seeded: Seeded, settings: Any, new_database: Any, s3: Any, bucket: str
) -> None:
    result = run_backup(settings(seeded.dsn))
    target = new_database("restored")
    run_restore(
        RestoreSettings(dsn=target, source=S3Location(bucket, result.key), pg_bin_dir=pg.bin_dir)
    )

    with pg.connect(seeded.name) as source, pg.connect(target.rsplit("/", 1)[1]) as restored:
        expected, actual = fingerprint(source), fingerprint(restored)
    differences = {
        k: (expected[k], actual.get(k)) for k in expected if expected[k] != actual.get(k)
    }
    assert differences == {}
    assert expected["table events"][0] == 120_000
    assert result.parts >= 3, "the seed should need several parts"


def test_backup_stores_key_checksum_and_size_when_it_succeeds(
    seeded: Seeded, settings: Any, s3: Any, bucket: str
) -> None:
    when = datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
    result = run_backup(settings(seeded.dsn), now=when)

    assert result.key == "backups/seeded/2031/02/03/seeded-20310203T040506Z.dump"
    head = s3.head_object(Bucket=bucket, Key=result.key)
    assert head["Metadata"]["sha256"] == result.sha256
    assert head["Metadata"]["bytes"] == str(result.size) == str(head["ContentLength"])
    body = s3.get_object(Bucket=bucket, Key=result.key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == result.sha256
    assert body.startswith(b"PGDMP"), "a custom-format archive"
    keys = sorted(v["Key"] for v in s3.list_object_versions(Bucket=bucket)["Versions"])
    assert keys == [result.key, f"{result.key}.manifest.json"], (
        "the staging object is gone, one version of the dump and one of its manifest"
    )
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_backup_publishes_freshness_metrics_when_it_succeeds(seeded: Seeded, settings: Any) -> None:
    result = run_backup(settings(seeded.dsn, metrics_namespace="Test/Backups"))

    cloudwatch = boto3.client("cloudwatch")
    listed = cloudwatch.list_metrics(Namespace="Test/Backups")["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert names == {"LastSuccessTimestamp", "SizeBytes", "DurationSeconds"}
    assert all(m["Dimensions"] == [{"Name": "Database", "Value": "seeded"}] for m in listed)
    now = datetime.now(UTC)
    stats = cloudwatch.get_metric_statistics(
        Namespace="Test/Backups",
        MetricName="SizeBytes",
        Dimensions=[{"Name": "Database", "Value": "seeded"}],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=10),
        Period=60,
        Statistics=["Maximum"],
    )
    assert [p["Maximum"] for p in stats["Datapoints"]] == [float(result.size)]


def test_backup_honours_aws_endpoint_url_when_no_clients_are_given(
    moto: Any, seeded: Seeded, settings: Any, s3: Any, bucket: str
) -> None:
    # The settings carry no endpoint: boto3 finds the emulator through AWS_ENDPOINT_URL alone.
    assert boto3.client("s3").meta.endpoint_url == moto.endpoint
    result = run_backup(settings(seeded.dsn))
    assert s3.head_object(Bucket=bucket, Key=result.key)["ContentLength"] == result.size


def test_backup_snapshot_is_consistent_when_writes_run_during_the_dump(
    pg: PgServer, settings: Any, new_database: Any
) -> None:
    from tests.integration.writers import Transfers

    source = new_database("ledger")
    name = source.rsplit("/", 1)[1]
    with Transfers(pg, name) as writes:
        writes.wait_for(50)
        result = run_backup(settings(source))
        during = writes.committed
        writes.wait_for(during + 50)
    assert writes.committed > during > 50, "writes kept committing while the dump ran"

    target = new_database("ledger_restored")
    run_restore(
        RestoreSettings(
            dsn=target, source=S3Location(result.bucket, result.key), pg_bin_dir=pg.bin_dir
        )
    )
    with pg.connect(target.rsplit("/", 1)[1]) as conn:
        total, rows_a, rows_b = conn.execute(
            "select (select sum(balance) from ledger_a) + (select sum(balance) from ledger_b),"
            " (select count(*) from ledger_a), (select count(*) from ledger_b)"
        ).fetchone()
    assert total == Transfers.TOTAL, "the invariant holds in the dumped snapshot"
    assert rows_a == rows_b > Transfers.ACCOUNTS, "inserts made in pairs were dumped in pairs"


def test_copy_with_metadata_uses_part_copies_when_the_object_exceeds_the_single_copy_limit(
    s3: Any, bucket: str
) -> None:
    data = bytes(range(256)) * (48 * 1024)  # 12 MiB
    s3.put_object(Bucket=bucket, Key="source", Body=data)
    calls: list[str] = []
    client = boto3.client("s3", config=Config(retries={"max_attempts": 1}))
    client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))

    copy_with_metadata(client, bucket, {"Bucket": bucket, "Key": "source"}, "copy", len(data),
                       {"sha256": "abc"}, max_single_copy=5 * 1024 * 1024)  # fmt: skip

    assert calls.count("UploadPartCopy") == 3
    head = s3.head_object(Bucket=bucket, Key="copy")
    assert head["Metadata"] == {"sha256": "abc"}
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == data


def test_settings_for_url_takes_bucket_and_prefix_when_given_an_s3_url() -> None:
    built = BackupSettings.for_url("dbname=x", "s3://my-bucket/a/b/")
    assert (built.bucket, built.prefix) == ("my-bucket", "a/b")
    assert BackupSettings.for_url("dbname=x", "s3://my-bucket").prefix == "metadata-db"
    assert re.search("x", repr(built)) is None or "dsn" not in repr(built)


def test_bucket_helper_sees_nothing_when_the_bucket_is_new(s3: Any, bucket: str) -> None:
    assert_bucket_clean(s3, bucket)


@pytest.fixture
def locked_bucket(s3: Any) -> str:
    """A bucket like prod's backup bucket: versioned, object lock in governance mode."""
    name = f"locked-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=name,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    return name


def _moto_copy_lock_header(request: Any, **_: Any) -> None:
    # moto applies PutObject's Object Lock rule (a Content-MD5 or x-amz-sdk-checksum-algorithm
    # header) to CopyObject too; S3 documents it for requests carrying a body. The copy
    # already asks S3 for a SHA-256 (x-amz-checksum-algorithm); this adds the header moto
    # looks for, and nothing else changes.
    request.headers["x-amz-sdk-checksum-algorithm"] = "SHA256"


def test_backup_under_object_lock_keeps_only_the_final_dump(
    pg: PgServer, seeded: Seeded, s3: Any, locked_bucket: str, clients: AwsClients
) -> None:
    settings = BackupSettings(
        dsn=seeded.dsn, bucket=locked_bucket, prefix="backups", pg_bin_dir=pg.bin_dir,
        part_size=5 * 1024 * 1024,
    )  # fmt: skip
    clients.s3.meta.events.register("before-sign.s3.CopyObject", _moto_copy_lock_header)
    deletes: list[tuple[str, str | None]] = []
    clients.s3.meta.events.register(
        "before-send.s3.DeleteObject",
        lambda request, **_: deletes.append(
            (request.url, request.headers.get("x-amz-bypass-governance-retention"))
        ),
    )

    result = run_backup(settings, clients=clients)

    versions = s3.list_object_versions(Bucket=locked_bucket)
    keys = sorted(
        v["Key"] for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])
    )
    assert keys == [result.key, result.manifest_key], (
        "the staging copy was removed despite the lock"
    )
    # moto does not retain multipart uploads under the default rule; S3 does, so the
    # staging copy is removed with the governance bypass (granted for *.partial keys only).
    assert len(deletes) == 1
    assert ".partial" in deletes[0][0]
    assert deletes[0][1] in ("true", b"true")
    head = s3.head_object(Bucket=locked_bucket, Key=result.key)
    assert head["ObjectLockMode"] == "GOVERNANCE", "the dump is retained by the default rule"
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=locked_bucket, Key=result.key, VersionId=result.version_id)
