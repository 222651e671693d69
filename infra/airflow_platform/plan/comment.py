"""The pull-request comment: what a reviewer needs from a plan, in the order they need it.

Built from the plan JSON alone (docs/plan.md, "The pull-request comment"), so whatever writes
that contract can be commented on:

1. a hidden marker naming the stack (`marker`), by which the preview workflow finds the
   comment it posted before and edits it instead of adding one per push;
2. one verdict line: refused (and by what) or goes ahead (and how destructively), agreeing
   with the exit code, since both come from `blocking_problems`;
3. why it is refused: each change `pulumi up` cannot make and each mandatory violation;
4. replacements and deletions, with the inputs that force each replacement;
5. protected resources the plan touches, including protection being switched off;
6. policy violations: the mandatory ones and those the change adds, mandatory first,
   waived ones shown as waived, all of them collapsed;
7. the monthly cost before and after, and the change;
8. the changes by component (the resource's nearest parent component), then collapsed
   `<details>` with the cost by resource, every changed input and every resource.

Nothing in it depends on the clock, the machine or dict order: the same plans give the same
bytes, so the workflow's edit is a no-op when nothing changed. Policies and cost say "not
evaluated" when nothing evaluated them, never "none" or "0.00".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from airflow_platform.plan.contract import base_states, blocking_problems, step_order, step_refusal
from airflow_platform.plan.render import short_type, step_changes
from airflow_platform.plan.runner import STACK_TYPE

MARKER_PREFIX = "<!-- airflow-platform-plan:stack="
# GitHub refuses a comment body over 65,536 characters; the rest is headroom for the marker
# and the note that says what was left out.
COMMENT_BUDGET = 60_000
# One changed input per line; a whole policy or script on one line would bury the rest.
MAX_CHANGE_CHARS = 240
# Severity first: what loses data before what merely changes.
OP_RANK = {"replace": 0, "delete": 1, "update": 2, "create": 3, "same": 4}
NOT_EVALUATED_POLICIES = "not evaluated (no policy pack ran in this plan)"
NOT_EVALUATED_COST = "not evaluated (the plan carries no prices: `pricesAsOf` is null)"
STACK_GROUP = "Stack"


def marker(stack: str) -> str:
    """The hidden first line that identifies this stack's comment on a pull request."""
    return f"{MARKER_PREFIX}{stack} -->"


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _state(step: dict[str, Any]) -> dict[str, Any]:
    return step.get("newState") or step.get("oldState") or {}


def _protected(step: dict[str, Any]) -> bool:
    return bool(step.get("oldState", {}).get("protect") or step.get("newState", {}).get("protect"))


def _code(text: str) -> str:
    """`text` as an inline code span, whatever backticks it holds, safe in a table cell."""
    text = text.replace("\n", "\\n").replace("|", "\\|")
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _text(text: str) -> str:
    """Free text (a policy message, a refusal) safe in a table cell: no HTML (so it cannot
    close a `<details>` or forge a marker), no cell breaks, one line."""
    return (
        str(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("\r", " ")
        .replace("\n", " ")
    )


def _clip(line: str) -> str:
    if len(line) <= MAX_CHANGE_CHARS:
        return line
    return f"{line[:MAX_CHANGE_CHARS]}… ({len(line) - MAX_CHANGE_CHARS} more characters)"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def component_of(
    step: dict[str, Any], states: dict[str, dict[str, Any]]
) -> tuple[tuple[int, str, int, str], str]:
    """(sort key, label) of the component a step's resource belongs to: its nearest parent
    that is a component (a security group's rules belong to the security group's
    component, not to the group), as `<type> <name>` (`AlertTopic monitoring-alerts`); the
    stack's own children, and the stack, under "Stack". `states` maps each URN of the plan
    to its state, so a parent's kind is known."""
    parent = _state(step).get("parent") or ""
    while parent and states.get(parent, {}).get("custom"):
        parent = states[parent].get("parent") or ""
    if not parent or parent.split("::")[2] == STACK_TYPE:
        return (0, "", 0, ""), STACK_GROUP
    parent_type = parent.split("::")[2].split("$")[-1]
    return step_order(parent), f"{parent_type.rsplit(':', 1)[-1]} {_code(_name(parent))}"


def _states(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["urn"]: _state(step) for step in plan["steps"]}


def _waived(violation: dict[str, Any]) -> bool:
    """A waiver marks a violation with `waived` (its reason), whatever the value: the same
    test `blocking_problems` makes."""
    return "waived" in violation


def _violation_rank(violation: dict[str, Any]) -> int:
    if _waived(violation):
        return 2
    return 0 if violation.get("enforcementLevel") == "mandatory" else 1


def _waiver_reason(waived: Any) -> str | None:
    """The waiver's reason when the plan carries one (a string, or an object with
    `reason`), else None."""
    if isinstance(waived, str) and waived.strip():
        return waived
    if isinstance(waived, dict) and waived.get("reason"):
        return str(waived["reason"])
    return None


def _sorted_violations(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(
        plan.get("policyViolations", []),
        key=lambda v: (
            _violation_rank(v),
            str(v.get("enforcementLevel", "")),
            str(v.get("policyName", "")),
            str(v.get("urn", "")),
            str(v.get("message", "")),
            str(v.get("waived", "")),
        ),
    )


def _ops_text(summary: dict[str, int]) -> str:
    """`1 to replace, 2 to update, 120 unchanged`: the ops that happen, most serious first."""
    parts = [
        f"{summary[op]} to {op}"
        for op in sorted(OP_RANK, key=OP_RANK.__getitem__)
        if op != "same" and summary.get(op)
    ]
    parts.append(f"{summary.get('same', 0)} unchanged")
    return ", ".join(parts)


def _verdict(plan: dict[str, Any], base: dict[str, Any] | None, blocking: list[str]) -> str:
    summary = plan["changeSummary"]
    if blocking:
        refused = sorted({_name(s["urn"]) for s in plan["steps"] if step_refusal(s)})
        mandatory = sorted({str(v.get("policyName", "?")) for v in _blocking_violations(plan)})
        causes = []
        if refused:
            names = ", ".join(_code(n) for n in refused)
            causes.append(f"{_plural(len(refused), 'change')} `pulumi up` cannot make ({names})")
        if mandatory:
            count = len(_blocking_violations(plan))
            names = ", ".join(_code(n) for n in mandatory)
            causes.append(f"{_plural(count, 'mandatory policy violation')} ({names})")
        why = " and ".join(causes) if causes else _plural(len(blocking), "blocking problem")
        return f":no_entry: **Refused: this plan will not go ahead.** Blocked by {why}."
    # Only what this change adds: the base's own advisories are not this review's news.
    advisory = sum(
        1
        for v in _new_violations(plan, base)
        if v.get("enforcementLevel") != "mandatory" and not _waived(v)
    )
    adds = "new advisory policy violation" if base is not None else "advisory policy violation"
    advice = f", with {_plural(advisory, adds)}" if advisory else ""
    destructive = summary.get("replace", 0) + summary.get("delete", 0)
    if destructive:
        what = []
        if summary.get("replace"):
            what.append(f"replaces {_plural(summary['replace'], 'resource')}")
        if summary.get("delete"):
            what.append(f"deletes {_plural(summary['delete'], 'resource')}")
        return (
            f":warning: **Goes ahead, and {' and '.join(what)}**{advice}: "
            "read the replacements and deletions below."
        )
    if not any(summary.get(op, 0) for op in ("create", "update")):
        return f":white_check_mark: **Goes ahead: no changes**{advice}."
    return f":white_check_mark: **Goes ahead**{advice}: nothing is replaced or deleted."


def _blocking_violations(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        v
        for v in _sorted_violations(plan)
        if v.get("enforcementLevel") == "mandatory" and not _waived(v)
    ]


def _refused_section(plan: dict[str, Any], blocking: list[str]) -> list[str]:
    """Why the plan is refused: each change `pulumi up` cannot make, named, with the reason
    `plan` prints, then each mandatory violation. Whether it is refused at all is
    `blocking_problems`' call (the exit code's); should it refuse for a reason this list
    cannot name, the list still says it is refused."""
    if not blocking:
        return []
    lines = [
        f"- **{_code(_name(s['urn']))}**: {_text(reason)}"
        for s in sorted(plan["steps"], key=lambda s: (_name(s["urn"]), s["urn"]))
        if (reason := step_refusal(s))
    ]
    lines += [
        f"- policy {_code(str(v.get('policyName', '?')))} on "
        f"{_code(_name(str(v.get('urn', '?'))))}: {_text(v.get('message', ''))}"
        for v in _blocking_violations(plan)
    ]
    if not lines:  # refused for a reason this list cannot name: still say so
        lines.append(f"- {_plural(len(blocking), 'blocking problem')}: see `plan`'s output")
    return ["#### Refused", "", *lines, ""]


def _destructive_section(plan: dict[str, Any]) -> list[str]:
    steps = [s for s in plan["steps"] if s["op"] in ("replace", "delete")]
    if not steps:
        return []
    steps.sort(key=lambda s: (OP_RANK[s["op"]], _name(s["urn"]), s["urn"]))
    counts = Counter(s["op"] for s in steps)
    title = " and ".join(
        _plural(counts[op], label)
        for op, label in (("replace", "replacement"), ("delete", "deletion"))
        if counts[op]
    )
    states = _states(plan)
    lines = [
        f"#### Replacements and deletions: {title}",
        "",
        "| op | resource | type | component | replaced because of | protected |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for step in steps:
        keys = ", ".join(_code(k) for k in step.get("keys", []))
        lines.append(
            f"| **{step['op']}** | {_code(_name(step['urn']))} "
            f"| {_code(short_type(_state(step).get('type', '')))} "
            f"| {component_of(step, states)[1]} | {keys} "
            f"| {'**yes**' if _protected(step) else ''} |"
        )
    return [*lines, ""]


def _protected_section(plan: dict[str, Any], base: dict[str, Any] | None) -> list[str]:
    """Protected resources the plan updates, replaces or deletes, and every resource whose
    protection the change switches on or off (which `plan` counts as `same` when its inputs
    stay equal: protection is an option, not an input)."""
    previous = base_states(base) if base is not None else {}
    lines = []
    for step in sorted(plan["steps"], key=lambda s: (OP_RANK[s["op"]], _name(s["urn"]))):
        old, new = step.get("oldState") or previous.get(step["urn"]), step.get("newState")
        name = _code(_name(step["urn"]))
        if (
            old is not None
            and new is not None
            and bool(old.get("protect")) != bool(new.get("protect"))
        ):
            change = "switched off" if old.get("protect") else "switched on"
            also = f" ({step['op']})" if step["op"] != "same" else ""
            lines.append(f"- {name}: protection {change}{also}")
        elif step["op"] in ("update", "replace", "delete") and _protected(step):
            lines.append(f"- {name}: **{step['op']}** of a protected resource")
    if not lines:
        return []
    return ["#### Protected resources touched", "", *lines, ""]


def _new_violations(plan: dict[str, Any], base: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The violations this change brings: those whose rule and resource the base plan does
    not already report (all of them without a base)."""
    if base is None:
        return _sorted_violations(plan)
    known = {(v.get("policyName"), v.get("urn")) for v in base.get("policyViolations", [])}
    return [v for v in _sorted_violations(plan) if (v.get("policyName"), v.get("urn")) not in known]


def _violation_row(v: dict[str, Any]) -> str:
    level = str(v.get("enforcementLevel", "?"))
    message = _text(v.get("message", ""))
    if _waived(v):
        shown = f"waived ({level})"
        reason = _waiver_reason(v["waived"])
        message += f" — waived: {_text(reason)}" if reason else " — waived"
    else:
        shown = f"**{level}**" if level == "mandatory" else level
    return (
        f"| {shown} | {_code(str(v.get('policyName', '?')))} "
        f"| {_code(_name(str(v.get('urn', '?'))))} | {message} |"
    )


def _policy_section(
    plan: dict[str, Any], base: dict[str, Any] | None, policies_evaluated: bool
) -> list[str]:
    """Shown: every mandatory violation (each refuses the plan) and whatever this change
    adds; collapsed: all of them, the ones the base already had included. Mandatory first,
    then advisory, then waived (marked, with the waiver's reason)."""
    violations = _sorted_violations(plan)
    if not violations:
        verdict = "none" if policies_evaluated else NOT_EVALUATED_POLICIES
        return [f"**Policy violations:** {verdict}", ""]
    counts = Counter(
        "waived" if _waived(v) else str(v.get("enforcementLevel", "?")) for v in violations
    )
    tally = ", ".join(f"{counts[level]} {level}" for level in sorted(counts, key=_level_rank))
    header = ["| level | policy | resource | message |", "| --- | --- | --- | --- |"]
    new = _new_violations(plan, base)
    shown = [v for v in violations if v in _blocking_violations(plan) or v in new]
    lines = [f"#### Policy violations ({tally})", ""]
    if shown and len(shown) < len(violations):
        lines += ["The mandatory ones and those this change adds (all of them below):", ""]
    if shown:
        lines += [*header, *[_violation_row(v) for v in shown], ""]
    else:
        lines += ["No mandatory violation, and none that this change adds.", ""]
    if len(shown) < len(violations):
        lines += [
            f"<details><summary>Every policy violation ({len(violations)})</summary>",
            "",
            *header,
            *[_violation_row(v) for v in violations],
            "",
            "</details>",
            "",
        ]
    return lines


def _level_rank(level: str) -> tuple[int, str]:
    return ({"mandatory": 0, "advisory": 1, "waived": 3}.get(level, 2), level)


def _money(amount: float, currency: str, signed: bool = False) -> str:
    return f"{amount:+,.2f} {currency}" if signed else f"{amount:,.2f} {currency}"


def _evaluated(cost: dict[str, Any] | None) -> bool:
    return bool(cost) and cost.get("pricesAsOf") is not None


def _unpriced(cost: dict[str, Any]) -> list[str]:
    """Names of the resources the price table does not cover: `unpriced` may list URNs,
    or objects with a `urn` (and a `reason`), or only count them."""
    unpriced = cost.get("unpriced")
    if isinstance(unpriced, list):
        names = []
        for item in unpriced:
            if isinstance(item, dict):
                label = _name(str(item.get("urn", "?")))
                reason = item.get("reason") or item.get("type")
                names.append(f"{_code(label)} ({_text(reason)})" if reason else _code(label))
            else:
                names.append(_code(_name(str(item))))
        return sorted(names)
    return []


def _unpriced_count(cost: dict[str, Any]) -> int:
    unpriced = cost.get("unpriced")
    if isinstance(unpriced, list):
        return len(unpriced)
    if isinstance(unpriced, int) and not isinstance(unpriced, bool):
        return unpriced
    return 0


def _cost_change(plan: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any] | None:
    """The change against the base: the plan's own `cost.change` when it carries one (the
    cost estimate writes it with `--diff`), else worked out from the base plan's `cost`; None
    when there is no base or either side has no prices. Same shape either way: `baseMonthly`,
    `basePricesAsOf`, `change`, `items` [{urn, before, after, change}] (None: not there)."""
    after = plan.get("cost") or {}
    if "change" in after:
        return after["change"]
    before = (base or {}).get("cost")
    if base is None or not _evaluated(before) or not _evaluated(after):
        return None
    if before.get("currency", "USD") != after.get("currency", "USD"):
        return None
    old = {i["urn"]: float(i["monthly"]) for i in before.get("items", [])}
    new = {i["urn"]: float(i["monthly"]) for i in after.get("items", [])}
    items = [
        {
            "urn": urn,
            "before": old.get(urn),
            "after": new.get(urn),
            "change": round(new.get(urn, 0.0) - old.get(urn, 0.0), 2),
        }
        for urn in sorted(old.keys() | new.keys())
        if round(new.get(urn, 0.0) - old.get(urn, 0.0), 2)
    ]
    return {
        "baseMonthly": float(before.get("monthly", 0.0)),
        "basePricesAsOf": before.get("pricesAsOf"),
        "change": round(float(after.get("monthly", 0.0)) - float(before.get("monthly", 0.0)), 2),
        "items": items,
    }


def _cost_section(plan: dict[str, Any], base: dict[str, Any] | None) -> list[str]:
    after = plan.get("cost") or {}
    if not _evaluated(after):
        return [f"**Estimated monthly cost:** {NOT_EVALUATED_COST}", ""]
    currency = str(after.get("currency", "USD"))
    after_total = float(after.get("monthly", 0.0))
    change = _cost_change(plan, base)
    lines = ["#### Estimated monthly cost", ""]
    if base is None and "change" not in after:
        lines.append(f"{_money(after_total, currency)} a month (no base plan to compare with).")
    elif change is None:
        lines += [
            "| before | after | change |",
            "| ---: | ---: | ---: |",
            f"| not evaluated | {_money(after_total, currency)} | not evaluated |",
        ]
    else:
        lines += [
            "| before | after | change |",
            "| ---: | ---: | ---: |",
            f"| {_money(float(change['baseMonthly']), currency)} "
            f"| {_money(after_total, currency)} "
            f"| **{_money(float(change['change']), currency, signed=True)}** |",
        ]
    notes = [f"Prices as of {after['pricesAsOf']}."]
    if change is not None and change.get("basePricesAsOf") != after["pricesAsOf"]:
        notes.append(
            f"The base was priced as of {change.get('basePricesAsOf')}: part of the change may "
            "be AWS's prices, not this pull request."
        )
    unpriced = _unpriced_count(after)
    if unpriced:
        notes.append(f"{_plural(unpriced, 'resource')} not priced (not in the total).")
    if after.get("usage"):
        notes.append(f"Usage: {_text(after['usage'])}.")
    lines += ["", " ".join(notes), ""]
    return lines


def _cost_details(plan: dict[str, Any], base: dict[str, Any] | None) -> list[str]:
    """Per-resource cost changes (largest first) and what was not priced, collapsed."""
    after = plan.get("cost") or {}
    if not _evaluated(after):
        return []
    currency = str(after.get("currency", "USD"))
    basis = {i["urn"]: i.get("basis", "") for i in after.get("items", [])}
    if base is not None:
        old = ((base.get("cost") or {}).get("items")) or []
        basis = {i["urn"]: i.get("basis", "") for i in old} | basis
    change = _cost_change(plan, base)
    lines: list[str] = []
    rows = (change or {}).get("items", [])
    if rows:

        def money(value: float | None) -> str:
            return "(none)" if value is None else _money(float(value), currency)

        lines += [
            f"<details><summary>Cost changes by resource ({len(rows)})</summary>",
            "",
            "| resource | before | after | change | basis |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for item in sorted(rows, key=lambda i: (-abs(float(i["change"])), _name(i["urn"]))):
            lines.append(
                f"| {_code(_name(item['urn']))} | {money(item.get('before'))} "
                f"| {money(item.get('after'))} "
                f"| {_money(float(item['change']), currency, signed=True)} "
                f"| {_text(basis.get(item['urn'], ''))} |"
            )
        lines += ["", "</details>", ""]
    unpriced = _unpriced(after)
    if unpriced:
        lines += [
            f"<details><summary>Not priced ({len(unpriced)})</summary>",
            "",
            *[f"- {item}" for item in unpriced],
            "",
            "</details>",
            "",
        ]
    return lines


def _groups(
    plan: dict[str, Any], steps: list[dict[str, Any]]
) -> list[tuple[str, list[dict[str, Any]]]]:
    """`steps` by component, components in plan order, each one's steps most serious
    first."""
    states = _states(plan)
    grouped: dict[tuple[tuple[int, str, int, str], str], list[dict[str, Any]]] = defaultdict(list)
    for step in steps:
        grouped[component_of(step, states)].append(step)
    return [
        (label, sorted(members, key=lambda s: (OP_RANK[s["op"]], _name(s["urn"]), s["urn"])))
        for (_, label), members in sorted(grouped.items())
    ]


def _components_section(plan: dict[str, Any]) -> list[str]:
    changed = [s for s in plan["steps"] if s["op"] != "same"]
    if not changed:
        return []
    ops = ("replace", "delete", "update", "create")
    lines = [
        "#### Changes by component",
        "",
        "| component | " + " | ".join(ops) + " |",
        "| --- | " + " | ".join("---:" for _ in ops) + " |",
    ]
    for label, steps in _groups(plan, changed):
        counts = Counter(s["op"] for s in steps)
        lines.append(f"| {label} | " + " | ".join(str(counts[op] or "") for op in ops) + " |")
    totals = Counter(s["op"] for s in changed)
    lines.append("| **all** | " + " | ".join(f"**{totals[op]}**" for op in ops) + " |")
    return [*lines, ""]


def _change_rows(step: dict[str, Any]) -> list[str]:
    if step["op"] == "create":
        return ["(new)"]
    if step["op"] == "delete":
        return ["(deleted)"]
    detail = step_changes(step) or list(step.get("diffs", []))
    if step["op"] == "replace":
        detail = [f"replaced because of: {', '.join(step.get('keys', []))}", *detail]
    return [_code(_clip(line)) for line in detail]


def _changes_details(plan: dict[str, Any], row_limit: int | None) -> list[str]:
    changed = [s for s in plan["steps"] if s["op"] != "same"]
    if not any(s["op"] in ("update", "replace", "delete") for s in changed):
        return []  # only creations: the resource list below says all there is
    lines = [
        f"<details><summary>Changed resources, input by input ({len(changed)})</summary>",
        "",
    ]
    shown = 0
    for label, steps in _groups(plan, changed):
        if row_limit is not None and shown >= row_limit:
            break
        lines += [
            f"**{label}**",
            "",
            "| op | resource | type | protected | input: old -> new |",
            "| --- | --- | --- | --- | --- |",
        ]
        for step in steps:
            if row_limit is not None and shown >= row_limit:
                break
            shown += 1
            lines.append(
                f"| {step['op']} | {_code(_name(step['urn']))} "
                f"| {_code(short_type(_state(step).get('type', '')))} "
                f"| {'yes' if _protected(step) else ''} | {'<br>'.join(_change_rows(step))} |"
            )
        lines.append("")
    if shown < len(changed):
        lines += [
            f"{len(changed) - shown} more changed resources are left out: the comment would "
            "pass GitHub's size limit. The plan JSON has them all.",
            "",
        ]
    return [*lines, "</details>", ""]


def _resources_details(plan: dict[str, Any]) -> list[str]:
    lines = [
        f"<details><summary>Every resource ({len(plan['steps'])})</summary>",
        "",
    ]
    for label, steps in _groups(plan, plan["steps"]):
        lines += [
            f"**{label}**",
            "",
            "| op | type | name | protected |",
            "| --- | --- | --- | --- |",
        ]
        for step in steps:
            lines.append(
                f"| {step['op']} | {_code(short_type(_state(step).get('type', '')))} "
                f"| {_code(_name(step['urn']))} | {'yes' if _protected(step) else ''} |"
            )
        lines.append("")
    return [*lines, "</details>", ""]


def comment(
    plan: dict[str, Any],
    stack: str,
    base: dict[str, Any] | None = None,
    policies_evaluated: bool = False,
) -> str:
    """The pull-request comment for `plan` (compared with `base`, the plan `--diff` read,
    whose cost is the "before"). `policies_evaluated` says a policy pack ran, so an empty
    `policyViolations` reads "none"; violations present say so by themselves."""
    blocking = blocking_problems(plan)
    config = plan.get("config", {})
    against = (
        "against the base plan"
        if base is not None
        else "no base plan: every resource shows as created"
    )
    head = [
        marker(stack),
        f"### airflow-platform plan: `{stack}`",
        "",
        _verdict(plan, base, blocking),
        "",
        f"Tier `{config.get('airflow-platform:tier', 'ephemeral')}`, region "
        f"`{config.get('aws:region', '?')}`, {against}. {_ops_text(plan['changeSummary'])}.",
        "",
    ]
    head += _refused_section(plan, blocking)
    head += _destructive_section(plan)
    head += _protected_section(plan, base)
    head += _policy_section(plan, base, policies_evaluated or bool(plan.get("policyViolations")))
    head += _cost_section(plan, base)
    head += _components_section(plan)
    head += _cost_details(plan, base)
    footer = [
        "<sub>Offline plan (`airflow-platform plan`, under mocks): what the program declares, "
        "compared input by input. `pulumi preview` stays the last word on what the provider "
        "does.</sub>",
        "",
    ]

    # Largest first out when over GitHub's limit: the resource list (the plan JSON has it),
    # then changed resources beyond a shrinking count. The sections above always stay.
    def assemble(row_limit: int | None, with_resources: bool) -> str:
        details = _changes_details(plan, row_limit)
        if with_resources:
            details += _resources_details(plan)
        return "\n".join([*head, *details, *footer])

    text = assemble(None, with_resources=True)
    if len(text) > COMMENT_BUDGET:
        text = assemble(None, with_resources=False)
    limit = sum(1 for s in plan["steps"] if s["op"] != "same")
    while len(text) > COMMENT_BUDGET and limit > 0:
        limit //= 2
        text = assemble(limit, with_resources=False)
    return text
