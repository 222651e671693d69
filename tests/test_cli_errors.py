"""Bad input and a bad environment, through the installed `airflow-platform` program: each
case exits with the code of the one rule (2: usage, config or environment), prints exactly
one `error: ...` line naming what is wrong and what is allowed, and never a traceback.

Each test runs the real entry point in a fresh process with a clean AWS environment (no
region, no credentials, no config file, HOME in a temporary folder), so nothing on the machine
running the tests can make a case pass or fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CLI = str(Path(sys.executable).with_name("airflow-platform"))
DSN = "postgresql://airflow@db.example.internal:5432/airflow"
NO_REGION = "no AWS region configured: set AWS_REGION"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The process environment without any AWS or AIRFLOW_PLATFORM_* setting of the caller's."""
    home = tmp_path / "home"
    home.mkdir()
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "BOTO", "AIRFLOW_PLATFORM_"))
    }
    return {
        **kept,
        "HOME": str(home),
        "AWS_CONFIG_FILE": "/nonexistent/aws/config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws/credentials",
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookups off EC2
        "COLUMNS": "200",
    }


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """A log folder with one file 30 days old."""
    folder = tmp_path / "logs"
    old = folder / "dag_id=a" / "run_id=1" / "task_id=t" / "attempt=1.log"
    old.parent.mkdir(parents=True)
    old.write_text("old\n")
    month_ago = old.stat().st_mtime - 30 * 86400
    os.utime(old, (month_ago, month_ago))
    return folder


def run(env: dict[str, str], *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def one_error(done: subprocess.CompletedProcess[str], code: int) -> str:
    """The one `error: ` line of a run that exited with `code`, with no traceback anywhere."""
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert done.returncode == code, output
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    return errors[0]


# --- the AWS region: needed wherever a command builds a boto3 client ------------------------


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["backup", "--from", DSN, "--to", "s3://backups-bucket/metadata"], []),
        (["restore", "--latest", "s3://backups-bucket/metadata", "--to", DSN], []),
        (["ship-dags", "dev", "--bucket", "airflow-dev-dags", "--no-check"], ["--source"]),
        (["clean-logs", "--older-than", "7", "--archive", "s3://logs-bucket/airflow"], ["logs"]),
    ],
    ids=["backup", "restore", "ship-dags", "clean-logs-archive"],
)
def test_a_command_that_talks_to_aws_exits_2_when_no_region_is_configured_anywhere(
    env: dict[str, str], logs: Path, args: list[str], extra: list[str]
) -> None:
    extra_args = {"logs": [str(logs)], "--source": ["--source", str(ROOT / "dags")]}
    done = run(env, *args, *[a for key in extra for a in extra_args[key]])

    line = one_error(done, 2)
    assert NO_REGION in line
    assert "AWS_DEFAULT_REGION" in line


def test_clean_logs_with_archive_deletes_nothing_when_no_region_is_configured(
    env: dict[str, str], logs: Path
) -> None:
    before = sorted(p.relative_to(logs) for p in logs.rglob("*"))

    done = run(env, "clean-logs", str(logs), "--older-than", "7", "--archive", "s3://b-b-b/x")

    assert NO_REGION in one_error(done, 2)
    assert sorted(p.relative_to(logs) for p in logs.rglob("*")) == before


def test_a_dry_run_of_clean_logs_with_archive_needs_no_region_as_it_builds_no_client(
    env: dict[str, str], logs: Path
) -> None:
    done = run(env, "clean-logs", str(logs), "--older-than", "7", "--archive", "s3://b-b-b/x",
               "--dry-run")  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "would write s3://b-b-b/x/logs/" in done.stdout


def test_backup_exits_2_naming_the_variables_when_no_credentials_are_found(
    env: dict[str, str],
) -> None:
    done = run({**env, "AWS_REGION": "eu-west-1"}, "backup", "--from", DSN, "--to", "s3://b-b-b/p")

    line = one_error(done, 2)
    assert "no AWS credentials found" in line
    assert "AWS_ACCESS_KEY_ID" in line


def test_a_malformed_aws_region_exits_2_naming_the_variable_it_came_from(
    env: dict[str, str],
) -> None:
    done = run({**env, "AWS_REGION": "eu west 1"}, "backup", "--from", DSN, "--to", "s3://b-b-b/p")

    line = one_error(done, 2)
    assert "AWS region 'eu west 1' (from AWS_REGION) is not a region name" in line


def test_an_aws_profile_that_does_not_exist_exits_2_naming_it(env: dict[str, str]) -> None:
    done = run({**env, "AWS_PROFILE": "no-such-profile"}, "restore", "--to", DSN,
               "--from", "s3://b-b-b/k.dump")  # fmt: skip

    assert "no-such-profile" in one_error(done, 2)


def test_backup_exits_2_when_pg_dump_is_not_in_the_pg_bin_dir(
    env: dict[str, str], tmp_path: Path
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    aws = {"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}

    done = run({**env, **aws}, "backup", "--from", DSN, "--to", "s3://b-b-b/p",
               "--pg-bin-dir", str(empty))  # fmt: skip

    line = one_error(done, 2)
    assert "pg_dump not found" in line
    assert str(empty) in line


# --- plan's output files: refused before the program runs ------------------------------------


@pytest.mark.parametrize("option", ["--json", "--markdown"])
def test_plan_refuses_an_output_file_in_a_folder_that_does_not_exist_before_running(
    env: dict[str, str], tmp_path: Path, option: str
) -> None:
    target = tmp_path / "no-such-folder" / "plan.out"

    done = run(env, "plan", "dev", option, str(target))

    line = one_error(done, 2)
    assert f"invalid value for '{option}'" in line
    assert f"folder '{target.parent}' of '{target}' does not exist" in line
    assert done.stdout == "", "the program ran (its table was printed)"


@pytest.mark.parametrize("option", ["--json", "--markdown"])
def test_plan_refuses_an_output_file_that_is_a_folder_before_running(
    env: dict[str, str], tmp_path: Path, option: str
) -> None:
    done = run(env, "plan", "dev", option, str(tmp_path))

    line = one_error(done, 2)
    assert f"'{tmp_path}' is a folder: give a file name to write" in line
    assert done.stdout == "", "the program ran (its table was printed)"


def test_plan_refuses_an_output_folder_given_by_its_variable(
    env: dict[str, str], tmp_path: Path
) -> None:
    done = run({**env, "AIRFLOW_PLATFORM_PLAN_MARKDOWN": str(tmp_path)}, "plan", "dev")

    assert "is a folder" in one_error(done, 2)


# --- --project-dir, the stack name, the account id -------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["plan", "dev"], ["check-dags"], ["ship-dags", "dev", "--no-check"]],
    ids=["plan", "check-dags", "ship-dags"],
)
def test_every_command_taking_project_dir_refuses_one_that_does_not_exist(
    env: dict[str, str], tmp_path: Path, args: list[str]
) -> None:
    missing = tmp_path / "no-such-project"

    done = run(env, *args, "--project-dir", str(missing))

    line = one_error(done, 2)
    assert f"folder '{missing}' does not exist" in line
    assert "the one holding Pulumi.yaml" in line


def test_project_dir_from_its_variable_must_hold_a_pulumi_yaml(
    env: dict[str, str], tmp_path: Path
) -> None:
    done = run({**env, "AIRFLOW_PLATFORM_PROJECT_DIR": str(tmp_path)}, "plan", "dev")

    line = one_error(done, 2)
    assert f"folder '{tmp_path}' holds no Pulumi.yaml" in line
    assert "AIRFLOW_PLATFORM_PROJECT_DIR" in line


@pytest.mark.parametrize("command", ["plan", "ship-dags"])
def test_an_empty_stack_name_exits_2_naming_the_allowed_names(
    env: dict[str, str], command: str
) -> None:
    done = run(env, command, "")

    line = one_error(done, 2)
    assert "the stack name is empty" in line
    assert "dev, staging, prod or pr-<number>" in line
    assert f"see `airflow-platform {command} --help`" in line


def test_a_stack_name_that_cannot_be_one_exits_2_with_the_rule(env: dict[str, str]) -> None:
    done = run(env, "plan", "../prod")

    assert "lowercase letters, digits and hyphens" in one_error(done, 2)


@pytest.mark.parametrize("account", ["12345", "1234567890123", "12345678901a", " 123456789012"])
def test_plan_refuses_an_account_id_that_is_not_12_digits(
    env: dict[str, str], account: str
) -> None:
    done = run(env, "plan", "dev", "--account-id", account)

    line = one_error(done, 2)
    assert f"account id {account!r} is not 12 digits" in line
    assert done.stdout == ""


def test_plan_refuses_a_malformed_account_id_from_its_variable(env: dict[str, str]) -> None:
    done = run({**env, "AIRFLOW_PLATFORM_ACCOUNT_ID": "acme"}, "plan", "dev")

    line = one_error(done, 2)
    assert "account id 'acme' is not 12 digits" in line
    assert "AIRFLOW_PLATFORM_ACCOUNT_ID" in line


# --- usage errors: click's, in the same one-line style ---------------------------------------


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["plan", "dev", "--jsn", "x"], "no such option: --jsn", "airflow-platform plan --help"),
        (["plan"], "missing argument 'STACK'", "airflow-platform plan --help"),
        (["ship-dags"], "missing argument 'STACK'", "airflow-platform ship-dags --help"),
        (["deploy"], "no such command 'deploy'", "airflow-platform --help"),
        (["clean-logs", "/tmp", "--older-than", "seven"], "'--older-than' (env var",
         "airflow-platform clean-logs --help"),
        (["backup", "--to", "s3://b-b-b/p"], "missing option '--from'",
         "airflow-platform backup --help"),
        (["backup", "--from", DSN, "--to", "s3://b-b-b/p", "--part-size", "4"],
         "'--part-size' (env var: 'AIRFLOW_PLATFORM_BACKUP_PART_SIZE_MIB'): Input should be "
         "greater than or equal to 5", "airflow-platform backup --help"),
        (["restore", "--to", DSN, "--force=yes"], "option '--force' does not take a value",
         "airflow-platform restore --help"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2_with_one_error_line_and_where_to_look(
    env: dict[str, str], args: list[str], message: str, hint: str
) -> None:
    done = run(env, *args)

    line = one_error(done, 2)
    assert message in line
    assert line.endswith(f"(see `{hint}`)")
    assert "╭" not in done.stderr, "typer's boxed error"


def test_no_command_prints_the_help_listing_the_commands_and_exits_2(env: dict[str, str]) -> None:
    done = run(env)

    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    for command in ("plan", "backup", "restore", "check-dags", "ship-dags", "clean-logs"):
        assert command in done.stdout


def test_the_cli_checks_stack_names_by_the_config_checks_own_rule() -> None:
    # The CLI keeps its own copy so as not to load Pulumi before every command.
    from airflow_platform.cli import common
    from airflow_platform.config import load

    config_rule = load._STACK_NAME.pattern.removeprefix("^").removesuffix("$")
    assert common._STACK_NAME.pattern == config_rule
