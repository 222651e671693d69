"""The offline plan: the JSON contract of DESIGN.md for every stack, --diff, and the CLI."""

from __future__ import annotations

import json
import keyword
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

STACKS = ["dev", "staging", "prod", "pr-1"]
URN = re.compile(
    r"^urn:pulumi:(?P<stack>[^:]+)::airflow-platform::(?P<types>[^:].*)::(?P<name>[^:]+)$"
)
CLI = str(Path(sys.executable).with_name("airflow-platform"))
REQUIRED_TAGS = {"project", "stack", "tier", "owner"}
KMS_KEY = "aws:kms/key:Key"


def taggable(token: str) -> bool:
    """Whether the provider's resource class for `token` has a `tags` input."""
    import importlib

    if token.startswith("pulumi:providers:"):
        return False  # a provider carries default tags, not tags of its own
    if token.startswith(("kubernetes:", "docker-build:")):
        return False  # Kubernetes objects carry labels; an image's `tags` are image tags

    package, module_and_class = token.split(":", 1)
    module, cls = module_and_class.split("/")[0], token.rsplit(":", 1)[1]
    if keyword.iskeyword(module):
        module += "_"  # the SDK's module for `lambda` is pulumi_aws.lambda_
    # `index` is the package's top level (random:index/randomId:RandomId).
    where = f"pulumi_{package}" if module == "index" else f"pulumi_{package}.{module}"
    resource = getattr(importlib.import_module(where), cls)
    return hasattr(resource, "tags")


def plan(stack: str, *args: str, cwd: Path = ROOT, env: dict | None = None):
    return subprocess.run(
        [CLI, "plan", stack, *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("plans")
    result = {}
    for stack in STACKS:
        done = plan(stack, "--json", str(out / f"{stack}.json"))
        assert done.returncode == 0, done.stderr
        result[stack] = json.loads((out / f"{stack}.json").read_text())
    return result


@pytest.mark.parametrize("stack", STACKS)
def test_plan_json_matches_contract(plans, stack):
    assert_contract(plans[stack], stack)


def assert_contract(doc: dict, stack: str) -> None:
    assert list(doc) == ["config", "steps", "outputs", "changeSummary", "policyViolations", "cost"]
    assert all(isinstance(v, str) for v in doc["config"].values())
    assert doc["config"]["aws:region"]
    urns = {step["urn"] for step in doc["steps"]}
    assert len(urns) == len(doc["steps"]), "one step per URN"
    for step in doc["steps"]:
        assert step["op"] == "create", step["urn"]
        match = URN.match(step["urn"])
        assert match, step["urn"]
        assert match["stack"] == stack, step["urn"]
        state = step["newState"]
        assert set(state) == {
            "urn",
            "type",
            "custom",
            "parent",
            "inputs",
            "protect",
            "retainOnDelete",
            "dependencies",
        }, step["urn"]
        assert state["urn"] == step["urn"]
        assert match["types"].split("$")[-1] == state["type"], step["urn"]
        assert isinstance(state["inputs"], dict)
        assert isinstance(state["protect"], bool)
        if state["type"] != "pulumi:pulumi:Stack":
            assert state["parent"] in urns, f"{step['urn']}: parent {state['parent']} not in plan"
        assert set(state["dependencies"]) <= urns, step["urn"]
        if state["custom"]:
            # Resources, and explicit providers (a second region), as `pulumi preview` shows.
            assert re.match(
                r"^((aws|random):[a-z0-9]+/[a-zA-Z0-9]+:[A-Z]|docker-build:index:Image$"
                r"|kubernetes:[a-z0-9.]+/[a-z0-9]+:[A-Z]"
                r"|pulumi:providers:(aws|kubernetes)$)",
                state["type"],
            ), step["urn"]
            assert all(re.match(r"^[a-z][a-zA-Z0-9]*$", key) for key in state["inputs"]), (
                f"inputs of {step['urn']} are not camelCase provider inputs"
            )
    assert doc["changeSummary"] == {
        "create": len(doc["steps"]),
        "update": 0,
        "replace": 0,
        "delete": 0,
        "same": 0,
    }
    # The policy rules ran: nothing mandatory is left unwaived in a committed stack.
    assert not [
        v
        for v in doc["policyViolations"]
        if v["enforcementLevel"] == "mandatory" and "waived" not in v
    ]
    assert doc["cost"]["currency"] == "USD"
    # No price table yet: nothing is priced, and no date pretends otherwise.
    assert doc["cost"]["monthly"] == 0.0
    assert doc["cost"]["pricesAsOf"] is None


@pytest.mark.parametrize("stack", STACKS)
def test_plan_every_taggable_resource_carries_required_tags(plans, stack):
    ephemeral = stack.startswith("pr-")
    for step in plans[stack]["steps"]:
        state = step["newState"]
        if not state["custom"] or not taggable(state["type"]):
            continue
        tags = state["inputs"].get("tags") or {}
        missing = REQUIRED_TAGS - set(tags)
        assert not missing, f"{step['urn']} lacks tags {missing}"
        assert tags["stack"] == stack
        assert ("expires-at" in tags) is ephemeral, step["urn"]


def test_plan_resource_counts_differ_by_tier_as_designed(plans):
    def count(stack, token):
        return sum(1 for s in plans[stack]["steps"] if s["newState"]["type"] == token)

    def keys(stack):
        steps = plans[stack]["steps"]
        return [s["urn"].rsplit("::", 1)[1] for s in steps if s["newState"]["type"] == KMS_KEY]

    assert count("prod", "aws:ec2/natGateway:NatGateway") == 3
    assert count("dev", "aws:ec2/natGateway:NatGateway") == 1
    # prod's project key also encrypts its alert topic; dev has no project key, only the key
    # its alert topic needs (CloudWatch cannot publish under the AWS-managed SNS key).
    assert keys("prod") == ["kms-key"]
    assert keys("dev") == ["monitoring-alerts-kms-key"]
    assert count("pr-1", "aws:s3/bucket:Bucket") == 3
    for stack in STACKS:
        assert count(stack, "aws:rds/instance:Instance") == 1, stack


def test_plan_is_deterministic(plans, tmp_path):
    done = plan("prod", "--json", str(tmp_path / "again.json"))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "again.json").read_text()) == plans["prod"]


def test_plan_prod_protects_data_and_kms_key(plans):
    protected = {s["newState"]["type"] for s in plans["prod"]["steps"] if s["newState"]["protect"]}
    assert {"aws:kms/key:Key", "aws:s3/bucket:Bucket", "aws:rds/instance:Instance"} <= protected
    assert not any(s["newState"]["protect"] for s in plans["pr-1"]["steps"])


def _project_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", copy)
    shutil.copytree(ROOT / "stacks", copy / "stacks")
    # The DAG bundle and the startup script are the program's inputs too (mwaa stacks).
    shutil.copytree(ROOT / "dags", copy / "dags", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "images", copy / "images")
    # The health probe's code, zipped into its Lambda.
    shutil.copytree(
        ROOT / "functions", copy / "functions", ignore=shutil.ignore_patterns("__pycache__")
    )
    # The eks image's build context: what .dockerignore lets through (components/image.py).
    shutil.copy(ROOT / ".dockerignore", copy)
    (copy / "infra").symlink_to(ROOT / "infra")
    return copy


def _set_stack_config(copy: Path, stack: str, **config) -> None:
    """Set `airflow-platform:<key>` values in the copied project's stack file."""
    stack_file = copy / "stacks" / f"Pulumi.{stack}.yaml"
    data = yaml.safe_load(stack_file.read_text())
    data["config"].update({f"airflow-platform:{key}": value for key, value in config.items()})
    stack_file.write_text(yaml.safe_dump(data))


def _set_dev_config(copy: Path, **config) -> None:
    _set_stack_config(copy, "dev", **config)


def test_plan_diff_marks_exactly_the_changed_step_as_update(tmp_path):
    copy = _project_copy(tmp_path)
    base = tmp_path / "base.json"
    assert plan("dev", "--json", str(base), cwd=copy).returncode == 0
    _set_dev_config(copy, storage={"logArchive": {"expireDays": 400}})

    done = plan("dev", "--json", str(tmp_path / "new.json"), "--diff", str(base), cwd=copy)
    assert done.returncode == 0, done.stderr
    new = json.loads((tmp_path / "new.json").read_text())
    updates = [s for s in new["steps"] if s["op"] != "same"]
    assert [(s["op"], s["urn"].rsplit("::", 1)[1], s["diffs"]) for s in updates] == [
        ("update", "storage-logs-lifecycle", ["rules"])
    ]
    assert new["changeSummary"] == {
        "create": 0,
        "update": 1,
        "replace": 0,
        "delete": 0,
        "same": len(new["steps"]) - 1,
    }


def test_plan_diff_shows_created_and_deleted_resources(tmp_path):
    copy = _project_copy(tmp_path)
    base = tmp_path / "base.json"
    assert plan("dev", "--json", str(base), cwd=copy).returncode == 0
    _set_dev_config(copy, network={"flowLogs": True, "azCount": 3})
    done = plan("dev", "--json", "-", "--diff", str(base), cwd=copy)
    assert done.returncode == 0, done.stderr
    new = json.loads(done.stdout)
    created = {s["urn"].rsplit("::", 1)[1] for s in new["steps"] if s["op"] == "create"}
    assert {"network-flow-log", "network-private-2", "network-public-2"} <= created
    # Back to the base: what was added is now deleted.
    shutil.copy(ROOT / "stacks" / "Pulumi.dev.yaml", copy / "stacks")
    grown = tmp_path / "grown.json"
    grown.write_text(json.dumps(new))
    back = json.loads(plan("dev", "--json", "-", "--diff", str(grown), cwd=copy).stdout)
    deleted = {s["urn"].rsplit("::", 1)[1] for s in back["steps"] if s["op"] == "delete"}
    assert deleted == created
    assert all(
        "oldState" in s and "newState" not in s for s in back["steps"] if s["op"] == "delete"
    )


def test_plan_shows_secrets_as_placeholder_in_config_inputs_and_outputs(tmp_path):
    import pulumi
    import pulumi_aws as aws

    from airflow_platform.plan.contract import build_plan, display_config
    from airflow_platform.plan.project import Project, read_stack_config
    from airflow_platform.plan.runner import run_function

    copy = _project_copy(tmp_path)
    _set_dev_config(copy, slackWebhook={"secure": "v1:c2VjcmV0LWNpcGhlcnRleHQ="})
    config = read_stack_config(Project.load(copy), "dev")
    assert config.secret_keys == ["airflow-platform:slackWebhook"]

    def program():
        hook = pulumi.Config("airflow-platform").require_secret("slackWebhook")
        aws.sns.Topic("alerts", tags={"hook": hook})
        pulumi.export("hook", hook)

    run = run_function(program, "airflow-platform", "dev", config)
    doc = build_plan(run, display_config(config.values, config.secret_keys))
    topic = next(s for s in doc["steps"] if s["urn"].endswith("::alerts"))
    assert doc["config"]["airflow-platform:slackWebhook"] == "[secret]"
    assert topic["newState"]["inputs"]["tags"] == "[secret]"
    assert doc["outputs"]["hook"] == "[secret]"
    assert "c2VjcmV0LWNpcGhlcnRleHQ" not in json.dumps(doc)


def test_plan_prod_with_replica_region_adds_a_provider_and_keeps_the_contract(tmp_path):
    copy = _project_copy(tmp_path)
    _set_stack_config(copy, "prod", backup={"replicaRegion": "eu-central-1"})
    done = plan("prod", "--json", "-", cwd=copy)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert_contract(doc, "prod")
    types = [s["newState"]["type"] for s in doc["steps"]]
    assert types.count("pulumi:providers:aws") == 1
    assert (
        types.count(
            "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
        )
        == 1
    )
    for step in doc["steps"]:
        state = step["newState"]
        if state["custom"] and taggable(state["type"]):
            assert set(state["inputs"].get("tags") or {}) >= REQUIRED_TAGS, step["urn"]


def test_plan_database_is_reachable_only_from_the_runtime_group(plans):
    for stack in STACKS:
        steps = [s["newState"] for s in plans[stack]["steps"]]
        [instance] = [s for s in steps if s["type"] == "aws:rds/instance:Instance"]
        assert instance["inputs"]["publiclyAccessible"] is False, stack
        database_group = plans[stack]["outputs"]["databaseSecurityGroupId"]
        [rule] = [
            s
            for s in steps
            if s["type"] == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
            and s["inputs"]["securityGroupId"] == database_group
        ]
        # MWAA attaches the airflow-runtime group; EKS Auto Mode's pods carry the cluster's.
        outputs = plans[stack]["outputs"]
        runtime = outputs.get("eksSecurityGroupId") or outputs["runtimeSecurityGroupId"]
        assert rule["inputs"]["referencedSecurityGroupId"] == runtime, stack
        assert "cidrIpv4" not in rule["inputs"], stack


def test_plan_markdown_summarises_changes_for_a_pull_request(tmp_path):
    done = plan("prod", "--markdown", str(tmp_path / "pr.md"))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "pr.md").read_text()
    assert "### airflow-platform plan: `prod`" in text
    # The counts, most serious first, and the changes by component with their totals.
    counts = r"^Tier `prod`, region `eu-west-1`, no base plan: .* \d+ to create, 0 unchanged\.$"
    assert re.search(counts, text, re.MULTILINE)
    assert "| component | replace | delete | update | create |" in text
    # The policy rules ran and say what they found (prod's advisories); cost was not
    # evaluated, so nothing is claimed: not "0.00 USD".
    assert "#### Policy violations (" in text
    assert "not evaluated (no policy pack" not in text
    assert "**Estimated monthly cost:** not evaluated" in text
    assert "0.00" not in text


def test_plan_refuses_misspelt_key_in_stack_file_without_traceback(tmp_path):
    copy = _project_copy(tmp_path)
    stack_file = copy / "stacks" / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text() + "  airflow-platform:netwrok:\n    azCount: 3\n")
    done = plan("dev", cwd=copy)
    assert done.returncode == 2
    assert "airflow-platform:netwrok is not a known key (did you mean network?)" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_plan_refuses_invalid_tier_in_stack_file(tmp_path):
    copy = _project_copy(tmp_path)
    stack_file = copy / "stacks" / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace("tier: dev", "tier: production"))
    done = plan("dev", cwd=copy)
    assert done.returncode == 2
    assert "airflow-platform:tier = 'production' is not allowed" in done.stderr
    assert "Traceback" not in done.stderr


def test_plan_unknown_stack_names_the_stacks_that_exist():
    done = plan("qa")
    assert done.returncode == 2
    assert "dev, prod, staging" in done.stderr
    assert "pr-<number>" in done.stderr


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        (None, None, "123456789012"),
        (None, "210987654321", "210987654321"),
        ("111122223333", "210987654321", "111122223333"),
    ],
)
def test_plan_account_id_flag_beats_variable_beats_default(flag, env, expected):
    import os

    environ = {k: v for k, v in os.environ.items() if k != "AIRFLOW_PLATFORM_ACCOUNT_ID"}
    if env:
        environ["AIRFLOW_PLATFORM_ACCOUNT_ID"] = env
    args = ["--json", "-"] + (["--account-id", flag] if flag else [])
    done = plan("dev", *args, env=environ)
    assert done.returncode == 0, done.stderr
    assert (
        json.loads(done.stdout)["outputs"]["dagBucket"] == f"airflow-dev-dags-{expected}-eu-west-1"
    )


def test_plan_prod_key_rotates_has_explicit_policy_and_encrypts_flow_logs(plans):
    def only(token, name=None):
        found = [
            s["newState"]
            for s in plans["prod"]["steps"]
            if s["newState"]["type"] == token and (name is None or s["urn"].endswith(f"::{name}"))
        ]
        assert len(found) == 1, token
        return found[0]

    key = only("aws:kms/key:Key")
    assert key["inputs"]["enableKeyRotation"] is True
    policy = json.loads(key["inputs"]["policy"])
    principals = [s["Principal"] for s in policy["Statement"]]
    assert "*" not in principals
    assert {"AWS": "*"} not in principals
    key_arn = plans["prod"]["outputs"]["kmsKeyArn"]
    assert only("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")["inputs"]["kmsKeyId"] == (
        key_arn
    )
