"""Network under each tier, and with an existing VPC, built under the mock runtime."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_platform.aws_context import AwsContext
from airflow_platform.components.network import Network, NetworkArgs, subnet_layout
from airflow_platform.config import Tier
from airflow_platform.plan.regions import AVAILABILITY_ZONES
from airflow_platform.tagging import stack_tags
from tests.conftest import REGION, TIER_STACKS, settings_for

SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"


def _network(settings, zones=AVAILABILITY_ZONES[REGION]):
    def build():
        Network(
            "network",
            NetworkArgs(
                stack=settings.stack,
                config=settings.config.network,
                zones=zones,
                aws=AwsContext.current(REGION),
                tags=stack_tags(settings),
            ),
        )

    return build


@pytest.mark.parametrize("tier", list(Tier))
def test_network_spreads_private_and_public_subnets_over_tier_azs(declare, tier):
    settings = settings_for(tier)
    declared = declare(_network(settings), TIER_STACKS[tier])
    subnets = declared.of_type(SUBNET)
    azs = settings.config.network.az_count
    private = [s for s in subnets if s.inputs["tags"]["subnet-role"] == "private"]
    public = [s for s in subnets if s.inputs["tags"]["subnet-role"] == "public"]
    assert len(private) == len(public) == azs
    assert len({s.inputs["availabilityZone"] for s in private}) == azs
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets), "no automatic public IPs"


@pytest.mark.parametrize(
    ("tier", "nats"), [(Tier.DEV, 1), (Tier.STAGING, 1), (Tier.EPHEMERAL, 1), (Tier.PROD, 3)]
)
def test_network_has_one_nat_per_az_in_prod_and_one_shared_elsewhere(declare, tier, nats):
    declared = declare(_network(settings_for(tier)), TIER_STACKS[tier])
    assert len(declared.of_type(NAT)) == nats
    private_routes = [rt for rt in declared.of_type(ROUTE_TABLE) if "private" in rt.name]
    nat_ids = {rt.inputs["routes"][0]["natGatewayId"] for rt in private_routes}
    assert len(nat_ids) == nats, "each private route table goes through a NAT of this network"


@pytest.mark.parametrize("tier", list(Tier))
def test_network_flow_logs_only_in_prod(declare, tier):
    declared = declare(_network(settings_for(tier)), TIER_STACKS[tier])
    flow_logs = declared.of_type("aws:ec2/flowLog:FlowLog")
    assert len(flow_logs) == (1 if tier is Tier.PROD else 0)
    if flow_logs:
        assert flow_logs[0].inputs["trafficType"] == "ALL"
        group = declared.of_type("aws:cloudwatch/logGroup:LogGroup")[0]
        assert group.inputs["retentionInDays"] == 365
        policy = declared.of_type("aws:iam/rolePolicy:RolePolicy")[0].inputs["policy"]
        assert group.inputs["name"] in policy, "scoped to its log group"
        assert '"*"' not in policy, "scoped to its log group"


def test_network_routes_s3_through_a_gateway_endpoint_on_every_route_table(declare):
    declared = declare(_network(settings_for(Tier.PROD)), "prod")
    endpoint = declared.one("aws:ec2/vpcEndpoint:VpcEndpoint", "network-s3-endpoint")
    assert endpoint.inputs["serviceName"] == f"com.amazonaws.{REGION}.s3"
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    assert len(endpoint.inputs["routeTableIds"]) == len(declared.of_type(ROUTE_TABLE))


def test_network_default_security_group_allows_nothing(declare):
    declared = declare(_network(settings_for(Tier.DEV)))
    default_sg = declared.one(
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "network-default-sg"
    )
    assert default_sg.inputs.get("ingress", []) == []
    assert default_sg.inputs.get("egress", []) == []


def test_network_existing_vpc_declares_only_the_runtime_group_and_passes_ids_on(declare):
    existing = {
        "vpcId": "vpc-0123456789abcdef0",
        "privateSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    }
    settings = settings_for(Tier.STAGING, network={"existingVpc": existing})

    def build():
        import pulumi

        network = Network(
            "network",
            NetworkArgs(
                stack=settings.stack,
                config=settings.config.network,
                zones=AVAILABILITY_ZONES[REGION],
                aws=AwsContext.current(REGION),
                tags=stack_tags(settings),
            ),
        )
        pulumi.export("vpc", network.vpc_id)
        pulumi.export("private", network.private_subnet_ids)

    declared = declare(build, "staging")
    assert sorted(r.type for r in declared.run.resources if r.custom) == [
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    ]
    runtime = declared.one("aws:ec2/securityGroup:SecurityGroup", "network-runtime-sg")
    assert runtime.inputs["vpcId"] == existing["vpcId"], "the runtime group is in the given VPC"
    assert declared.run.outputs == {
        "vpc": existing["vpcId"],
        "private": existing["privateSubnetIds"],
    }


@pytest.mark.parametrize("existing_vpc", [False, True], ids=["new-vpc", "existing-vpc"])
def test_network_runtime_group_has_no_ingress_and_described_egress_when_vpc_is(
    declare, existing_vpc
):
    network = (
        {
            "existingVpc": {
                "vpcId": "vpc-0123456789abcdef0",
                "privateSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            }
        }
        if existing_vpc
        else {}
    )
    declared = declare(_network(settings_for(Tier.DEV, network=network)))
    runtime = declared.one("aws:ec2/securityGroup:SecurityGroup", "network-runtime-sg")
    assert "ingress" not in runtime.inputs, "rules are separate resources"
    assert "egress" not in runtime.inputs, "rules are separate resources"
    assert declared.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") == []
    [egress] = declared.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert egress.inputs["ipProtocol"] == "-1"
    assert egress.inputs["description"], egress.urn
    assert runtime.inputs["description"], runtime.urn


@given(
    prefix=st.integers(min_value=16, max_value=20),
    azs=st.integers(min_value=2, max_value=6),
    second_octet=st.integers(min_value=0, max_value=255),
)
def test_subnet_layout_never_overlaps_and_stays_inside_the_vpc(prefix, azs, second_octet):
    vpc = ipaddress.IPv4Network(f"10.{second_octet}.0.0/{prefix}", strict=False)
    private, public = subnet_layout(vpc, azs)
    every = private + public
    assert len(private) == len(public) == azs
    assert all(subnet.subnet_of(vpc) for subnet in every)
    assert not any(a.overlaps(b) for i, a in enumerate(every) for b in every[i + 1 :])


def test_network_subnets_use_the_regions_zones_in_order(declare):
    settings = settings_for(Tier.PROD)
    declared = declare(_network(settings), "prod")
    private = sorted(
        (s for s in declared.of_type(SUBNET) if s.inputs["tags"]["subnet-role"] == "private"),
        key=lambda s: s.name,
    )
    assert [s.inputs["availabilityZone"] for s in private] == list(AVAILABILITY_ZONES[REGION])


def test_network_refuses_more_azs_than_the_zones_given_without_an_index_error(declare):
    settings = settings_for(Tier.PROD)  # three AZs
    with pytest.raises(Exception, match=r"azCount = 3 needs 3 .* offers 2"):
        declare(_network(settings, zones=("us-west-1a", "us-west-1c")), "prod")


def test_network_flow_log_group_and_role_are_named_for_the_stack_and_scoped(declare):
    import json

    settings = settings_for(Tier.PROD)
    declared = declare(_network(settings), "prod")
    group = declared.one("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
    assert group.inputs["name"] == "/airflow-platform/prod/vpc-flow-logs"
    role = declared.one("aws:iam/role:Role", "network-flow-logs-role")
    [trust] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{REGION}:123456789012:vpc-flow-log/*"},
    }
    policy = json.loads(
        declared.one("aws:iam/rolePolicy:RolePolicy", "network-flow-logs-policy").inputs["policy"]
    )
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    # The five actions the VPC User Guide lists for delivering flow logs to CloudWatch Logs.
    actions = {
        action
        for s in policy["Statement"]
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
    } <= actions
    group_arn = f"arn:aws:logs:{REGION}:123456789012:log-group:/airflow-platform/prod/vpc-flow-logs"
    assert by_sid["DeliverToOwnLogGroup"]["Resource"] == [group_arn, f"{group_arn}:*"]
    flow_log = declared.one("aws:ec2/flowLog:FlowLog", "network-flow-log")
    assert any(d.endswith("::network-flow-logs-policy") for d in flow_log.dependencies)
