"""A missing or too-old PostgreSQL client, as backups and restores report it: what is wrong,
which program, which version it reports, and what to do. No server: the clients are fake
scripts in tmp_path that print a version and fail as the real ones do (their messages are
copied from pg_dump 13-17 and pg_restore 15), and a psql that plays the backup's snapshot
session."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from platform_ops.backup import BackupError, BackupSettings, RestoreError
from platform_ops.backup.backup import run_backup
from platform_ops.backup.location import S3Location
from platform_ops.backup.pgtools import ClientProcess, find_tool
from platform_ops.backup.restore import RestoreSettings, run_restore
from platform_ops.backup.s3 import AwsClients

PASSWORD = "s3cr3t-not-in-messages"
DSN = f"postgresql://backup:{PASSWORD}@127.0.0.1:1/airflow"
WHAT_TO_DO = (
    "startup script (images/mwaa/startup.sh)",
    "worker log group",
    "--pg-bin-dir",
    "AIRFLOW_PLATFORM_PG_BIN_DIR",
)
# pg_dump's refusal of a newer server: PostgreSQL 15+ wording, then 13-14's.
MISMATCH_15 = (
    "pg_dump: error: aborting because of server version mismatch\n"
    "pg_dump: detail: server version: 17.2; pg_dump version: 15.4 (Debian 15.4-1)"
)
MISMATCH_13 = (
    "pg_dump: error: server version: 17.2; pg_dump version: 15.4\n"
    "pg_dump: error: aborting because of server version mismatch"
)


def fake_client(bin_dir: Path, name: str, version: str, stderr: str = "") -> Path:
    """`name --version` prints `version`; any other call prints `stderr` and exits 1."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = --version ]; then echo "{name} (PostgreSQL) {version}"; exit 0; fi\n'
        f"cat >&2 <<'EOF'\n{stderr}\nEOF\n"
        "exit 1\n"
    )
    path.chmod(0o755)
    return path


def fake_psql_session(bin_dir: Path, version: str) -> Path:
    """A psql that answers what a backup asks before pg_dump starts (the server's version,
    the exported snapshot's id, the tables: none), one JSON line each, and waits for its
    stdin to close."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / "psql"
    path.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = --version ]; then echo "psql (PostgreSQL) {version}"; exit 0; fi\n'
        'while IFS= read -r line; do case "$line" in\n'
        "  *server_version*) echo '\"17.2\"' ;;\n"
        "  *pg_export_snapshot*) echo '\"00000003-0000001B-1\"' ;;\n"
        "  *'jsonb_build_array(n.nspname'*) echo '[]' ;;\n"
        "esac; done\n"
    )
    path.chmod(0o755)
    return path


class RecordingS3:
    """Just enough S3 for a backup that fails in pg_dump; any other call fails the test."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def create_multipart_upload(self, **_: Any) -> dict[str, str]:
        self.calls.append("create_multipart_upload")
        return {"UploadId": "upload-1"}

    def abort_multipart_upload(self, **_: Any) -> dict[str, str]:
        self.calls.append("abort_multipart_upload")
        return {}

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected S3 call: {name}")


def backup_with(bin_dir: Path | None, s3: RecordingS3) -> str:
    settings = BackupSettings(dsn=DSN, bucket="backups", pg_bin_dir=bin_dir)
    with pytest.raises(BackupError) as raised:
        run_backup(settings, clients=AwsClients(s3=s3, cloudwatch=None))
    message = str(raised.value)
    assert PASSWORD not in message
    return message


def test_find_tool_names_path_and_what_to_do_when_pg_dump_is_not_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(BackupError) as raised:
        find_tool("pg_dump", None)

    message = str(raised.value)
    assert message.startswith(f"pg_dump not found on PATH ({tmp_path}): ")
    for advice in WHAT_TO_DO:
        assert advice in message


def test_find_tool_names_the_directory_and_its_settings_when_pg_dump_is_not_in_the_bin_dir(
    tmp_path: Path,
) -> None:
    with pytest.raises(BackupError) as raised:
        find_tool("pg_dump", tmp_path)

    assert str(raised.value).startswith(
        f"pg_dump not found in {tmp_path} (the --pg-bin-dir / AIRFLOW_PLATFORM_PG_BIN_DIR "
        "directory): point it at the bin directory of a PostgreSQL client"
    )


def test_backup_reports_the_missing_pg_dump_before_touching_s3_when_pg_dump_is_not_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    s3 = RecordingS3()

    message = backup_with(None, s3)

    assert "failed while starting: pg_dump not found on PATH" in message
    assert all(advice in message for advice in WHAT_TO_DO)
    assert message.endswith("Nothing was left in the bucket.")
    assert s3.calls == []


def test_restore_reports_the_missing_pg_restore_when_it_is_not_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    settings = RestoreSettings(dsn=DSN, source=S3Location("backups", "metadata-db/x.dump"))

    with pytest.raises(RestoreError) as raised:
        run_restore(settings, s3=RecordingS3())

    message = str(raised.value)
    assert message.startswith(f"pg_restore not found on PATH ({tmp_path}): ")
    assert all(advice in message for advice in WHAT_TO_DO)


@pytest.mark.parametrize("refusal", [MISMATCH_15, MISMATCH_13], ids=["pg15+", "pg13-14"])
def test_backup_names_pg_dump_its_version_and_the_servers_when_pg_dump_is_older_than_the_server(
    tmp_path: Path, refusal: str
) -> None:
    pg_dump = fake_client(tmp_path / "bin", "pg_dump", "15.4", refusal)
    fake_client(tmp_path / "bin", "pg_restore", "15.4")
    fake_psql_session(tmp_path / "bin", "15.4")
    s3 = RecordingS3()

    message = backup_with(tmp_path / "bin", s3)

    assert (
        f"failed while streaming pg_dump to S3: {pg_dump} is version 15.4, older than the "
        "server (version 17.2): pg_dump cannot dump a server of a newer major version, so "
        "backups fail until pg_dump 17 or newer is used. "
    ) in message
    assert all(advice in message for advice in WHAT_TO_DO)
    assert "(pg_dump exited with code 1: pg_dump: error:" in message  # pg_dump's own words
    assert message.endswith("Nothing was left in the bucket.")
    assert s3.calls == ["create_multipart_upload", "abort_multipart_upload"]


def test_backup_asks_pg_dump_its_version_when_the_refusal_does_not_state_it(
    tmp_path: Path,
) -> None:
    refusal = "pg_dump: error: aborting because of server version mismatch"
    pg_dump = fake_client(tmp_path / "bin", "pg_dump", "16.1", refusal)
    fake_client(tmp_path / "bin", "pg_restore", "16.1")
    fake_psql_session(tmp_path / "bin", "16.1")

    message = backup_with(tmp_path / "bin", RecordingS3())

    assert f"{pg_dump} is version 16.1, older than the server: " in message
    assert "until a pg_dump at least as new as the server is used" in message


def test_client_failure_names_pg_restore_and_its_version_when_the_archive_is_newer_than_it(
    tmp_path: Path,
) -> None:
    refusal = "pg_restore: error: unsupported version (1.16) in file header"
    pg_restore = fake_client(tmp_path, "pg_restore", "15.4", refusal)
    client = ClientProcess(str(pg_restore), ["--list"], None)
    client.wait()

    message = client.failure()
    assert message.startswith(
        f"{pg_restore} is version 15.4, older than the pg_dump that wrote the archive (archive "
        "format 1.16, which pg_restore 15.4 cannot read): use a pg_restore of at least that "
        "pg_dump's major version. "
    )
    assert all(advice in message for advice in WHAT_TO_DO)
    assert message.endswith(f" (pg_restore exited with code 1: {refusal})")


def test_client_failure_is_only_the_exit_and_stderr_when_the_error_is_not_about_versions(
    tmp_path: Path,
) -> None:
    refusal = 'pg_dump: error: connection to server failed: FATAL:  database "x" does not exist'
    pg_dump = fake_client(tmp_path, "pg_dump", "17.6", refusal)
    client = ClientProcess(str(pg_dump), ["--format=custom"], None, stdout=subprocess.DEVNULL)
    client.wait()

    assert client.failure() == f"pg_dump exited with code 1: {refusal}"
