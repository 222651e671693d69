"""The alarm table of docs/monitoring.md: every alarm with its condition on each tier, computed
from `alarm_specs` and the tier defaults (`python -m airflow_platform.alarm_reference` prints
it; tests/test_docs.py keeps the page equal to it)."""

from __future__ import annotations

from airflow_platform.alarms import AlarmSpec, Watched, alarm_specs
from airflow_platform.config.load import settings_from_values
from airflow_platform.config.model import Platform, Tier

_OPERATORS = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
_STACKS = {Tier.DEV: "dev", Tier.STAGING: "staging", Tier.PROD: "prod", Tier.EPHEMERAL: "pr-1"}
# What a documented table needs of the stack: a region and, where the tier requires one, a
# Slack channel (its ids do not change any alarm).
_EXAMPLE = {
    "aws:region": "eu-west-1",
    "airflow-platform:monitoring": {
        "slack": {"workspaceId": "T0EXAMPLE01", "channelId": "C0EXAMPLE01"}
    },
}
_GIB = 1024**3
_MIB = 1024**2


def condition(spec: AlarmSpec) -> str:
    """`Minimum < 1, 10 x 1 min` and the like, in the units a person thinks in."""
    threshold: float = spec.threshold
    unit = ""
    if spec.metric == "FreeStorageSpace":
        threshold, unit = threshold / _GIB, " GiB"
    elif spec.metric == "FreeableMemory":
        threshold, unit = threshold / _MIB, " MiB"
    value = f"{threshold:g}{unit}"
    period = f"{spec.period // 3600} h" if spec.period % 3600 == 0 else f"{spec.period // 60} min"
    window = period if spec.evaluation_periods == 1 else f"{spec.evaluation_periods} x {period}"
    return f"{spec.statistic} {_OPERATORS[spec.comparison]} {value}, {window}"


def _specs(tier: Tier, platform: Platform) -> dict[str, AlarmSpec]:
    values = dict(_EXAMPLE)
    values["airflow-platform:platform"] = platform.value
    if tier is not Tier.EPHEMERAL:
        values["airflow-platform:tier"] = tier.value
    config = settings_from_values("airflow-platform", _STACKS[tier], values).config
    watched = Watched(
        stack=_STACKS[tier],
        probe_function="probe",
        probe_dead_letter_queue="dead-letters",
        backup_database="airflow",
        database_identifier="database",
        mwaa_environment="environment" if platform is Platform.MWAA else None,
        eks_cluster="cluster" if platform is Platform.EKS else None,
    )
    return {spec.key: spec for spec in alarm_specs(config, watched)}


def alarm_table() -> str:
    """The Markdown table: alarm, what it watches, missing data, and its condition per tier."""
    tiers = [Tier.DEV, Tier.STAGING, Tier.PROD, Tier.EPHEMERAL]
    by_tier = {tier: {platform: _specs(tier, platform) for platform in Platform} for tier in tiers}
    lines = [
        "| alarm | runtime | namespace / metric | missing data | "
        + " | ".join(t.value for t in tiers)
        + " |",
        "| --- | --- | --- | --- |" + " --- |" * len(tiers),
    ]
    seen: set[str] = set()
    for platform in Platform:
        for key, spec in by_tier[Tier.DEV][platform].items():
            if key in seen:
                continue
            only = [p for p in Platform if key in by_tier[Tier.DEV][p]]
            runtime = "both" if len(only) == len(Platform) else only[0].value
            seen.add(key)
            cells = [condition(by_tier[t][platform][key]) for t in tiers]
            lines.append(
                f"| `{key}` | {runtime} | `{spec.namespace}` `{spec.metric}` | "
                f"{spec.missing.value} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(alarm_table(), end="")
