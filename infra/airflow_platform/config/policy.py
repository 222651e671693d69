"""`airflow-platform:policy`: the policy rules a stack does not enforce on a resource, and why.

A waiver names a rule (`airflow-platform policy list`), the resource (its logical name, as the
plan's table shows it, or its whole URN) and a reason; the plan still lists the violation,
marked waived with that reason, and a waived mandatory violation no longer refuses the plan.
A rule name that does not exist is refused: a typo would otherwise waive nothing, silently.
"""

from __future__ import annotations

import difflib

from pydantic import Field, field_validator

from airflow_platform.config.base import ConfigModel


def unknown_rule(name: str) -> str | None:
    """Why `name` names no policy rule (listing the rules that exist), or None when it does.
    The rules are the policy pack's own `platform_rules`, which imports no Pulumi."""
    from platform_rules import Waiver, all_rules, unknown_waivers

    rules = all_rules()
    if not unknown_waivers(rules, [Waiver(rule=name, resource="", reason="")]):
        return None
    known = [rule.name for rule in rules]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"no such policy rule{hint}; the rules: {', '.join(known)}"


class WaiverConfig(ConfigModel):
    """One rule not enforced on one resource."""

    rule: str
    """The rule's name, as `airflow-platform policy list` shows it."""
    resource: str = Field(min_length=1)
    """The resource's logical name (the plan's name column) or its URN."""
    reason: str
    """Why the rule cannot apply to it: shown beside the violation in every plan."""

    @field_validator("rule")
    @classmethod
    def _known_rule(cls, name: str) -> str:
        problem = unknown_rule(name)
        if problem is not None:
            raise ValueError(problem)
        return name

    @field_validator("reason")
    @classmethod
    def _stated(cls, reason: str) -> str:
        if not reason.strip():
            raise ValueError("a waiver needs a reason: say why the rule cannot apply")
        return reason.strip()


class PolicyConfig(ConfigModel):
    """`airflow-platform:policy`: waivers of the policy rules for this stack."""

    waivers: list[WaiverConfig] = Field(default_factory=list)
    """Rules not enforced on a resource, each `{rule, resource, reason}` (reason required);
    the plan shows each waived violation with its reason."""
