"""EKS policy rules (policy/platform_rules/eks.py) over the cluster the platform really declares
(staging and prod run EKS): each rule passes on it and reports, with the cluster's URN, a copy
changed to break it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from platform_rules import Level, Resource, Stack, Tier, eks, evaluate

from airflow_platform.versions import versions
from tests.test_policy_rules_iam import (
    changed,
    module_rules,
    one,
    program_stack,
    rule,
    swapped,
    violations,
)

CLUSTER = "aws:eks/cluster:Cluster"


def _cluster(stack: Stack) -> Resource:
    return one(stack, CLUSTER, "eks-cluster")


def _with_vpc_config(stack: Stack, **settings) -> Stack:
    cluster = _cluster(stack)
    return swapped(stack, changed(cluster, vpcConfig={**cluster.props["vpcConfig"], **settings}))


# --- the cluster as declared ------------------------------------------------------------------


def test_prod_cluster_passes_every_eks_rule():
    assert evaluate(module_rules("eks"), program_stack("prod")) == []


def test_staging_cluster_without_a_project_key_is_only_advised_to_encrypt_secrets():
    stack = program_stack("staging")
    found = evaluate(module_rules("eks"), stack)
    assert [(f.rule, f.level, f.urn) for f in found] == [
        ("eks-secrets-encryption", Level.ADVISORY, _cluster(stack).urn)
    ]


def test_the_pinned_kubernetes_version_is_in_the_table_and_in_standard_support():
    pinned = versions().kubernetes
    assert pinned in eks.STANDARD_SUPPORT_ENDS, "add its end of standard support to the table"
    assert eks.today() < eks.STANDARD_SUPPORT_ENDS[pinned]
    assert _cluster(program_stack("prod")).props["version"] == pinned


# --- eks-no-public-endpoint and eks-public-endpoint-restricted --------------------------------


def test_public_endpoint_is_reported_with_its_urn():
    stack = _with_vpc_config(
        program_stack("prod"), endpointPublicAccess=True, publicAccessCidrs=["198.51.100.0/24"]
    )
    found = violations("eks-no-public-endpoint", stack)
    assert [urn for urn, _ in found] == [_cluster(stack).urn]
    # Restricted to a known range, it is public, not open to all.
    assert violations("eks-public-endpoint-restricted", stack) == []


def test_an_unset_public_access_flag_counts_as_public():
    cluster = _cluster(program_stack("prod"))
    vpc = {k: v for k, v in cluster.props["vpcConfig"].items() if k != "endpointPublicAccess"}
    stack = swapped(program_stack("prod"), changed(cluster, vpcConfig=vpc))
    assert [urn for urn, _ in violations("eks-no-public-endpoint", stack)] == [cluster.urn]


@pytest.mark.parametrize(
    ("cidrs", "complaint"),
    [(None, "admits any address"), (["0.0.0.0/0"], "0.0.0.0/0"), (["::/0"], "::/0")],
)
def test_public_endpoint_open_to_all_is_reported_on_every_tier(cidrs, complaint):
    settings = {"endpointPublicAccess": True}
    if cidrs is not None:
        settings["publicAccessCidrs"] = cidrs
    stack = _with_vpc_config(program_stack("staging"), **settings)
    found = violations("eks-public-endpoint-restricted", stack)
    assert [urn for urn, _ in found] == [_cluster(stack).urn]
    assert complaint in found[0][1]
    assert set(rule("eks-public-endpoint-restricted").levels.values()) == {Level.MANDATORY}


# --- eks-secrets-encryption -------------------------------------------------------------------


@pytest.mark.parametrize(
    "encryption",
    [
        None,
        {"resources": ["secrets"], "provider": {}},
        {"resources": [], "provider": {"keyArn": "x"}},
    ],
)
def test_cluster_without_secrets_envelope_encryption_is_reported(encryption):
    stack = program_stack("prod")
    cluster = _cluster(stack)
    found = violations(
        "eks-secrets-encryption", swapped(stack, changed(cluster, encryptionConfig=encryption))
    )
    assert [urn for urn, _ in found] == [cluster.urn]


# --- eks-control-plane-logs -------------------------------------------------------------------


@pytest.mark.parametrize("missing", eks.LOG_TYPES)
def test_cluster_missing_a_control_plane_log_type_is_reported_naming_it(missing):
    stack = program_stack("prod")
    cluster = _cluster(stack)
    types = [t for t in cluster.props["enabledClusterLogTypes"] if t != missing]
    found = violations(
        "eks-control-plane-logs", swapped(stack, changed(cluster, enabledClusterLogTypes=types))
    )
    assert [urn for urn, _ in found] == [cluster.urn]
    assert missing in found[0][1]


# --- eks-supported-version --------------------------------------------------------------------


def test_version_past_its_standard_support_is_reported(monkeypatch):
    stack = program_stack("prod")
    ends = eks.STANDARD_SUPPORT_ENDS[_cluster(stack).props["version"]]
    monkeypatch.setattr(eks, "today", lambda: ends - timedelta(days=1))
    assert violations("eks-supported-version", stack) == []
    monkeypatch.setattr(eks, "today", lambda: ends)
    found = violations("eks-supported-version", stack)
    assert [urn for urn, _ in found] == [_cluster(stack).urn]
    assert ends.isoformat() in found[0][1]


@pytest.mark.parametrize(
    ("version", "complaint"),
    # 1.28 predates the table: the rule knows no date for it, so does not assume support.
    [("1.99", "does not know"), ("1.28", "does not know"), (None, "does not pin")],
)
def test_unknown_unpinned_or_old_version_is_reported(version, complaint):
    stack = program_stack("prod")
    cluster = _cluster(stack)
    found = violations("eks-supported-version", swapped(stack, changed(cluster, version=version)))
    assert [urn for urn, _ in found] == [cluster.urn]
    assert complaint in found[0][1]


def test_the_support_table_is_ordered_and_dated_after_each_previous_minor():
    minors = sorted(eks.STANDARD_SUPPORT_ENDS, key=lambda v: tuple(map(int, v.split("."))))
    ends = [eks.STANDARD_SUPPORT_ENDS[m] for m in minors]
    assert ends == sorted(ends)
    assert all(isinstance(d, date) for d in ends)


# --- eks-node-group-no-open-ssh ---------------------------------------------------------------


def _node_group(cluster: Resource, remote_access: dict | None) -> Resource:
    # Auto Mode declares no node groups: this one is what a stack adding one would declare.
    props = {"clusterName": cluster.props["name"], "nodeGroupName": "workers"}
    if remote_access is not None:
        props["remoteAccess"] = remote_access
    return Resource(
        type=eks.NODE_GROUP, urn=cluster.urn + "-workers", name="eks-workers", props=props
    )


@pytest.mark.parametrize(
    ("remote_access", "open_to_all"),
    [
        ({"ec2SshKey": "ops"}, True),
        ({"ec2SshKey": "ops", "sourceSecurityGroupIds": []}, True),
        ({"ec2SshKey": "ops", "sourceSecurityGroupIds": ["sg-0123456789abcdef0"]}, False),
        (None, False),
    ],
)
def test_node_group_opening_ssh_to_the_world_is_reported_with_its_urn(remote_access, open_to_all):
    stack = program_stack("prod")
    group = _node_group(_cluster(stack), remote_access)
    found = violations("eks-node-group-no-open-ssh", swapped(stack, group))
    assert [urn for urn, _ in found] == ([group.urn] if open_to_all else [])
    assert rule("eks-node-group-no-open-ssh").level(Tier.DEV) is Level.MANDATORY


def test_auto_mode_declares_no_node_groups():
    assert program_stack("prod").of_type(eks.NODE_GROUP) == []
