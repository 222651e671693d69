"""The destroy phases of `airflow_platform.teardown.order`: in-cluster objects first, then what
holds network interfaces in the VPC, then everything left; empty phases skipped."""

from __future__ import annotations

import pytest

from airflow_platform.teardown.automation import StackResource
from airflow_platform.teardown.order import Settle, destroy_phases
from tests.teardown_standin import urn

# Resource types an eks ephemeral stack declares (`airflow-platform plan` of an eks stack),
# abridged to one of each kind that matters here.
EKS_TYPES = [
    "pulumi:pulumi:Stack",
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:eks/cluster:Cluster",
    "aws:eks/addon:Addon",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    "pulumi:providers:kubernetes",
    "kubernetes:core/v1:Namespace",
    "kubernetes:core/v1:Service",
    "kubernetes:helm.sh/v3:Release",
    "kubernetes:karpenter.sh/v1:NodePool",
    "kubernetes:batch/v1:Job",
    "aws:lambda/function:Function",
    "aws:rds/instance:Instance",
    "aws:s3/bucket:Bucket",
]
MWAA_TYPES = [
    "pulumi:pulumi:Stack",
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:mwaa/environment:Environment",
    "aws:lambda/function:Function",
    "aws:rds/instance:Instance",
    "aws:kms/key:Key",
]


def resources(types: list[str]) -> list[StackResource]:
    return [StackResource(urn("pr-7", t, f"r{i}"), t) for i, t in enumerate(types)]


def types_of(targets: tuple[str, ...] | None) -> list[str]:
    assert targets is not None
    return sorted(target.split("::")[-2] for target in targets)


def test_phases_of_an_eks_stack_put_every_in_cluster_object_first() -> None:
    phases = destroy_phases(resources(EKS_TYPES))

    assert [phase.name for phase in phases] == [
        "in-cluster objects",
        "network-interface holders",
        "everything left",
    ]
    assert types_of(phases[0].targets) == sorted(
        t for t in EKS_TYPES if t.startswith("kubernetes:")
    )
    assert types_of(phases[1].targets) == sorted(
        [
            "aws:eks/cluster:Cluster",
            "aws:eks/addon:Addon",
            "aws:lambda/function:Function",
            "aws:rds/instance:Instance",
        ]
    )
    assert phases[2].targets is None


def test_phases_leave_the_kubernetes_provider_for_the_end_when_the_stack_is_eks() -> None:
    phases = destroy_phases(resources(EKS_TYPES))

    targeted = [t for phase in phases if phase.targets for t in phase.targets]
    assert not any("pulumi:providers:kubernetes" in t for t in targeted)


def test_phases_wait_for_what_cluster_controllers_made_after_the_in_cluster_phase() -> None:
    first, second, last = destroy_phases(resources(EKS_TYPES))

    # Not the nodes nor the control plane's interfaces: the cluster is still there, so
    # waiting for them here would never end.
    assert set(first.settle) == {Settle.LOAD_BALANCERS, Settle.CLAIMED_VOLUMES}
    assert set(second.settle) == set(Settle) - {Settle.CLAIMED_VOLUMES}
    assert last.settle == ()


def test_phases_of_an_mwaa_stack_skip_the_kubernetes_phase() -> None:
    phases = destroy_phases(resources(MWAA_TYPES))

    assert [phase.name for phase in phases] == ["network-interface holders", "everything left"]
    assert types_of(phases[0].targets) == sorted(
        [
            "aws:mwaa/environment:Environment",
            "aws:lambda/function:Function",
            "aws:rds/instance:Instance",
        ]
    )


@pytest.mark.parametrize("types", [[], ["pulumi:pulumi:Stack", "aws:s3/bucket:Bucket"]])
def test_phases_are_only_everything_left_when_nothing_needs_ordering(types: list[str]) -> None:
    phases = destroy_phases(resources(types))

    assert [(phase.name, phase.targets) for phase in phases] == [("everything left", None)]
