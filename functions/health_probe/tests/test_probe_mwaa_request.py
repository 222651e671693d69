"""The MWAA transport's request, checked by botocore's Stubber against the mwaa service model
(moto has no MWAA): InvokeRestApi with the environment's name, GET, and the health path
relative to the REST API root; Airflow's error answers and MWAA's own errors read as what
they are. The integration tests run the same transport over HTTP against a stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber
from health_probe.health import HEALTH_PATH
from health_probe.transports import (
    MWAA_MAX_PATH,
    MwaaTransport,
    TransportError,
    mwaa_client,
    read_health,
)

HEALTHY = {
    "metadatabase": {"status": "healthy"},
    "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "2026-11-30T12:00:00+00:00"},
    "triggerer": {"status": "healthy", "latest_triggerer_heartbeat": "2026-11-30T12:00:00+00:00"},
    "dag_processor": {"status": "healthy",
                      "latest_dag_processor_heartbeat": "2026-11-30T12:00:00+00:00"},
}  # fmt: skip


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_MWAA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return mwaa_client(5, region="eu-west-1")


@pytest.fixture
def stub(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


EXPECTED = {"Name": "airflow-dev", "Method": "GET", "Path": HEALTH_PATH}


def test_the_health_request_is_invoke_rest_api_get_of_the_relative_health_path(
    client: Any, stub: Stubber
) -> None:
    stub.add_response(
        "invoke_rest_api", {"RestApiStatusCode": 200, "RestApiResponse": HEALTHY}, EXPECTED
    )

    report, _ = read_health(MwaaTransport("airflow-dev", client))

    assert HEALTH_PATH == "/monitor/health"
    assert report.healthy


def test_airflow_answering_5xx_through_mwaa_is_an_unreachable_airflow_with_its_status(
    client: Any, stub: Stubber
) -> None:
    stub.add_client_error(
        "invoke_rest_api", service_error_code="RestApiServerException", http_status_code=400,
        modeled_fields={"RestApiStatusCode": 503, "RestApiResponse": {"detail": "starting"}},
        expected_params=EXPECTED,
    )  # fmt: skip

    report, _ = read_health(MwaaTransport("airflow-dev", client))

    assert not report.reachable
    assert "answered 503: starting" in (report.error or "")


def test_access_denied_names_the_permission_and_resource_the_caller_needs(
    client: Any, stub: Stubber
) -> None:
    stub.add_client_error(
        "invoke_rest_api", service_error_code="AccessDeniedException", http_status_code=403,
        service_message="not authorized", expected_params=EXPECTED,
    )  # fmt: skip

    report, _ = read_health(MwaaTransport("airflow-dev", client))

    assert not report.reachable
    assert "airflow:InvokeRestApi" in (report.error or "")
    assert "role/airflow-dev/<Airflow role>" in (report.error or "")


def test_query_and_body_are_passed_as_json_documents_only_when_given(
    client: Any, stub: Stubber
) -> None:
    stub.add_response(
        "invoke_rest_api", {"RestApiStatusCode": 200, "RestApiResponse": {"dag_run_id": "r"}},
        {"Name": "airflow-dev", "Method": "POST", "Path": "/dags/d/dagRuns",
         "QueryParameters": {"x": 1}, "Body": {"logical_date": None, "conf": {}}},
    )  # fmt: skip

    answer = MwaaTransport("airflow-dev", client).request(
        "POST", "/dags/d/dagRuns", query={"x": 1}, body={"logical_date": None, "conf": {}}
    )

    assert (answer.status, answer.body) == (200, {"dag_run_id": "r"})


def test_a_path_longer_than_invoke_rest_apis_limit_is_refused_before_sending(client: Any) -> None:
    with pytest.raises(TransportError, match="longer than the 64 characters"):
        MwaaTransport("airflow-dev", client).request("GET", "/" + "x" * MWAA_MAX_PATH)


def test_the_client_never_retries_so_a_request_ends_within_its_timeouts(client: Any) -> None:
    config = client.meta.config

    assert (config.connect_timeout, config.read_timeout) == (5, 5)
    assert config.retries["total_max_attempts"] == 1
