"""A real Airflow of the pinned version on loopback, for the health probe and the CLI's
REST API commands; and a stand-in for MWAA's InvokeRestApi in front of it.

* `AirflowServer`: `airflow api-server` (the pinned Airflow from .venv) on a free port, its
  metadata database a fresh one on the session's embedded PostgreSQL (`airflow db migrate`),
  its DAG folder a temporary one holding two small DAGs (`airflow dags reserialize` writes
  them to the database, so the API lists them without a DAG processor), SimpleAuthManager
  with two users whose passwords the test knows. `start_components()` starts the rest of a
  running Airflow (scheduler with the LocalExecutor, triggerer, DAG processor), which really
  heartbeat and really run the triggered DAGs through the API server's execution API;
  `stop_components()` stops them (SIGTERM: each marks its job finished, so the health
  endpoint reports it unhealthy at once). One server serves the whole session; a test says
  which state it needs and the server changes only when it must.
* `MwaaRestApi`: MWAA's `POST /restapi/<Name>` (InvokeRestApi) as botocore's model and the
  MWAA API Reference describe it, forwarding `Method`, `Path` (relative to /api/v2),
  `QueryParameters` and `Body` to the real API server as an Airflow user and answering
  `RestApiStatusCode`/`RestApiResponse`, Airflow's 4xx and 5xx as RestApiClientException and
  RestApiServerException. moto has no MWAA. Clients reach it as they would AWS, through
  `AWS_ENDPOINT_URL_MWAA` with `AWS_DISABLE_HOST_PREFIX_INJECTION` (MWAA's API prefixes the
  host with `env.`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from airflow_platform.devenv.processes import tail
from airflow_platform.devenv.up import unhealthy
from tests.integration.servers import PgServer, free_port

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
DAG_ID = "probe_target"
FAILING_DAG_ID = "probe_fails"
USERS = {"admin": "admin", "viewer": "viewer"}
"""SimpleAuthManager users and their Airflow roles."""
COMPONENTS = ("scheduler", "triggerer", "dag-processor")

DAGS = {
    f"{DAG_ID}.py": f"""
from datetime import datetime

from airflow.sdk import dag, task


@dag(schedule=None, start_date=datetime(2024, 1, 1), catchup=False, tags=["probe", "test"])
def {DAG_ID}():
    @task
    def echo_conf(**context):
        return context["dag_run"].conf

    echo_conf()


{DAG_ID}()
""",
    f"{FAILING_DAG_ID}.py": f"""
from datetime import datetime

from airflow.sdk import dag, task


@dag(schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False, tags=["test"])
def {FAILING_DAG_ID}():
    @task(retries=0)
    def fail():
        raise RuntimeError("this DAG fails on purpose")

    fail()


{FAILING_DAG_ID}()
""",
}


class AirflowServer:
    """The pinned Airflow's API server on 127.0.0.1, with its own home and database."""

    def __init__(self, pg: PgServer, root: Path) -> None:
        self.pg = pg
        self.root = root
        self.home = root / "home"
        self.dags = root / "dags"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = f"airflow_api_{uuid.uuid4().hex[:8]}"
        self.passwords = {user: secrets.token_urlsafe(12) for user in USERS}
        self.api: subprocess.Popen[bytes] | None = None
        self.components: dict[str, subprocess.Popen[bytes]] = {}
        self._tokens: dict[str, str] = {}

    # --- the environment every Airflow process of this server runs in --------------------

    def environment(self) -> dict[str, str]:
        # Not the test process's Airflow settings (tests/conftest.py points those at SQLite
        # and the repository's DAGs): this Airflow's own, and nothing else of Airflow's.
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
            and name != "AIRFLOW_HOME"
        }
        sql = self.pg.dsn(self.database).replace("postgresql://", "postgresql+psycopg2://")
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple."
                "simple_auth_manager.SimpleAuthManager",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                    f"{user}:{role}" for user, role in USERS.items()
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
                    self.home / "passwords.json"
                ),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql,
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            }
        )
        return env

    def airflow(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run the pinned `airflow` CLI against this server's database; fails the test with
        its output if the command fails."""
        done = subprocess.run(
            [AIRFLOW, *args], env=self._env, capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> AirflowServer:
        self.home.mkdir(parents=True)
        self.dags.mkdir(parents=True)
        for name, source in DAGS.items():
            (self.dags / name).write_text(source)
        (self.home / "passwords.json").write_text(json.dumps(self.passwords))
        self._env = self.environment()
        self.pg.create_database(self.database)
        self.airflow("db", "migrate")
        self.api = self._spawn("api-server", "--host", "127.0.0.1", "--port", str(self.port),
                               "--workers", "1")  # fmt: skip
        # While the API server starts: the DAGs into the database, as a DAG processor would.
        self.airflow("dags", "reserialize")
        self._wait_until(lambda: self.health() is not None, 60, "the API server to answer")
        return self

    def stop(self) -> None:
        """Everything stopped at once (SIGTERM, then SIGKILL after a grace period): the
        database goes with the session, so nothing needs marking finished."""
        _stop_all([*self.components.values(), *([self.api] if self.api else [])], timeout=5)
        self.components = {}
        self.api = None

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.root / f"{args[0]}.log").open("ab")
        # Its own session: a process group of its own, so that stopping it can reach the
        # children it starts (the LocalExecutor's workers, the triggerer's runner) by group.
        return subprocess.Popen(
            [AIRFLOW, *args], env=self._env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def _wait_until(self, done: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return
            for name, process in [("api-server", self.api), *self.components.items()]:
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited ({process.returncode}):\n"
                                       f"{tail(self.root / f'{name}.log', 40)}")  # fmt: skip
            time.sleep(0.2)
        logs = "\n".join(f"--- {n}\n{tail(self.root / f'{n}.log', 15)}"
                         for n in ("api-server", *self.components))  # fmt: skip
        raise RuntimeError(f"gave up waiting {timeout:g} s for {what}:\n{logs}")

    # --- the rest of Airflow: scheduler, triggerer, DAG processor ---------------------------

    def start_components(self) -> None:
        """Every component running and reported healthy (no-op when they already are)."""
        if not self.components:
            self.components = {name: self._spawn(name) for name in COMPONENTS}
        self._wait_until(self._all_healthy, 90, "the scheduler, triggerer and DAG processor")

    def stop_components(self) -> None:
        """No component running, and the health endpoint saying so."""
        _stop_all(list(self.components.values()), timeout=15)
        self.components = {}
        if self.api is not None:
            self._wait_until(
                lambda: (self.health() or {}).get("scheduler", {}).get("status") != "healthy",
                30,
                "the scheduler to be reported unhealthy",
            )

    def _all_healthy(self) -> bool:
        return not unhealthy(self.health())

    # --- talking to it --------------------------------------------------------------------

    def health(self) -> dict[str, Any] | None:
        """The health answer, or None while nothing answers."""
        try:
            status, body = self.request("GET", "/api/v2/monitor/health", user=None)
        except OSError:
            return None
        return body if status == 200 else None

    def token(self, user: str = "admin") -> str:
        """A JWT of `user`, from the auth manager's POST /auth/token."""
        if user not in self._tokens:
            status, body = self.request(
                "POST", "/auth/token", {"username": user, "password": self.passwords[user]},
                user=None,
            )  # fmt: skip
            assert status == 201, body
            self._tokens[user] = body["access_token"]
        return self._tokens[user]

    def request(
        self, method: str, path: str, body: Any = None, user: str | None = "admin"
    ) -> tuple[int, Any]:
        """A request of the test's own (not the code under test's), as `user`."""
        headers = {"Content-Type": "application/json"}
        if user is not None:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                raw = answer.read()
                return answer.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                return error.code, json.loads(raw)
            except ValueError:
                return error.code, raw.decode(errors="replace")

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        status, body = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")
        assert status == 200, body
        return body["dag_runs"]


def _signal(process: subprocess.Popen[bytes], signum: int) -> None:
    """`signum` to the Airflow process itself, which stops its own children in order."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)


def _stop_all(processes: list[subprocess.Popen[bytes]], timeout: float) -> None:
    """SIGTERM to each process at once (each stops its own children in order), then SIGKILL
    to the whole group (its session: the process and every child it started) of any still
    running after `timeout` seconds, and to whatever of a group is left behind."""
    for process in processes:
        _signal(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@pytest.fixture(scope="session")
def airflow_server(
    pg: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowServer]:
    server = AirflowServer(pg, tmp_path_factory.mktemp("airflow-api"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def airflow_running(airflow_server: AirflowServer) -> AirflowServer:
    """The server with its scheduler, triggerer and DAG processor running and healthy."""
    airflow_server.start_components()
    return airflow_server


@pytest.fixture
def airflow_stopped(airflow_server: AirflowServer) -> AirflowServer:
    """The server alone: no scheduler, triggerer or DAG processor runs."""
    airflow_server.stop_components()
    return airflow_server


# --- MWAA's InvokeRestApi in front of it -----------------------------------------------------


class MwaaRestApi(ThreadingHTTPServer):
    """MWAA environment `environment`'s InvokeRestApi, calling `server` as `user` (the
    Airflow role IAM would map the caller to)."""

    MAX_PATH = 64  # InvokeRestApi's Path length limit (MWAA API Reference)

    def __init__(self, environment: str, server: AirflowServer, user: str = "admin") -> None:
        self.environment = environment
        self.airflow = server
        self.user = user
        self.calls: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", 0), _MwaaHandler)
        # A short poll: shutdown() waits for the serving loop's next look.
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> MwaaRestApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def client_environment(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL_MWAA": self.endpoint, "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}


class _MwaaHandler(BaseHTTPRequestHandler):
    server: MwaaRestApi

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        name = urllib.parse.unquote(self.path.removeprefix("/restapi/"))
        if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
            self._error(403, "AccessDeniedException", {"Message": "request not signed"})
            return
        if not self.path.startswith("/restapi/") or name != self.server.environment:
            self._error(404, "ResourceNotFoundException",
                        {"message": f"Environment {name} not found"})  # fmt: skip
            return
        call = json.loads(raw or b"{}")
        self.server.calls.append({"Name": name, **call})
        path = call.get("Path", "")
        if not 1 <= len(path) <= self.server.MAX_PATH:
            limit = self.server.MAX_PATH
            self._error(400, "ValidationException",
                        {"message": f"Path must be 1-{limit} characters"})  # fmt: skip
            return
        query = call.get("QueryParameters") or {}
        url_path = f"/api/v2{path}" + (
            f"?{urllib.parse.urlencode(query, doseq=True)}" if query else ""
        )
        status, body = self.server.airflow.request(
            call["Method"], url_path, call.get("Body"), user=self.server.user
        )
        document = {"RestApiStatusCode": status, "RestApiResponse": body}
        if status < 400:
            self._answer(200, document)
        elif status < 500:
            self._error(400, "RestApiClientException", document)
        else:
            self._error(400, "RestApiServerException", document)

    def _error(self, status: int, code: str, body: dict[str, Any]) -> None:
        self._answer(status, body, {"x-amzn-ErrorType": code})

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def mwaa_api(
    airflow_server: AirflowServer, moto: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MwaaRestApi]:
    """InvokeRestApi of environment `airflow-dev` (the dev stack's) in front of the server,
    with the AWS environment pointing boto3's mwaa clients at it."""
    api = MwaaRestApi("airflow-dev", airflow_server).start()
    for name, value in api.client_environment().items():
        monkeypatch.setenv(name, value)
    yield api
    api.stop()
