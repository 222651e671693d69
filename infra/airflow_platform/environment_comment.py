"""The pull-request comment of an ephemeral environment (`pr-<n>`): where its Airflow is, when
it expires and how to keep it, and what it costs an hour.

Built from two documents the deploy job already has, so nothing here asks AWS or Pulumi:

* the stack's outputs, as `pulumi stack output --json` writes them: `platform`, the Airflow
  URL (`mwaaWebserverUrl` on mwaa, a host name without a scheme; `airflowApiUrl` on eks,
  the internal load balancer's `http://...:8080`), `expiresAt` (the `expires-at` tag);
* the offline plan's JSON (`airflow-platform plan STACK --json FILE [--prices FILE]`), whose
  `cost` block carries `monthly`, `pricesAsOf` (null without a price table), `unpriced` and
  `usage` (docs/plan.md, "Estimated cost"), and whose `config` the stack's TTL comes from.

Cost per hour is the monthly estimate divided by the hours a month the cost model prices
(`cost.assumptions.HOURS_PER_MONTH`), so the two figures always agree. Without prices the
comment says the cost was not evaluated and why, never a figure.

The first line is a hidden marker naming the stack (`marker`), so the workflow edits its
earlier comment instead of adding one per push, the convention of the plan comment
(`plan.comment.marker`) under a prefix of its own. Nothing depends on the clock: the same
documents give the same bytes.
"""

from __future__ import annotations

from typing import Any

from airflow_platform.config.model import EphemeralConfig
from airflow_platform.cost.assumptions import HOURS_PER_MONTH
from airflow_platform.plan.comment import _code, _text

MARKER_PREFIX = "<!-- airflow-platform-environment:stack="
DEFAULT_TTL_HOURS = EphemeralConfig().ttl_hours
NAMESPACE = "airflow-platform"
NO_PLAN = "not evaluated (no plan was given: `environment-comment --plan FILE`)"
NO_PRICES = (
    "not evaluated: the plan carries no prices (`pricesAsOf` is null), because no price "
    "table was given and `infra/airflow_platform/cost/prices.json` is not committed. Prices "
    "come only from the AWS Price List API: someone with `pricing:GetProducts` runs "
    "`airflow-platform prices refresh` and commits the table (docs/plan.md, "
    '"Estimated cost").'
)


def marker(stack: str) -> str:
    """The hidden first line that identifies this stack's environment comment."""
    return f"{MARKER_PREFIX}{stack} -->"


def plan_stack(plan: dict[str, Any]) -> str | None:
    """The stack a plan JSON is for, from its resources' URNs (`urn:pulumi:<stack>::...`)."""
    for step in plan.get("steps", []):
        urn = str(step.get("urn", ""))
        if urn.startswith("urn:pulumi:"):
            return urn.removeprefix("urn:pulumi:").split("::", 1)[0]
    return None


def _value(outputs: dict[str, Any], key: str) -> str | None:
    value = outputs.get(key)
    return str(value) if isinstance(value, str | int | float) and str(value).strip() else None


def airflow_url(outputs: dict[str, Any]) -> tuple[str | None, str]:
    """(the URL to open, what it is) from the stack outputs."""
    mwaa = _value(outputs, "mwaaWebserverUrl")
    if mwaa is not None:
        url = mwaa if "://" in mwaa else f"https://{mwaa}"
        return url, "MWAA's Airflow UI (sign in with AWS: the console's *Open Airflow UI*)"
    api = _value(outputs, "airflowApiUrl")
    if api is not None:
        return api, (
            "the Airflow API server's internal load balancer: reachable only inside the "
            "stack's VPC (docs/eks.md)"
        )
    return None, "no Airflow URL in the stack outputs (`mwaaWebserverUrl` or `airflowApiUrl`)"


def _link(url: str) -> str:
    """A URL from the outputs as a link, only when it is a plain http(s) URL."""
    safe = url.startswith(("https://", "http://")) and not any(c in url for c in " <>()[]`|\n")
    return f"[{_text(url)}]({url})" if safe else _code(url)


def ttl_hours(plan: dict[str, Any] | None) -> int:
    """`ephemeral.ttlHours` as the plan's config states it, else the model's default."""
    config = (plan or {}).get("config", {})
    ephemeral = config.get(f"{NAMESPACE}:ephemeral")
    if isinstance(ephemeral, dict) and isinstance(ephemeral.get("ttlHours"), int):
        return int(ephemeral["ttlHours"])
    flat = config.get(f"{NAMESPACE}:ephemeral.ttlHours")
    if isinstance(flat, int | str) and str(flat).isdigit():
        return int(flat)
    return DEFAULT_TTL_HOURS


def _expiry_lines(stack: str, outputs: dict[str, Any], ttl: int, label: str) -> list[str]:
    expires = _value(outputs, "expiresAt")
    if expires is None:
        return [
            f"**Expires:** never: `{stack}` exports no `expiresAt` (only ephemeral `pr-<n>` "
            "stacks expire).",
            "",
        ]
    return [
        f"**Expires:** {_code(expires)} (UTC). Then the hourly reaper destroys it; closing "
        f"this pull request or removing the `{label}` label destroys it at once.",
        "",
        f"**To keep it longer, push to this pull request:** every deploy sets the expiry to the "
        f"deploy time (to the hour) plus `ephemeral.ttlHours` ({ttl} h), the stack's "
        "`expires-at` tag.",
        "",
    ]


def _cost_lines(plan: dict[str, Any] | None) -> list[str]:
    if plan is None:
        return [f"**Cost:** {NO_PLAN}", ""]
    cost = plan.get("cost") or {}
    if cost.get("pricesAsOf") is None:
        return [f"**Cost:** {NO_PRICES}", ""]
    currency = str(cost.get("currency", "USD"))
    monthly = float(cost.get("monthly", 0.0))
    hourly = monthly / HOURS_PER_MONTH
    notes = [
        f"{monthly:,.2f} {currency} a month at the cost model's {HOURS_PER_MONTH} hours a "
        f"month; prices as of {_text(cost['pricesAsOf'])}."
    ]
    unpriced = cost.get("unpriced")
    count = len(unpriced) if isinstance(unpriced, list) else 0
    if count:
        notes.append(
            f"{count} resource{'s' if count != 1 else ''} not priced (not in the figure: "
            "see the plan)."
        )
    if cost.get("usage"):
        notes.append(f"Usage: {_text(cost['usage'])}.")
    return [f"**Cost:** about **{hourly:,.2f} {currency} an hour** while it runs.", "",
            " ".join(notes), ""]  # fmt: skip


def comment(
    stack: str,
    outputs: dict[str, Any],
    plan: dict[str, Any] | None = None,
    commit: str | None = None,
    label: str = "preview-env",
) -> str:
    """The environment's pull-request comment (markdown), from the stack `outputs` and the
    offline `plan` JSON (None: not given); `commit` is the commit deployed, `label` the
    pull-request label that keeps the environment."""
    url, what = airflow_url(outputs)
    platform = _value(outputs, "platform") or "?"
    region = (plan or {}).get("config", {}).get("aws:region")
    where = f"`{_text(platform)}`" + (f" in `{_text(region)}`" if region else "")
    deployed = f" from {_code(commit[:12])}" if commit else ""
    lines = [
        marker(stack),
        f"### airflow-platform environment: `{stack}`",
        "",
        f":rocket: **Deployed{deployed}:** Airflow on {where}.",
        "",
        f"**Airflow:** {_link(url)}, {what}." if url else f"**Airflow:** {what}.",
        "",
    ]
    lines += _expiry_lines(stack, outputs, ttl_hours(plan), label)
    lines += _cost_lines(plan)
    lines += [
        f"<sub>Outputs of `pulumi stack output --json -s {stack}`; cost from the offline plan "
        f"(`airflow-platform plan {stack} --json`).</sub>",
        "",
    ]
    return "\n".join(lines)
