"""`airflow-platform backup` and `restore` against the same servers: they run the same code
as the DAG, honour the AIRFLOW_PLATFORM_* variables, and never print the DSN's password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from airflow_platform.cli import app
from tests.integration.conftest import Seeded
from tests.integration.seed import fingerprint
from tests.integration.servers import PASSWORD, PgServer

runner = CliRunner()


def _invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    result = runner.invoke(app, list(args), env=env)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert PASSWORD not in output, "the DSN's password was printed"
    return result


def test_cli_backup_then_restore_latest_round_trips_without_printing_the_password(
    pg: PgServer, seeded: Seeded, new_database: Any, bucket: str
) -> None:
    backed_up = _invoke("backup", "--from", seeded.dsn, "--to", f"s3://{bucket}/cli",
                        "--pg-bin-dir", str(pg.bin_dir), "--part-size", "5")  # fmt: skip
    assert backed_up.exit_code == 0, backed_up.output
    assert f"to s3://{bucket}/cli/seeded/" in backed_up.output
    assert "postgresql://postgres:***@127.0.0.1" in backed_up.output

    target = new_database("cli")
    restored = _invoke("restore", "--latest", f"s3://{bucket}/cli", "--to", target,
                       "--pg-bin-dir", str(pg.bin_dir))  # fmt: skip
    assert restored.exit_code == 0, restored.output
    assert "sha256 verified" in restored.output
    with pg.connect(seeded.name) as source, pg.connect(target.rsplit("/", 1)[1]) as copy:
        assert fingerprint(copy) == fingerprint(source)


def test_cli_restore_refuses_a_non_empty_database_when_force_is_not_given(
    pg: PgServer, seeded: Seeded, bucket: str
) -> None:
    assert _invoke("backup", "--from", seeded.dsn, "--to", f"s3://{bucket}/cli",
                   "--pg-bin-dir", str(pg.bin_dir)).exit_code == 0  # fmt: skip

    refused = _invoke("restore", "--latest", f"s3://{bucket}/cli", "--to", seeded.dsn,
                      "--pg-bin-dir", str(pg.bin_dir))  # fmt: skip

    assert refused.exit_code == 1
    assert "is not empty" in refused.stderr
    assert "--force" in refused.stderr


def test_cli_backup_reads_its_options_from_variables_when_no_flags_are_given(
    pg: PgServer, seeded: Seeded, s3: Any, bucket: str
) -> None:
    env = {
        "AIRFLOW_PLATFORM_BACKUP_FROM": seeded.dsn,
        "AIRFLOW_PLATFORM_BACKUP_TO": f"s3://{bucket}/from-env",
        "AIRFLOW_PLATFORM_PG_BIN_DIR": str(pg.bin_dir),
        "AIRFLOW_PLATFORM_BACKUP_NO_METRICS": "1",
    }
    result = _invoke("backup", env=env)

    assert result.exit_code == 0, result.output
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="from-env/seeded/")
    assert listed["KeyCount"] == 1


def test_cli_backup_flag_beats_its_variable_when_both_are_given(
    pg: PgServer, seeded: Seeded, s3: Any, bucket: str
) -> None:
    env = {
        "AIRFLOW_PLATFORM_BACKUP_FROM": pg.dsn("no_such_db"),
        "AIRFLOW_PLATFORM_BACKUP_TO": f"s3://{bucket}/from-env",
        "AIRFLOW_PLATFORM_PG_BIN_DIR": str(pg.bin_dir),
    }
    result = _invoke("backup", "--from", seeded.dsn, "--to", f"s3://{bucket}/from-flag", env=env)

    assert result.exit_code == 0, result.output
    assert s3.list_objects_v2(Bucket=bucket, Prefix="from-flag/seeded/")["KeyCount"] == 1
    assert s3.list_objects_v2(Bucket=bucket, Prefix="from-env/")["KeyCount"] == 0


def test_cli_backup_exits_1_with_a_masked_message_when_the_login_fails(
    pg: PgServer, bucket: str
) -> None:
    dsn = f"host=127.0.0.1 port={pg.port} user=postgres password='{PASSWORD}x' dbname=seeded"

    result = _invoke("backup", "--from", dsn, "--to", f"s3://{bucket}/cli",
                     "--pg-bin-dir", str(pg.bin_dir))  # fmt: skip

    assert result.exit_code == 1
    assert "password authentication failed" in result.stderr
    assert "postgresql://postgres:***@127.0.0.1" in result.stderr


def test_cli_exits_2_on_usage_errors(pg: PgServer, seeded: Seeded) -> None:
    both = _invoke("restore", "--from", "s3://b-b-b/k", "--latest", "s3://b-b-b/p",
                   "--to", seeded.dsn)  # fmt: skip
    bad_url = _invoke("backup", "--from", seeded.dsn, "--to", "https://not-s3/x")
    small_parts = _invoke("backup", "--from", seeded.dsn, "--to", "s3://b-b-b/p",
                          "--part-size", "4")  # fmt: skip

    assert (both.exit_code, bad_url.exit_code, small_parts.exit_code) == (2, 2, 2)
    assert "exactly one of --from" in both.stderr
    assert "expected s3://" in bad_url.stderr


def test_cli_entry_point_runs_a_backup_in_a_fresh_process_through_aws_endpoint_url(
    pg: PgServer, seeded: Seeded, s3: Any, bucket: str
) -> None:
    script = Path(sys.executable).with_name("airflow-platform")
    env = {**os.environ, "AIRFLOW_PLATFORM_BACKUP_FROM": seeded.dsn}

    done = subprocess.run(
        [str(script), "backup", "--to", f"s3://{bucket}/proc", "--pg-bin-dir", str(pg.bin_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert s3.list_objects_v2(Bucket=bucket, Prefix="proc/seeded/")["KeyCount"] == 1
