"""`airflow-platform dev up`: a real local Airflow (the pinned version from .venv) in a
temporary `--home`, on free loopback ports, its DAG folder a copy of the repository's
`dags/` (so one test can edit a DAG file while it runs). One environment for the module,
started once through the command line with `--detach`; the last test stops it with
`dev down` and checks that nothing it started is left.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from airflow_platform.devenv import processes
from airflow_platform.devenv.down import stop
from airflow_platform.devenv.run import connect, read_local_airflow
from airflow_platform.devenv.services import port_open
from airflow_platform.devenv.state import DevState, Layout, Proc, read_state
from airflow_platform.devenv.up import DevEnv, StartResult, health, unhealthy
from tests.integration.test_dev_run import table_rows

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("airflow-platform"))
START_TIMEOUT = 300
"""`dev up --timeout`: first start here takes about a minute (a fresh database migrated)."""
PARSE_WAIT = 90
"""The DAG processor re-parses every 5 s locally; allowing for a loaded 2-core machine."""
REPOSITORY_DAG_FILES = sorted(path.name for path in (ROOT / "dags").glob("*.py"))


def cli(*args: str, timeout: float = START_TIMEOUT + 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)  # fmt: skip


@dataclass
class Running:
    home: Path
    dags: Path
    state: DevState
    output: str
    env: DevEnv


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("dev-env")
    home, dags = root / "home", root / "dags"
    shutil.copytree(ROOT / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "dbt").symlink_to(ROOT / "dbt")  # the dbt DAG finds its project beside dags/
    try:
        done = cli("dev", "up", "--detach", "--home", str(home), "--dags", str(dags),
                   "--timeout", str(START_TIMEOUT))  # fmt: skip
        assert done.returncode == 0, done.stderr
        state = read_state(Layout.of(home))
        assert state is not None
        env = DevEnv(home, dags)
        env.result = StartResult(state, True, 0.0, None)  # type: ignore[arg-type]
        yield Running(home, dags, state, done.stdout + done.stderr, env)
    finally:
        stop(home, grace=10)


def _listed(env: DevEnv) -> list[dict[str, Any]]:
    answer = env.api().transport.request("GET", "/dags", query={"limit": 100})
    assert answer.ok, answer.body
    return answer.body["dags"]


def _dags(env: DevEnv) -> dict[str, list[str]]:
    return {dag["dag_id"]: sorted(tag["name"] for tag in dag["tags"]) for dag in _listed(env)}


def test_dev_up_reports_every_component_healthy_when_it_returns(running: Running) -> None:
    answer = health(running.state.api_url)

    assert unhealthy(answer) == [], answer
    assert running.state.api_url in running.output


def test_dev_up_prints_the_generated_admin_password_once_at_first_start(running: Running) -> None:
    password = running.state.password()

    assert running.output.count(password) == 1, running.output
    assert Path(running.state.password_file).stat().st_mode & 0o077 == 0
    assert (Layout.of(running.home).jwt_secret.stat().st_mode & 0o077) == 0


def test_dev_up_prints_what_differs_from_the_dev_tier(running: Running) -> None:
    for option in ("core.executor", "core.auth_manager", "logging.remote_logging"):
        assert option in running.output, running.output


def test_the_repository_dags_are_listed_with_no_import_errors(running: Running) -> None:
    # Every component healthy does not mean every file parsed yet: the first pass takes a
    # few seconds more.
    deadline = time.monotonic() + PARSE_WAIT
    files = sorted({dag["relative_fileloc"] for dag in _listed(running.env)})
    while files != REPOSITORY_DAG_FILES and time.monotonic() < deadline:
        time.sleep(2)
        files = sorted({dag["relative_fileloc"] for dag in _listed(running.env)})
    errors = running.env.api().transport.request("GET", "/importErrors").body

    assert files == REPOSITORY_DAG_FILES
    assert errors["total_entries"] == 0, errors


def test_the_buckets_connections_and_variables_the_dags_read_are_in_moto(
    running: Running,
) -> None:
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name="eu-west-1")  # fmt: skip
    s3 = session.client("s3", endpoint_url=running.state.moto_endpoint)
    secrets = session.client("secretsmanager", endpoint_url=running.state.moto_endpoint)

    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    names = {s["Name"] for s in secrets.list_secrets()["SecretList"]}
    slack = json.loads(
        secrets.get_secret_value(SecretId="airflow/dev/connections/slack_alerts")["SecretString"]
    )

    assert {"airflow-dev-local-backups", "airflow-dev-local-log-archive"} <= buckets
    assert {f"airflow/dev/connections/{c}" for c in ("metadata_db", "slack_alerts", "dwh")} <= names
    assert "airflow/dev/variables/mode" in names
    assert slack["password"] == running.state.slack_url


def test_the_slack_sink_prints_what_is_posted_to_its_webhook(running: Running) -> None:
    body = json.dumps({"text": "probe from the test"}).encode()
    request = urllib.request.Request(running.state.slack_url, body,
                                     {"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.read() == b"ok"

    log = Path(running.state.processes["slack"].log).read_text()
    assert "slack: " in log
    assert "probe from the test" in log


def test_dev_run_of_the_log_cleanup_dag_succeeds(running: Running) -> None:
    # In this module's environment (one real local Airflow for every test that needs one).
    done = subprocess.run(
        [CLI, "dev", "run", "log_cleanup", "--conf", '{"dry_run": true}', "--timeout", "5m",
         "--home", str(running.home)],
        capture_output=True, text=True, timeout=420, check=False,
        env={**os.environ, "COLUMNS": "160"},
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    run_id = done.stderr.split("triggered log_cleanup: run ", 1)[1].split()[0]
    assert f"run {run_id} of log_cleanup: success" in done.stdout
    rows = table_rows(done.stdout)
    assert rows["clean_local_logs"][1:3] == ["success", "1"]

    api = connect(read_local_airflow(running.home))
    run = api.dag_run("log_cleanup", run_id)
    assert (run["state"], run["conf"]) == ("success", {"dry_run": True})


def test_a_second_dev_up_says_one_runs_and_exits_when_one_is_running(running: Running) -> None:
    done = cli("dev", "up", "--detach", "--home", str(running.home), timeout=120)

    assert done.returncode == 1
    assert "already runs" in done.stderr
    assert running.state.api_url in done.stderr
    assert read_state(Layout.of(running.home)) == running.state


def test_dev_status_exits_0_when_every_component_is_healthy(running: Running) -> None:
    done = cli("dev", "status", "--home", str(running.home), timeout=60)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "scheduler healthy" in done.stdout


def test_a_dag_file_edited_while_running_is_reparsed_when_saved(running: Running) -> None:
    target = running.dags / "dependency_target.py"
    source = target.read_text()
    assert 'tags=["platform", "dependencies"]' in source
    target.write_text(source.replace('tags=["platform", "dependencies"]',
                                     'tags=["platform", "dependencies", "edited"]'))  # fmt: skip
    (running.dags / "dev_probe.py").write_text(
        '"""A DAG added while the local Airflow runs."""\n\n'
        "from datetime import UTC, datetime\n\nfrom airflow.sdk import dag, task\n\n\n"
        "@dag(schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC), catchup=False, "
        'tags=["probe"])\ndef dev_probe():\n    @task\n    def noop():\n        pass\n\n'
        "    noop()\n\n\ndev_probe()\n"
    )

    deadline = time.monotonic() + PARSE_WAIT
    dags = _dags(running.env)
    while time.monotonic() < deadline and not (
        "edited" in dags.get("dependency_target", []) and "dev_probe" in dags
    ):
        time.sleep(2)
        dags = _dags(running.env)

    assert "edited" in dags["dependency_target"], dags
    assert "dev_probe" in dags, sorted(dags)


def test_dev_down_leaves_no_process_or_port_behind(running: Running) -> None:
    state = running.state
    layout = Layout.of(running.home)

    done = cli("dev", "down", "--home", str(running.home), timeout=120)

    assert done.returncode == 0, done.stderr
    left = {name: proc.pid for name, proc in state.processes.items() if proc.alive()}
    in_groups = {name: proc.group_members() for name, proc in state.processes.items()}
    assert left == {}
    assert {name: pids for name, pids in in_groups.items() if pids} == {}
    assert [name for name, port in state.ports.items() if port_open(port)] == []
    assert not layout.state.exists()
    assert (layout.postgres / "data" / "PG_VERSION").exists()  # the database is kept


# --- stopping: only what was recorded --------------------------------------------------------


def test_stop_leaves_a_process_alone_when_its_start_time_differs(tmp_path: Path) -> None:
    proc = processes.spawn(["sleep", "30"], {}, tmp_path / "sleep.log")
    stranger = Proc(proc.pid, proc.start_time + 1, proc.log)  # the pid, reused by another
    try:
        processes.stop([stranger], grace=0.5)

        assert proc.alive()
    finally:
        processes.stop([proc], grace=2)
    assert not proc.alive()
