"""The offline plan's JSON: the shape of `pulumi preview --json` (DESIGN.md, "The offline plan").

Steps are `create` without a base plan; with one, each resource is compared with the base's
resource of the same URN: `same` when its inputs are equal, `update` (with the top-level
input keys that differ) when not, `create` when the base lacks it, and `delete` for what the
base has and this run does not (that step carries `oldState` instead of `newState`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airflow_platform.plan.project import SECRET_PLACEHOLDER, StackConfig
from airflow_platform.plan.runner import STACK_TYPE, DeclaredResource, ProgramRun

OPS = ("create", "update", "delete", "same")


class BasePlanError(Exception):
    """A `--diff` base file that is not a plan."""


def _state(resource: DeclaredResource) -> dict[str, Any]:
    return {
        "urn": resource.urn,
        "type": resource.type,
        "custom": resource.custom,
        "parent": resource.parent,
        "inputs": resource.inputs,
        "protect": resource.protect,
        "retainOnDelete": resource.retain_on_delete,
        "dependencies": resource.dependencies,
    }


def step_order(urn: str) -> tuple[int, str, int, str]:
    """Stack first, then each top-level component followed by its descendants."""
    qualified_type = urn.split("::")[2]
    if qualified_type == STACK_TYPE:
        return (0, "", 0, urn)
    chain = qualified_type.split("$")
    return (1, chain[0], len(chain), urn)


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Top-level input keys whose values differ, as `pulumi preview` lists them in `diffs`."""
    return sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))


def base_states(base: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """URN to state of every resource the base plan leaves in place."""
    if not isinstance(base.get("steps"), list):
        raise BasePlanError("the base plan has no steps list; pass a file written by plan --json")
    return {
        step["urn"]: step["newState"]
        for step in base["steps"]
        if step.get("op") != "delete" and "newState" in step
    }


def build_plan(
    run: ProgramRun,
    config: dict[str, str],
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The plan document for one run, compared with `base` when given."""
    previous = base_states(base) if base is not None else {}
    steps: list[dict[str, Any]] = []
    for resource in sorted(run.resources, key=lambda r: step_order(r.urn)):
        state = _state(resource)
        step: dict[str, Any] = {"op": "create", "urn": resource.urn}
        if resource.urn in previous:
            diffs = changed_keys(previous[resource.urn].get("inputs", {}), resource.inputs)
            step["op"] = "update" if diffs else "same"
            if diffs:
                step["diffs"] = diffs
        step["newState"] = state
        steps.append(step)
    declared = {r.urn for r in run.resources}
    for urn in sorted(set(previous) - declared, key=step_order):
        steps.append({"op": "delete", "urn": urn, "oldState": previous[urn]})

    summary = dict.fromkeys(OPS, 0)
    for step in steps:
        summary[step["op"]] += 1
    return {
        "config": dict(sorted(config.items())),
        "steps": steps,
        "outputs": dict(sorted(run.outputs.items())),
        "changeSummary": summary,
        "policyViolations": [],
        # No price table yet: zero with no items, and no date a price could be "as of".
        "cost": {"currency": "USD", "monthly": 0.0, "pricesAsOf": None, "items": []},
    }


def display_config(values: dict[str, Any], secret_keys: list[str]) -> dict[str, str]:
    """Config as `pulumi preview --json` shows it: strings, secrets as `[secret]`."""
    strings = StackConfig(values=values, secret_keys=secret_keys).runtime_config()
    return {k: SECRET_PLACEHOLDER if k in secret_keys else v for k, v in strings.items()}


def load_base(path: Path) -> dict[str, Any]:
    """Read a base plan written by `plan --json`."""
    try:
        base = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise BasePlanError(f"cannot read base plan {path}: {error}") from None
    if not isinstance(base, dict):
        raise BasePlanError(f"{path} is not a plan document")
    base_states(base)
    return base


def dump(plan: dict[str, Any]) -> str:
    return json.dumps(plan, indent=2, sort_keys=False) + "\n"
