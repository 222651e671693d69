"""The stack's CloudWatch dashboard body, built from the same alarm list the alarms are:
an alarm-status board on top, then one graph per alarm with its threshold drawn, grouped
by what it watches, plus the probe's heartbeat ages and latency."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from health_probe import metrics as probe

from airflow_platform.alarms import AlarmSpec

GROUP_TITLES = {
    "airflow": "Airflow components (health API)",
    "backups": "Backups and restore drill",
    "database": "Metadata database",
    "runtime": "Runtime",
    "probe": "Health probe",
}
_WIDTH = 24
_GRAPH_WIDTH = 8
_GRAPH_HEIGHT = 6


def dashboard_body(
    region: str,
    stack: str,
    alarms: Sequence[tuple[AlarmSpec, str]],
) -> str:
    """The dashboard JSON; `alarms` pairs each spec with its declared alarm's ARN (resolved)."""
    widgets: list[dict[str, Any]] = [
        _text(0, f"# Airflow `{stack}`\nAlarms go to the stack's alert topic (Slack, e-mail)."),
        {
            "type": "alarm",
            "x": 0,
            "y": 1,
            "width": _WIDTH,
            "height": 2 + len(alarms) // 4,
            "properties": {
                "title": "Alarms",
                "alarms": [arn for _, arn in alarms],
                "sortBy": "stateUpdatedTimestamp",
            },
        },
    ]
    y = 3 + len(alarms) // 4
    for group, title in GROUP_TITLES.items():
        members = [spec for spec, _ in alarms if spec.group == group]
        extra = _extra_graphs(group, region, stack)
        if not members and not extra:
            continue
        widgets.append(_text(y, f"## {title}"))
        y += 1
        graphs = [_alarm_graph(spec, arn, region) for spec, arn in alarms if spec.group == group]
        for index, graph in enumerate([*graphs, *extra]):
            graph.update(
                x=(index % 3) * _GRAPH_WIDTH,
                y=y + (index // 3) * _GRAPH_HEIGHT,
                width=_GRAPH_WIDTH,
                height=_GRAPH_HEIGHT,
            )
            widgets.append(graph)
        y += ((len(graphs) + len(extra) + 2) // 3) * _GRAPH_HEIGHT
    return json.dumps({"widgets": widgets}, sort_keys=True)


def _text(y: int, markdown: str) -> dict[str, Any]:
    return {"type": "text", "x": 0, "y": y, "width": _WIDTH, "height": 1,
            "properties": {"markdown": markdown}}  # fmt: skip


def _alarm_graph(spec: AlarmSpec, arn: str, region: str) -> dict[str, Any]:
    return {
        "type": "metric",
        "properties": {
            "title": spec.key,
            "region": region,
            "annotations": {"alarms": [arn]},
            "view": "timeSeries",
            "stacked": False,
        },
    }


def _metric(
    namespace: str, name: str, dimensions: Mapping[str, str], stat: str, period: int
) -> list[Any]:
    flat: list[Any] = [namespace, name]
    for key, value in dimensions.items():
        flat += [key, value]
    return [*flat, {"stat": stat, "period": period}]


def _extra_graphs(group: str, region: str, stack: str) -> list[dict[str, Any]]:
    """Graphs of what the probe publishes beyond the alarmed metrics."""
    if group == "airflow":
        metrics = [
            _metric(probe.NAMESPACE, probe.HEARTBEAT_AGE_SECONDS,
                    {probe.STACK: stack, probe.COMPONENT: c}, "Maximum", 60)
            for c in probe.HEARTBEAT_COMPONENTS
        ]  # fmt: skip
        return [_graph("Heartbeat age (s)", region, metrics)]
    if group == "probe":
        return [
            _graph("Probe latency (ms)", region, [_metric(
                probe.NAMESPACE, probe.PROBE_LATENCY_MILLISECONDS, {probe.STACK: stack},
                "Maximum", 60)]),
            _graph("Airflow API reachable", region, [_metric(
                probe.NAMESPACE, probe.API_REACHABLE, {probe.STACK: stack}, "Minimum", 60)]),
        ]  # fmt: skip
    if group == "backups":
        return [
            _graph("Backup age (h)", region, [_metric(
                probe.NAMESPACE, probe.BACKUP_AGE_HOURS, {probe.STACK: stack}, "Maximum", 900)]),
        ]  # fmt: skip
    return []


def _graph(title: str, region: str, metrics: list[list[Any]]) -> dict[str, Any]:
    return {
        "type": "metric",
        "properties": {"title": title, "region": region, "metrics": metrics,
                       "view": "timeSeries", "stacked": False},
    }  # fmt: skip
