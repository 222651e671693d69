"""The `pr-<n>` plan leaves nothing behind, on both runtimes: every resource deletable by
`pulumi destroy` alone, every taggable resource (and what EKS creates at run time) tagged with
the stack and its `expires-at`, and every log group AWS would create on its own declared by the
stack first."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from platform_rules import Resource, Tier
from platform_rules.logs import LOG_GROUP, implicit_log_groups
from platform_rules.tags import EXPIRES_AT_FORMAT

from tests.conftest import ROOT
from tests.test_plan import _project_copy, plan, taggable

STACK = "pr-7"
PLATFORMS = ["mwaa", "eks"]
BUCKET = "aws:s3/bucket:Bucket"
REPOSITORY = "aws:ecr/repository:Repository"
DATABASE = "aws:rds/instance:Instance"
SECRET = "aws:secretsmanager/secret:Secret"
KMS_KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
KMS_MIN_DELETION_WINDOW = 7  # KMS: "a waiting period of 7-30 days"


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, dict[str, Any]]:
    """The pr-7 plan on each runtime: a pr stack follows dev's file, so eks gets a file of
    its own that is dev's with `platform: eks` and the project key (as a team trying a
    prod-shaped stack would write it)."""
    docs = {}
    for platform in PLATFORMS:
        work = tmp_path_factory.mktemp(f"pr-{platform}")
        copy = _project_copy(work)
        dev = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
        config = {k: v for k, v in dev["config"].items() if k != "airflow-platform:tier"}
        config["airflow-platform:platform"] = platform
        if platform == "eks":
            config["airflow-platform:encryption"] = {"customerManagedKey": True}
        (copy / "stacks" / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))
        out = work / "plan.json"
        done = plan(STACK, "--json", str(out), cwd=copy)
        assert done.returncode == 0, done.stderr
        docs[platform] = json.loads(Path(out).read_text())
    return docs


def _states(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [s["newState"] for s in doc["steps"] if s["newState"]["custom"]]


def _of_type(doc: dict[str, Any], token: str) -> list[dict[str, Any]]:
    return [s for s in _states(doc) if s["type"] == token]


def test_both_runtimes_are_planned(plans):
    assert _of_type(plans["mwaa"], "aws:mwaa/environment:Environment")
    assert _of_type(plans["eks"], "aws:eks/cluster:Cluster")
    for doc in plans.values():
        [vpc] = _of_type(doc, "aws:ec2/vpc:Vpc")
        assert vpc["inputs"]["tags"]["tier"] == Tier.EPHEMERAL.value


# --- deletable ---------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_nothing_is_protected_retained_or_deletion_protected(plans, platform):
    for state in _states(plans[platform]):
        assert state["protect"] is False, state["urn"]
        assert state["retainOnDelete"] is False, state["urn"]
        assert state["inputs"].get("deletionProtection") in (None, False), state["urn"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_what_holds_data_is_deleted_with_its_data(plans, platform):
    doc = plans[platform]
    for bucket in _of_type(doc, BUCKET):
        assert bucket["inputs"].get("forceDestroy") is True, bucket["urn"]
    for database in _of_type(doc, DATABASE):
        assert database["inputs"].get("skipFinalSnapshot") is True, database["urn"]
        assert database["inputs"].get("deleteAutomatedBackups") is True, database["urn"]
    for secret in _of_type(doc, SECRET):
        # A secret in its recovery window keeps its name: the next pr-7 could not create it.
        assert secret["inputs"].get("recoveryWindowInDays") == 0, secret["urn"]
    for key in _of_type(doc, KMS_KEY):
        assert key["inputs"].get("deletionWindowInDays") == KMS_MIN_DELETION_WINDOW, key["urn"]
    assert _of_type(doc, BUCKET)
    assert _of_type(doc, DATABASE)
    assert _of_type(doc, KMS_KEY)


def test_the_project_key_of_a_pr_stack_that_asks_for_one_has_the_shortest_window(plans):
    aliases = {
        a["inputs"]["name"]: a["inputs"]["targetKeyId"] for a in _of_type(plans["eks"], ALIAS)
    }
    assert "alias/airflow-platform-pr-7" in aliases
    for key in _of_type(plans["eks"], KMS_KEY):
        assert key["inputs"]["deletionWindowInDays"] == KMS_MIN_DELETION_WINDOW, key["urn"]


def test_the_eks_image_repository_is_force_deleted(plans):
    [repository] = _of_type(plans["eks"], REPOSITORY)
    assert repository["inputs"].get("forceDelete") is True


# --- tagged ------------------------------------------------------------------------------------


def _assert_stack_tags(tags: dict[str, str], where: str, expiry: bool = True) -> None:
    assert tags.get("stack") == STACK, where
    assert tags.get("project") == "airflow-platform", where
    assert tags.get("tier") == Tier.EPHEMERAL.value, where
    if not expiry:
        # Replaced rather than retagged when a tag changes: no tag that moves every deploy.
        assert "expires-at" not in tags, where
        return
    expires = datetime.strptime(tags.get("expires-at", ""), EXPIRES_AT_FORMAT)
    assert expires.year >= 2025, where


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_taggable_resource_carries_the_stack_and_its_expiry(plans, platform):
    checked = 0
    for state in _states(plans[platform]):
        if state["type"].startswith("pulumi:") or not taggable(state["type"]):
            continue
        _assert_stack_tags(state["inputs"].get("tags") or {}, state["urn"])
        checked += 1
    assert checked > 50


def test_what_eks_creates_at_run_time_is_tagged_too(plans):
    doc = plans["eks"]
    [node_class] = _of_type(doc, "kubernetes:eks.amazonaws.com/v1:NodeClass")
    _assert_stack_tags(node_class["inputs"]["spec"]["tags"], "task NodeClass", expiry=False)
    [service] = _of_type(doc, "kubernetes:core/v1:Service")
    annotation = service["inputs"]["metadata"]["annotations"][
        "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"
    ]
    _assert_stack_tags(dict(pair.split("=", 1) for pair in annotation.split(",")), "API NLB")
    [storage] = _of_type(doc, "kubernetes:storage.k8s.io/v1:StorageClass")
    volume_tags = dict(
        value.split("=", 1)
        for key, value in storage["inputs"]["parameters"].items()
        if key.startswith("tagSpecification_")
    )
    _assert_stack_tags(volume_tags, "default StorageClass", expiry=False)


# --- implicit log groups -----------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_log_group_aws_would_create_is_declared_first(plans, platform):
    states = _states(plans[platform])
    groups = {
        (s["inputs"].get("name"), s["inputs"].get("region")): s["urn"]
        for s in states
        if s["type"] == LOG_GROUP
    }
    writers = 0
    for state in states:
        resource = Resource(state["type"], state["urn"], "", state["inputs"])
        for name, region in implicit_log_groups(resource):
            where = region or state["inputs"].get("region")
            assert (name, where) in groups, f"{state['urn']}: {name} not declared"
            assert groups[(name, where)] in state["dependencies"], (
                f"{state['urn']} does not depend on {name}"
            )
            writers += 1
    # Lambda, RDS (2), Chatbot, and MWAA's five or EKS's control plane and Container Insights.
    assert writers == {"mwaa": 9, "eks": 6}[platform]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_plan_reports_no_violation_of_a_teardown_or_log_group_rule(plans, platform):
    rules = ("teardown-", "logs-implicit-groups-declared", "tags-required")
    assert not [v for v in plans[platform]["policyViolations"] if v["policyName"].startswith(rules)]
