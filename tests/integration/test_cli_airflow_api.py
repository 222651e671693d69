"""`airflow-platform health`, `dags list` and `dags trigger` against a real Airflow of the
pinned version (tests/integration/airflow_server.py): its API server over HTTP (`--url`, as
an eks stack is reached), and the same server behind a stand-in for MWAA's InvokeRestApi (an
mwaa stack without `--url`). `--wait` follows runs that a real scheduler (LocalExecutor) runs
to the end through the API server's execution API.

The stack files are a project of the test's own (an mwaa stack `dev`, an eks stack `qa`), so
that the repository's stack files can change without changing what these tests check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from airflow_platform.cli import app
from tests.conftest import write_tree
from tests.integration.airflow_server import (
    DAG_ID,
    FAILING_DAG_ID,
    AirflowServer,
    MwaaRestApi,
)
from tests.integration.servers import free_port

runner = CliRunner()
STACK_FILE = """config:
  aws:region: eu-west-1
  airflow-platform:tier: dev
  airflow-platform:platform: {platform}
  airflow-platform:owner: data-platform
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(
        tmp_path_factory.mktemp("project"),
        {
            "Pulumi.yaml": "name: airflow-platform\nruntime: python\nstackConfigDir: stacks\n",
            "stacks/Pulumi.dev.yaml": STACK_FILE.format(platform="mwaa"),
            "stacks/Pulumi.qa.yaml": STACK_FILE.format(platform="eks"),
        },
    )


def cli(*args: str, env: dict[str, str] | None = None, secrets: tuple[str, ...] = ()) -> Any:
    """Run the CLI in-process; no secret of `secrets` may appear in anything it printed."""
    result = runner.invoke(app, list(args), env={"COLUMNS": "220", **(env or {})})
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    for secret in secrets:
        assert secret not in output, "a secret was printed"
    assert "Traceback" not in output, output
    return result


def as_admin(server: AirflowServer) -> dict[str, str]:
    return {
        "AIRFLOW_PLATFORM_API_USERNAME": "admin",
        "AIRFLOW_PLATFORM_API_PASSWORD": server.passwords["admin"],
    }


def errors_of(result: Any) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


# --- usage errors, refused before Airflow is asked ---------------------------------------------


def test_trigger_refuses_a_conf_that_is_not_json_with_exit_2() -> None:
    result = cli("dags", "trigger", "dev", DAG_ID, "--conf", "{'n': 1}",
                 "--url", f"http://127.0.0.1:{free_port()}")  # fmt: skip

    assert result.exit_code == 2
    [line] = errors_of(result)
    assert "--conf: not valid JSON" in line
    assert "give an object such as" in line


def test_trigger_refuses_a_conf_that_is_json_but_not_an_object() -> None:
    result = cli("dags", "trigger", "dev", DAG_ID, "--conf", "[1, 2]",
                 "--url", f"http://127.0.0.1:{free_port()}")  # fmt: skip

    assert result.exit_code == 2
    assert "a JSON list, not an object" in result.stderr


def test_an_eks_stack_without_url_exits_2_saying_its_api_is_inside_the_vpc(project: Path) -> None:
    result = cli("health", "qa", "--project-dir", str(project))

    assert result.exit_code == 2
    [line] = errors_of(result)
    assert "stack qa runs Airflow on eks" in line
    assert "reachable only inside the stack's VPC" in line
    assert "kubectl port-forward -n airflow svc/airflow-qa-api-server 8080:8080" in line
    assert "--url" in line


def test_health_of_a_closed_port_exits_1_saying_airflow_cannot_be_reached() -> None:
    result = cli("health", "dev", "--url", f"http://127.0.0.1:{free_port()}", "--timeout", "2")

    assert result.exit_code == 1
    assert "cannot read the health of dev's Airflow" in result.stderr
    assert "cannot connect" in result.stderr


# --- Airflow's API server up, no scheduler, triggerer or DAG processor ---------------------------


def test_health_exits_1_showing_the_scheduler_unhealthy_while_no_scheduler_runs(
    airflow_stopped: AirflowServer,
) -> None:
    result = cli("health", "dev", "--url", airflow_stopped.url)

    assert result.exit_code == 1
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines()
            if line.count("│") >= 4}  # fmt: skip
    assert "healthy" in rows["metadatabase"]
    assert "unhealthy" in rows["scheduler"] or "none reported" in rows["scheduler"]
    [line] = errors_of(result)
    assert "scheduler" in line
    assert "not healthy" in line


def test_dags_list_shows_the_dags_of_the_test_folder_with_schedule_and_tags(
    airflow_server: AirflowServer,
) -> None:
    result = cli("dags", "list", "dev", "--url", airflow_server.url, env=as_admin(airflow_server),
                 secrets=(airflow_server.passwords["admin"],))  # fmt: skip

    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
            for line in result.stdout.splitlines() if line.count("│") >= 6}  # fmt: skip
    assert rows[DAG_ID][:3] == ["no", "Never, external triggers only", "probe, test"]
    assert rows[FAILING_DAG_ID][:3] == ["no", "0 0 * * *", "test"]  # how Airflow shows @daily
    assert "DAGs of dev" in result.stdout


def test_dags_list_without_credentials_exits_2_saying_how_to_authenticate(
    airflow_server: AirflowServer,
) -> None:
    result = cli("dags", "list", "dev", "--url", airflow_server.url)

    assert result.exit_code == 2
    [line] = errors_of(result)
    assert "answered 401" in line
    assert "pass --token, or --username with AIRFLOW_PLATFORM_API_PASSWORD" in line


def test_a_refused_password_exits_2_and_is_never_printed(airflow_server: AirflowServer) -> None:
    wrong = "not-the-Pw-4711"
    env = {"AIRFLOW_PLATFORM_API_USERNAME": "admin", "AIRFLOW_PLATFORM_API_PASSWORD": wrong}

    result = cli("dags", "list", "dev", "--url", airflow_server.url, env=env, secrets=(wrong,))

    assert result.exit_code == 2
    assert "cannot log in" in result.stderr
    assert "'admin'" in result.stderr


def test_trigger_with_conf_creates_a_run_visible_through_the_api_without_printing_the_token(
    airflow_server: AirflowServer,
) -> None:
    token = airflow_server.token("admin")

    result = cli("dags", "trigger", "dev", DAG_ID, "--conf", '{"n": 3, "who": "cli"}',
                 "--url", airflow_server.url, env={"AIRFLOW_PLATFORM_API_TOKEN": token},
                 secrets=(token,))  # fmt: skip

    assert result.exit_code == 0, result.output
    run_id = result.stdout.split(" run ", 1)[1].split(" (", 1)[0]
    [run] = [run for run in airflow_server.runs(DAG_ID) if run["dag_run_id"] == run_id]
    assert run["conf"] == {"n": 3, "who": "cli"}
    assert run["run_type"] == "manual"
    assert run["logical_date"] is None


def test_trigger_of_a_dag_airflow_does_not_know_exits_1_naming_it(
    airflow_server: AirflowServer,
) -> None:
    result = cli("dags", "trigger", "dev", "no_such_dag", "--url", airflow_server.url,
                 env=as_admin(airflow_server))  # fmt: skip

    assert result.exit_code == 1
    [line] = errors_of(result)
    assert "knows no DAG 'no_such_dag'" in line
    assert "airflow-platform dags list dev" in line


def test_a_viewer_may_list_but_not_trigger(airflow_server: AirflowServer) -> None:
    env = {"AIRFLOW_PLATFORM_API_USERNAME": "viewer",
           "AIRFLOW_PLATFORM_API_PASSWORD": airflow_server.passwords["viewer"]}  # fmt: skip
    before = len(airflow_server.runs(DAG_ID))

    listed = cli("dags", "list", "dev", "--url", airflow_server.url, env=env)
    refused = cli("dags", "trigger", "dev", DAG_ID, "--url", airflow_server.url, env=env)

    assert listed.exit_code == 0, listed.output
    assert refused.exit_code == 1
    assert "answered 403" in refused.stderr
    assert len(airflow_server.runs(DAG_ID)) == before


def test_dags_list_of_an_mwaa_stack_goes_through_invoke_rest_api(
    mwaa_api: MwaaRestApi, project: Path
) -> None:
    result = cli("dags", "list", "dev", "--project-dir", str(project))

    assert result.exit_code == 0, result.output
    assert DAG_ID in result.stdout
    assert "MWAA environment airflow-dev" in result.stdout
    [call] = mwaa_api.calls
    assert call["Name"] == "airflow-dev"
    assert (call["Method"], call["Path"]) == ("GET", "/dags")
    assert call["QueryParameters"]["order_by"] == "dag_id"


# --- a running Airflow: scheduler (LocalExecutor), triggerer and DAG processor -------------------


def test_health_exits_0_showing_every_component_healthy(airflow_running: AirflowServer) -> None:
    result = cli("health", "dev", "--url", airflow_running.url)

    assert result.exit_code == 0, result.output
    for component in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        [row] = [line for line in result.stdout.splitlines() if f"│ {component} " in line]
        assert "healthy" in row
        assert "unhealthy" not in row
    assert "dev: healthy" in result.stdout


def test_health_of_an_mwaa_stack_goes_through_invoke_rest_api(
    airflow_running: AirflowServer, mwaa_api: MwaaRestApi, project: Path
) -> None:
    result = cli("health", "dev", "--project-dir", str(project))

    assert result.exit_code == 0, result.output
    assert mwaa_api.calls == [{"Name": "airflow-dev", "Method": "GET", "Path": "/monitor/health"}]


def test_trigger_wait_follows_the_run_to_success_and_exits_0(
    airflow_running: AirflowServer,
) -> None:
    result = cli("dags", "trigger", "dev", DAG_ID, "--conf", '{"n": 7}', "--wait",
                 "--poll-interval", "0.5", "--wait-timeout", "120", "--url", airflow_running.url,
                 env=as_admin(airflow_running))  # fmt: skip

    assert result.exit_code == 0, result.output
    run_id = result.stdout.split(" run ", 1)[1].split(" (", 1)[0]
    assert f"run {run_id} of {DAG_ID}: success" in result.stdout
    assert "-> success" in result.stderr  # the progress shown on the way
    status, run = airflow_running.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
    assert status == 200
    assert (run["state"], run["conf"]) == ("success", {"n": 7})
    xcom_path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/echo_conf/xcomEntries"
    status, xcom = airflow_running.request("GET", f"{xcom_path}/return_value")
    assert status == 200, xcom
    assert xcom["value"] == {"n": 7}  # what the task returned: the conf it was given


def test_trigger_wait_through_mwaa_exits_1_when_the_run_fails(
    airflow_running: AirflowServer, mwaa_api: MwaaRestApi, project: Path
) -> None:
    result = cli("dags", "trigger", "dev", FAILING_DAG_ID, "--wait", "--poll-interval", "0.5",
                 "--wait-timeout", "120", "--project-dir", str(project))  # fmt: skip

    assert result.exit_code == 1, result.output
    [line] = errors_of(result)
    assert f"of {FAILING_DAG_ID} ended failed" in line
    paths = [call["Path"] for call in mwaa_api.calls]
    assert paths[:2] == [f"/dags/{FAILING_DAG_ID}", f"/dags/{FAILING_DAG_ID}/dagRuns"]
    # A manual run id holds `+` and `:`; within InvokeRestApi's 64 characters the run is
    # looked up by a search of every DAG's runs.
    assert set(paths[2:]) == {"/dags/~/dagRuns"}
    assert all(len(path) <= MwaaRestApi.MAX_PATH for path in paths)
