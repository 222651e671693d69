"""What the offline plan passes but a real `pulumi up` (or a later one) would trip over: names
that collide across stacks, AZ counts the region cannot give, changes that would replace a
bucket, final snapshots that would collide on a second destroy."""

from __future__ import annotations

import json
import re

import pytest

from tests.test_plan import STACKS, _project_copy, _set_stack_config, plan

# Resource types whose explicit name is unique per account (IAM) or per account and region,
# with the input that carries it. Two stacks in one account must never share one.
NAME_INPUTS = {
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:iam/role:Role": "name",
    "aws:kms/alias:Alias": "name",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:rds/instance:Instance": "identifier",
    "aws:rds/parameterGroup:ParameterGroup": "name",
    "aws:rds/subnetGroup:SubnetGroup": "name",
    "aws:mwaa/environment:Environment": "name",
    "aws:secretsmanager/secret:Secret": "name",
    "aws:ecr/repository:Repository": "name",
    "aws:eks/cluster:Cluster": "name",
}


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("plans")
    result = {}
    for stack in [*STACKS, "pr-2"]:
        done = plan(stack, "--json", str(out / f"{stack}.json"))
        assert done.returncode == 0, done.stderr
        result[stack] = json.loads((out / f"{stack}.json").read_text())
    return result


def _named(doc: dict) -> dict[str, str]:
    """URN to the explicit name of every account- or region-unique resource."""
    names = {}
    for step in doc["steps"]:
        state = step["newState"]
        key = NAME_INPUTS.get(state["type"])
        if key and isinstance(state["inputs"].get(key), str):
            names[step["urn"]] = state["inputs"][key]
    return names


@pytest.mark.parametrize("stack", [*STACKS, "pr-2"])
def test_every_account_unique_name_carries_the_stack_name(plans, stack):
    named = _named(plans[stack])
    assert named, "the plan names some resources explicitly"
    for urn, name in named.items():
        assert re.search(rf"(^|[-/]){re.escape(stack)}([-/]|$)", name), f"{urn}: {name!r}"
    final = [
        s["newState"]["inputs"].get("finalSnapshotIdentifier")
        for s in plans[stack]["steps"]
        if s["newState"]["type"] == "aws:rds/instance:Instance"
    ]
    assert all(f is None or stack in f for f in final), final


def test_two_stacks_in_one_account_share_no_name(plans):
    # A name is unique among resources of its kind (an ECR repository and an EKS cluster
    # may both be `airflow-<stack>`).
    seen: dict[tuple[str, str], str] = {}
    for stack in [*STACKS, "pr-2"]:
        for urn, name in _named(plans[stack]).items():
            kind = urn.split("::")[2].rsplit("$", 1)[-1]
            assert (kind, name) not in seen, f"{name!r}: {seen.get((kind, name))} and {urn}"
            seen[(kind, name)] = urn


def _zone_error(copy, stack: str) -> str:
    done = plan(stack, cwd=copy)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    return " ".join(done.stderr.split())


def test_plan_refuses_more_azs_than_the_region_has_naming_the_key_and_count(tmp_path):
    copy = _project_copy(tmp_path)
    _set_stack_config(copy, "dev", network={"azCount": 4})  # eu-west-1 has three
    message = _zone_error(copy, "dev")
    assert "airflow-platform:network.azCount = 4 is not allowed" in message
    assert "eu-west-1 offers 3 Availability Zones" in message
    assert "eu-west-1a, eu-west-1b, eu-west-1c" in message


def test_plan_refuses_prods_three_azs_in_a_two_zone_region(tmp_path):
    copy = _project_copy(tmp_path)
    stack_file = copy / "stacks" / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text().replace("eu-west-1", "us-west-1"))
    message = _zone_error(copy, "prod")
    assert "network.azCount = 3 is not allowed: us-west-1 offers 2" in message


def test_plan_accepts_as_many_azs_as_the_region_has(tmp_path):
    copy = _project_copy(tmp_path)
    _set_stack_config(copy, "dev", network={"azCount": 3})
    done = plan("dev", "--json", "-", cwd=copy)
    assert done.returncode == 0, done.stderr
    zones = {
        s["newState"]["inputs"]["availabilityZone"]
        for s in json.loads(done.stdout)["steps"]
        if s["newState"]["type"] == "aws:ec2/subnet:Subnet"
    }
    assert zones == {"eu-west-1a", "eu-west-1b", "eu-west-1c"}


def test_plan_names_the_table_to_extend_for_a_region_it_does_not_know(tmp_path):
    copy = _project_copy(tmp_path)
    stack_file = copy / "stacks" / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace("eu-west-1", "eu-west-9"))
    message = _zone_error(copy, "dev")
    assert "does not know the Availability Zones of eu-west-9" in message
    assert "plan/regions.py" in message


def test_turning_on_object_lock_keeps_the_backup_bucket_and_adds_its_configuration(tmp_path):
    copy = _project_copy(tmp_path)
    base = tmp_path / "base.json"
    assert plan("dev", "--json", str(base), cwd=copy).returncode == 0
    _set_stack_config(copy, "dev", backup={"objectLock": True})
    done = plan("dev", "--json", "-", "--diff", str(base), cwd=copy)
    assert done.returncode == 0, done.stderr
    changed = {
        s["urn"].rsplit("::", 1)[1]: s["op"]
        for s in json.loads(done.stdout)["steps"]
        if s["op"] != "same"
    }
    assert changed == {"storage-backups-object-lock": "create"}


def test_final_snapshot_name_is_stable_across_plans_and_new_when_the_instance_is_replaced(
    tmp_path,
):
    def final_name(doc: dict) -> str:
        [instance] = [
            s["newState"]["inputs"]
            for s in doc["steps"]
            if s["newState"]["type"] == "aws:rds/instance:Instance"
        ]
        return instance["finalSnapshotIdentifier"]

    copy = _project_copy(tmp_path)
    first = json.loads(plan("dev", "--json", "-", cwd=copy).stdout)
    again = json.loads(plan("dev", "--json", "-", cwd=copy).stdout)
    assert final_name(first) == final_name(again)
    # The project key replaces the instance (a new kmsKeyId): the new instance gets a new name.
    _set_stack_config(copy, "dev", encryption={"customerManagedKey": True})
    replaced = json.loads(plan("dev", "--json", "-", cwd=copy).stdout)
    assert final_name(replaced) != final_name(first)
    assert final_name(replaced).startswith("airflow-dev-metadata-final-")


@pytest.mark.parametrize("stack", STACKS)
def test_stack_sets_its_mode_variable_where_the_secrets_backend_reads_it(plans, stack):
    # The value (by tier) is a secret in the plan; tests/test_airflow_settings.py checks it.
    [secret] = [
        s["newState"]
        for s in plans[stack]["steps"]
        if s["newState"]["type"] == "aws:secretsmanager/secret:Secret"
    ]
    assert secret["inputs"]["name"] == f"airflow/{stack}/variables/mode"
    assert secret["inputs"]["recoveryWindowInDays"] == 0, "a recreated stack reuses the name"
