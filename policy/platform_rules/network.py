"""Network: VPCs log their flows, their default security group allows nothing, private subnets
hand out no public IPs, no security group opens SSH, RDP or every port to the internet, and
every rule says why it exists."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from platform_rules.model import Resource, Rule, Stack
from platform_rules.reading import items

VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
RULE_TYPES = frozenset(
    {SECURITY_GROUP, DEFAULT_SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE, EGRESS_RULE}
)

ANYWHERE = frozenset({"0.0.0.0/0", "::/0"})
# Remote administration: SSH and RDP.
ADMIN_PORTS = {22: "SSH", 3389: "RDP"}
_ALL_PROTOCOLS = {"-1", "all"}
_PORT_PROTOCOLS = {"tcp", "udp", "6", "17"}
# How the Network component marks a private subnet (components/network.py: the
# `subnet-role` tag, and the tag EKS places internal load balancers by); a subnet named
# "private" by its Name tag or logical name counts too.
_PRIVATE_TAGS = {"subnet-role": "private", "kubernetes.io/role/internal-elb": "1"}


@dataclass(frozen=True)
class SgRule:
    """One security group rule, whichever resource declares it."""

    where: str
    direction: str
    protocol: str
    from_port: int | None
    to_port: int | None
    cidrs: list[str]
    description: Any


def _port(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def security_group_rules(resource: Resource) -> Iterator[SgRule]:
    """The rules a resource declares: inline ingress/egress of a (default) security group, a
    SecurityGroupRule, or a VPC security group ingress/egress rule."""
    if resource.type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        for direction in ("ingress", "egress"):
            for index, entry in enumerate(items(resource.get(direction))):
                if isinstance(entry, Mapping):
                    yield SgRule(
                        where=f"inline {direction} rule #{index + 1}",
                        direction=direction,
                        protocol=str(entry.get("protocol", "")).lower(),
                        from_port=_port(entry.get("fromPort")),
                        to_port=_port(entry.get("toPort")),
                        cidrs=[
                            *items(entry.get("cidrBlocks")),
                            *items(entry.get("ipv6CidrBlocks")),
                        ],
                        description=entry.get("description"),
                    )
    elif resource.type == SECURITY_GROUP_RULE:
        yield SgRule(
            where=f"{resource.get('type', 'security group')} rule",
            direction=str(resource.get("type", "")),
            protocol=str(resource.get("protocol", "")).lower(),
            from_port=_port(resource.get("fromPort")),
            to_port=_port(resource.get("toPort")),
            cidrs=[*items(resource.get("cidrBlocks")), *items(resource.get("ipv6CidrBlocks"))],
            description=resource.get("description"),
        )
    elif resource.type in (INGRESS_RULE, EGRESS_RULE):
        direction = "ingress" if resource.type == INGRESS_RULE else "egress"
        yield SgRule(
            where=f"{direction} rule",
            direction=direction,
            protocol=str(resource.get("ipProtocol", "")).lower(),
            from_port=_port(resource.get("fromPort")),
            to_port=_port(resource.get("toPort")),
            cidrs=[c for c in (resource.get("cidrIpv4"), resource.get("cidrIpv6")) if c],
            description=resource.get("description"),
        )


def _opens(rule: SgRule) -> list[str]:
    """What an ingress rule open to the internet exposes: every port, SSH, RDP."""
    if rule.direction != "ingress" or not ANYWHERE & set(rule.cidrs):
        return []
    if rule.protocol in _ALL_PROTOCOLS:
        return ["every port"]
    if rule.protocol not in _PORT_PROTOCOLS:
        return []  # ICMP and others have no ports to open
    low = 0 if rule.from_port is None else rule.from_port
    high = 65535 if rule.to_port is None else rule.to_port
    if low <= 1 and high >= 65535:
        return ["every port"]
    return [f"{port} ({name})" for port, name in ADMIN_PORTS.items() if low <= port <= high]


def _no_open_admin_ports(resource: Resource, stack: Stack) -> Iterable[str]:
    for rule in security_group_rules(resource):
        exposed = _opens(rule)
        if exposed:
            yield (
                f"{rule.where} opens {', '.join(exposed)} to the internet "
                f"({', '.join(sorted(ANYWHERE & set(rule.cidrs)))}): admit only the security "
                "groups or CIDRs that need it (SSM Session Manager instead of SSH/RDP)"
            )


def _rules_described(resource: Resource, stack: Stack) -> Iterable[str]:
    for rule in security_group_rules(resource):
        if not (isinstance(rule.description, str) and rule.description.strip()):
            yield f"{rule.where} has no description: say what it admits and why"


def _is_private(subnet: Resource) -> bool:
    tags = subnet.get("tags") or {}
    if not isinstance(tags, Mapping):
        tags = {}
    if any(tags.get(key) == value for key, value in _PRIVATE_TAGS.items()):
        return True
    return "private" in str(tags.get("Name", "")).lower() or "private" in subnet.name.lower()


def _private_subnet_no_public_ip(resource: Resource, stack: Stack) -> Iterable[str]:
    if _is_private(resource) and resource.get("mapPublicIpOnLaunch") is True:
        yield (
            "a private subnet gives instances public IP addresses on launch: set "
            "mapPublicIpOnLaunch = false"
        )


# VPCs are told apart by the ids other resources name them by (`vpcId`); a VPC's own props
# carry no id before it exists, so a stack with more VPCs than flow logs (or default security
# groups) is reported on every VPC, the finding saying how many are missing.


def _covered_vpcs(resources: list[Resource]) -> set[str]:
    return {str(r.get("vpcId")) for r in resources if r.get("vpcId")}


def _flow_logs(stack: Stack) -> Iterable[tuple[str, str]]:
    vpcs = stack.of_type(VPC)
    covered = _covered_vpcs(stack.of_type(FLOW_LOG))
    if len(covered) >= len(vpcs):
        return
    for vpc in vpcs:
        yield (
            vpc.urn,
            f"{len(vpcs)} VPC(s) but flow logs for {len(covered)}: declare an aws.ec2.FlowLog "
            "(trafficType ALL) for every VPC (network.flowLogs)",
        )


def _default_security_group_closed(stack: Stack) -> Iterable[tuple[str, str]]:
    groups = stack.of_type(DEFAULT_SECURITY_GROUP)
    for group in groups:
        rules = [d for d in ("ingress", "egress") if items(group.get(d))]
        if rules:
            yield (
                group.urn,
                f"the default security group has {' and '.join(rules)} rules, which anything "
                "launched without a group of its own gets: set ingress = [] and egress = []",
            )
    vpcs = stack.of_type(VPC)
    adopted = _covered_vpcs(groups)
    if len(adopted) < len(vpcs):
        for vpc in vpcs:
            yield (
                vpc.urn,
                f"{len(vpcs)} VPC(s) but {len(adopted)} adopted default security group(s): "
                "AWS's default admits its members and all egress; declare an "
                "aws.ec2.DefaultSecurityGroup with no rules for every VPC",
            )


RULES: list[Rule] = [
    Rule(
        name="vpc-flow-logs",
        service="VPC",
        description="Every VPC has flow logs.",
        stack_check=_flow_logs,
    ),
    Rule(
        name="vpc-default-security-group-closed",
        service="VPC",
        description="Every VPC's default security group is adopted with no rules.",
        stack_check=_default_security_group_closed,
    ),
    Rule(
        name="vpc-private-subnet-no-public-ip",
        service="VPC",
        description="Private subnets do not map public IPs on launch.",
        types=frozenset({SUBNET}),
        check=_private_subnet_no_public_ip,
    ),
    Rule(
        name="vpc-no-open-admin-ports",
        service="VPC",
        description="No security group opens 22, 3389 or every port to 0.0.0.0/0 or ::/0.",
        types=RULE_TYPES,
        check=_no_open_admin_ports,
    ),
    Rule(
        name="vpc-rules-described",
        service="VPC",
        description="Every security group rule has a description.",
        types=RULE_TYPES,
        check=_rules_described,
    ),
]
