"""`airflow-platform dev run`: against a stand-in of the local Airflow's REST API on loopback
(how each outcome is shown and which exit code it gives), then against a real `dev up`
environment (the log-cleanup DAG run to success).

The stand-in answers the calls `dev run` makes with the shapes of the pinned Airflow's
OpenAPI spec (airflow/api_fastapi/core_api/openapi/v2-rest-api-generated.yaml): `POST
/auth/token`, `GET` and `PATCH /api/v2/dags/{dag_id}`, `POST .../dagRuns`, `GET
.../dagRuns/{run_id}` and `GET .../dagRuns/{run_id}/taskInstances`. Each look at the run moves
it one frame along a script the test gives: the run's state and its task instances then. The
state file is the one `dev up` writes (devenv.state), naming this test process as the running
API server, so it counts as alive.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from airflow_platform.cli import app
from airflow_platform.devenv.state import DevState, Layout, Proc, write_state
from tests.http_standin import send_json

runner = CliRunner()
PASSWORD = "local-Pw-not-to-print"
RUN_ID = "manual__2026-01-31T12:00:00.123456+00:00"
TOKEN = "stand-in-jwt"


def ti(task_id: str, state: str | None, try_number: int = 1, **fields: Any) -> dict[str, Any]:
    """A TaskInstanceResponse's fields that `dev run` reads."""
    return {"task_id": task_id, "state": state, "try_number": try_number, "map_index": -1,
            "start_date": "2026-01-31T12:00:01Z" if state else None, "end_date": None,
            "duration": 1.5 if state in ("success", "failed") else None, **fields}  # fmt: skip


class StandIn(ThreadingHTTPServer):
    """The local Airflow's REST API, following `frames`: (run state, task instances)."""

    def __init__(self, dags: dict[str, bool], frames: list[tuple[str, list[dict[str, Any]]]]):
        self.dags = dags  # dag_id -> is_paused
        self.frames = frames
        self.looks = 0
        self.calls: list[tuple[str, str, Any]] = []
        super().__init__(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def frame(self) -> tuple[str, list[dict[str, Any]]]:
        return self.frames[min(self.looks, len(self.frames) - 1)]

    def conf_sent(self) -> Any:
        [body] = [body for method, path, body in self.calls
                  if method == "POST" and path.endswith("/dagRuns")]  # fmt: skip
        return body


class _Handler(BaseHTTPRequestHandler):
    server: StandIn

    def _route(self, method: str) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.loads(raw) if raw else None
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        self.server.calls.append((method, self.path, body))
        if path == "/auth/token":
            if body == {"username": "admin", "password": PASSWORD}:
                return self._answer(201, {"access_token": TOKEN})
            return self._answer(401, {"detail": "Invalid credentials"})
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(401, {"detail": "Not authenticated"})
        parts = path.removeprefix("/api/v2/").split("/")
        if parts[0] != "dags" or parts[1] not in self.server.dags:
            return self._answer(404, {"detail": "The Dag was not found"})
        dag_id = parts[1]
        if len(parts) == 2 and method == "GET":
            return self._answer(200, {"dag_id": dag_id, "is_paused": self.server.dags[dag_id]})
        if len(parts) == 2 and method == "PATCH":
            assert urllib.parse.parse_qs(url.query) == {"update_mask": ["is_paused"]}
            self.server.dags[dag_id] = body["is_paused"]
            return self._answer(200, {"dag_id": dag_id, "is_paused": body["is_paused"]})
        if parts[2:] == ["dagRuns"] and method == "POST":
            return self._answer(200, {"dag_run_id": RUN_ID, "state": "queued", "conf": body})
        if parts[2:] == ["dagRuns", RUN_ID]:
            self.server.looks += 1
            state, _ = self.server.frame()
            return self._answer(200, {"dag_id": dag_id, "dag_run_id": RUN_ID, "state": state})
        if parts[2:] == ["dagRuns", RUN_ID, "taskInstances"]:
            _, tis = self.server.frame()
            rows = [{"dag_id": dag_id, "dag_run_id": RUN_ID, **row} for row in tis]
            query = urllib.parse.parse_qs(url.query)
            offset, limit = int(query["offset"][0]), int(query["limit"][0])
            page = rows[offset : offset + min(limit, 100)]  # Airflow's default maximum page
            return self._answer(200, {"task_instances": page, "total_entries": len(rows)})
        return self._answer(404, {"detail": "Not Found"})

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def _answer(self, status: int, body: Any) -> None:
        send_json(self, status, body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def standin() -> Iterator[Any]:
    """Factory: a started stand-in; stopped after the test."""
    started: list[StandIn] = []

    def start(frames: list[tuple[str, list[dict[str, Any]]]], paused: bool = False) -> StandIn:
        server = StandIn({"etl": paused}, frames)
        server._thread.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def write_dev_state(home: Path, url: str, api_server: Proc | None = None) -> Layout:
    """The state file `dev up` leaves, its API server this process (alive) by default."""
    layout = Layout.of(home).create()
    layout.password_file.write_text(json.dumps({"admin": PASSWORD}))
    proc = api_server or Proc.of(os.getpid(), layout.log("api-server"))
    state = DevState(
        home=str(home), dags_folder=str(home / "dags"), api_url=url, username="admin",
        password_file=str(layout.password_file), ports={}, moto_endpoint="", slack_url="",
        pg_dsn="", pg_password_file="", processes={"api-server": proc},
    )  # fmt: skip
    write_state(layout, state)
    return layout


def cli(*args: str) -> Any:
    result = runner.invoke(app, ["dev", "run", *args], env={"COLUMNS": "160"})
    output = result.stdout + result.stderr
    assert PASSWORD not in output, "the admin password was printed"
    assert TOKEN not in output, "the token was printed"
    assert "Traceback" not in output, output
    return result


def table_rows(text: str) -> dict[str, list[str]]:
    """The last table's rows by task id (and map index), as printed (Live leaves its last
    frame on the terminal)."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) >= 4 and cells[0] != "task id":
            rows[cells[0] + (f"[{cells[1]}]" if len(cells) == 5 else "")] = cells
    return rows


# --- usage and environment: exit 2 before anything runs -----------------------------------------


def test_dev_run_without_a_state_file_exits_2_naming_it_and_dev_up(tmp_path: Path) -> None:
    result = cli("etl", "--home", str(tmp_path))

    assert result.exit_code == 2
    assert f"{tmp_path.resolve() / '.dev' / 'state.json'} does not exist" in result.stderr
    assert "airflow-platform dev up" in result.stderr


def test_dev_run_exits_2_when_the_processes_of_the_state_file_are_gone(
    tmp_path: Path, standin: Any
) -> None:
    server = standin([("success", [])])
    # This process's pid with another start time: the process dev up started is gone.
    gone = Proc(os.getpid(), 1, str(tmp_path / "api-server.log"))
    layout = write_dev_state(tmp_path, server.url, gone)

    result = cli("etl", "--home", str(tmp_path))

    assert result.exit_code == 2
    assert f"the local Airflow of {layout.state} is not running" in result.stderr
    assert f"api-server (pid {os.getpid()}) gone" in result.stderr
    assert server.calls == []


@pytest.mark.parametrize(
    ("conf", "says"),
    [("{'n': 1}", "--conf: not valid JSON"), ("[1, 2]", "--conf: a JSON list, not an object")],
)
def test_dev_run_refuses_a_conf_that_is_not_a_json_object_with_exit_2(
    tmp_path: Path, standin: Any, conf: str, says: str
) -> None:
    server = standin([("success", [])])
    write_dev_state(tmp_path, server.url)

    result = cli("etl", "--conf", conf, "--home", str(tmp_path))

    assert result.exit_code == 2
    assert says in result.stderr
    assert server.calls == []


def test_dev_run_of_a_dag_the_local_airflow_does_not_know_exits_2_naming_it(
    tmp_path: Path, standin: Any
) -> None:
    server = standin([("success", [])])
    write_dev_state(tmp_path, server.url)

    result = cli("no_such_dag", "--home", str(tmp_path))

    assert result.exit_code == 2
    assert "the local Airflow knows no DAG 'no_such_dag'" in result.stderr


# --- following a run ----------------------------------------------------------------------------


def test_dev_run_follows_a_run_to_success_in_a_table_and_exits_0(
    tmp_path: Path, standin: Any
) -> None:
    server = standin([
        ("running", [ti("extract", "running"), ti("load", None, try_number=0)]),
        ("success", [ti("extract", "success"), ti("load", "success")]),
    ])  # fmt: skip
    write_dev_state(tmp_path, server.url)

    result = cli("etl", "--conf", '{"day": "2026-01-31"}', "--home", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert server.conf_sent() == {"logical_date": None, "conf": {"day": "2026-01-31"}}
    assert f"triggered etl: run {RUN_ID}" in result.stderr
    assert f"etl run {RUN_ID}: success" in result.stdout
    rows = table_rows(result.stdout)
    assert rows["extract"] == ["extract", "success", "1", "1.5 s"]
    assert rows["load"] == ["load", "success", "1", "1.5 s"]
    assert f"run {RUN_ID} of etl: success" in result.stdout
    assert "was paused" not in result.stderr


def test_dev_run_unpauses_a_paused_dag_and_says_so(tmp_path: Path, standin: Any) -> None:
    server = standin([("success", [ti("extract", "success")])], paused=True)
    write_dev_state(tmp_path, server.url)

    result = cli("etl", "--home", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert "etl was paused: unpaused it" in result.stderr
    patches = [(path, body) for method, path, body in server.calls if method == "PATCH"]
    assert patches == [("/api/v2/dags/etl?update_mask=is_paused", {"is_paused": False})]
    assert server.dags["etl"] is False


def test_dev_run_of_a_failing_run_exits_1_listing_failed_tasks_and_their_logs(
    tmp_path: Path, standin: Any
) -> None:
    server = standin([
        ("running", [ti("split", "success"), ti("work", "running", map_index=0),
                     ti("work", "running", map_index=1)]),
        ("failed", [ti("split", "success"), ti("work", "success", map_index=0),
                    ti("work", "failed", try_number=2, map_index=1),
                    ti("report", "upstream_failed", try_number=0)]),
    ])  # fmt: skip
    layout = write_dev_state(tmp_path, server.url)
    log = (layout.logs / "tasks" / "dag_id=etl" / f"run_id={RUN_ID}" / "task_id=work"
           / "map_index=1" / "attempt=2.log")  # fmt: skip
    log.parent.mkdir(parents=True)
    log.write_text("RuntimeError: boom\n")

    result = cli("etl", "--home", str(tmp_path))

    assert result.exit_code == 1, result.output
    rows = table_rows(result.stdout)
    assert rows["work[1]"] == ["work", "1", "failed", "2", "1.5 s"]  # the map index column
    assert rows["work[0]"][2] == "success"
    assert f"run {RUN_ID} of etl ended failed" in result.stderr
    page = f"{server.url}/dags/etl/runs/{urllib.parse.quote(RUN_ID, safe='')}/tasks/work/mapped/1"
    assert f"work[1] failed (try 2): log at {page} and {log}" in result.stderr
    assert "not run (upstream failed): report" in result.stderr


def test_dev_run_shows_every_instance_of_a_task_mapped_over_more_than_a_page(
    tmp_path: Path, standin: Any
) -> None:
    mapped = [ti("work", "success", map_index=index) for index in range(250)]
    server = standin([("success", mapped)])
    write_dev_state(tmp_path, server.url)

    result = cli("etl", "--home", str(tmp_path))

    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout)
    assert {key for key in rows if key.startswith("work[")} == {f"work[{i}]" for i in range(250)}


def test_dev_run_gives_up_after_its_timeout_with_exit_1_saying_the_run_goes_on(
    tmp_path: Path, standin: Any
) -> None:
    server = standin([("running", [ti("slow", "running")])])
    write_dev_state(tmp_path, server.url)

    result = cli("etl", "--timeout", "2s", "--home", str(tmp_path))

    assert result.exit_code == 1, result.output
    assert f"run {RUN_ID} of etl is still running after 2 s (the run goes on)" in result.stderr


def test_ctrl_c_stops_following_with_exit_130_and_says_the_run_goes_on(
    tmp_path: Path, standin: Any
) -> None:
    server = standin([("running", [ti("slow", "running")])])
    write_dev_state(tmp_path, server.url)
    program = shutil.which("airflow-platform", path=str(Path(sys.executable).parent))
    assert program, "airflow-platform is not installed in the test's venv"

    process = subprocess.Popen(
        [program, "dev", "run", "etl", "--home", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while server.looks < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)

    assert process.returncode == 130, out + err
    assert f"stopped following run {RUN_ID} of etl: the run goes on" in err
    assert "Traceback" not in err
