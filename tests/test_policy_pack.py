"""The policy pack as `pulumi preview --policy-pack policy` loads it, and the same verdicts as
the offline plan.

The engine runs the pack with `python -m pulumi.policy <engine address> policy` in the pack's
folder: `pulumi.policy` runs `policy/__main__.py` (runpy puts the folder first on sys.path),
whose `PolicyPack(...)` builds the analyzer and then serves it over gRPC forever. The probe
below does exactly that, in a subprocess, except that it stops at the moment the analyzer
would be served: it keeps the servicer pulumi-policy built and asks it what the engine asks,
GetAnalyzerInfo (the policies and their levels), Configure (the `--policy-pack-config` file),
then Analyze per resource and AnalyzeStack once, with the plan's resources as the engine would
send them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from platform_rules import Tier, all_rules

from tests.conftest import ROOT
from tests.test_plan import CLI, _project_copy, _set_stack_config, plan
from tests.test_policy_plan import broken_prod as broken_prod

PACK = ROOT / "policy"

PROBE = r'''
import json, runpy, sys
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2
import pulumi_policy.policy as policy_module

class Served(BaseException):
    """Raised where PolicyPack would start serving (BaseException: pulumi.policy's own
    `except Exception` around the pack must not swallow it)."""

captured = {}
def capture(servicer, server):
    captured["servicer"] = servicer
    raise Served()

policy_module.analyzer_pb2_grpc.add_AnalyzerServicer_to_server = capture
args = sys.argv[1:]
# pulumi.policy's own arguments: the engine's address, then the pack's folder.
sys.argv = ["pulumi.policy", "127.0.0.1:0", args[0]]
try:
    runpy.run_module("pulumi.policy", run_name="__main__")
except Served:
    pass
servicer = captured["servicer"]
level_name = lambda value: analyzer_pb2.EnforcementLevel.Name(value).lower()
import platform_rules
result = {"rules_from": platform_rules.__file__}

info = servicer.GetAnalyzerInfo(None, None)
result["name"] = info.name
result["policies"] = [
    {
        "name": p.name,
        "enforcementLevel": level_name(p.enforcementLevel),
        "description": p.description,
        "configSchema": json_format.MessageToDict(p.configSchema.properties),
    }
    for p in info.policies
]

if len(args) > 2:
    config, plan_file = json.load(open(args[2])), args[3]
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, entry in config.items():
        properties = {k: v for k, v in entry.items() if k != "enforcementLevel"}
        request.policyConfig[name].enforcementLevel = analyzer_pb2.EnforcementLevel.Value(
            entry["enforcementLevel"].upper()
        )
        json_format.ParseDict(properties, request.policyConfig[name].properties)
    servicer.Configure(request, None)
    steps = json.load(open(plan_file))["steps"]
    states = [s["newState"] for s in steps if s["newState"]["custom"]]

    def props(state):
        return json_format.ParseDict(state["inputs"], struct_pb2.Struct())

    def options(state):
        return analyzer_pb2.AnalyzerResourceOptions(protect=state["protect"])

    diagnostics = []
    for state in states:
        response = servicer.Analyze(
            analyzer_pb2.AnalyzeRequest(
                type=state["type"], properties=props(state), urn=state["urn"],
                name=state["urn"].rsplit("::", 1)[1], options=options(state),
            ),
            None,
        )
        diagnostics += response.diagnostics
    response = servicer.AnalyzeStack(
        analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(
                    type=s["type"], properties=props(s), urn=s["urn"],
                    name=s["urn"].rsplit("::", 1)[1], options=options(s), parent=s["parent"],
                    dependencies=s["dependencies"],
                )
                for s in states
            ]
        ),
        None,
    )
    diagnostics += response.diagnostics
    result["diagnostics"] = [
        {
            "policyName": d.policyName,
            "enforcementLevel": level_name(d.enforcementLevel),
            "urn": d.urn,
            "description": d.description,
            "message": d.message,
        }
        for d in diagnostics
    ]

json.dump(result, open(args[1], "w"))
'''


def probe(tmp_path: Path, config: dict[str, Any] | None = None, plan: Path | None = None) -> dict:
    """Load the pack as the engine does, in a subprocess run in the pack's folder; with a
    config and a plan, analyze the plan's resources under that config."""
    out = tmp_path / "probe.json"
    args = [sys.executable, "-c", PROBE, str(PACK), str(out)]
    if config is not None and plan is not None:
        config_file = tmp_path / "pack-config.json"
        config_file.write_text(json.dumps(config))
        args += [str(config_file), str(plan)]
    done = subprocess.run(args, cwd=PACK, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    result["stdout"] = done.stdout
    return result


def test_the_pack_registers_every_rule_by_name_at_its_prod_level(tmp_path):
    result = probe(tmp_path)
    assert result["name"] == "airflow-platform"
    # Loaded from the pack's own folder, as the engine's runpy puts it first on sys.path.
    assert Path(result["rules_from"]).resolve() == PACK / "platform_rules" / "__init__.py"
    rules = all_rules()
    assert [p["name"] for p in result["policies"]] == [r.name for r in rules]
    for registered, rule in zip(result["policies"], rules, strict=True):
        assert registered["enforcementLevel"] == rule.level(Tier.PROD).value, rule.name
        assert registered["description"] == rule.description
        # The properties `policy config` writes besides enforcementLevel.
        assert set(registered["configSchema"]) == {"tier", "waivers"}, rule.name


def _pack_config(stack: str, cwd: Path) -> dict[str, Any]:
    done = subprocess.run(
        [CLI, "policy", "config", stack], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _verdicts(violations: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (v["policyName"], v["enforcementLevel"], v["urn"], v["message"]) for v in violations
    )


def _pack_verdicts(diagnostics: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    # pulumi-policy reports "<description>\n<message>"; the plan keeps the message alone.
    return _verdicts(
        [{**d, "message": d["message"].removeprefix(d["description"] + "\n")} for d in diagnostics]
    )


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "pr-1"])
def test_the_pack_and_the_plan_agree_on_every_committed_stack(tmp_path, stack):
    plan_file = tmp_path / "plan.json"
    assert plan(stack, "--json", str(plan_file)).returncode == 0
    violations = json.loads(plan_file.read_text())["policyViolations"]
    result = probe(tmp_path, _pack_config(stack, ROOT), plan_file)
    assert not [d for d in result["diagnostics"] if "can't run policy" in d["message"]]
    assert _pack_verdicts(result["diagnostics"]) == _verdicts(
        [v for v in violations if "waived" not in v]
    )
    # A waived violation is not reported to the engine, but printed in the preview's output.
    for waived in (v for v in violations if "waived" in v):
        assert f"policy {waived['policyName']}: waived for {waived['urn']}" in result["stdout"]


def test_the_pack_and_the_plan_report_the_same_violations_on_broken_prod(
    broken_prod,
    tmp_path,
    capsys,
):
    copy = _project_copy(tmp_path)
    # One waiver besides prod's own: the pack must skip it as the plan marks it.
    waivers = [
        {"rule": "logs-encrypted", "resource": "monitoring-alerts-chatbot-logs", "reason": "r"},
        {"rule": "eks-no-public-endpoint", "resource": "eks-cluster", "reason": "a drill"},
    ]
    _set_stack_config(copy, "prod", policy={"waivers": waivers})
    plan_file = tmp_path / "plan.json"
    assert broken_prod(copy, plan_file) == 1
    capsys.readouterr()
    violations = json.loads(plan_file.read_text())["policyViolations"]
    assert {v["policyName"] for v in violations if v["enforcementLevel"] == "mandatory"} >= {
        "s3-public-access-block",
        "s3-tls-only-policy",
        "s3-access-logging",
        "rds-backup-retention",
        "eks-public-endpoint-restricted",
        "iam-no-admin-statement",
    }
    result = probe(tmp_path, _pack_config("prod", copy), plan_file)
    assert _pack_verdicts(result["diagnostics"]) == _verdicts(
        [v for v in violations if "waived" not in v]
    )
    assert "policy eks-no-public-endpoint: waived for" in result["stdout"]
