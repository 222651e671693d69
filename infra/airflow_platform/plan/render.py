"""A plan for people: a rich table on screen, markdown for a pull-request comment.

Both say what they know and nothing more: which resources are protected, what each change
does to each input (old -> new, secrets as `[secret]`), which changes replace a resource and
which replacements are refused; policies and cost say "not evaluated" until the policy pack
and the price table exist, never "none" or "0.00 USD".
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from airflow_platform.plan.contract import OPS, step_refusal
from airflow_platform.plan.runner import STACK_TYPE

_SYMBOL = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "same": " "}
_STYLE = {
    "create": "green",
    "update": "yellow",
    "replace": "magenta",
    "delete": "red",
    "same": "dim",
}
_ABSENT = object()
# Wide enough for any plan table: a log has no window to fit.
_UNBOUNDED_WIDTH = 100_000
NOT_EVALUATED_POLICIES = "not evaluated (no policy pack runs in this plan yet)"
NOT_EVALUATED_COST = "not evaluated (no price table yet)"


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


def _as_structure(value: Any) -> Any:
    """A JSON document held in a string (a policy) as its structure, else the value."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def input_changes(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(path, old, new) of each changed leaf between two input values: nested objects,
    equally long lists and JSON documents in strings (policies) are followed down, so a
    reviewer sees `rules[0].expiration.days: 180 -> 400`, not two whole rule lists."""
    if old == new:
        return []
    old, new = _as_structure(old), _as_structure(new)
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in sorted(old.keys() | new.keys()):
            where = f"{path}.{key}" if path else str(key)
            changes += input_changes(old.get(key, _ABSENT), new.get(key, _ABSENT), where)
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        changes = []
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            changes += input_changes(before, after, f"{path}[{index}]")
        return changes
    return [(path, old, new)]


def show_value(value: Any) -> str:
    """One value as a reviewer reads it: `(absent)`, a bare string, or compact JSON."""
    if value is _ABSENT or value is None:
        return "(absent)"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        # The engine carries every number as a float: 400, not 400.0.
        return str(int(value))
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def step_changes(step: dict[str, Any]) -> list[str]:
    """`path: old -> new` for each changed input of an update or replace step."""
    if "oldState" not in step or "newState" not in step:
        return []
    old, new = step["oldState"].get("inputs", {}), step["newState"].get("inputs", {})
    return [
        f"{path}: {show_value(before)} -> {show_value(after)}"
        for path, before, after in input_changes(old, new)
    ]


def _protected(step: dict[str, Any]) -> bool:
    state = step.get("newState") or step.get("oldState") or {}
    return bool(state.get("protect"))


def _summary_text(summary: dict[str, int]) -> str:
    return ", ".join(
        f"{summary.get(op, 0)} to {op}" if op != "same" else f"{summary.get(op, 0)} unchanged"
        for op in OPS
    )


def _cost_text(plan: dict[str, Any]) -> str:
    cost = plan["cost"]
    if not cost.get("pricesAsOf"):
        return NOT_EVALUATED_COST
    return f"{cost['monthly']:.2f} {cost['currency']} a month (prices as of {cost['pricesAsOf']})"


def _policy_text(plan: dict[str, Any], policies_evaluated: bool) -> str:
    if not policies_evaluated:
        return NOT_EVALUATED_POLICIES
    return str(len(plan["policyViolations"]) or "none")


def _changes_cell(step: dict[str, Any]) -> str:
    lines = []
    if step["op"] == "replace":
        lines.append(f"[bold]replaces it:[/bold] {escape(', '.join(step['keys']))}")
    if step_refusal(step):
        lines.append("[bold red]refused (below)[/bold red]")
    lines += [escape(line) for line in step_changes(step)]
    if not lines and step.get("diffs"):
        lines.append(escape(", ".join(step["diffs"])))
    return "\n".join(lines)


def print_plan(
    plan: dict[str, Any], stack: str, console: Console, policies_evaluated: bool = False
) -> None:
    """Resources grouped by component, then the change summary, policies and cost.

    On a terminal the table fits the window; elsewhere (CI logs, a file) it is printed at
    its full width, so no resource name is cut short into an ambiguous one."""
    table = Table(title=f"Plan for stack {stack}", show_lines=False, expand=False)
    table.add_column("op", justify="center", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("name", no_wrap=True)
    table.add_column("protected", justify="center", no_wrap=True)
    table.add_column("changes (old -> new)")
    for group, steps in group_steps(plan).items():
        table.add_section()
        table.add_row("", f"[bold]{escape(group)}[/bold]", "", "", "")
        for step in steps:
            op = step["op"]
            state = step.get("newState") or step.get("oldState") or {}
            table.add_row(
                f"[{_STYLE[op]}]{escape(_SYMBOL[op])}[/{_STYLE[op]}]",
                escape(short_type(state.get("type", ""))),
                escape(step["urn"].rsplit("::", 1)[-1]),
                "yes" if _protected(step) else "",
                _changes_cell(step),
            )
    if console.is_terminal:
        console.print(table)
    else:
        # Console.print caps a width at the console's own, so widen the console itself.
        unbounded = console.options.update(max_width=_UNBOUNDED_WIDTH)
        natural = Measurement.get(console, unbounded, table).maximum
        window = console.width
        console.width = max(natural, window)
        try:
            console.print(table)
        finally:
            console.width = window
    console.print(f"[bold]Changes:[/bold] {_summary_text(plan['changeSummary'])}")
    console.print(f"[bold]Policy violations:[/bold] {_policy_text(plan, policies_evaluated)}")
    for violation in plan["policyViolations"]:
        console.print(
            f"  [red]{escape(violation['enforcementLevel'])}[/red] "
            f"{escape(violation['policyName'])}: {escape(violation['message'])}"
        )
    console.print(f"[bold]Estimated cost:[/bold] {_cost_text(plan)}")


def _md(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(plan: dict[str, Any], stack: str, policies_evaluated: bool = False) -> str:
    """What a pull-request comment carries: summary, changes (old -> new), replacements and
    refusals, resources with their protection, policies and cost."""
    summary = plan["changeSummary"]
    config = plan["config"]
    tier = config.get("airflow-platform:tier", "ephemeral")
    lines = [
        f"### airflow-platform plan: `{stack}`",
        "",
        f"Tier `{tier}`, region `{config.get('aws:region', '?')}`. " + _summary_text(summary) + ".",
        "",
        "| " + " | ".join(OPS) + " |",
        "| " + " | ".join("---:" for _ in OPS) + " |",
        "| " + " | ".join(str(summary.get(op, 0)) for op in OPS) + " |",
        "",
    ]
    refused = [(s, step_refusal(s)) for s in plan["steps"]]
    refused = [(s, reason) for s, reason in refused if reason]
    if refused:
        lines += ["#### Refused: changes `pulumi up` cannot make", ""]
        lines += [f"- **`{s['urn'].rsplit('::', 1)[-1]}`**: {reason}" for s, reason in refused]
        lines.append("")
    changed = [s for s in plan["steps"] if s["op"] in ("update", "replace", "delete")]
    if changed:
        lines += [
            "#### Changes to existing resources",
            "",
            "| op | resource | protected | input: old -> new |",
            "| --- | --- | --- | --- |",
        ]
        for step in changed:
            detail = step_changes(step) or step.get("diffs", [])
            if step["op"] == "replace":
                detail = [f"replaced because of: {', '.join(step['keys'])}", *detail]
            cell = "<br>".join(f"`{_md(line)}`" for line in detail)
            lines.append(
                f"| {step['op']} | `{step['urn'].rsplit('::', 1)[-1]}` "
                f"| {'yes' if _protected(step) else ''} | {cell} |"
            )
        lines.append("")
    lines += ["<details><summary>Resources by component</summary>", ""]
    for group, steps in group_steps(plan).items():
        lines += [
            f"**{group}**",
            "",
            "| op | type | name | protected |",
            "| --- | --- | --- | --- |",
        ]
        for step in steps:
            state = step.get("newState") or step.get("oldState") or {}
            lines.append(
                f"| {step['op']} | `{short_type(state.get('type', ''))}` "
                f"| `{step['urn'].rsplit('::', 1)[-1]}` | {'yes' if _protected(step) else ''} |"
            )
        lines.append("")
    lines += ["</details>", ""]
    lines.append(f"**Policy violations:** {_policy_text(plan, policies_evaluated)}")
    for v in plan["policyViolations"]:
        lines.append(f"- `{v['enforcementLevel']}` {v['policyName']}: {v['message']}")
    lines += ["", f"**Estimated monthly cost:** {_cost_text(plan)}", ""]
    return "\n".join(lines)
