"""Restores: refusal of a non-empty target, tampered objects, --latest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from platform_ops.backup import (
    RestoreError,
    RestoreSettings,
    S3Location,
    run_backup,
    run_restore,
)
from platform_ops.backup.conninfo import ConnInfo
from platform_ops.backup.restore import target_contents
from tests.integration.conftest import Seeded
from tests.integration.seed import fingerprint
from tests.integration.servers import PASSWORD, PgServer


def _name(dsn: str) -> str:
    return dsn.rsplit("/", 1)[1]


def _restore(pg: PgServer, dsn: str, location: S3Location, **options: Any) -> Any:
    return run_restore(RestoreSettings(dsn=dsn, source=location, pg_bin_dir=pg.bin_dir, **options))


def _contents(pg: PgServer, dsn: str) -> dict[str, int]:
    return target_contents(str(pg.bin_dir / "psql"), ConnInfo.parse(dsn))


@pytest.fixture(scope="module")
def stored(seeded: Seeded, pg: PgServer, s3: Any, moto: Any) -> S3Location:
    """One backup of the seeded database, shared by the module's tests."""
    s3.create_bucket(Bucket="restore-tests")
    s3.put_bucket_versioning(Bucket="restore-tests", VersioningConfiguration={"Status": "Enabled"})
    from platform_ops.backup import BackupSettings

    result = run_backup(
        BackupSettings(dsn=seeded.dsn, bucket="restore-tests", pg_bin_dir=pg.bin_dir)
    )
    return S3Location(result.bucket, result.key)


def test_restore_refuses_a_non_empty_database_when_not_forced(
    pg: PgServer, stored: S3Location, new_database: Any
) -> None:
    target = new_database("busy")
    with pg.connect(_name(target)) as conn:
        conn.execute("create table keep_me (id int)")
        conn.execute("select lo_from_bytea(0, 'x')")

    with pytest.raises(RestoreError) as raised:
        _restore(pg, target, stored)

    message = str(raised.value)
    assert "is not empty (1 relations, 1 large objects)" in message
    assert "--force" in message
    assert PASSWORD not in message
    assert _contents(pg, target) == {"relations": 1, "schemas": 0, "functions": 0,
                                     "large objects": 1}  # fmt: skip


def test_restore_replaces_the_dumps_objects_when_forced(
    pg: PgServer, seeded: Seeded, stored: S3Location, new_database: Any
) -> None:
    target = new_database("forced")
    _restore(pg, target, stored)
    with pg.connect(_name(target)) as conn:
        conn.execute("delete from events where id % 2 = 0")

    _restore(pg, target, stored, force=True)

    with pg.connect(seeded.name) as source, pg.connect(_name(target)) as restored:
        assert fingerprint(restored)["table events"] == fingerprint(source)["table events"]


@pytest.mark.parametrize("where", [0.5, -100], ids=["middle", "near-the-end"])
def test_restore_leaves_the_target_empty_when_the_object_was_tampered_with(
    pg: PgServer, s3: Any, stored: S3Location, new_database: Any, where: float
) -> None:
    head = s3.head_object(Bucket=stored.bucket, Key=stored.key)
    data = bytearray(s3.get_object(Bucket=stored.bucket, Key=stored.key)["Body"].read())
    # One bit: in the middle pg_restore has already written rows when it gets there.
    data[int(len(data) * where) if where > 0 else int(where)] ^= 0x01
    tampered = "tampered/seeded/2030/01/01/seeded-20300101T000000Z.dump"
    s3.put_object(Bucket=stored.bucket, Key=tampered, Body=bytes(data), Metadata=head["Metadata"])
    target = new_database("tampered")

    with pytest.raises(RestoreError) as raised:
        _restore(pg, target, S3Location(stored.bucket, tampered))

    assert "unchanged" in str(raised.value) or "rolled back" in str(raised.value)
    assert set(_contents(pg, target).values()) == {0}, "nothing was committed"


def test_restore_refuses_an_object_without_checksum_metadata(
    pg: PgServer, s3: Any, stored: S3Location, new_database: Any
) -> None:
    body = s3.get_object(Bucket=stored.bucket, Key=stored.key)["Body"].read()
    s3.put_object(Bucket=stored.bucket, Key="bare/x-20300101T000000Z.dump", Body=body)

    with pytest.raises(RestoreError, match="has no sha256 metadata"):
        _restore(
            pg, new_database("bare"), S3Location(stored.bucket, "bare/x-20300101T000000Z.dump")
        )


def test_restore_latest_picks_the_newest_dump_when_several_exist(
    pg: PgServer, settings: Any, new_database: Any, bucket: str
) -> None:
    source = new_database("history")
    name = _name(source)
    with pg.connect(name) as conn:
        conn.execute("create table marks (id int primary key, label text)")
    for day, label in [(3, "newest"), (1, "oldest"), (2, "middle")]:
        with pg.connect(name) as conn:
            conn.execute("delete from marks")
            conn.execute("insert into marks values (1, %s)", (label,))
        run_backup(settings(source), now=datetime(2030, 5, day, 12, tzinfo=UTC))

    target = new_database("latest")
    result = _restore(pg, target, S3Location(bucket, "backups"), latest=True)

    assert result.key == f"backups/{name}/2030/05/03/{name}-20300503T120000Z.dump"
    with pg.connect(_name(target)) as conn:
        assert conn.execute("select label from marks").fetchone() == ("newest",)


def test_restore_latest_asks_for_a_database_when_the_prefix_holds_several(
    pg: PgServer, settings: Any, new_database: Any, seeded: Seeded, bucket: str
) -> None:
    run_backup(settings(seeded.dsn))
    run_backup(settings(new_database("other")))

    with pytest.raises(RestoreError, match="dumps of several databases"):
        _restore(pg, new_database("t"), S3Location(bucket, "backups"), latest=True)


def test_restore_latest_fails_clearly_when_the_prefix_is_empty(
    pg: PgServer, new_database: Any, bucket: str
) -> None:
    with pytest.raises(RestoreError, match=f"no dumps under s3://{bucket}/nothing-here"):
        _restore(pg, new_database("t"), S3Location(bucket, "nothing-here"), latest=True)
