"""The replacement table of the offline plan: the helper, the paths, and coverage of every stack."""

from __future__ import annotations

import importlib
import json
import keyword
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from airflow_platform.plan.replacement import REPLACE_ON_CHANGE, replacement_keys
from tests.conftest import ROOT

STACKS = ["dev", "staging", "prod", "pr-1"]
CLI = str(Path(sys.executable).with_name("airflow-platform"))

RDS = "aws:rds/instance:Instance"
MWAA = "aws:mwaa/environment:Environment"
BUCKET = "aws:s3/bucket:Bucket"

RDS_INPUTS = {
    "identifier": "airflow-dev-metadata",
    "engine": "postgres",
    "engineVersion": "16",
    "instanceClass": "db.t4g.micro",
    "storageEncrypted": True,
    "kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/old",
    "dbName": "airflow",
    "tags": {"stack": "dev"},
}
MWAA_INPUTS = {
    "name": "airflow-dev",
    "airflowVersion": "3.3.1",
    "kmsKey": "arn:aws:kms:eu-west-1:123456789012:key/old",
    "networkConfiguration": {
        "securityGroupIds": ["sg-1"],
        "subnetIds": ["subnet-a", "subnet-b"],
    },
}


def changed(inputs: dict, **changes) -> dict:
    return {**inputs, **changes}


# --- the helper on hand-made input pairs ---------------------------------------------------


def test_rds_kms_key_change_replaces():
    new = changed(RDS_INPUTS, kmsKeyId="arn:aws:kms:eu-west-1:123456789012:key/new")
    assert replacement_keys(RDS, RDS_INPUTS, new) == ["kmsKeyId"]


def test_rds_instance_class_change_updates_in_place():
    new = changed(RDS_INPUTS, instanceClass="db.r6g.large")
    assert replacement_keys(RDS, RDS_INPUTS, new) == []


def test_rds_identifier_rename_is_in_place():
    # Since provider v5 `identifier` is renamed with ModifyDBInstance, not ForceNew.
    new = changed(RDS_INPUTS, identifier="airflow-dev-metadata-2")
    assert replacement_keys(RDS, RDS_INPUTS, new) == []


def test_several_changes_are_reported_sorted():
    new = changed(RDS_INPUTS, username="admin", dbName="other", instanceClass="db.r6g.large")
    assert replacement_keys(RDS, RDS_INPUTS, new) == ["dbName", "username"]


def test_mwaa_kms_key_change_replaces():
    new = changed(MWAA_INPUTS, kmsKey="arn:aws:kms:eu-west-1:123456789012:key/new")
    assert replacement_keys(MWAA, MWAA_INPUTS, new) == ["kmsKey"]


def test_mwaa_nested_subnet_change_replaces():
    network = {**MWAA_INPUTS["networkConfiguration"], "subnetIds": ["subnet-a", "subnet-c"]}
    new = changed(MWAA_INPUTS, networkConfiguration=network)
    assert replacement_keys(MWAA, MWAA_INPUTS, new) == ["networkConfiguration.subnetIds"]


def test_mwaa_nested_security_group_change_is_in_place():
    network = {**MWAA_INPUTS["networkConfiguration"], "securityGroupIds": ["sg-2"]}
    new = changed(MWAA_INPUTS, networkConfiguration=network)
    assert replacement_keys(MWAA, MWAA_INPUTS, new) == []


def test_bucket_tags_change_updates_in_place():
    old = {"bucket": "airflow-dev-logs", "forceDestroy": False, "tags": {"stack": "dev"}}
    new = changed(old, tags={"stack": "dev", "owner": "data-platform"})
    assert replacement_keys(BUCKET, old, new) == []


def test_missing_path_counts_only_when_present_on_the_other_side():
    without = {k: v for k, v in RDS_INPUTS.items() if k != "kmsKeyId"}
    assert replacement_keys(RDS, without, RDS_INPUTS) == ["kmsKeyId"]
    assert replacement_keys(RDS, RDS_INPUTS, without) == ["kmsKeyId"]
    assert replacement_keys(RDS, without, dict(without)) == []
    # An explicit null is the same as an unset input.
    assert replacement_keys(RDS, without, changed(without, kmsKeyId=None)) == []


def test_nested_path_missing_block_on_one_side():
    without_network = {k: v for k, v in MWAA_INPUTS.items() if k != "networkConfiguration"}
    assert replacement_keys(MWAA, without_network, MWAA_INPUTS) == [
        "networkConfiguration.subnetIds"
    ]
    assert replacement_keys(MWAA, without_network, dict(without_network)) == []


def test_unknown_type_raises_key_error_naming_it():
    token = "aws:ec2/instance:Instance"
    with pytest.raises(KeyError, match=re.escape(token)):
        replacement_keys(token, {}, {})


def test_provider_has_no_replacement_keys():
    assert replacement_keys("pulumi:providers:aws", {"region": "a"}, {"region": "b"}) == []


# --- the table itself ----------------------------------------------------------------------


@pytest.mark.parametrize("token", sorted(REPLACE_ON_CHANGE))
def test_entries_are_frozensets_of_paths(token):
    paths = REPLACE_ON_CHANGE[token]
    assert isinstance(paths, frozenset)
    for path in paths:
        assert re.fullmatch(r"[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)*", path), path


def _resource_module(token: str) -> tuple[ModuleType, str]:
    package, module_and_class = token.split(":", 1)
    module, cls = module_and_class.split(":")
    sdk = importlib.import_module("pulumi_random" if package == "random" else "pulumi_aws")
    if package == "aws":
        name = module.split("/")[0]
        # A module named after a Python keyword gets a trailing underscore (pulumi_aws.lambda_).
        sdk = importlib.import_module(
            f"pulumi_aws.{name}_" if keyword.iskeyword(name) else f"pulumi_aws.{name}"
        )
    resource = getattr(sdk, cls)
    return importlib.import_module(resource.__module__), cls


def _args_class(module: ModuleType, cls: str) -> type:
    """The resource's input class: `<Class>Args`, or `<Class>InitArgs` when a nested type took
    the plain name."""
    names = [n for n in module.__all__ if n in (f"{cls}Args", f"{cls}InitArgs")]
    assert len(names) == 1, (module.__name__, names)
    return getattr(module, names[0])


def _inputs(args: type) -> dict[str, property]:
    """camelCase input name -> property of a Pulumi input class."""
    return {
        getattr(value.fget, "_pulumi_name", name): value
        for name, value in vars(args).items()
        if isinstance(value, property)
    }


def _nested_args(module: ModuleType, prop: property) -> type:
    annotation = str(prop.fget.__annotations__["return"])
    match = re.search(r"ForwardRef\('(\w+Args)'\)", annotation) or re.search(
        r"'(\w+Args)'", annotation
    )
    assert match, annotation
    return getattr(module, match.group(1))


@pytest.mark.parametrize(
    "token", sorted(t for t in REPLACE_ON_CHANGE if t.startswith(("aws:", "random:")))
)
def test_every_path_is_an_input_of_the_pulumi_sdk(token):
    """The camelCase mapping checked against the installed SDK's input classes."""
    module, cls = _resource_module(token)
    top = _args_class(module, cls)
    for path in sorted(REPLACE_ON_CHANGE[token]):
        args = top
        *blocks, leaf = path.split(".")
        for block in blocks:
            inputs = _inputs(args)
            assert block in inputs, f"{token}: {block} of {path} is not an input"
            args = _nested_args(module, inputs[block])
        assert leaf in _inputs(args), f"{token}: {path} is not an input of {args.__name__}"


@pytest.mark.parametrize(
    "token", sorted(t for t in REPLACE_ON_CHANGE if t.startswith("kubernetes:"))
)
def test_kubernetes_paths_are_fields_of_the_object(token):
    """Kubernetes entries are JSON paths into the object (the provider's own force-new list),
    so they start at one of its top-level fields; a Helm release's are its own inputs."""
    # A StorageClass has no spec: its settings are top-level fields (storage.k8s.io/v1).
    storage_class = {"parameters", "provisioner", "reclaimPolicy", "volumeBindingMode"}
    fields = (
        {"name", "namespace"}
        if token == "kubernetes:helm.sh/v3:Release"
        else {"metadata", "spec", "data", "stringData", "type"}
        | (storage_class if token == "kubernetes:storage.k8s.io/v1:StorageClass" else set())
    )
    for path in REPLACE_ON_CHANGE[token]:
        assert path.split(".")[0] in fields, f"{token}: {path}"


# --- every stack's custom resource types are classified ------------------------------------


@pytest.fixture(scope="module")
def plan_types(tmp_path_factory) -> dict[str, set[str]]:
    out = tmp_path_factory.mktemp("replacement-plans")
    types: dict[str, set[str]] = {}
    for stack in STACKS:
        target = out / f"{stack}.json"
        done = subprocess.run(
            [CLI, "plan", stack, "--json", str(target)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"plan {stack} failed:\n{done.stderr}"
        doc = json.loads(target.read_text())
        types[stack] = {
            step["newState"]["type"]
            for step in doc["steps"]
            if step.get("newState", {}).get("custom")
        }
    return types


@pytest.mark.parametrize("stack", STACKS)
def test_every_planned_custom_type_has_an_entry(plan_types, stack):
    assert plan_types[stack], f"no custom resources in the {stack} plan"
    missing = sorted(plan_types[stack] - REPLACE_ON_CHANGE.keys())
    assert not missing, f"{stack} declares types without replacement rules: {missing}"
