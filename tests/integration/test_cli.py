"""`airflow-platform backup` and `restore` against the same servers: they run the same code
as the DAG, honour the AIRFLOW_PLATFORM_* variables, and never print the DSN's password.

AWS_REGION is the region of every AWS client a command builds (backup, restore, ship-dags,
clean-logs --archive), ahead of AWS_DEFAULT_REGION: the pinned botocore reads only the
latter, so the command passes it on itself."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from airflow_platform.cli import app
from tests.conftest import write_tree
from tests.dags.logtrees import DAY, aged
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
    assert listed["KeyCount"] == 2, "the dump and its manifest"


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
    assert s3.list_objects_v2(Bucket=bucket, Prefix="from-flag/seeded/")["KeyCount"] == 2
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
    assert s3.list_objects_v2(Bucket=bucket, Prefix="proc/seeded/")["KeyCount"] == 2


# The region: AWS_REGION beats AWS_DEFAULT_REGION (us-east-1 in the moto fixture).

REGION = "eu-west-3"


@pytest.fixture
def client_regions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(service, region) of every boto3 client built while the test runs, whoever builds it
    (the backup, restore and log-archive code through boto3's default session, ship-dags
    through a session of its own)."""
    built: list[tuple[str, str]] = []
    real = boto3.session.Session.client

    def spy(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        client = real(self, service, *args, **kwargs)
        built.append((service, client.meta.region_name))
        return client

    monkeypatch.setattr(boto3.session.Session, "client", spy)
    return built


def test_cli_backup_publishes_its_metrics_in_the_region_aws_region_names(
    pg: PgServer, seeded: Seeded, bucket: str, client_regions: list[tuple[str, str]]
) -> None:
    namespace = f"Test/{uuid.uuid4().hex}"

    result = _invoke("backup", "--from", seeded.dsn, "--to", f"s3://{bucket}/region",
                     "--pg-bin-dir", str(pg.bin_dir), "--metrics-namespace", namespace,
                     env={"AWS_REGION": REGION})  # fmt: skip

    assert result.exit_code == 0, result.output
    assert sorted(client_regions) == [("cloudwatch", REGION), ("s3", REGION)]
    # moto keeps CloudWatch per region, as AWS does: the metrics are in AWS_REGION's only.
    in_region = boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace=namespace)
    default = boto3.client("cloudwatch", region_name="us-east-1").list_metrics(Namespace=namespace)
    assert {m["MetricName"] for m in in_region["Metrics"]} >= {"SizeBytes", "DurationSeconds"}
    assert default["Metrics"] == []


def test_cli_restore_builds_its_s3_client_in_the_region_aws_region_names(
    pg: PgServer, seeded: Seeded, new_database: Any, bucket: str,
    client_regions: list[tuple[str, str]],
) -> None:  # fmt: skip
    assert _invoke("backup", "--from", seeded.dsn, "--to", f"s3://{bucket}/r", "--no-metrics",
                   "--pg-bin-dir", str(pg.bin_dir)).exit_code == 0  # fmt: skip
    client_regions.clear()

    restored = _invoke("restore", "--latest", f"s3://{bucket}/r", "--to", new_database("region"),
                       "--pg-bin-dir", str(pg.bin_dir), env={"AWS_REGION": REGION})  # fmt: skip

    assert restored.exit_code == 0, restored.output
    assert client_regions == [("s3", REGION)]


def test_cli_ship_dags_with_a_bucket_ships_in_the_region_aws_region_names(
    s3: Any, bucket: str, tmp_path: Path, client_regions: list[tuple[str, str]]
) -> None:
    bundle = write_tree(tmp_path / "dags", {"a.py": "x = 1\n"})

    result = runner.invoke(app, ["ship-dags", "dev", "--source", str(bundle), "--bucket", bucket,
                                 "--no-check"], env={"AWS_REGION": REGION})  # fmt: skip

    assert result.exit_code == 0, result.output
    assert s3.list_objects_v2(Bucket=bucket, Prefix="dags/")["KeyCount"] == 1
    assert client_regions == [("s3", REGION)]


def test_cli_clean_logs_archives_in_the_region_aws_region_names(
    s3: Any, bucket: str, tmp_path: Path, client_regions: list[tuple[str, str]]
) -> None:
    aged(tmp_path / "logs" / "dag_id=a" / "attempt=1.log", 10 * DAY, time.time(), b"old\n")

    result = runner.invoke(app, ["clean-logs", str(tmp_path / "logs"), "--older-than", "7",
                                 "--archive", f"s3://{bucket}/logs"],
                           env={"AWS_REGION": REGION})  # fmt: skip

    assert result.exit_code == 0, result.output
    assert s3.list_objects_v2(Bucket=bucket, Prefix="logs/")["KeyCount"] == 1
    assert client_regions == [("s3", REGION)]


def test_without_aws_region_the_clients_take_aws_default_region(
    s3: Any, bucket: str, tmp_path: Path, client_regions: list[tuple[str, str]]
) -> None:
    bundle = write_tree(tmp_path / "dags", {"a.py": "x = 1\n"})

    result = runner.invoke(app, ["ship-dags", "dev", "--source", str(bundle), "--bucket", bucket,
                                 "--no-check"], env={"AWS_REGION": None})  # fmt: skip

    assert result.exit_code == 0, result.output
    assert client_regions == [("s3", os.environ["AWS_DEFAULT_REGION"])]
