"""The pull-request comment (`plan --diff BASE --markdown FILE`): a golden file for a known
diff of real plans, and properties every comment keeps whatever the plan holds.

The golden diff is dev with an update (log expiry, the database's engine and storage), a
replacement that goes ahead (the parameter group's family) and a deletion (an e-mail
subscription), plus what the offline plan does not produce yet, injected into its JSON:
policy violations (mandatory, advisory, waived), prices on both sides, and protection (the
database protected, as in prod; the backup bucket's protection switched off).

After an intended change to the comment, or to what dev declares, rewrite the golden file
with `AIRFLOW_PLATFORM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_plan_comment.py` and read
its diff before committing it.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_platform.cost.model import cost_change
from airflow_platform.plan.comment import COMMENT_BUDGET, NOT_EVALUATED_COST, comment, marker
from airflow_platform.plan.contract import OPS, blocking_problems
from tests.test_plan import _project_copy, _set_stack_config, plan

GOLDEN = Path(__file__).parent / "golden" / "plan_comment_dev.md"
SLACK = {"workspaceId": "T0EXAMPLE01", "channelId": "C0DEVALERTS1"}
BASE_CONFIG = {"monitoring": {"slack": SLACK, "emails": ["ops@example.com", "oncall@example.com"]}}
HEAD_CONFIG = {
    "monitoring": {"slack": SLACK, "emails": ["ops@example.com"]},
    "storage": {"logArchive": {"expireDays": 400}},
    "database": {"engineVersion": "17", "allocatedStorageGb": 30},
}
DEV = "urn:pulumi:dev::airflow-platform::"


@pytest.fixture(scope="module")
def real_diff(tmp_path_factory) -> tuple[dict, dict, str]:
    """(base plan, head plan, the comment `plan --markdown` wrote) for the golden diff."""
    tmp = tmp_path_factory.mktemp("comment")
    project = _project_copy(tmp)
    _set_stack_config(project, "dev", **BASE_CONFIG)
    done = plan("dev", "--json", str(tmp / "base.json"), cwd=project)
    assert done.returncode == 0, done.stderr
    _set_stack_config(project, "dev", **HEAD_CONFIG)
    done = plan("dev", "--diff", str(tmp / "base.json"), "--json", str(tmp / "head.json"),
                "--markdown", str(tmp / "comment.md"), cwd=project)  # fmt: skip
    assert done.returncode == 0, done.stderr
    base = json.loads((tmp / "base.json").read_text())
    head = json.loads((tmp / "head.json").read_text())
    return base, head, (tmp / "comment.md").read_text()


def _step(doc: dict, name: str) -> dict:
    [step] = [s for s in doc["steps"] if s["urn"].endswith(f"::{name}")]
    return step


def _with_review_fields(base: dict, head: dict) -> tuple[dict, dict]:
    """The real plans plus policy violations, prices and protection (see the docstring)."""
    base, head = copy.deepcopy(base), copy.deepcopy(head)
    instance = _step(head, "database-instance")
    instance["oldState"]["protect"] = instance["newState"]["protect"] = True
    _step(base, "database-instance")["newState"]["protect"] = True
    # Protected in the base, not in the head: the inputs are equal, so the step is `same`.
    backups = _step(head, "storage-backups")
    _step(base, "storage-backups")["newState"]["protect"] = True
    lifecycle = _step(head, "storage-logs-lifecycle")["urn"]
    params = _step(head, "database-params")["urn"]
    email = _step(head, "monitoring-alerts-email-1")["urn"]
    head["policyViolations"] = [
        {"policyName": "s3-lifecycle-expiry", "enforcementLevel": "advisory", "urn": lifecycle,
         "message": "log objects expire after 400 days; the dev tier keeps them 180"},
        {"policyName": "rds-parameter-group-family", "enforcementLevel": "mandatory",
         "urn": params, "message": "a major-version family change needs a snapshot first | "
         "<b>not HTML</b>"},
        {"policyName": "sns-subscription-owner", "enforcementLevel": "mandatory", "urn": email,
         "message": "e-mail subscriptions need an owner tag",
         "waived": "the on-call list is owned by the platform team (PLAT-123)"},
    ]  # fmt: skip
    # One the base already had: collapsed with the rest, not news for this review.
    known = {"policyName": "s3-access-logging", "enforcementLevel": "advisory",
             "urn": backups["urn"], "message": "the bucket has no access logging"}  # fmt: skip
    base["policyViolations"] = [known]
    head["policyViolations"].append(known)
    rds = instance["urn"]
    bucket = backups["urn"]
    base["cost"] = {"currency": "USD", "monthly": 61.4, "pricesAsOf": "2026-11-01", "items": [
        {"urn": rds, "monthly": 13.9, "basis": "db.t4g.micro 730 h + 20 GiB gp3"},
        {"urn": bucket, "monthly": 2.3, "basis": "100 GiB S3 Standard"},
        {"urn": email, "monthly": 0.0, "basis": "SNS e-mail notifications (free tier)"},
    ]}  # fmt: skip
    dashboard = _step(head, "monitoring-dashboard")["urn"]
    head["cost"] = {"currency": "USD", "monthly": 63.7, "pricesAsOf": "2026-11-01", "items": [
        {"urn": rds, "monthly": 16.2, "basis": "db.t4g.micro 730 h + 30 GiB gp3"},
        {"urn": bucket, "monthly": 2.3, "basis": "100 GiB S3 Standard"},
    ], "unpriced": [{"urn": dashboard, "type": "aws:cloudwatch/dashboard:Dashboard",
                     "reason": "no price for dashboards in the table"}],
       "usage": "dev tier assumptions (airflow_platform/cost/assumptions.py)"}  # fmt: skip
    # As `plan --diff` writes it when there is a price table: the change against the base.
    head["cost"]["change"] = cost_change(base["cost"], head["cost"])
    return base, head


def test_comment_matches_the_golden_file_for_a_known_diff(real_diff):
    base, head, _ = real_diff
    base, head = _with_review_fields(base, head)
    text = comment(head, "dev", base)
    if os.environ.get("AIRFLOW_PLATFORM_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), (
        f"the comment differs from {GOLDEN.name}; if intended, rewrite it (module docstring)"
    )


def test_markdown_flag_writes_the_comment_of_the_plan_json_and_its_base(real_diff):
    base, head, written = real_diff
    # Same bytes from another process: nothing depends on the run (paths, time, hash seeds).
    assert written == comment(head, "dev", base, policies_evaluated=True)
    assert written.splitlines()[0] == "<!-- airflow-platform-plan:stack=dev -->"
    ops = {s["urn"].rsplit("::", 1)[1]: s["op"] for s in head["steps"] if s["op"] != "same"}
    assert ops == {
        "database-instance": "update",
        "database-params": "replace",
        "storage-logs-lifecycle": "update",
        "monitoring-alerts-email-1": "delete",
    }


def test_golden_comment_puts_replacements_and_deletions_before_updates(real_diff):
    base, head = _with_review_fields(*real_diff[:2])
    text = comment(head, "dev", base)
    names = ("database-params", "monitoring-alerts-email-1", "database-instance",
             "storage-logs-lifecycle")  # fmt: skip
    first = {name: text.index(f"`{name}`") for name in names}
    assert max(first["database-params"], first["monitoring-alerts-email-1"]) < min(
        first["database-instance"], first["storage-logs-lifecycle"]
    )
    assert "replaced because of | protected |" in text
    assert "| **replace** | `database-params` | `aws:rds:ParameterGroup` " in text


# Property tests over generated plans: any mix of ops, parents, protection, violations and
# prices. The names are drawn small and distinct so one name never contains another.

NAMES = [f"res{i:02d}x" for i in range(40)]
COMPONENTS = [
    ("airflow-platform:aws:Storage", "storage"),
    ("airflow-platform:aws:Network", "network"),
    ("airflow-platform:aws:MetadataDatabase", "database"),
]
TYPES = ["aws:s3/bucket:Bucket", "aws:ec2/subnet:Subnet", "aws:rds/instance:Instance"]


def _urn(chain: str, name: str) -> str:
    return f"{DEV}{chain}::{name}"


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=25, unique=True))
    stack = _urn("pulumi:pulumi:Stack", "airflow-platform-dev")
    steps: list[dict[str, Any]] = [
        {"op": "same", "urn": stack, "newState": {"urn": stack, "type": "pulumi:pulumi:Stack",
         "custom": False, "parent": "", "inputs": {}, "protect": False}}
    ]  # fmt: skip
    for component_type, component in COMPONENTS:
        urn = _urn(component_type, component)
        state = {"urn": urn, "type": component_type, "custom": False, "parent": stack,
                 "inputs": {}, "protect": False}  # fmt: skip
        steps.append({"op": "same", "urn": urn, "newState": state})
    for name in names:
        op = draw(st.sampled_from(OPS))
        component_type, component = draw(st.sampled_from(COMPONENTS))
        token = draw(st.sampled_from(TYPES))
        urn = _urn(f"{component_type}${token}", name)
        state = {
            "urn": urn, "type": token, "custom": True,
            "parent": _urn(component_type, component),
            "inputs": {"size": draw(st.integers(0, 3)), "name": name},
            "protect": draw(st.booleans()), "dependencies": [],
        }  # fmt: skip
        step: dict[str, Any] = {"op": op, "urn": urn}
        if op in ("update", "replace", "delete"):
            old = {**state, "inputs": {**state["inputs"], "size": -1}}
            old["protect"] = draw(st.booleans())
            step["oldState"] = old
        if op in ("update", "replace"):
            step["diffs"] = ["size"]
        if op == "replace":
            step["keys"] = ["size"]
        if op != "delete":
            step["newState"] = state
        steps.append(step)
    urns = [s["urn"] for s in steps]
    violations = draw(st.lists(st.fixed_dictionaries({
        "policyName": st.sampled_from(["pol-a", "pol-b", "pol-c"]),
        "enforcementLevel": st.sampled_from(["mandatory", "advisory"]),
        "urn": st.sampled_from(urns),
        "message": st.text(max_size=60),
    }, optional={"waived": st.sampled_from([True, "accepted risk"])}), max_size=5))  # fmt: skip
    priced = draw(st.booleans())
    return {
        "config": {"aws:region": "eu-west-1", "airflow-platform:tier": "dev"},
        "steps": steps,
        "outputs": {},
        "changeSummary": {op: sum(s["op"] == op for s in steps) for op in OPS},
        "policyViolations": violations,
        "cost": {
            "currency": "USD",
            "monthly": draw(st.floats(0, 1e5)) if priced else 0.0,
            "pricesAsOf": "2026-11-01" if priced else None,
            "items": [],
        },
    }


def _first(text: str, names: list[str]) -> int:
    return min((text.index(f"`{n}`") for n in names), default=len(text))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans(), plans())
def test_replacements_and_deletions_appear_before_updates(doc, base):
    text = comment(doc, "dev", base)
    names = {op: [s["urn"].rsplit("::", 1)[1] for s in doc["steps"] if s["op"] == op] for op in OPS}
    destructive = names["replace"] + names["delete"]
    # The verdict and the reasons for a refusal name whatever blocks; from there on, every
    # replaced or deleted resource is named before the first updated one is.
    start = re.search(r"^#### (?!Refused)", text, re.MULTILINE)
    body = text[start.start() :] if start else ""
    if destructive:
        assert body.startswith("#### Replacements and deletions: ")
    if destructive and names["update"]:
        latest = max(body.index(f"`{n}`") for n in destructive)
        assert latest < _first(body, names["update"])


@settings(max_examples=150, deadline=None)
@given(plans(), st.sampled_from(["dev", "staging", "prod", "pr-42"]))
def test_the_first_line_is_the_hidden_marker_naming_the_stack(doc, stack):
    text = comment(doc, stack)
    assert text.splitlines()[0] == marker(stack) == f"<!-- airflow-platform-plan:stack={stack} -->"
    # Only the first line is a marker: the workflow finds its comment by it.
    assert text.count("<!-- airflow-platform-plan:") == 1


@settings(max_examples=150, deadline=None)
@given(plans())
def test_full_lists_are_collapsed_and_every_details_block_is_closed(doc):
    text = comment(doc, "dev")
    assert text.count("<details>") == text.count("</details>") >= 1
    # No HTML from the plan's text reaches the comment: it cannot open or close a block.
    tags = re.findall(r"</?details>|</?summary>", text)
    assert len(tags) == 4 * text.count("<details>")
    # The full lists sit inside collapsed blocks: every resource row, every input change.
    blocks = [m.span() for m in re.finditer(r"<details>.*?</details>", text, re.DOTALL)]
    for row in re.finditer(r"^\| (same|create|update|replace|delete) \|", text, re.MULTILINE):
        assert any(start < row.start() < end for start, end in blocks), row.group()
    assert "<details><summary>Every resource" in text
    # Below what a reviewer reads first: the verdict, policies, cost, components.
    summary = re.search(r"^(\*\*Policy violations:\*\*|#### Policy violations)", text, re.M)
    assert summary
    assert summary.start() < text.index("<details>")


@settings(max_examples=150, deadline=None)
@given(plans())
def test_the_verdict_agrees_with_the_exit_code(doc):
    verdict = comment(doc, "dev").splitlines()[3]
    assert verdict.startswith(":no_entry: **Refused") == bool(blocking_problems(doc))


@settings(max_examples=400, deadline=None)
@given(plans())
def test_the_same_plan_gives_the_same_bytes_whatever_its_key_order(doc):
    def reverse_keys(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: reverse_keys(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reverse_keys(v) for v in value]
        return value

    reordered = reverse_keys(doc)
    reordered["policyViolations"].reverse()
    assert comment(reordered, "dev") == comment(doc, "dev")


@settings(max_examples=100, deadline=None)
@given(plans(), st.one_of(st.none(), plans()))
def test_mandatory_violations_come_first_and_waived_ones_are_marked_waived(doc, base):
    text = comment(doc, "dev", base)
    row = re.compile(r"^\| (\*\*mandatory\*\*|advisory|waived \(\w+\)) \|", re.MULTILINE)
    every = text.split("<details><summary>Every policy violation")
    # The complete table: in its collapsed block when some rows are not shown above it.
    complete = every[1].split("</details>")[0] if len(every) > 1 else text
    levels = row.findall(complete)
    assert len(levels) == len(doc["policyViolations"])
    ranks = [0 if "mandatory**" in lv else 1 if lv == "advisory" else 2 for lv in levels]
    assert ranks == sorted(ranks)
    assert sum(lv.startswith("waived") for lv in levels) == sum(
        bool(v.get("waived")) for v in doc["policyViolations"]
    )
    # Every mandatory violation that is not waived is in view, above any collapsed block.
    shown = row.findall(every[0])
    blocking = [v for v in doc["policyViolations"]
                if v["enforcementLevel"] == "mandatory" and not v.get("waived")]  # fmt: skip
    assert shown.count("**mandatory**") == len(blocking)


def test_cost_says_not_evaluated_without_prices_and_never_a_zero():
    doc = {
        "config": {}, "steps": [], "outputs": {}, "policyViolations": [],
        "changeSummary": dict.fromkeys(OPS, 0),
        "cost": {"currency": "USD", "monthly": 0.0, "pricesAsOf": None, "items": []},
    }  # fmt: skip
    text = comment(doc, "dev", base=copy.deepcopy(doc))
    assert f"**Estimated monthly cost:** {NOT_EVALUATED_COST}" in text
    assert "0.00" not in text
    assert "**Policy violations:** not evaluated" in text


def test_cost_before_after_and_change_come_from_the_base_and_the_plan():
    doc: dict[str, Any] = {
        "config": {}, "steps": [], "outputs": {}, "policyViolations": [],
        "changeSummary": dict.fromkeys(OPS, 0),
        "cost": {"currency": "USD", "monthly": 1234.5, "pricesAsOf": "2026-11-01",
                 "items": [], "unpriced": 3},
    }  # fmt: skip
    base = copy.deepcopy(doc)
    base["cost"]["monthly"] = 1300.0
    text = comment(doc, "dev", base)
    assert "| 1,300.00 USD | 1,234.50 USD | **-65.50 USD** |" in text
    assert "Prices as of 2026-11-01. 3 resources not priced (not in the total)." in text
    base["cost"]["pricesAsOf"] = None
    assert "| not evaluated | 1,234.50 USD | not evaluated |" in comment(doc, "dev", base)


def test_a_comment_stays_under_githubs_size_limit_for_a_huge_plan():
    long = "x" * 5000
    steps = [
        {"op": "update", "urn": _urn("aws:s3/bucket:Bucket", f"bucket-{i:04d}"),
         "diffs": ["policy"],
         "oldState": {"type": "aws:s3/bucket:Bucket", "parent": "", "inputs": {"policy": "a"}},
         "newState": {"type": "aws:s3/bucket:Bucket", "parent": "", "inputs": {"policy": long}}}
        for i in range(3000)
    ]  # fmt: skip
    doc = {
        "config": {}, "steps": steps, "outputs": {}, "policyViolations": [],
        "changeSummary": {**dict.fromkeys(OPS, 0), "update": 3000},
        "cost": {"currency": "USD", "monthly": 0.0, "pricesAsOf": None, "items": []},
    }  # fmt: skip
    text = comment(doc, "prod")
    assert len(text) <= COMMENT_BUDGET < 65_536
    assert text.count("<details>") == text.count("</details>")
    assert "more changed resources are left out" in text
    assert "| **all** | **0** | **0** | **3000** | **0** |" in text
