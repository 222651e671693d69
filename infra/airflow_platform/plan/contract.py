"""The offline plan's JSON: the shape of `pulumi preview --json` (docs/plan.md).

Steps are `create` without a base plan; with one, each resource is compared with the base's
resource of the same URN: `same` when its inputs are equal, `update` (with the top-level
input keys that differ in `diffs`, and the base's state as `oldState`) when not, `replace`
when one of those changes forces the provider to replace the resource (the forcing input
paths in `keys`, as `pulumi preview --json` names them; `plan.replacement` holds which inputs
do), `create` when the base lacks it, and `delete` for what the base has and this run does
not (that step carries `oldState` instead of `newState`).

A change that cannot succeed, or would lose data, is refused (`blocking_problems`): deleting
or replacing a protected resource (Pulumi refuses both), or replacing one whose fixed name
stays the same
(Pulumi creates the replacement before deleting the old one, and AWS refuses a second
resource of that name). Such a change is found here, in review, not by a failed `pulumi up`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airflow_platform.plan.project import SECRET_PLACEHOLDER, StackConfig
from airflow_platform.plan.replacement import replacement_keys
from airflow_platform.plan.runner import STACK_TYPE, DeclaredResource, ProgramRun

OPS = ("create", "update", "replace", "delete", "same")

# The input that holds a resource's fixed, account- or region-unique name, by type.
FIXED_NAME_INPUTS = {
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:ecr/repository:Repository": "name",
    "aws:eks/cluster:Cluster": "name",
    "aws:iam/role:Role": "name",
    "aws:kms/alias:Alias": "name",
    "aws:mwaa/environment:Environment": "name",
    "aws:rds/instance:Instance": "identifier",
    "aws:rds/parameterGroup:ParameterGroup": "name",
    "aws:rds/subnetGroup:SubnetGroup": "name",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:secretsmanager/secret:Secret": "name",
}


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
    cost: dict[str, Any] | None = None,
    policy_violations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The plan document for one run, compared with `base` when given; `cost` is the
    estimate's block (cost/model.py `cost_block`), None when there is no price table."""
    previous = base_states(base) if base is not None else {}
    steps: list[dict[str, Any]] = []
    for resource in sorted(run.resources, key=lambda r: step_order(r.urn)):
        state = _state(resource)
        step: dict[str, Any] = {"op": "create", "urn": resource.urn}
        old = previous.get(resource.urn)
        if old is not None:
            diffs = changed_keys(old.get("inputs", {}), resource.inputs)
            step["op"] = "update" if diffs else "same"
            if diffs:
                keys = (
                    replacement_keys(resource.type, old.get("inputs", {}), resource.inputs)
                    if resource.custom
                    else []
                )
                if keys:
                    step["op"] = "replace"
                    step["keys"] = keys
                step["diffs"] = diffs
                step["oldState"] = old
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
        # plan/policies.py `violations`: the policy rules over this run, waived ones marked.
        "policyViolations": policy_violations or [],
        # Without a price table: zero with no items, and no date a price could be "as of".
        "cost": cost or {"currency": "USD", "monthly": 0.0, "pricesAsOf": None, "items": []},
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


def step_refusal(step: dict[str, Any]) -> str | None:
    """Why a step cannot go ahead, or None when it can: deleting or replacing a protected
    resource (Pulumi refuses both), or replacing a resource whose fixed name stays."""
    name = step["urn"].rsplit("::", 1)[-1]
    if step.get("op") == "delete" and step["oldState"].get("protect"):
        return (
            f"{name} is protected and would be deleted: Pulumi refuses to delete a protected "
            "resource; unprotect it on purpose first (pulumi state unprotect) if it must go"
        )
    if step.get("op") != "replace":
        return None
    old, new = step["oldState"], step["newState"]
    keys = ", ".join(step["keys"])
    if old.get("protect") or new.get("protect"):
        return (
            f"{name} is protected and {keys} would replace it: Pulumi refuses to replace a "
            "protected resource, and its data would not move to the new one"
        )
    name_input = FIXED_NAME_INPUTS.get(new["type"])
    fixed = old.get("inputs", {}).get(name_input) if name_input else None
    if fixed is not None and fixed == new["inputs"].get(name_input):
        return (
            f"{name} ({fixed}) would be replaced ({keys} changed): the replacement is created "
            f"before the old one is deleted and AWS refuses a second resource named {fixed}; "
            "and the new one starts empty"
        )
    return None


def blocking_problems(plan: dict[str, Any]) -> list[str]:
    """Why `plan` must exit 1, one line each: every mandatory policy violation not waived
    and every deletion or replacement that cannot succeed (`step_refusal`). Empty when the
    plan may go ahead."""
    problems = [
        f"{v['policyName']}: {v['message']} ({v['urn']})"
        for v in plan["policyViolations"]
        if v["enforcementLevel"] == "mandatory" and "waived" not in v
    ]
    for step in plan["steps"]:
        refusal = step_refusal(step)
        if refusal is not None:
            problems.append(refusal)
    return problems


def dump(plan: dict[str, Any]) -> str:
    return json.dumps(plan, indent=2, sort_keys=False) + "\n"
