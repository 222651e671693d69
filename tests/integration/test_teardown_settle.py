"""`settle.wait_until_settled` against moto's server: the wait ends once the stack's load
balancers, volumes and Lambda network interfaces are gone (deleted from a background timer,
as AWS deletes them on its own time), ignores other stacks' resources and the VPC's other
interfaces, and a deadline that passes raises an error naming what is still there."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import boto3
import pytest

from airflow_platform.teardown.order import Settle
from airflow_platform.teardown.settle import (
    SettleScope,
    SettleTimeoutError,
    remaining,
    wait_until_settled,
)
from tests.integration.servers import MotoServer

REGION = "us-east-1"
ALL = tuple(Settle)


def client_for(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


@pytest.fixture
def network(moto: MotoServer) -> dict[str, str]:
    ec2 = client_for("ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.2.0/24", AvailabilityZone="us-east-1b")
    return {"vpc": vpc, "a": a["Subnet"]["SubnetId"], "b": b["Subnet"]["SubnetId"]}


def scope(network: dict[str, str], stack: str) -> SettleScope:
    return SettleScope("airflow-platform", stack, REGION, network["vpc"])


def new_stack() -> str:
    return f"pr-{uuid.uuid4().int % 10**6}"


def tagged(stack: str) -> list[dict[str, Any]]:
    return [
        {"ResourceType": "volume",
         "Tags": [{"Key": "eks:eks-cluster-name", "Value": f"airflow-{stack}"}]},
    ]  # fmt: skip


def make_leftovers(network: dict[str, str], stack: str) -> dict[str, str]:
    """What a cluster and a VPC Lambda of `stack` leave for AWS to delete."""
    ec2 = client_for("ec2", REGION)
    elbv2 = client_for("elbv2", REGION)
    volume = ec2.create_volume(
        AvailabilityZone="us-east-1a", Size=10, TagSpecifications=tagged(stack)
    )["VolumeId"]
    lambda_eni = ec2.create_network_interface(
        SubnetId=network["a"],
        Description=f"AWS Lambda VPC ENI-airflow-{stack}-health-probe-1a2b3c",
    )["NetworkInterface"]["NetworkInterfaceId"]
    balancer = elbv2.create_load_balancer(
        Name=f"k8s-{stack}-api"[:32],
        Subnets=[network["a"], network["b"]],
        Type="network",
        Scheme="internal",
        Tags=[{"Key": "eks:eks-cluster-name", "Value": f"airflow-{stack}"}],
    )["LoadBalancers"][0]["LoadBalancerArn"]
    return {"volume": volume, "eni": lambda_eni, "balancer": balancer}


def delete_leftovers(made: dict[str, str]) -> None:
    client_for("ec2", REGION).delete_volume(VolumeId=made["volume"])
    client_for("ec2", REGION).delete_network_interface(NetworkInterfaceId=made["eni"])
    client_for("elbv2", REGION).delete_load_balancer(LoadBalancerArn=made["balancer"])


def test_remaining_names_the_stacks_volume_interface_and_load_balancer(
    network: dict[str, str],
) -> None:
    stack = new_stack()
    made = make_leftovers(network, stack)

    left = {
        (item.kind, item.identifier) for item in remaining(ALL, scope(network, stack), client_for)
    }

    assert left == {
        ("EBS volume", made["volume"]),
        ("Lambda network interface", made["eni"]),
        ("load balancer", f"k8s-{stack}-api"[:32]),
    }
    delete_leftovers(made)


def test_wait_ends_when_aws_deletes_the_leftovers_in_the_background(
    network: dict[str, str],
) -> None:
    stack = new_stack()
    made = make_leftovers(network, stack)
    polls: list[int] = []
    timer = threading.Timer(1.0, delete_leftovers, args=(made,))
    timer.start()
    try:
        waited = wait_until_settled(
            ALL, scope(network, stack), client_for, timeout=30, interval=0.2,
            on_poll=lambda left, _: polls.append(len(left)),
        )  # fmt: skip
    finally:
        timer.join()

    assert polls[:1] == [3]  # it did wait for all three
    assert 0.8 <= waited < 30
    assert remaining(ALL, scope(network, stack), client_for) == []


def test_wait_ignores_other_stacks_resources_and_the_vpcs_other_interfaces(
    network: dict[str, str],
) -> None:
    other = make_leftovers(network, new_stack())
    client_for("ec2", REGION).create_network_interface(
        SubnetId=network["a"], Description="Interface for NAT Gateway nat-0123456789abcdef0"
    )

    waited = wait_until_settled(
        ALL, scope(network, new_stack()), client_for, timeout=5, interval=0.2
    )

    assert waited < 5
    delete_leftovers(other)


def test_wait_raises_naming_what_is_left_when_the_deadline_passes(
    network: dict[str, str],
) -> None:
    stack = new_stack()
    made = make_leftovers(network, stack)

    with pytest.raises(SettleTimeoutError) as timed_out:
        wait_until_settled(ALL, scope(network, stack), client_for, timeout=0.5, interval=0.1)

    message = str(timed_out.value)
    assert made["volume"] in message
    assert made["eni"] in message
    assert "load balancer" in message
    delete_leftovers(made)


def test_the_in_cluster_phase_waits_for_a_claims_volume_not_for_a_nodes_root_volume(
    network: dict[str, str],
) -> None:
    stack = new_stack()
    ec2 = client_for("ec2", REGION)
    cluster_tag = {"Key": "eks:eks-cluster-name", "Value": f"airflow-{stack}"}
    root = ec2.create_volume(
        AvailabilityZone="us-east-1a", Size=20,
        TagSpecifications=[{"ResourceType": "volume", "Tags": [cluster_tag]}],
    )["VolumeId"]  # fmt: skip
    claim = ec2.create_volume(
        AvailabilityZone="us-east-1a", Size=10,
        TagSpecifications=[{"ResourceType": "volume", "Tags": [
            cluster_tag, {"Key": "CSIVolumeName", "Value": "pvc-0f1e2d3c"}]}],
    )["VolumeId"]  # fmt: skip

    claimed = remaining((Settle.CLAIMED_VOLUMES,), scope(network, stack), client_for)
    every = remaining((Settle.VOLUMES,), scope(network, stack), client_for)

    assert [item.identifier for item in claimed] == [claim]
    assert {item.identifier for item in every} == {root, claim}
    ec2.delete_volume(VolumeId=root)
    ec2.delete_volume(VolumeId=claim)
