"""A plan for people: a rich table on screen (the pull-request comment is `plan.comment`,
which shares this module's change helpers).

Both say what they know and nothing more: which resources are protected, what each change
does to each input (old -> new, secrets as `[secret]`), which changes replace a resource and
which replacements are refused; the policy violations the rules found (mandatory, advisory
and waived, each with its resource and message, a waiver with its reason); cost says "not
evaluated" without a price table, never "0.00 USD".
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
NOT_EVALUATED_COST = (
    "not evaluated (no price table: run `airflow-platform prices refresh` with AWS credentials)"
)


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
    text = f"{cost['monthly']:,.2f} {cost['currency']} a month (prices as of {cost['pricesAsOf']}"
    unpriced = cost.get("unpriced") or []
    if unpriced:
        # Never a total that looks complete when it is not.
        text += f"; {len(unpriced)} resource{'s' if len(unpriced) != 1 else ''} not priced"
    return text + ")"


def cost_lines(plan: dict[str, Any]) -> list[str]:
    """The estimate in plain lines, after the total: the change against a base plan (in
    total and per resource), then each priced resource (largest first) with its basis, then
    what was not priced and why. Empty when there is no estimate."""
    cost = plan["cost"]
    if not cost.get("pricesAsOf"):
        return []
    currency = cost["currency"]
    lines = []
    if "change" in cost:
        change = cost["change"]
        if change is None:
            lines.append("Cost change: not evaluated (the base plan carries no cost)")
        else:
            lines.append(
                f"Cost change: {change['change']:+,.2f} {currency} a month "
                f"({change['baseMonthly']:,.2f} -> {cost['monthly']:,.2f})"
            )
            if change.get("basePricesAsOf") != cost["pricesAsOf"]:
                lines.append(
                    f"  (the base was priced as of {change.get('basePricesAsOf')}: part of the "
                    "change may be AWS's prices, not this change)"
                )
            for item in change["items"]:
                before = "-" if item["before"] is None else f"{item['before']:,.2f}"
                after = "-" if item["after"] is None else f"{item['after']:,.2f}"
                lines.append(
                    f"  {item['urn'].rsplit('::', 1)[-1]}: {before} -> {after} "
                    f"({item['change']:+,.2f})"
                )
    lines.append(f"Cost by resource ({currency} a month; {cost.get('usage', 'assumptions')}):")
    for item in sorted(cost["items"], key=lambda i: (-i["monthly"], i["urn"])):
        lines.append(
            f"  {item['monthly']:>10,.2f}  {item['urn'].rsplit('::', 1)[-1]}: {item['basis']}"
        )
    for item in cost.get("unpriced") or []:
        lines.append(f"  not priced  {item['urn'].rsplit('::', 1)[-1]}: {item['reason']}")
    return lines


def policy_counts(plan: dict[str, Any]) -> dict[str, int]:
    """Violations by what they do to the plan: mandatory (refuse it), advisory, waived."""
    counts = {"mandatory": 0, "advisory": 0, "waived": 0}
    for violation in plan["policyViolations"]:
        level = "waived" if "waived" in violation else violation["enforcementLevel"]
        counts[level] = counts.get(level, 0) + 1
    return counts


def _policy_text(plan: dict[str, Any], policies_evaluated: bool) -> str:
    if not policies_evaluated:
        return NOT_EVALUATED_POLICIES
    if not plan["policyViolations"]:
        return "none"
    return ", ".join(f"{count} {level}" for level, count in policy_counts(plan).items())


def violations_table(plan: dict[str, Any]) -> Table:
    """Each violation with its level, rule, resource and what to do; a waived one says so
    and why (a waiver is never silent). Mandatory first, then advisory, then waived."""
    table = Table(title="Policy violations", show_lines=False, expand=False)
    table.add_column("level", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("resource", no_wrap=True)
    table.add_column("message")
    rank = {"mandatory": 0, "advisory": 1}

    def order(violation: dict[str, Any]) -> tuple[int, int]:
        return (1 if "waived" in violation else 0, rank.get(violation["enforcementLevel"], 2))

    for violation in sorted(plan["policyViolations"], key=order):
        level, message = violation["enforcementLevel"], escape(violation["message"])
        if "waived" in violation:
            shown = f"[dim]waived ({escape(level)})[/dim]"
            message += f"\n[dim]waived: {escape(str(violation['waived']))}[/dim]"
        else:
            shown = f"[{'bold red' if level == 'mandatory' else 'yellow'}]{escape(level)}[/]"
        table.add_row(
            shown,
            escape(violation["policyName"]),
            escape(violation["urn"].rsplit("::", 1)[-1]),
            message,
        )
    return table


def _print_whole(console: Console, table: Table) -> None:
    """On a terminal the table fits the window; elsewhere (CI logs, a file) it is printed at
    its full width, so no resource name is cut short into an ambiguous one."""
    if console.is_terminal:
        console.print(table)
        return
    # Console.print caps a width at the console's own, so widen the console itself.
    unbounded = console.options.update(max_width=_UNBOUNDED_WIDTH)
    natural = Measurement.get(console, unbounded, table).maximum
    window = console.width
    console.width = max(natural, window)
    try:
        console.print(table)
    finally:
        console.width = window


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
    """Resources grouped by component, then the change summary, the policy violations (a
    table of them, when there are any) and cost.

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
    _print_whole(console, table)
    console.print(f"[bold]Changes:[/bold] {_summary_text(plan['changeSummary'])}")
    console.print(f"[bold]Policy violations:[/bold] {_policy_text(plan, policies_evaluated)}")
    if plan["policyViolations"]:
        _print_whole(console, violations_table(plan))
    console.print(
        f"[bold]Estimated cost:[/bold] {escape(_cost_text(plan))}", highlight=False, soft_wrap=True
    )
    for line in cost_lines(plan):
        # soft_wrap: a basis is one line however long, as a log is read line by line.
        console.print(escape(line), highlight=False, soft_wrap=True)
