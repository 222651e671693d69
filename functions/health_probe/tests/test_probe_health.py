"""How the probe reads Airflow's health answer and what it publishes for it: the rule for a
healthy component, heartbeat ages, and the exact metric entries (names, units, dimensions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from health_probe import metrics as m
from health_probe.config import ProbeConfig
from health_probe.handler import check_of, run
from health_probe.health import HealthFormatError, HealthReport, parse_health
from health_probe.transports import ApiResponse, TransportError

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def answer(**sections: Any) -> dict[str, Any]:
    """A health answer as the pinned Airflow writes it, every component healthy unless
    overridden."""
    beat = (NOW - timedelta(seconds=5)).isoformat()
    document: dict[str, Any] = {
        "metadatabase": {"status": "healthy"},
        "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": beat},
        "triggerer": {"status": "healthy", "latest_triggerer_heartbeat": beat},
        "dag_processor": {"status": "healthy", "latest_dag_processor_heartbeat": beat},
    }
    document.update(sections)
    return {name: value for name, value in document.items() if value is not ...}


@pytest.mark.parametrize(
    "triggerer",
    [
        {"status": None, "latest_triggerer_heartbeat": None},  # no triggerer ever ran
        {"status": "unhealthy", "latest_triggerer_heartbeat": "2026-11-30T11:00:00+00:00"},
        {"latest_triggerer_heartbeat": None},
        "healthy",  # not an object
        ...,  # absent
        {"status": "Healthy"},  # only Airflow's exact word counts
    ],
    ids=["null", "unhealthy", "no-status", "not-an-object", "absent", "other-spelling"],
)
def test_a_component_is_healthy_only_when_airflow_says_exactly_healthy(triggerer: Any) -> None:
    report = parse_health(answer(triggerer=triggerer))

    assert report.healthy_by_component() == {
        "metadatabase": True, "scheduler": True, "triggerer": False, "dag_processor": True,
    }  # fmt: skip
    assert report.reachable
    assert not report.healthy


def test_heartbeat_ages_are_measured_from_airflows_timestamps_and_never_negative() -> None:
    report = parse_health(
        answer(
            scheduler={
                "status": "healthy",
                "latest_scheduler_heartbeat": "2026-11-30T11:59:30+00:00",
            },
            triggerer={"status": "healthy", "latest_triggerer_heartbeat": "2026-11-30T12:00:09Z"},
            dag_processor={"status": "healthy", "latest_dag_processor_heartbeat": "garbage"},
        )
    )

    assert report.heartbeat_ages(NOW) == {"scheduler": 30.0, "triggerer": 0.0}


def test_an_answer_that_is_not_a_json_object_is_a_format_error() -> None:
    for document in (None, [], "healthy", 3):
        with pytest.raises(HealthFormatError):
            parse_health(document)


def test_an_unreachable_report_has_every_component_unhealthy_and_no_heartbeat() -> None:
    report = HealthReport.unreachable("refused")

    assert report.healthy_by_component() == dict.fromkeys(m.COMPONENTS, False)
    assert report.heartbeat_ages(NOW) == {}
    assert (report.reachable, report.error) == (False, "refused")


def test_health_metrics_carry_exactly_the_contracts_names_units_and_dimensions() -> None:
    data = m.health_data(
        "dev", NOW, {"metadatabase": True, "scheduler": False}, {"scheduler": 42.0}, True, 12.5
    )

    shapes = [
        (d["MetricName"], {x["Name"]: x["Value"] for x in d["Dimensions"]}, d["Value"], d["Unit"])
        for d in data
    ]
    assert shapes == [
        ("Healthy", {"Stack": "dev", "Component": "metadatabase"}, 1.0, "None"),
        ("Healthy", {"Stack": "dev", "Component": "scheduler"}, 0.0, "None"),
        ("Healthy", {"Stack": "dev", "Component": "triggerer"}, 0.0, "None"),
        ("Healthy", {"Stack": "dev", "Component": "dag_processor"}, 0.0, "None"),
        ("HeartbeatAgeSeconds", {"Stack": "dev", "Component": "scheduler"}, 42.0, "Seconds"),
        ("ApiReachable", {"Stack": "dev"}, 1.0, "None"),
        ("ProbeLatencyMilliseconds", {"Stack": "dev"}, 12.5, "Milliseconds"),
    ]
    assert [d["Dimensions"][0]["Name"] for d in data] == ["Stack"] * len(data)
    assert {d["Timestamp"] for d in data} == {NOW}


def test_freshness_metrics_are_the_two_ages_with_dimension_stack() -> None:
    data = m.freshness_data("prod", NOW, 30.0, 336.0)

    assert [(d["MetricName"], d["Dimensions"], d["Value"]) for d in data] == [
        ("BackupAgeHours", [{"Name": "Stack", "Value": "prod"}], 30.0),
        ("RestoreDrillAgeHours", [{"Name": "Stack", "Value": "prod"}], 336.0),
    ]


@pytest.mark.parametrize(
    ("event", "check"),
    [({}, "health"), ({"check": "health"}, "health"), ({"check": "freshness"}, "freshness"),
     ({"source": "aws.events", "detail-type": "Scheduled Event"}, "health"), (None, "health")],
)  # fmt: skip
def test_the_event_selects_the_check_and_health_is_the_default(event: Any, check: str) -> None:
    assert check_of(event) == check


def test_an_unknown_check_fails_the_invocation_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown check 'backups'.*health, freshness"):
        check_of({"check": "backups"})


class _Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    def put_metric_data(self, **arguments: Any) -> None:
        if self.fail:
            raise RuntimeError("CloudWatch refused")
        self.calls.append(arguments)


class _Transport:
    description = "stub"
    max_path_length = None

    def __init__(self, outcome: ApiResponse | Exception) -> None:
        self.outcome = outcome

    def request(self, method: str, path: str, **_: Any) -> ApiResponse:
        assert (method, path) == ("GET", "/monitor/health")
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


CONFIG = ProbeConfig(stack="dev", api_url="http://airflow:8080")


@pytest.mark.parametrize(
    "outcome",
    [
        TransportError("GET http://airflow:8080/api/v2/monitor/health: no answer within 10 s"),
        ApiResponse(503, {"detail": "down"}, '{"detail": "down"}'),
        ApiResponse(401, {"detail": "Not authenticated"}),
        ApiResponse(200, None, "<html>"),
        ApiResponse(200, ["not", "an", "object"]),
    ],
    ids=["timeout", "5xx", "4xx", "not-json", "not-an-object"],
)
def test_no_usable_answer_publishes_every_component_unhealthy_in_one_call_and_returns(
    outcome: Any,
) -> None:
    cloudwatch = _Recorder()

    summary = run({}, CONFIG, cloudwatch, _Transport(outcome), now=lambda: NOW)

    assert (summary["reachable"], summary["healthy"]) == (False, False)
    assert summary["error"]
    [call] = cloudwatch.calls
    assert call["Namespace"] == "AirflowPlatform/Health"
    values = {(d["MetricName"], tuple(x["Value"] for x in d["Dimensions"][1:])): d["Value"]
              for d in call["MetricData"]}  # fmt: skip
    assert values == {
        **{("Healthy", (c,)): 0.0 for c in m.COMPONENTS},
        ("ApiReachable", ()): 0.0,
        ("ProbeLatencyMilliseconds", ()): values[("ProbeLatencyMilliseconds", ())],
    }


def test_metrics_cloudwatch_refuses_fail_the_invocation() -> None:
    with pytest.raises(RuntimeError, match="CloudWatch refused"):
        run({}, CONFIG, _Recorder(fail=True), _Transport(ApiResponse(200, answer())))
