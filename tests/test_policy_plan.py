"""The policy rules in the offline plan: every committed stack plans without a blocking
violation; a broken copy of prod is refused (exit 1) naming each violation; waivers show in
the plan and unblock it; a waiver of a rule that does not exist is refused naming the rules;
`policy config` and `policy list` say what the pack will enforce."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from platform_rules import Tier, all_rules

from airflow_platform.cli import main
from airflow_platform.cli.policy import BEGIN, END, rules_markdown
from airflow_platform.plan import runner
from airflow_platform.plan.runner import DeclaredResource, ProgramRun
from tests.conftest import ROOT
from tests.test_plan import CLI, _project_copy, _set_stack_config, plan

COMMITTED = ["dev", "staging", "prod", "pr-1"]
CHATBOT_LOGS = "monitoring-alerts-chatbot-logs"


def _blocking(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        v
        for v in doc["policyViolations"]
        if v["enforcementLevel"] == "mandatory" and "waived" not in v
    ]


def _named(violation: dict[str, Any]) -> tuple[str, str]:
    return violation["policyName"], violation["urn"].rsplit("::", 1)[-1]


# --- the committed stacks --------------------------------------------------------------------


@pytest.mark.parametrize("stack", COMMITTED)
def test_every_committed_stack_plans_with_no_blocking_policy_violation(stack):
    done = plan(stack, "--json", "-")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert _blocking(doc) == []
    assert "Policy violations: 0 mandatory" in done.stderr
    for violation in doc["policyViolations"]:
        assert set(violation) <= {"policyName", "enforcementLevel", "urn", "message", "waived"}
        assert violation["message"], violation


def test_prod_shows_its_one_waiver_with_its_reason():
    done = plan("prod", "--json", "-")
    waived = [v for v in json.loads(done.stdout)["policyViolations"] if "waived" in v]
    assert [_named(v) for v in waived] == [("logs-encrypted", CHATBOT_LOGS)]
    assert "us-east-1" in waived[0]["waived"]
    # Never silent: the table marks it waived and prints the reason.
    assert "waived (mandatory)" in done.stderr
    assert "waived: AWS Chatbot writes its logs to us-east-1" in done.stderr


# --- a broken copy of prod -------------------------------------------------------------------


def test_prod_without_access_logging_is_refused_naming_each_bucket(tmp_path):
    copy = _project_copy(tmp_path)
    _set_stack_config(copy, "prod", storage={"accessLogging": False})
    done = plan("prod", "--json", str(tmp_path / "plan.json"), cwd=copy)
    assert done.returncode == 1, done.stderr
    refused = [line for line in done.stderr.splitlines() if line.startswith("refused: ")]
    for bucket in ("storage-dags", "storage-logs", "storage-backups"):
        assert any("s3-access-logging" in line and f"::{bucket})" in line for line in refused), (
            bucket
        )
    # The JSON is still written, with the violations in it.
    doc = json.loads((tmp_path / "plan.json").read_text())
    assert {("s3-access-logging", b) for b in ("storage-dags", "storage-logs")} <= {
        _named(v) for v in _blocking(doc)
    }


def _edit(resource: DeclaredResource, **inputs: Any) -> DeclaredResource:
    merged = {**resource.inputs, **inputs}
    return dataclasses.replace(resource, inputs={k: v for k, v in merged.items() if v is not None})


def _add_statement(resource: DeclaredResource, statement: dict[str, Any]) -> DeclaredResource:
    doc = json.loads(resource.inputs["policy"])
    doc["Statement"].append(statement)
    return _edit(resource, policy=json.dumps(doc))


def _break(run: ProgramRun) -> ProgramRun:
    """What no prod stack file can state (its config rules refuse each): a public bucket, one
    day of database backups, a public EKS endpoint open to all, a bucket without access
    logging, and an IAM statement granting everything."""
    changes = {
        "storage-dags-public-access": lambda r: _edit(
            r, blockPublicPolicy=False, restrictPublicBuckets=False
        ),
        "storage-dags-policy": lambda r: _add_statement(
            r,
            {
                "Sid": "PublicRead",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{r.inputs['bucket']}/*",
            },
        ),
        "database-instance": lambda r: _edit(r, backupRetentionPeriod=1),
        "eks-cluster": lambda r: _edit(
            r,
            vpcConfig={
                **r.inputs["vpcConfig"],
                "endpointPublicAccess": True,
                "publicAccessCidrs": ["0.0.0.0/0"],
            },
        ),
        "monitoring-probe-policy": lambda r: _add_statement(
            r, {"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}
        ),
    }
    resources = [
        changes[r.name](r) if r.name in changes else r
        for r in run.resources
        if r.name != "storage-logs-access-logging"
    ]
    return dataclasses.replace(run, resources=resources)


# Each break, and the rule (with the resource) that must refuse it.
EXPECTED = {
    ("s3-public-access-block", "storage-dags"),
    ("s3-tls-only-policy", "storage-dags"),
    ("rds-backup-retention", "database-instance"),
    ("eks-no-public-endpoint", "eks-cluster"),
    ("eks-public-endpoint-restricted", "eks-cluster"),
    ("s3-access-logging", "storage-logs"),
    ("iam-no-admin-statement", "monitoring-probe-policy"),
}


@pytest.fixture
def broken_prod(monkeypatch):
    """The plan command, in this process, with prod's declared resources broken (`_break`)."""
    real = runner.run_program

    def run_program(*args: Any, **kwargs: Any) -> ProgramRun:
        return _break(real(*args, **kwargs))

    monkeypatch.setattr(runner, "run_program", run_program)

    def plan_broken(project: Path, out: Path) -> int:
        return main(["plan", "prod", "--project-dir", str(project), "--json", str(out)])

    return plan_broken


def test_broken_prod_is_refused_with_each_violation_named(broken_prod, tmp_path, capsys):
    assert broken_prod(ROOT, tmp_path / "plan.json") == 1
    err = capsys.readouterr().err
    refused = [line for line in err.splitlines() if line.startswith("refused: ")]
    for policy, name in EXPECTED:
        assert any(
            line.startswith(f"refused: {policy}: ") and f"::{name})" in line for line in refused
        ), (policy, name)
    doc = json.loads((tmp_path / "plan.json").read_text())
    assert {_named(v) for v in _blocking(doc)} >= EXPECTED


def test_waivers_show_in_the_plan_and_unblock_it(broken_prod, tmp_path, capsys):
    assert broken_prod(ROOT, tmp_path / "refused.json") == 1
    blocking = _blocking(json.loads((tmp_path / "refused.json").read_text()))
    capsys.readouterr()
    copy = _project_copy(tmp_path)
    waivers = [
        {"rule": "logs-encrypted", "resource": CHATBOT_LOGS, "reason": "Chatbot is in us-east-1"},
        *(
            {"rule": v["policyName"], "resource": _named(v)[1], "reason": f"drill {i}"}
            for i, v in enumerate(blocking)
        ),
    ]
    _set_stack_config(copy, "prod", policy={"waivers": waivers})

    assert broken_prod(copy, tmp_path / "waived.json") == 0
    out = capsys.readouterr().out
    doc = json.loads((tmp_path / "waived.json").read_text())
    assert _blocking(doc) == []
    waived = {_named(v): v["waived"] for v in doc["policyViolations"] if "waived" in v}
    assert set(waived) >= EXPECTED
    assert all(reason.startswith("drill ") for key, reason in waived.items() if key in EXPECTED)
    assert f"0 mandatory, 3 advisory, {len(waived)} waived" in out
    assert "waived: drill 0" in out


def test_unknown_rule_in_a_waiver_is_refused_naming_the_rules(tmp_path):
    copy = _project_copy(tmp_path)
    waiver = {"rule": "s3-versionin", "resource": "storage-dags", "reason": "typo"}
    _set_stack_config(copy, "prod", policy={"waivers": [waiver]})
    for command in (["plan", "prod"], ["policy", "config", "prod"]):
        done = subprocess.run(
            [CLI, *command], cwd=copy, capture_output=True, text=True, check=False
        )
        assert done.returncode == 2, command
        assert "airflow-platform:policy.waivers.0.rule = 's3-versionin'" in done.stderr
        assert "did you mean s3-versioning?" in done.stderr
        for rule in all_rules():
            assert rule.name in done.stderr, (command, rule.name)
        assert "Traceback" not in done.stderr


def test_waiver_without_a_reason_is_refused(tmp_path):
    copy = _project_copy(tmp_path)
    waiver = {"rule": "s3-versioning", "resource": "storage-dags", "reason": " "}
    _set_stack_config(copy, "prod", policy={"waivers": [waiver]})
    done = plan("prod", cwd=copy)
    assert done.returncode == 2
    assert "a waiver needs a reason" in done.stderr


def test_waiver_that_waives_nothing_is_pointed_out(tmp_path):
    copy = _project_copy(tmp_path)
    data = yaml.safe_load((copy / "stacks" / "Pulumi.prod.yaml").read_text())
    waivers = data["config"]["airflow-platform:policy"]["waivers"]
    stale = {"rule": "s3-versioning", "resource": "storage-gone", "reason": "renamed"}
    _set_stack_config(copy, "prod", policy={"waivers": [*waivers, stale]})
    done = plan("prod", cwd=copy)
    assert done.returncode == 0, done.stderr
    assert "waiver of s3-versioning for storage-gone waived nothing" in done.stderr


# --- policy config and policy list -----------------------------------------------------------


def test_policy_config_gives_every_rule_its_level_on_the_stacks_tier_and_its_waivers(tmp_path):
    out = tmp_path / "prod.json"
    done = subprocess.run(
        [CLI, "policy", "config", "prod", "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = json.loads(out.read_text())
    rules = all_rules()
    assert {name: e["enforcementLevel"] for name, e in config.items()} == {
        r.name: r.level(Tier.PROD).value for r in rules
    }
    assert {e["tier"] for e in config.values()} == {"prod"}
    assert config["logs-encrypted"]["waivers"] == [
        {"resource": CHATBOT_LOGS, "reason": config["logs-encrypted"]["waivers"][0]["reason"]}
    ]
    assert all(e["waivers"] == [] for name, e in config.items() if name != "logs-encrypted")


def test_policy_config_of_an_ephemeral_stack_carries_its_tier():
    done = subprocess.run(
        [CLI, "policy", "config", "pr-3"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    config = json.loads(done.stdout)
    assert {e["tier"] for e in config.values()} == {"ephemeral"}
    assert config["s3-backup-object-lock"]["enforcementLevel"] == "disabled"


def test_policy_list_shows_every_rule_with_its_level_per_tier():
    done = subprocess.run([CLI, "policy", "list"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for r in all_rules():
        assert r.name in done.stdout
    header = next(line for line in done.stdout.splitlines() if "rule" in line and "prod" in line)
    assert all(tier in header for tier in ("dev", "staging", "prod", "ephemeral"))


def test_docs_policy_table_is_what_policy_list_prints():
    text = (ROOT / "docs" / "policy.md").read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == rules_markdown(), (
        "docs/policy.md's rules table is stale: replace it with "
        "`.venv/bin/airflow-platform policy list --markdown`"
    )
