"""The DAGs' Slack failure alert (`platform_ops.alerts`) against a real HTTP endpoint on
loopback standing in for Slack's incoming webhook, reached through a real Airflow connection
of type `slackwebhook` (an `AIRFLOW_CONN_SLACK_ALERTS` variable, as the secrets chain would
give it).

Slack is made to refuse, fail (500), rate-limit (429 with a long Retry-After), hang (accept
and never answer) and trickle (answer a byte at a time, so no socket timeout ever fires).
In every case the callback returns within its deadline and raises nothing, the webhook URL
reaches no log record and no output, and a task that fails under `dag.test()` ends FAILED.

Timings are only ever asserted as upper bounds, generous next to the 5 s deadline.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import structlog

from platform_ops.alerts import (
    ALERT_DEADLINE_SECONDS,
    SLACK_CONNECTION_ID,
    task_failure_alert,
)
from tests.conftest import ROOT

TOKEN = "T0ALERTS/B0ALERTS/wEbHoOkSeCrEt0123456789"
CALLBACK_BOUND_SECONDS = 8.0  # the deadline is 5 s: this leaves room for a loaded CI machine
FAULTS = ["down", "500", "429", "hang", "trickle", "no-connection"]
PROBE_DAG_ID = "alert_probe"
PROBE_TASK_ID = "fail"
PROBE_ERROR = "probe failure: disk /data is full"


class FakeSlack(ThreadingHTTPServer):
    """Slack's incoming webhook on loopback: keeps every request and answers as `behaviour`
    says. Handlers that hang or trickle stop when `release` is set (at teardown)."""

    daemon_threads = True

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.requests.append({"path": self.path, "json": json.loads(body)})
                if sink.behaviour == "hang":
                    sink.release.wait(60)
                elif sink.behaviour == "trickle":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    for _ in range(120):  # a minute at most: a regression fails, not hangs
                        if sink.release.wait(0.5):
                            break
                        self.wfile.write(b"a")
                else:
                    status, body, headers = {
                        "ok": (200, b"ok", {}),
                        "500": (500, b"Internal Server Error", {}),
                        "429": (429, b"rate_limited", {"Retry-After": "30"}),
                        "404": (404, b"no_service", {}),
                    }[sink.behaviour]
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@dataclass
class Webhook:
    """The webhook the `slack_alerts` connection points at, and what reached it."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def secrets(self) -> list[str]:
        """Every form in which the webhook would give the secret away."""
        return [self.url, TOKEN, TOKEN.rsplit("/", 1)[1]]


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Webhook]]:
    """Factory: a Slack behaving as asked, and the connection pointing at it. "down" is a
    port nothing listens on; "no-connection" leaves the connection undefined."""
    servers: list[FakeSlack] = []

    def start(behaviour: str) -> Webhook:
        if behaviour in ("down", "no-connection"):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            requests: list[dict[str, Any]] = []
        else:
            server = FakeSlack(behaviour)
            servers.append(server)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            port = server.server_address[1]
            requests = server.requests
        host = f"http://127.0.0.1:{port}"
        if behaviour == "no-connection":
            monkeypatch.delenv("AIRFLOW_CONN_SLACK_ALERTS", raising=False)
        else:
            connection = {"conn_type": "slackwebhook", "host": host, "password": f"/{TOKEN}"}
            monkeypatch.setenv("AIRFLOW_CONN_SLACK_ALERTS", json.dumps(connection))
        return Webhook(f"{host}/{TOKEN}", requests)

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


def failure_context() -> dict[str, Any]:
    """What the task runner hands a failure callback, as far as the message uses it."""
    from airflow.sdk import DAG

    ti = SimpleNamespace(
        task_id="load_partition",
        try_number=3,
        log_url="http://airflow.example/dags/nightly_load/runs/r1/tasks/load_partition",
    )
    return {
        "dag": DAG("nightly_load", schedule=None),
        "ti": ti,
        "run_id": "scheduled__2031-01-02T06:00:00+00:00",
        "exception": RuntimeError("partition 2031-01-01 missing"),
    }


def alert_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "platform_ops.alerts" and r.levelno == logging.WARNING
    ]


@pytest.fixture
def everything_at_debug(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG: the root (stdlib) and Airflow's structlog loggers (the hook's,
    the notifier's), which write to the process's output rather than to `caplog`."""
    import airflow._shared.logging.structlog as core_structlog
    import airflow.sdk._shared.logging.structlog as sdk_structlog

    caplog.set_level(logging.DEBUG)
    for module in (core_structlog, sdk_structlog):
        monkeypatch.setitem(module.PER_LOGGER_LEVELS, "", logging.DEBUG)
    return caplog


def logged_text(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    """All that was logged or printed: records formatted with their tracebacks, their raw
    attributes (message arguments included), and the process's stdout and stderr."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    records = [f"{formatter.format(r)} {vars(r)!r}" for r in caplog.records]
    out, err = capfd.readouterr()
    return "\n".join([*records, out, err])


# --- delivery ----------------------------------------------------------------------------------


def test_the_alert_posts_dag_task_try_run_exception_and_log_link_to_the_webhook(
    slack: Callable[[str], Webhook], caplog: pytest.LogCaptureFixture
) -> None:
    webhook = slack("ok")

    task_failure_alert()(failure_context())

    assert [r["path"] for r in webhook.requests] == [f"/{TOKEN}"]
    text = webhook.requests[0]["json"]["text"]
    assert "*nightly_load.load_partition* failed" in text
    assert "(try 3, run `scheduled__2031-01-02T06:00:00+00:00`)" in text
    assert "partition 2031-01-01 missing" in text
    assert "<http://airflow.example/dags/nightly_load/runs/r1/tasks/load_partition|task log>" in (
        text
    )
    assert alert_warnings(caplog) == [], "a delivered alert logs no warning"


def test_a_long_exception_is_cut_to_500_characters_in_the_alert(
    slack: Callable[[str], Webhook],
) -> None:
    webhook = slack("ok")
    context = failure_context()
    context["exception"] = RuntimeError("x" * 5000)

    task_failure_alert()(context)

    exception_line = webhook.requests[0]["json"]["text"].split("\n")[1]
    assert exception_line.startswith("x" * 400)
    assert len(exception_line) <= 500


# --- failing Slack: bounded, never raising, one warning without the URL ------------------------


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_slack_never_raises_out_of_the_callback_which_returns_within_the_bound(
    fault: str, slack: Callable[[str], Webhook]
) -> None:
    slack(fault)
    alert = task_failure_alert()

    started = time.monotonic()
    alert(failure_context())  # raising here fails the test

    assert time.monotonic() - started < CALLBACK_BOUND_SECONDS


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("down", "connection refused"),
        ("500", "HTTP 500"),
        ("429", "HTTP 429 rate_limited"),
        ("404", "HTTP 404 no_service"),
        ("hang", "timeout (no answer within 2 s)"),
        ("trickle", f"timeout (no answer within {ALERT_DEADLINE_SECONDS:g} s)"),
        ("no-connection", "AirflowNotFoundException"),
    ],
)
def test_an_undelivered_alert_logs_one_warning_with_the_reason_and_the_connection_id(
    fault: str, reason: str, slack: Callable[[str], Webhook], caplog: pytest.LogCaptureFixture
) -> None:
    slack(fault)

    task_failure_alert()(failure_context())

    assert alert_warnings(caplog) == [
        f"Slack failure alert not delivered through connection {SLACK_CONNECTION_ID!r}: {reason}"
    ]


@pytest.mark.parametrize("fault", ["500", "429"])
def test_a_failing_or_rate_limited_slack_gets_one_request_and_no_retry(
    fault: str, slack: Callable[[str], Webhook]
) -> None:
    webhook = slack(fault)

    task_failure_alert()(failure_context())

    assert len(webhook.requests) == 1


@pytest.mark.parametrize("outcome", ["ok", "404", *FAULTS])
def test_the_webhook_url_reaches_no_log_record_and_no_output_with_every_logger_at_debug(
    outcome: str,
    slack: Callable[[str], Webhook],
    everything_at_debug: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    webhook = slack(outcome)
    structlog.get_logger("airflow.task.hooks.canary").debug("structlog canary")
    logging.getLogger("slack_sdk.canary").debug("stdlib canary")

    task_failure_alert()(failure_context())

    logged = logged_text(everything_at_debug, capfd)
    assert "structlog canary" in logged, "Airflow's loggers are not captured at DEBUG"
    assert "stdlib canary" in logged, "stdlib loggers are not captured at DEBUG"
    for secret in webhook.secrets:
        assert secret not in logged


def test_a_dag_file_importing_the_alert_imports_neither_the_provider_nor_slack_sdk() -> None:
    code = (
        "import sys; from platform_ops.alerts import task_failure_alert; task_failure_alert(); "
        "print(sorted(m for m in sys.modules if m.startswith(('airflow.providers', 'slack_sdk'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT / "dags",
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )

    assert done.stdout.strip() == "[]"


def test_the_callback_shows_only_its_connection_id_where_airflow_logs_it() -> None:
    """The task runner logs a callback that raised by its repr."""
    assert repr(task_failure_alert()) == f"SlackFailureAlert({SLACK_CONNECTION_ID!r})"


# --- a real failing task under dag.test() ------------------------------------------------------

PROBE_DAG = f'''
from datetime import UTC, datetime

from airflow.sdk import dag, task

from platform_ops.alerts import task_failure_alert


@dag(
    dag_id="{PROBE_DAG_ID}",
    schedule=None,
    start_date=datetime(2031, 1, 1, tzinfo=UTC),
    catchup=False,
    default_args={{"retries": 0, "on_failure_callback": task_failure_alert()}},
)
def alert_probe():
    @task(task_id="{PROBE_TASK_ID}")
    def fail():
        raise RuntimeError("{PROBE_ERROR}")

    fail()


alert_probe()
'''


@pytest.fixture
def probe_dag(airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A one-task DAG that fails, in a bundle of its own next to the repository's DAG folder
    (`dag.test()` runs only DAGs a configured bundle holds)."""
    from airflow.dag_processing.dagbag import DagBag

    (tmp_path / "alert_probe.py").write_text(PROBE_DAG)
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    bundles = [
        {"name": "dags-folder", "classpath": local, "kwargs": {}},
        {"name": "alert-probe", "classpath": local, "kwargs": {"path": str(tmp_path)}},
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    bag = DagBag(dag_folder=str(tmp_path / "alert_probe.py"))
    assert bag.import_errors == {}
    return bag.get_dag(PROBE_DAG_ID)


def task_state(run_id: str) -> tuple[str | None, int]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == PROBE_DAG_ID,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == PROBE_TASK_ID,
            )
        ).one()
        return (None if ti.state is None else str(ti.state), ti.try_number)


def test_a_task_failing_under_dag_test_sends_its_real_run_context_to_slack(
    probe_dag: Any, slack: Callable[[str], Webhook]
) -> None:
    webhook = slack("ok")

    run = probe_dag.test(logical_date=datetime(2031, 1, 5, tzinfo=UTC))

    assert run.state == "failed"
    assert len(webhook.requests) == 1, "one alert for the one failed try"
    text = webhook.requests[0]["json"]["text"]
    assert f"*{PROBE_DAG_ID}.{PROBE_TASK_ID}* failed" in text
    assert f"(try 1, run `{run.run_id}`)" in text
    assert PROBE_ERROR in text
    log_link = rf"<https?://\S+/dags/{PROBE_DAG_ID}/runs/\S+/tasks/{PROBE_TASK_ID}\?try_number=1"
    log_link += r"\|task log>"
    assert re.search(log_link, text), text


@pytest.mark.parametrize("fault", ["down", "hang", "trickle"])
def test_a_failing_slack_leaves_the_failed_task_failed_and_the_run_finishes_within_a_bound(
    fault: str,
    probe_dag: Any,
    slack: Callable[[str], Webhook],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    webhook = slack(fault)

    started = time.monotonic()
    run = probe_dag.test(logical_date=datetime(2031, 1, 6, tzinfo=UTC))
    elapsed = time.monotonic() - started

    assert run.state == "failed"
    assert task_state(run.run_id) == ("failed", 1)
    # The callback's deadline is 5 s and a run of this DAG takes a few more; without the
    # deadline, slack_sdk's default 30 s timeout alone (or a trickle, forever) would exceed it.
    assert elapsed < 30, f"the run took {elapsed:.1f} s"
    assert len(alert_warnings(caplog)) == 1, "the callback ran once, and gave up"
    logged = logged_text(caplog, capfd)
    for secret in webhook.secrets:
        assert secret not in logged
