"""Network policy rules (policy/platform_rules/network.py) over the VPC, subnets and security
groups the stacks really declare, and security groups declared under the mocks."""

from __future__ import annotations

import dataclasses

import pulumi_aws as aws
import pytest
from platform_rules import evaluate

from tests.test_policy_rules_iam import (
    COMMITTED_STACKS,
    blocking,
    changed,
    declared_stack,
    module_rules,
    one,
    program_stack,
    rule,
    swapped,
    violating_urns,
    violations,
)

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


@pytest.mark.parametrize("stack", COMMITTED_STACKS)
def test_committed_stacks_have_no_blocking_network_finding(stack):
    assert blocking(program_stack(stack), module_rules("network")) == []


def test_prod_passes_every_network_rule():
    assert evaluate(module_rules("network"), program_stack("prod")) == []
    assert evaluate(module_rules("network"), program_stack("prod", "mwaa")) == []


# --- vpc-flow-logs --------------------------------------------------------------------------


def test_vpc_without_flow_logs_is_reported_with_its_urn():
    stack = program_stack("prod")
    vpc = one(stack, VPC, "network-vpc")
    found = violations("vpc-flow-logs", swapped(stack, drop=stack.of_type(FLOW_LOG)))
    assert [urn for urn, _ in found] == [vpc.urn]


def test_dev_without_flow_logs_is_told_so_as_advice():
    dev = program_stack("dev")
    assert violating_urns("vpc-flow-logs", dev) == {one(dev, VPC, "network-vpc").urn}
    assert [f.level.value for f in evaluate([rule("vpc-flow-logs")], dev)] == ["advisory"]


def test_second_vpc_without_flow_logs_is_reported():
    stack = program_stack("prod")
    vpc = one(stack, VPC, "network-vpc")
    second = dataclasses.replace(vpc, urn=vpc.urn.replace("network-vpc", "other-vpc"))
    assert violating_urns("vpc-flow-logs", swapped(stack, second)) == {vpc.urn, second.urn}


# --- vpc-default-security-group-closed ------------------------------------------------------


@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_default_security_group_with_rules_is_reported_with_its_urn(direction):
    stack = program_stack("prod")
    group = one(stack, DEFAULT_SG, "network-default-sg")
    opened = changed(group, **{direction: [{"protocol": "-1", "fromPort": 0, "toPort": 0,
                                             "cidrBlocks": ["10.40.0.0/16"]}]})  # fmt: skip
    found = violations("vpc-default-security-group-closed", swapped(stack, opened))
    assert [urn for urn, _ in found] == [group.urn]
    assert direction in found[0][1]


def test_vpc_whose_default_security_group_is_not_adopted_is_reported_with_its_urn():
    stack = program_stack("prod")
    group = one(stack, DEFAULT_SG, "network-default-sg")
    found = violations("vpc-default-security-group-closed", swapped(stack, drop=[group]))
    assert [urn for urn, _ in found] == [one(stack, VPC, "network-vpc").urn]


# --- vpc-private-subnet-no-public-ip --------------------------------------------------------


def test_private_subnet_mapping_public_ips_is_reported_with_its_urn():
    stack = program_stack("prod")
    subnet = one(stack, SUBNET, "network-private-0")
    assert subnet.props["tags"]["subnet-role"] == "private"
    found = violations(
        "vpc-private-subnet-no-public-ip", swapped(stack, changed(subnet, mapPublicIpOnLaunch=True))
    )
    assert [urn for urn, _ in found] == [subnet.urn]


def test_private_subnet_is_recognised_by_name_without_the_platforms_tags():
    stack = program_stack("prod")
    subnet = one(stack, SUBNET, "network-private-1")
    untagged = changed(subnet, tags={"Name": "app-private-b"}, mapPublicIpOnLaunch=True)
    assert violating_urns("vpc-private-subnet-no-public-ip", swapped(stack, untagged)) == {
        subnet.urn
    }


def test_public_subnet_may_map_public_ips():
    stack = program_stack("prod")
    subnet = one(stack, SUBNET, "network-public-0")
    public = changed(subnet, mapPublicIpOnLaunch=True)
    assert violations("vpc-private-subnet-no-public-ip", swapped(stack, public)) == []


# --- vpc-no-open-admin-ports ----------------------------------------------------------------


def test_https_egress_to_anywhere_is_not_an_open_port():
    stack = program_stack("prod")
    egress = one(stack, EGRESS, "monitoring-probe-egress-https")
    assert egress.props["cidrIpv4"] == "0.0.0.0/0"
    assert list(rule("vpc-no-open-admin-ports").check(egress, stack)) == []


@pytest.mark.parametrize(
    ("change", "exposed"),
    [
        ({"fromPort": 22, "toPort": 22}, "22 (SSH)"),
        ({"fromPort": 3389, "toPort": 3389}, "3389 (RDP)"),
        ({"fromPort": 0, "toPort": 65535}, "every port"),
        ({"ipProtocol": "-1", "fromPort": None, "toPort": None}, "every port"),
        ({"fromPort": 20, "toPort": 25, "cidrIpv6": "::/0", "cidrIpv4": None}, "22 (SSH)"),
    ],
)
def test_ingress_rule_opening_admin_ports_to_the_internet_is_reported_with_its_urn(change, exposed):
    stack = program_stack("prod")
    ingress = one(stack, INGRESS, "database-ingress-from-runtime")
    opened = changed(ingress, **{"referencedSecurityGroupId": None, "cidrIpv4": "0.0.0.0/0",
                                 **change})  # fmt: skip
    found = violations("vpc-no-open-admin-ports", swapped(stack, opened))
    assert [urn for urn, _ in found] == [ingress.urn]
    assert exposed in found[0][1]


def test_ingress_of_another_port_from_anywhere_is_not_an_admin_port():
    stack = program_stack("prod")
    ingress = one(stack, INGRESS, "database-ingress-from-runtime")
    https = changed(ingress, referencedSecurityGroupId=None, cidrIpv4="0.0.0.0/0",
                    fromPort=443, toPort=443)  # fmt: skip
    assert violations("vpc-no-open-admin-ports", swapped(stack, https)) == []


def test_inline_ingress_opening_ssh_is_reported_with_the_groups_urn(declare):
    stack = declared_stack(
        declare(lambda: aws.ec2.SecurityGroup(
            "bastion", vpc_id="vpc-1", description="bastion",
            ingress=[{"protocol": "tcp", "from_port": 22, "to_port": 22,
                      "cidr_blocks": ["0.0.0.0/0"], "description": "SSH"}],
        ))
    )  # fmt: skip
    group = one(stack, "aws:ec2/securityGroup:SecurityGroup", "bastion")
    assert violating_urns("vpc-no-open-admin-ports", stack) == {group.urn}
    assert violations("vpc-rules-described", stack) == []


# --- vpc-rules-described --------------------------------------------------------------------


@pytest.mark.parametrize("description", [None, "", "  "])
def test_rule_without_description_is_reported_with_its_urn(description):
    stack = program_stack("prod")
    ingress = one(stack, INGRESS, "database-ingress-from-runtime")
    found = violations(
        "vpc-rules-described", swapped(stack, changed(ingress, description=description))
    )
    assert [urn for urn, _ in found] == [ingress.urn]


def test_inline_rule_without_description_is_reported_with_the_groups_urn(declare):
    stack = declared_stack(
        declare(lambda: aws.ec2.SecurityGroup(
            "legacy", vpc_id="vpc-1", description="legacy",
            egress=[{"protocol": "tcp", "from_port": 443, "to_port": 443,
                     "cidr_blocks": ["10.0.0.0/8"]}],
        ))
    )  # fmt: skip
    group = one(stack, "aws:ec2/securityGroup:SecurityGroup", "legacy")
    found = violations("vpc-rules-described", stack)
    assert [urn for urn, _ in found] == [group.urn]
    assert "inline egress rule #1" in found[0][1]
