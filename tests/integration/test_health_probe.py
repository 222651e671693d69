"""The health probe Lambda's code against a real Airflow of the pinned version (its API server
on loopback, tests/integration/airflow_server.py) and CloudWatch in the moto server: what it
publishes when Airflow runs, when its scheduler does not, when nothing answers, and what the
freshness check makes of the backup metrics.

MWAA: moto has no MWAA, so the MWAA transport runs against airflow_server.MwaaRestApi, a
stand-in for InvokeRestApi's HTTP interface (botocore signs and serializes the real request,
the stand-in forwards it to the real API server); botocore's Stubber checks the request
shape against the service model in functions/health_probe/tests.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from health_probe import handler
from health_probe import metrics as m
from health_probe.config import ProbeConfig
from health_probe.transports import HttpTransport

from platform_ops.backup import metrics as backup_metrics
from tests.integration.airflow_server import AirflowServer, MwaaRestApi
from tests.integration.servers import free_port


@pytest.fixture
def cloudwatch(moto: Any) -> Any:
    return boto3.client("cloudwatch", config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def stack() -> str:
    """A stack name of the test's own, so its metrics are its own in the shared emulator."""
    return f"probe-{uuid.uuid4().hex[:8]}"


def published(cloudwatch: Any, stack: str, namespace: str = m.NAMESPACE) -> dict[Any, float]:
    """The latest value of every metric with dimension Stack=`stack`, keyed by metric name,
    or (name, component) for those with a Component dimension too."""
    now = datetime.now(UTC)
    found: dict[Any, float] = {}
    listed = cloudwatch.list_metrics(
        Namespace=namespace, Dimensions=[{"Name": m.STACK, "Value": stack}]
    )["Metrics"]
    for metric in listed:
        answer = cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "q", "MetricStat": {"Metric": metric, "Period": 60,
                                "Stat": "Maximum"}}],
            StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=1),
        )  # fmt: skip
        values = answer["MetricDataResults"][0]["Values"]
        dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        assert set(dimensions) <= {m.STACK, m.COMPONENT}, dimensions
        key = (metric["MetricName"], dimensions[m.COMPONENT]) if m.COMPONENT in dimensions \
            else metric["MetricName"]  # fmt: skip
        assert key not in found, f"{key} published under two sets of dimensions"
        found[key] = values[0]
    return found


def unit_of(cloudwatch: Any, stack: str, name: str, component: str | None = None) -> str:
    now = datetime.now(UTC)
    answer = cloudwatch.get_metric_statistics(
        Namespace=m.NAMESPACE, MetricName=name, Dimensions=m.dimensions(stack, component),
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=1), Period=60,
        Statistics=["Maximum"],
    )  # fmt: skip
    return answer["Datapoints"][0]["Unit"]


def http_config(stack: str, url: str, **overrides: Any) -> ProbeConfig:
    return ProbeConfig.from_environment(
        {"STACK": stack, "AIRFLOW_API_URL": url, "TIMEOUT_SECONDS": "5", **overrides}
    )


# --- the health check: Airflow running, through HTTP and through MWAA's InvokeRestApi ----------


def test_probe_publishes_every_component_healthy_with_heartbeat_ages_while_airflow_runs(
    airflow_running: AirflowServer, cloudwatch: Any, stack: str
) -> None:
    summary = handler.run({}, http_config(stack, airflow_running.url), cloudwatch)

    assert summary["healthy"] is True, summary
    found = published(cloudwatch, stack)
    assert {c: found[(m.HEALTHY, c)] for c in m.COMPONENTS} == dict.fromkeys(m.COMPONENTS, 1.0)
    for component in m.HEARTBEAT_COMPONENTS:
        # Each component heartbeats every few seconds while it runs.
        assert 0 <= found[(m.HEARTBEAT_AGE_SECONDS, component)] < 60, component
    assert found[m.API_REACHABLE] == 1.0
    assert 0 < found[m.PROBE_LATENCY_MILLISECONDS] < 5000
    assert len(found) == 4 + 3 + 2
    assert unit_of(cloudwatch, stack, m.HEARTBEAT_AGE_SECONDS, m.SCHEDULER) == "Seconds"
    assert unit_of(cloudwatch, stack, m.PROBE_LATENCY_MILLISECONDS) == "Milliseconds"
    assert unit_of(cloudwatch, stack, m.HEALTHY, m.METADATABASE) == "None"


def test_probe_through_mwaa_reads_the_real_health_endpoint_with_a_relative_path(
    airflow_running: AirflowServer, mwaa_api: MwaaRestApi, cloudwatch: Any, stack: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(handler, "_clients", {})
    config = ProbeConfig.from_environment({"STACK": stack, "MWAA_ENVIRONMENT": "airflow-dev"})

    summary = handler.run({}, config, cloudwatch)

    assert mwaa_api.calls == [{"Name": "airflow-dev", "Method": "GET", "Path": "/monitor/health"}]
    assert summary["healthy"] is True, summary
    found = published(cloudwatch, stack)
    assert found[m.API_REACHABLE] == 1.0
    assert found[(m.HEALTHY, m.SCHEDULER)] == 1.0


# --- the health check: no usable answer -------------------------------------------------------


def test_probe_of_a_closed_port_publishes_every_component_unhealthy_and_the_api_unreachable(
    cloudwatch: Any, stack: str
) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    summary = handler.run({}, http_config(stack, url), cloudwatch)

    assert summary["reachable"] is False
    assert "cannot connect" in summary["error"]
    found = published(cloudwatch, stack)
    assert {c: found[(m.HEALTHY, c)] for c in m.COMPONENTS} == dict.fromkeys(m.COMPONENTS, 0.0)
    assert found[m.API_REACHABLE] == 0.0
    assert m.PROBE_LATENCY_MILLISECONDS in found
    assert not any(key[0] == m.HEARTBEAT_AGE_SECONDS for key in found if isinstance(key, tuple))


def test_probe_of_a_url_that_answers_no_health_json_counts_airflow_unreachable(
    airflow_server: AirflowServer, cloudwatch: Any, stack: str
) -> None:
    # Below an unknown prefix the API server answers its UI's HTML page, status 200.
    summary = handler.run({}, http_config(stack, f"{airflow_server.url}/elsewhere"), cloudwatch)

    assert summary["reachable"] is False
    assert "not JSON" in summary["error"]
    assert published(cloudwatch, stack)[m.API_REACHABLE] == 0.0


def test_the_lambda_entry_point_reads_its_configuration_from_the_environment(
    airflow_server: AirflowServer, moto: Any, cloudwatch: Any, stack: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(handler, "_clients", {})
    monkeypatch.setenv("STACK", stack)
    monkeypatch.setenv("AIRFLOW_API_URL", airflow_server.url)
    monkeypatch.setenv("METRICS_NAMESPACE", "Test/Health")

    summary = handler.handler({}, None)

    assert summary["reachable"] is True
    assert published(cloudwatch, stack, "Test/Health")[m.API_REACHABLE] == 1.0


def test_the_entry_point_fails_when_cloudwatch_refuses_the_metrics(
    airflow_server: AirflowServer, moto: Any, stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens there: PutMetricData cannot succeed, and the invocation must fail so
    # that the function's Errors metric counts it.
    monkeypatch.setattr(handler, "_clients", {})
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("STACK", stack)
    monkeypatch.setenv("AIRFLOW_API_URL", airflow_server.url)

    with pytest.raises((BotoCoreError, ClientError)):
        handler.handler({}, None)


def test_the_entry_point_fails_naming_a_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STACK", raising=False)
    monkeypatch.setenv("AIRFLOW_API_URL", "http://127.0.0.1:1")

    with pytest.raises(ValueError, match="STACK is not set"):
        handler.handler({}, None)


def test_probe_through_mwaa_of_an_unknown_environment_publishes_the_api_unreachable(
    airflow_server: AirflowServer, mwaa_api: MwaaRestApi, cloudwatch: Any, stack: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(handler, "_clients", {})
    config = ProbeConfig.from_environment({"STACK": stack, "MWAA_ENVIRONMENT": "airflow-nope"})

    summary = handler.run({}, config, cloudwatch)

    assert summary["reachable"] is False
    assert "ResourceNotFoundException" in summary["error"]
    found = published(cloudwatch, stack)
    assert found[m.API_REACHABLE] == 0.0
    assert {c: found[(m.HEALTHY, c)] for c in m.COMPONENTS} == dict.fromkeys(m.COMPONENTS, 0.0)


# --- the freshness check -------------------------------------------------------------------------


def _put_success(cloudwatch: Any, stack: str, database: str, metric: str, hours_ago: float) -> None:
    # Published the way the backup and the restore drill publish them.
    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    backup_metrics.put_metrics(
        cloudwatch, backup_metrics.NAMESPACE, backup_metrics.dimensions(database, stack),
        [(metric, at.timestamp(), "Seconds")], at,
    )  # fmt: skip


def test_freshness_publishes_the_age_of_the_newest_backup_and_restore_drill(
    cloudwatch: Any, stack: str
) -> None:
    for hours in (200, 30):
        _put_success(cloudwatch, stack, "airflow", m.LAST_SUCCESS_TIMESTAMP, hours)
    _put_success(cloudwatch, stack, "airflow", m.RESTORE_DRILL_LAST_SUCCESS_TIMESTAMP, 72)
    # Another database's backup, newer, is not this one's.
    _put_success(cloudwatch, stack, "other", m.LAST_SUCCESS_TIMESTAMP, 1)
    config = http_config(stack, "http://127.0.0.1:1")

    summary = handler.run({"check": "freshness"}, config, cloudwatch)

    assert summary["backup_age_hours"] == pytest.approx(30, abs=0.1)
    assert summary["restore_drill_age_hours"] == pytest.approx(72, abs=0.1)
    found = published(cloudwatch, stack)
    assert found[m.BACKUP_AGE_HOURS] == pytest.approx(30, abs=0.1)
    assert found[m.RESTORE_DRILL_AGE_HOURS] == pytest.approx(72, abs=0.1)
    assert set(found) == {m.BACKUP_AGE_HOURS, m.RESTORE_DRILL_AGE_HOURS}


def test_freshness_without_any_success_in_the_lookback_publishes_the_lookback_of_336_hours(
    cloudwatch: Any, stack: str
) -> None:
    # Older than the lookback: as good as none.
    _put_success(cloudwatch, stack, "airflow", m.LAST_SUCCESS_TIMESTAMP, 400)

    handler.run({"check": "freshness"}, http_config(stack, "http://127.0.0.1:1"), cloudwatch)

    found = published(cloudwatch, stack)
    assert found[m.BACKUP_AGE_HOURS] == 336
    assert found[m.RESTORE_DRILL_AGE_HOURS] == 336


def test_freshness_reads_the_database_named_by_backup_database(cloudwatch: Any, stack: str) -> None:
    _put_success(cloudwatch, stack, "metadata", m.LAST_SUCCESS_TIMESTAMP, 5)
    config = http_config(stack, "http://127.0.0.1:1", BACKUP_DATABASE="metadata")

    summary = handler.run({"check": "freshness"}, config, cloudwatch)

    assert summary["backup_age_hours"] == pytest.approx(5, abs=0.1)
    assert summary["restore_drill_age_hours"] == 336


def test_http_transport_answers_airflows_own_error_status_with_its_detail(
    airflow_server: AirflowServer,
) -> None:
    answer = HttpTransport(airflow_server.url, 5).request("GET", "/dags")

    assert answer.status == 401
    assert answer.detail() == "Not authenticated"


# --- the health check: Airflow's API up, its components stopped (last: stopping them takes
# time, and the session ends with them stopped anyway) -------------------------------------------


def test_probe_reports_the_scheduler_unhealthy_while_no_scheduler_runs(
    airflow_stopped: AirflowServer, cloudwatch: Any, stack: str
) -> None:
    summary = handler.run({"check": "health"}, http_config(stack, airflow_stopped.url), cloudwatch)

    assert summary["reachable"] is True
    assert summary["healthy"] is False
    found = published(cloudwatch, stack)
    assert found[(m.HEALTHY, m.SCHEDULER)] == 0.0
    assert found[(m.HEALTHY, m.METADATABASE)] == 1.0  # Airflow answered from its database
    assert found[m.API_REACHABLE] == 1.0
