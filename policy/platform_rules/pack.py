"""The rules as pulumi-policy policies: what `policy/__main__.py` registers.

Each rule becomes one policy of the same name. The tier (which a rule's thresholds depend
on), each policy's enforcement level and the stack's waivers come from the policy-pack config
`airflow-platform policy config STACK` writes, passed as `pulumi preview --policy-pack policy
--policy-pack-config FILE`; without it every policy runs at its prod level with tier prod.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from platform_rules import Resource, Rule, Stack, Tier, all_rules
from platform_rules.evaluate import Waiver

CONFIG_SCHEMA = PolicyConfigSchema(
    properties={
        "tier": {"type": "string", "enum": [t.value for t in Tier]},
        "waivers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"resource": {"type": "string"}, "reason": {"type": "string"}},
                "required": ["resource", "reason"],
            },
        },
    },
)


def _settings(rule: Rule, config: Any) -> tuple[Tier, list[Waiver]]:
    config = config or {}
    tier = Tier(config.get("tier", Tier.PROD.value))
    waivers = [Waiver(rule.name, w["resource"], w["reason"]) for w in config.get("waivers", [])]
    return tier, waivers


def _report(
    rule: Rule, waivers: list[Waiver], report: ReportViolation, urn: str, text: str
) -> None:
    waiver = next((w for w in waivers if w.covers(rule.name, urn)), None)
    if waiver is None:
        report(text, urn)
    else:  # a waiver is never silent: it shows in the preview's output
        print(f"policy {rule.name}: waived for {urn} ({waiver.reason}): {text}")


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    assert rule.check is not None
    check = rule.check

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in rule.types:
            return
        tier, waivers = _settings(rule, args.get_config())
        resource = Resource(
            type=args.resource_type,
            urn=args.urn,
            name=args.name,
            props=args.props,
            protect=bool(getattr(args.opts, "protect", False)),
            retain_on_delete=bool(getattr(args.opts, "retain_on_delete", False)),
        )
        for text in check(resource, Stack(tier=tier)):
            _report(rule, waivers, report, args.urn, text)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        enforcement_level=EnforcementLevel(rule.level(Tier.PROD).value),
        validate=validate,
        config_schema=CONFIG_SCHEMA,
    )


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    assert rule.stack_check is not None
    stack_check = rule.stack_check

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        tier, waivers = _settings(rule, args.get_config())
        resources = [
            Resource(
                type=r.resource_type,
                urn=r.urn,
                name=r.name,
                props=r.props,
                protect=bool(getattr(r.opts, "protect", False)),
                retain_on_delete=bool(getattr(r.opts, "retain_on_delete", False)),
                # pulumi-policy hands the stack's dependencies as resources; rules see URNs.
                dependencies=tuple(d.urn for d in r.dependencies),
            )
            for r in args.resources
        ]
        for urn, text in stack_check(Stack(tier=tier, resources=resources)):
            _report(rule, waivers, report, urn, text)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        enforcement_level=EnforcementLevel(rule.level(Tier.PROD).value),
        validate=validate,
        config_schema=CONFIG_SCHEMA,
    )


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """Every rule as a policy."""
    return [
        _resource_policy(rule) if rule.check is not None else _stack_policy(rule)
        for rule in all_rules()
    ]
