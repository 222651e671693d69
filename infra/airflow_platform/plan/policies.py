"""The policy rules over an offline plan: the same functions `pulumi preview --policy-pack
policy` runs (`platform_rules`), over what the program declared.

Each custom resource becomes a rule's `Resource` (its inputs as properties, as the engine hands
them to a policy pack), the stack's tier picks each rule's level, and the stack's waivers
(`airflow-platform:policy.waivers`) mark violations waived. The plan lists every violation,
waived ones with their reason: a waiver is never silent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from platform_rules import Finding, Resource, Stack, Tier, Waiver, all_rules, evaluate

from airflow_platform.config import Settings
from airflow_platform.plan.contract import step_order
from airflow_platform.plan.runner import ProgramRun


def rule_stack(run: ProgramRun, tier: str) -> Stack:
    """The run's custom resources as the rules see them, in the plan's step order."""
    resources = [
        Resource(
            type=r.type,
            urn=r.urn,
            name=r.name,
            props=r.inputs,
            protect=r.protect,
            retain_on_delete=r.retain_on_delete,
            dependencies=tuple(r.dependencies),
        )
        for r in sorted(run.resources, key=lambda r: step_order(r.urn))
        if r.custom
    ]
    return Stack(tier=Tier(tier), resources=resources)


def waivers_of(settings: Settings) -> list[Waiver]:
    """The stack's waivers (their rule names were checked when its config was validated)."""
    return [
        Waiver(rule=w.rule, resource=w.resource, reason=w.reason)
        for w in settings.config.policy.waivers
    ]


def findings(run: ProgramRun, settings: Settings) -> list[Finding]:
    """Every violation of every rule enabled on the stack's tier, waived ones marked."""
    stack = rule_stack(run, settings.tier.value)
    return evaluate(all_rules(), stack, waivers_of(settings))


def violations(found: Sequence[Finding]) -> list[dict[str, Any]]:
    """The plan's `policyViolations`: `pulumi preview --json`'s fields, and `waived` (the
    reason) on a waived one."""
    entries = []
    for finding in found:
        entry: dict[str, Any] = {
            "policyName": finding.rule,
            "enforcementLevel": finding.level.value,
            "urn": finding.urn,
            "message": finding.message,
        }
        if finding.waived_because is not None:
            entry["waived"] = finding.waived_because
        entries.append(entry)
    return entries


def unused_waivers(settings: Settings, found: Sequence[Finding]) -> list[Waiver]:
    """Waivers that waived nothing in this plan: the resource is gone, renamed, or complies."""
    used = {(f.rule, f.urn) for f in found if f.waived_because is not None}
    return [
        w
        for w in waivers_of(settings)
        if not any(rule == w.rule and w.covers(rule, urn) for rule, urn in used)
    ]
