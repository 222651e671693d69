"""A plan for people: a rich table on screen, markdown for a pull-request comment."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.table import Table

from airflow_platform.plan.contract import OPS
from airflow_platform.plan.runner import STACK_TYPE

_SYMBOL = {"create": "+", "update": "~", "delete": "-", "same": " "}
_STYLE = {"create": "green", "update": "yellow", "delete": "red", "same": "dim"}


def short_type(token: str) -> str:
    """`aws:s3/bucketPolicy:BucketPolicy` -> `aws:s3:BucketPolicy`."""
    parts = token.split(":")
    if len(parts) == 3 and "/" in parts[1]:
        return f"{parts[0]}:{parts[1].split('/')[0]}:{parts[2]}"
    return token


def group_steps(plan: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Steps by top-level component ("Network network"); the stack's own step under "Stack".

    Steps arrive in `step_order`, so each component's step comes before its descendants'.
    """
    label: dict[str, str] = {}
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for step in plan["steps"]:
        qualified_type, name = step["urn"].split("::")[2:4]
        chain = qualified_type.split("$")
        if chain == [STACK_TYPE]:
            groups["Stack"].append(step)
            continue
        if len(chain) == 1:
            label[chain[0]] = f"{chain[0].rsplit(':', 1)[-1]} {name}"
        groups[label.get(chain[0], chain[0])].append(step)
    return dict(groups)


def _summary_text(summary: dict[str, int]) -> str:
    return ", ".join(
        f"{summary[op]} to {op}" if op != "same" else f"{summary[op]} unchanged" for op in OPS
    )


def print_plan(plan: dict[str, Any], stack: str, console: Console) -> None:
    """Resources grouped by component, then the change summary."""
    table = Table(title=f"Plan for stack {stack}", show_lines=False, expand=False)
    table.add_column("op", justify="center")
    table.add_column("type")
    table.add_column("name")
    table.add_column("changed inputs")
    for group, steps in group_steps(plan).items():
        table.add_section()
        table.add_row("", f"[bold]{group}[/bold]", "", "")
        for step in steps:
            op = step["op"]
            state = step.get("newState") or step.get("oldState") or {}
            table.add_row(
                f"[{_STYLE[op]}]{_SYMBOL[op]}[/{_STYLE[op]}]",
                short_type(state.get("type", "")),
                step["urn"].rsplit("::", 1)[-1],
                ", ".join(step.get("diffs", [])),
            )
    console.print(table)
    console.print(f"[bold]Changes:[/bold] {_summary_text(plan['changeSummary'])}")
    violations = plan["policyViolations"]
    if violations:
        console.print(f"[bold red]{len(violations)} policy violation(s)[/bold red]")


def markdown(plan: dict[str, Any], stack: str) -> str:
    """What a pull-request comment carries: summary, changes, resources, policy, cost."""
    summary = plan["changeSummary"]
    config = plan["config"]
    tier = config.get("airflow-platform:tier", "ephemeral")
    lines = [
        f"### airflow-platform plan: `{stack}`",
        "",
        f"Tier `{tier}`, region `{config.get('aws:region', '?')}`. " + _summary_text(summary) + ".",
        "",
        "| create | update | delete | same |",
        "| ---: | ---: | ---: | ---: |",
        "| " + " | ".join(str(summary[op]) for op in OPS) + " |",
        "",
    ]
    changed = [s for s in plan["steps"] if s["op"] in ("update", "delete")]
    if changed:
        lines += [
            "#### Changes to existing resources",
            "",
            "| op | resource | changed inputs |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| {s['op']} | `{s['urn'].rsplit('::', 1)[-1]}` | {', '.join(s.get('diffs', []))} |"
            for s in changed
        ]
        lines.append("")
    lines += ["<details><summary>Resources by component</summary>", ""]
    for group, steps in group_steps(plan).items():
        lines += [f"**{group}**", "", "| op | type | name |", "| --- | --- | --- |"]
        for step in steps:
            state = step.get("newState") or step.get("oldState") or {}
            lines.append(
                f"| {step['op']} | `{short_type(state.get('type', ''))}` "
                f"| `{step['urn'].rsplit('::', 1)[-1]}` |"
            )
        lines.append("")
    lines += ["</details>", ""]
    violations = plan["policyViolations"]
    lines.append(f"**Policy violations:** {len(violations) or 'none'}")
    for v in violations:
        lines.append(f"- `{v['enforcementLevel']}` {v['policyName']}: {v['message']}")
    cost = plan["cost"]
    as_of = f" (prices as of {cost['pricesAsOf']})" if cost.get("pricesAsOf") else ""
    lines += [
        "",
        f"**Estimated monthly cost:** {cost['monthly']:.2f} {cost['currency']}{as_of}",
        "",
    ]
    return "\n".join(lines)
