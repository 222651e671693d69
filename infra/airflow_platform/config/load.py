"""Read a stack's config, apply its tier's defaults, validate it in full, once.

`load_settings()` is what the Pulumi program calls; it reads through `pulumi.Config`.
`settings_from_values()` does the work on plain values so the CLI and tests can call it
without a Pulumi runtime. Keys may be nested or flat (`airflow-platform:network.azCount`, as
`pulumi config set` writes them without --path), values native or strings ("3", "true").
Every problem (bad values, rules across keys, tier floors, the checks here) is found in one
pass and raised as one `ConfigError`, a `pulumi.RunError`, so `pulumi up` prints the message
alone, without a Python traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pulumi

from airflow_platform.config.flat import nest
from airflow_platform.config.keys import NAMESPACE, Path, Resolved, overlaps, rank, resolve
from airflow_platform.config.model import REGION, Platform, PlatformConfig, Tier
from airflow_platform.config.tiers import TEARDOWN, Teardown
from airflow_platform.config.validate import validate

EPHEMERAL_STACK = re.compile(r"^pr-(\d+)$")
_STACK_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
# Longest bucket name the platform derives: airflow-<stack>-access-logs-<account id>-<region>
# (the access-log bucket, storage.accessLogging; a stack may turn it on later, so every stack
# name leaves room for it).
_LONGEST_BUCKET_PURPOSE = "access-logs"
_ACCOUNT_ID_LENGTH = 12


class ConfigError(pulumi.RunError):
    """The stack's config is invalid; the message names each key, value and what is allowed."""


@dataclass(frozen=True)
class Settings:
    """Everything the program needs to know about the stack, validated."""

    project: str
    stack: str
    region: str
    config: PlatformConfig
    expires_at: datetime | None
    """When an ephemeral stack may be reaped; None on long-lived tiers."""

    @property
    def tier(self) -> Tier:
        return self.config.tier

    @property
    def platform(self) -> Platform:
        return self.config.platform

    @property
    def teardown(self) -> Teardown:
        return TEARDOWN[self.config.tier]


def settings_from_values(
    project: str,
    stack: str,
    values: Mapping[str, Any],
    now: datetime | None = None,
) -> Settings:
    """Validate `values` (namespaced keys such as `airflow-platform:tier` and `aws:region`,
    objects already parsed or as JSON text; flat dotted keys such as
    `airflow-platform:network.azCount` name the nested key) for `stack`, or raise one
    ConfigError listing every problem."""
    settings, problems = _evaluate(project, stack, values, now)
    if settings is None:
        raise ConfigError(_message(stack, problems))
    return settings


def load_settings(now: datetime | None = None) -> Settings:
    """Read and validate the current stack's config through `pulumi.Config`."""
    # Like the AWS provider, fall back to the environment's region when the stack sets none.
    region = (
        pulumi.Config("aws").get("region")
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
    )
    values: dict[str, Any] = {"aws:region": region}
    problems: list[str] = []
    config = pulumi.Config(NAMESPACE)
    for key in _namespace_keys():
        # A flat key (`network.azCount`, from `pulumi config set` without --path) is read as
        # it is stored, then unflattened; objects and lists arrive as JSON text.
        target = resolve(key)
        structured = isinstance(target, Resolved) and target.structured
        try:
            values[f"{NAMESPACE}:{key}"] = config.get_object(key) if structured else config.get(key)
        except Exception as error:
            problems.append(f"{NAMESPACE}:{key} is not valid YAML/JSON: {error}")
    values = {key: value for key, value in values.items() if value is not None}
    settings, found = _evaluate(pulumi.get_project(), pulumi.get_stack(), values, now)
    problems += found
    if problems or settings is None:
        raise ConfigError(_message(pulumi.get_stack(), problems))
    return settings


def _evaluate(
    project: str, stack: str, values: Mapping[str, Any], now: datetime | None
) -> tuple[Settings | None, list[str]]:
    problems: list[str] = []
    ours = {
        key.split(":", 1)[1]: value
        for key, value in values.items()
        if key.startswith(f"{NAMESPACE}:")
    }

    region = values.get("aws:region")
    if region is None:
        problems.append("aws:region is required; set it to an AWS region such as eu-west-1")
    elif not isinstance(region, str) or not REGION.fullmatch(region):
        problems.append(
            f"aws:region = {region!r} is not allowed: expected a region such as eu-west-1"
        )

    problems += _stack_name_problems(stack, region if isinstance(region, str) else "us-east-1")
    tier = _resolve_tier(stack, ours, problems)
    user, key_problems = nest(ours)
    problems += key_problems

    # Problems about config keys, listed in the schema's order.
    keyed: list[tuple[Path, str]] = _existing_vpc_problems(user.get("network"))
    config, found, reset = validate(user, tier)
    keyed += found
    if config is not None:
        keyed += _settings_problems(config, region, reset)
    problems += [message for _, message in sorted(keyed, key=lambda item: rank(item[0]))]
    problems = list(dict.fromkeys(problems))
    if problems or config is None or tier is None:
        return None, problems

    expires_at = None
    if config.tier is Tier.EPHEMERAL:
        expires_at = config.ephemeral.expires_at or _expiry(now, config.ephemeral.ttl_hours)
    return Settings(project, stack, str(region), config, expires_at), []


def _settings_problems(
    config: PlatformConfig, region: Any, reset: set[Path]
) -> list[tuple[Path, str]]:
    # Rules across the stack's config and its aws:region.
    replica: Path = ("backup", "replicaRegion")
    if config.backup.replica_region is None or config.backup.replica_region != region:
        return []
    if any(overlaps(replica, done) for done in reset):
        return []
    return [
        (
            replica,
            f"{NAMESPACE}:backup.replicaRegion = {region!r} is not allowed: it is the stack's "
            "own aws:region; choose a second region",
        )
    ]


def _namespace_keys() -> list[str]:
    # pulumi.Config reads one key at a time; unknown keys (typos) are found by listing the
    # whole namespace, from the runtime's map and from PULUMI_CONFIG.
    from pulumi.runtime import config as runtime_config

    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    names = set()
    for key in keys:
        namespace, _, name = key.partition(":")
        name = name.removeprefix("config:")  # the legacy "ns:config:key" form
        if namespace == NAMESPACE and name:
            names.add(name)
    return sorted(names)


def _resolve_tier(stack: str, ours: Mapping[str, Any], problems: list[str]) -> Tier | None:
    allowed = ", ".join(t.value for t in Tier)
    raw = ours.get("tier")
    if EPHEMERAL_STACK.fullmatch(stack):
        if raw not in (None, Tier.EPHEMERAL.value):
            problems.append(
                f"{NAMESPACE}:tier = {raw!r} is not allowed for stack {stack!r}: "
                "stacks named pr-<number> are always ephemeral"
            )
            return None
        return Tier.EPHEMERAL
    if raw is None:
        problems.append(f"{NAMESPACE}:tier is required; allowed: {allowed}")
        return None
    try:
        return Tier(raw)
    except ValueError:
        problems.append(f"{NAMESPACE}:tier = {raw!r} is not allowed; allowed: {allowed}")
        return None


def _stack_name_problems(stack: str, region: str) -> list[str]:
    if not _STACK_NAME.fullmatch(stack):
        return [
            f"stack name {stack!r} is not allowed: use lowercase letters, digits and hyphens "
            "(it becomes part of bucket names)"
        ]
    if "--" in stack:
        return [
            f"stack name {stack!r} is not allowed: two hyphens in a row cannot appear in RDS "
            "identifiers (airflow-<stack>-metadata)"
        ]
    longest = (
        len(f"airflow-{stack}-{_LONGEST_BUCKET_PURPOSE}-") + _ACCOUNT_ID_LENGTH + len(f"-{region}")
    )
    if longest > 63:
        room = len(stack) - (longest - 63)
        return [
            f"stack name {stack!r} is too long for bucket names in {region}: "
            f"at most {room} characters are allowed"
        ]
    return []


def _existing_vpc_problems(network: Any) -> list[tuple[Path, str]]:
    # "Exactly one of create / existing": judged on what the stack file says, before the
    # tier's create-mode defaults are merged in.
    if not isinstance(network, Mapping) or "existingVpc" not in network:
        return []
    clash = sorted(key for key in network if key != "existingVpc")
    if not clash:
        return []
    return [
        (
            ("network", "existingVpc"),
            f"{NAMESPACE}:network sets existingVpc together with {', '.join(clash)}: "
            "either create a VPC (vpcCidr, azCount, natGatewayPerAz, flowLogs, ...) or use "
            "existingVpc, not both",
        )
    ]


def _expiry(now: datetime | None, ttl_hours: int) -> datetime:
    # Floored to the hour: repeated plans within an hour agree, so a preview does not show
    # every resource's expires-at tag changing.
    start = (now or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return start + timedelta(hours=ttl_hours)


def _message(stack: str, problems: list[str]) -> str:
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return f"invalid config for stack {stack!r}:\n{lines}"
