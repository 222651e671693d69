"""Run the rules over a stack, apply waivers, and say what was found."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from platform_rules.model import Level, Rule, Stack


@dataclass(frozen=True)
class Waiver:
    """A rule not enforced on one resource, for a stated reason (the stack's
    `airflow-platform:policy.waivers`)."""

    rule: str
    resource: str
    """The resource's name (the last URN part) or its whole URN."""
    reason: str

    def covers(self, rule: str, urn: str) -> bool:
        return rule == self.rule and (urn == self.resource or urn.endswith(f"::{self.resource}"))


@dataclass(frozen=True)
class Finding:
    """One violation as the plan reports it."""

    rule: str
    level: Level
    urn: str
    message: str
    waived_because: str | None = None

    @property
    def blocking(self) -> bool:
        return self.level is Level.MANDATORY and self.waived_because is None


def evaluate(rules: Iterable[Rule], stack: Stack, waivers: Sequence[Waiver] = ()) -> list[Finding]:
    """Every violation of every rule enabled on the stack's tier, waived ones marked."""
    findings = []
    for rule in rules:
        level = rule.level(stack.tier)
        if level is Level.DISABLED:
            continue
        for urn, message in rule.violations(stack):
            waiver = next((w for w in waivers if w.covers(rule.name, urn)), None)
            findings.append(
                Finding(rule.name, level, urn, message, waiver.reason if waiver else None)
            )
    return findings


def unknown_waivers(rules: Iterable[Rule], waivers: Sequence[Waiver]) -> list[Waiver]:
    """Waivers naming a rule that does not exist (a typo would silently waive nothing)."""
    names = {rule.name for rule in rules}
    return [w for w in waivers if w.rule not in names]
