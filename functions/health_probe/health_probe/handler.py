"""The Lambda entry point: `health_probe.handler.handler`.

An unreachable Airflow is a measurement, not a failure: the health check publishes
`ApiReachable=0` and `Healthy=0` for every component and returns normally. What fails the
invocation (so that the function's Errors metric and its alarm show it) is a probe that
cannot do its job: an invalid configuration, an unknown check, or CloudWatch refusing the
metrics or the freshness query.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from health_probe import metrics
from health_probe.config import ProbeConfig
from health_probe.freshness import read_freshness
from health_probe.transports import (
    HttpTransport,
    MwaaTransport,
    Transport,
    mwaa_client,
    read_health,
)

HEALTH = "health"
FRESHNESS = "freshness"
CHECKS = (HEALTH, FRESHNESS)

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)

# Built on first use and kept for the life of the execution environment (warm invocations
# reuse their connections).
_clients: dict[str, Any] = {}


def _cloudwatch() -> Any:
    # Short timeouts and few attempts: an unreachable CloudWatch must fail the invocation
    # well within the function's timeout, with CloudWatch's error rather than Lambda's.
    if "cloudwatch" not in _clients:
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=5, read_timeout=5, retries={"mode": "standard", "max_attempts": 2}
        )
        _clients["cloudwatch"] = boto3.client("cloudwatch", config=config)
    return _clients["cloudwatch"]


def transport_for(config: ProbeConfig) -> Transport:
    """MWAA's InvokeRestApi when MWAA_ENVIRONMENT is set, else HTTP(S) to AIRFLOW_API_URL."""
    if config.mwaa_environment is not None:
        key = f"mwaa:{config.timeout_seconds}"
        if key not in _clients:
            _clients[key] = mwaa_client(config.timeout_seconds)
        return MwaaTransport(config.mwaa_environment, _clients[key])
    assert config.api_url is not None
    return HttpTransport(config.api_url, config.timeout_seconds)


def run_health(
    config: ProbeConfig, cloudwatch: Any, transport: Transport, now: Callable[[], datetime]
) -> dict[str, Any]:
    report, latency_ms = read_health(transport)
    at = now()
    ages = report.heartbeat_ages(at)
    data = metrics.health_data(
        config.stack, at, report.healthy_by_component(), ages, report.reachable, latency_ms
    )
    metrics.publish(cloudwatch, config.namespace, data)
    summary = {
        "check": HEALTH,
        "stack": config.stack,
        "target": transport.description,
        "reachable": report.reachable,
        "healthy": report.healthy,
        "components": {
            c.name: {"status": c.status, "heartbeat_age_seconds": ages.get(c.name)}
            for c in report.components
        },
        "latency_ms": round(latency_ms, 1),
        "error": report.error,
        "metrics_published": len(data),
    }
    log.log(logging.INFO if report.healthy else logging.WARNING, "health: %s", summary)
    return summary


def run_freshness(
    config: ProbeConfig, cloudwatch: Any, now: Callable[[], datetime]
) -> dict[str, Any]:
    at = now()
    found = read_freshness(cloudwatch, config.stack, config.backup_database, at)
    data = metrics.freshness_data(config.stack, at, found.backup_age_hours, found.drill_age_hours)
    metrics.publish(cloudwatch, config.namespace, data)
    summary = {
        "check": FRESHNESS,
        "stack": config.stack,
        "database": config.backup_database,
        "backup_age_hours": round(found.backup_age_hours, 3),
        "restore_drill_age_hours": round(found.drill_age_hours, 3),
        "backup_found": found.backup_last_success is not None,
        "restore_drill_found": found.drill_last_success is not None,
        "metrics_published": len(data),
    }
    log.info("freshness: %s", summary)
    return summary


def check_of(event: Any) -> str:
    """The check an event asks for: its `check`, else health (a scheduled event's default)."""
    check = event.get("check", HEALTH) if isinstance(event, dict) else HEALTH
    if check not in CHECKS:
        raise ValueError(f"unknown check {check!r} in the event: use one of {', '.join(CHECKS)}")
    return check


def run(
    event: Any,
    config: ProbeConfig,
    cloudwatch: Any,
    transport: Transport | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """The handler's work with its parts given (tests pass their own)."""
    if check_of(event) == FRESHNESS:
        return run_freshness(config, cloudwatch, now)
    return run_health(config, cloudwatch, transport or transport_for(config), now)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point; configuration from the environment (health_probe.config)."""
    config = ProbeConfig.from_environment()
    return run(event, config, _cloudwatch())
