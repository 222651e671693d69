"""`airflow-platform health STACK --wait DURATION` against a stand-in of Airflow's health
endpoint on loopback that starts the way a fresh environment does: first no API server
answer (503), then the API server up with its scheduler and triggerer not yet healthy, then
every component healthy. The stand-in answers in the pinned Airflow's shape
(functions/health_probe/health_probe/health.py); the real Airflow's answers, healthy and not,
are tested in tests/integration/test_cli_airflow_api.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from airflow_platform.cli import app
from airflow_platform.cli.health import parse_duration
from tests.http_standin import send_json

runner = CliRunner()


def _answer(healthy: bool) -> dict[str, Any]:
    beat = datetime.now(UTC).isoformat()
    started = "healthy" if healthy else "unhealthy"
    return {
        "metadatabase": {"status": "healthy"},
        "scheduler": {"status": started, "latest_scheduler_heartbeat": beat},
        "triggerer": {"status": "healthy" if healthy else None,
                      "latest_triggerer_heartbeat": beat if healthy else None},
        "dag_processor": {"status": "healthy", "latest_dag_processor_heartbeat": beat},
    }  # fmt: skip


class StartingAirflow(ThreadingHTTPServer):
    """GET /api/v2/monitor/health: 503 for the first `down` requests, then not healthy for
    `starting` more, then healthy (never, with `starting=None`)."""

    def __init__(self, down: int, starting: int | None) -> None:
        self.down, self.starting = down, starting
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self) -> tuple[int, Any]:
        n = len(self.requests)
        if n <= self.down:
            return 503, {"detail": "Service Unavailable"}
        healthy = self.starting is not None and n > self.down + self.starting
        return 200, _answer(healthy)


class _Handler(BaseHTTPRequestHandler):
    server: StartingAirflow

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        status, body = self.server.answer() if self.path == "/api/v2/monitor/health" else (
            404, {"detail": "Not Found"})  # fmt: skip
        send_json(self, status, body)

    def log_message(self, *_: Any) -> None:
        pass


def _serve(down: int, starting: int | None) -> Iterator[StartingAirflow]:
    server = StartingAirflow(down, starting)
    server._thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def starting_airflow() -> Iterator[StartingAirflow]:
    yield from _serve(down=2, starting=2)


@pytest.fixture
def never_healthy() -> Iterator[StartingAirflow]:
    yield from _serve(down=0, starting=None)


def cli(*args: str, env: dict[str, str] | None = None) -> Any:
    result = runner.invoke(app, list(args), env={"COLUMNS": "220", **(env or {})})
    assert "Traceback" not in result.output + result.stderr
    return result


def test_health_wait_asks_again_until_every_component_is_healthy_and_exits_0(
    starting_airflow: StartingAirflow,
) -> None:
    result = cli("health", "pr-7", "--url", starting_airflow.url, "--wait", "60",
                 "--poll-interval", "0.5")  # fmt: skip

    assert result.exit_code == 0, result.output
    # 2 answers of 503, 2 not healthy, then the healthy one: asked exactly until healthy.
    assert starting_airflow.requests == ["/api/v2/monitor/health"] * 5
    progress = [line.split("pr-7: ", 1)[1] for line in result.stderr.splitlines()
                if "pr-7: " in line]  # fmt: skip
    # One line per change of state, in order: what a CI log shows while it waits.
    assert [p.split(" (")[0] for p in progress] == [
        "unreachable",
        "scheduler, triggerer not healthy",
        "healthy",
    ]
    assert "answered 503" in progress[0]
    assert "pr-7: healthy (answered in" in result.stdout
    for component in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        [row] = [line for line in result.stdout.splitlines() if f"│ {component} " in line]
        assert "healthy" in row
        assert "unhealthy" not in row


def test_health_wait_exits_1_when_the_time_is_up_naming_what_is_not_healthy(
    never_healthy: StartingAirflow,
) -> None:
    result = cli("health", "pr-7", "--url", never_healthy.url, "--wait", "2s",
                 "--poll-interval", "0.5")  # fmt: skip

    assert result.exit_code == 1
    assert 3 <= len(never_healthy.requests) <= 6, "asked every 0.5 s for 2 s"
    assert "pr-7: still not healthy after 2 s" in result.stderr
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert error == "error: pr-7: scheduler, triggerer not healthy after waiting 2 s"
    # The last answer is shown, as without --wait.
    [row] = [line for line in result.stdout.splitlines() if "│ triggerer " in line]
    assert "none reported" in row


def test_health_without_wait_asks_once(never_healthy: StartingAirflow) -> None:
    result = cli("health", "pr-7", "--url", never_healthy.url)

    assert result.exit_code == 1
    assert len(never_healthy.requests) == 1


def test_health_wait_reads_its_variable_and_the_flag_beats_it(
    never_healthy: StartingAirflow,
) -> None:
    env = {"AIRFLOW_PLATFORM_HEALTH_WAIT": "1", "AIRFLOW_PLATFORM_HEALTH_POLL_INTERVAL": "0.5"}

    by_variable = cli("health", "pr-7", "--url", never_healthy.url, env=env)
    by_flag = cli("health", "pr-7", "--url", never_healthy.url, "--wait", "2",
                  env={**env, "AIRFLOW_PLATFORM_HEALTH_WAIT": "1h"})  # fmt: skip

    assert by_variable.exit_code == by_flag.exit_code == 1
    assert "still not healthy after 1 s" in by_variable.stderr
    assert "still not healthy after 2 s" in by_flag.stderr


def test_health_wait_refuses_a_duration_it_cannot_read_with_exit_2() -> None:
    result = cli("health", "pr-7", "--url", "http://127.0.0.1:9", "--wait", "soon")

    assert result.exit_code == 2
    assert "is not a duration from 1 s to 6 h" in result.output + result.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("600", 600), ("90s", 90), ("20m", 1200), ("1h", 3600), ("1h30m", 5400), ("2m5s", 125),
     (" 20M ", 1200), ("6h", 21600)],
)  # fmt: skip
def test_wait_durations_read_as_people_write_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "7h", "1.5m", "m", "20 minutes", "-5", "1d"])
def test_a_wait_duration_outside_1_s_to_6_h_or_unreadable_is_refused(text: str) -> None:
    with pytest.raises(typer.BadParameter, match="give seconds"):
        parse_duration(text)
