"""What a rule is, what it sees, and what it reports: plain data, no Pulumi import, so the
policy pack (`pulumi preview --policy-pack policy`) and the offline plan run the same
functions over the same shape."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Tier(StrEnum):
    """The stack tiers (the platform's `airflow-platform:tier`)."""

    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"
    EPHEMERAL = "ephemeral"


class Level(StrEnum):
    """pulumi-policy's enforcement levels."""

    MANDATORY = "mandatory"
    ADVISORY = "advisory"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Resource:
    """One resource as a rule sees it: its type token, URN, name and input properties
    (provider camelCase, as `pulumi preview` and the offline plan both hold them)."""

    type: str
    urn: str
    name: str
    props: Mapping[str, Any]
    protect: bool = False
    retain_on_delete: bool = False
    dependencies: tuple[str, ...] = ()
    """URNs of what the resource depends on (`dependsOn` and the resources its inputs come
    from): what the engine creates before it and deletes after it."""

    def get(self, path: str, default: Any = None) -> Any:
        """A nested property by dotted path (`versioningConfiguration.status`)."""
        value: Any = self.props
        for part in path.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return default
            value = value[part]
        return value


@dataclass(frozen=True)
class Stack:
    """What every rule may know of the stack: its tier and every resource in it."""

    tier: Tier
    resources: Sequence[Resource] = ()

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]


Check = Callable[[Resource, Stack], Iterable[str]]
"""Messages naming what is wrong and how to fix it; none when the resource complies."""
StackCheck = Callable[[Stack], Iterable[tuple[str, str]]]
"""(URN, message) pairs for what only the whole stack shows."""


def levels(
    prod: Level = Level.MANDATORY,
    others: Level = Level.ADVISORY,
    ephemeral: Level | None = None,
) -> dict[Tier, Level]:
    """A rule's level per tier: by default mandatory in prod, advisory elsewhere."""
    table = {Tier.PROD: prod, Tier.STAGING: others, Tier.DEV: others, Tier.EPHEMERAL: others}
    if ephemeral is not None:
        table[Tier.EPHEMERAL] = ephemeral
    return table


TEARDOWN_LEVELS = {
    Tier.EPHEMERAL: Level.MANDATORY,
    Tier.DEV: Level.DISABLED,
    Tier.STAGING: Level.DISABLED,
    Tier.PROD: Level.DISABLED,
}
"""Teardown rules: what an ephemeral stack must leave behind; they do not apply elsewhere."""


@dataclass(frozen=True)
class Rule:
    """A rule: per resource (`check` over `types`) or over the whole stack (`stack_check`)."""

    name: str
    """kebab-case, unique; the policy's name in the pack and in waivers."""
    service: str
    """S3, RDS, MWAA, EKS, IAM, KMS, Logs, Alarms, SNS, Lambda, ECR, VPC, Tags, Teardown."""
    description: str
    levels: Mapping[Tier, Level] = field(default_factory=levels)
    types: frozenset[str] = frozenset()
    check: Check | None = None
    stack_check: StackCheck | None = None

    def __post_init__(self) -> None:
        if (self.check is None) == (self.stack_check is None):
            raise ValueError(f"rule {self.name}: give exactly one of check and stack_check")
        if self.check is not None and not self.types:
            raise ValueError(f"rule {self.name}: a resource rule names the types it checks")

    def level(self, tier: Tier) -> Level:
        return self.levels[tier]

    def violations(self, stack: Stack) -> list[tuple[str, str]]:
        """(URN, message) for every violation in `stack`."""
        if self.stack_check is not None:
            return list(self.stack_check(stack))
        assert self.check is not None
        return [
            (resource.urn, message)
            for resource in stack.resources
            if resource.type in self.types
            for message in self.check(resource, stack)
        ]
