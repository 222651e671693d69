"""The platform's policy rules, one module per service, shared by the policy pack
(`policy/__main__.py`, run by `pulumi preview --policy-pack policy`) and the offline plan
(`airflow_platform.plan.policies`). Rules are plain functions over `Resource` and `Stack`;
nothing here imports Pulumi."""

from __future__ import annotations

import importlib

from platform_rules.evaluate import Finding, Waiver, evaluate, unknown_waivers
from platform_rules.model import Level, Resource, Rule, Stack, Tier

# One module per service; each holds `RULES: list[Rule]`.
MODULES = (
    "s3",
    "rds",
    "mwaa",
    "eks",
    "iam",
    "kms",
    "logs",
    "lambda_fn",
    "ecr",
    "network",
    "tags",
    "teardown",
)


def all_rules() -> list[Rule]:
    """Every rule, in service order; names are unique."""
    rules: list[Rule] = []
    for module in MODULES:
        rules += importlib.import_module(f"platform_rules.{module}").RULES
    names = [rule.name for rule in rules]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"rule names must be unique: {', '.join(duplicates)}")
    return rules


__all__ = [
    "MODULES",
    "Finding",
    "Level",
    "Resource",
    "Rule",
    "Stack",
    "Tier",
    "Waiver",
    "all_rules",
    "evaluate",
    "unknown_waivers",
]
