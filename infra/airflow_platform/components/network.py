"""Network: a new VPC laid out for Airflow, or an existing VPC given by ids; in both, the
security group the Airflow runtime attaches to."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from airflow_platform.aws_context import AwsContext
from airflow_platform.config.model import NetworkConfig
from airflow_platform.iam import policy_document, service_trust_policy, statement
from airflow_platform.tagging import resource_tags

# Private subnets get 1/8 of the VPC each (a /19 of a /16: room for EKS pod IPs); public
# subnets, which only hold NAT gateways and load balancers, share the last eighth.
_SPLIT_BITS = 3


def subnet_layout(
    vpc_cidr: ipaddress.IPv4Network, az_count: int
) -> tuple[list[ipaddress.IPv4Network], list[ipaddress.IPv4Network]]:
    """(private, public) subnet CIDRs, one of each per AZ, none overlapping."""
    blocks = list(vpc_cidr.subnets(prefixlen_diff=_SPLIT_BITS))
    if az_count > len(blocks) - 1:
        raise ValueError(f"{vpc_cidr} cannot hold {az_count} AZs of subnets")
    private = blocks[:az_count]
    public = list(blocks[-1].subnets(prefixlen_diff=_SPLIT_BITS))[:az_count]
    return private, public


@dataclass(frozen=True)
class NetworkArgs:
    """Inputs of Network."""

    stack: str
    """Stack name, part of the names that are unique per account and region."""
    config: NetworkConfig
    """The stack's `network` section (tier defaults applied)."""
    zones: Sequence[str]
    """The region's Availability Zones (airflow_platform.zones.region_zones), at least
    `config.az_count` of them: subnet i goes to zone i."""
    aws: AwsContext
    """Account and region."""
    tags: Mapping[str, str]
    """The stack's tags."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Key for the flow-log group; CloudWatch's own encryption when None."""


class Network(pulumi.ComponentResource):
    """The VPC Airflow runs in.

    New VPC: private and public subnets over `azCount` AZs, an internet gateway, NAT (one
    per AZ or one shared), an S3 gateway endpoint on every route table, a default security
    group that allows nothing, and optional flow logs. Existing VPC: its ids, passed on.
    Either way, an `airflow-runtime` security group (no ingress, all egress) that MWAA or the
    EKS workers attach to; other components admit traffic from it by its id.

    Outputs: `vpc_id`, `private_subnet_ids`, `public_subnet_ids`, `runtime_security_group_id`.
    """

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    runtime_security_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("airflow-platform:aws:Network", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        existing = args.config.existing_vpc
        if existing is not None:
            self.vpc_id = pulumi.Output.from_input(existing.vpc_id)
            self.private_subnet_ids = pulumi.Output.from_input(existing.private_subnet_ids)
            self.public_subnet_ids = pulumi.Output.from_input(existing.public_subnet_ids)
        else:
            self._create_vpc()
        self.runtime_security_group_id = self._runtime_security_group()
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
                "runtime_security_group_id": self.runtime_security_group_id,
            }
        )

    def _tags(self, suffix: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return resource_tags(self._args.tags, f"{self._name}-{suffix}", extra)

    def _runtime_security_group(self) -> pulumi.Output[str]:
        name = self._name
        group = aws.ec2.SecurityGroup(
            f"{name}-runtime-sg",
            vpc_id=self.vpc_id,
            description="Airflow runtime (MWAA or EKS workers); services admit traffic from it",
            tags=self._tags("runtime-sg", {"role": "airflow-runtime"}),
            opts=self._child,
        )
        # Tasks reach AWS APIs, package indexes and whatever DAGs call; what is allowed in is
        # decided by each destination's own security group.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-runtime-egress",
            security_group_id=group.id,
            ip_protocol="-1",
            cidr_ipv4="0.0.0.0/0",
            description="All outbound traffic from the Airflow runtime",
            tags=self._tags("runtime-egress"),
            opts=self._child,
        )
        return group.id

    def _create_vpc(self) -> None:
        name, config, child = self._name, self._args.config, self._child
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(config.vpc_cidr),
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=self._tags("vpc"),
            opts=child,
        )
        # The default security group cannot be deleted; owning it with no rules means
        # nothing that falls back to it can talk to anything.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags=self._tags("default-sg"),
            opts=child,
        )
        zones = list(self._args.zones)
        if len(zones) < config.az_count:
            # The program checks this before declaring anything (zones.check_zone_count);
            # a component used on its own gets the same refusal instead of an IndexError.
            raise ValueError(
                f"network.azCount = {config.az_count} needs {config.az_count} Availability "
                f"Zones; {self._args.aws.region} offers {len(zones)} ({', '.join(zones)})"
            )

        private_cidrs, public_cidrs = subnet_layout(config.vpc_cidr, config.az_count)
        public_subnets = [
            self._subnet(vpc, zones, index, cidr, "public")
            for index, cidr in enumerate(public_cidrs)
        ]
        private_subnets = [
            self._subnet(vpc, zones, index, cidr, "private")
            for index, cidr in enumerate(private_cidrs)
        ]

        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=self._tags("igw"), opts=child
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags=self._tags("public-rt"),
            opts=child,
        )
        for index, subnet in enumerate(public_subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rta-{index}",
                subnet_id=subnet.id,
                route_table_id=public_rt.id,
                opts=child,
            )

        nat_count = config.az_count if config.nat_gateway_per_az else 1
        nats = []
        for index in range(nat_count):
            eip = aws.ec2.Eip(
                f"{name}-nat-eip-{index}",
                domain="vpc",
                tags=self._tags(f"nat-eip-{index}"),
                opts=child,
            )
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{index}",
                    allocation_id=eip.allocation_id,
                    subnet_id=public_subnets[index].id,
                    tags=self._tags(f"nat-{index}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )

        private_rts = []
        for index, subnet in enumerate(private_subnets):
            nat = nats[index % nat_count]
            route_table = aws.ec2.RouteTable(
                f"{name}-private-rt-{index}",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                tags=self._tags(f"private-rt-{index}"),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{index}",
                subnet_id=subnet.id,
                route_table_id=route_table.id,
                opts=child,
            )
            private_rts.append(route_table)

        # S3 traffic (DAGs, logs, backups) stays off the NAT: cheaper, and it never leaves AWS.
        aws.ec2.VpcEndpoint(
            f"{name}-s3-endpoint",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{self._args.aws.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in [public_rt, *private_rts]],
            tags=self._tags("s3-endpoint"),
            opts=child,
        )

        if config.flow_logs:
            self._flow_logs(vpc)

        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets])

    def _subnet(
        self,
        vpc: aws.ec2.Vpc,
        zones: list[str],
        index: int,
        cidr: ipaddress.IPv4Network,
        role: str,
    ) -> aws.ec2.Subnet:
        suffix = f"{role}-{index}"
        # The role tags let EKS place load balancers; harmless on MWAA stacks.
        elb_role = (
            "kubernetes.io/role/elb" if role == "public" else "kubernetes.io/role/internal-elb"
        )
        return aws.ec2.Subnet(
            f"{self._name}-{suffix}",
            vpc_id=vpc.id,
            cidr_block=str(cidr),
            availability_zone=zones[index],
            # Nothing launched here gets a public IP by accident, public subnets included:
            # NAT gateways and load balancers bring their own.
            map_public_ip_on_launch=False,
            tags=self._tags(suffix, {"subnet-role": role, elb_role: "1"}),
            opts=self._child,
        )

    def _flow_logs(self, vpc: aws.ec2.Vpc) -> None:
        name, config, ctx, child = self._name, self._args.config, self._args.aws, self._child
        # Log group names are unique per account and region: the stack's name keeps two
        # stacks in one account apart.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/airflow-platform/{self._args.stack}/vpc-flow-logs",
            retention_in_days=config.flow_log_retention_days,
            kms_key_id=self._args.kms_key_arn,
            tags=self._tags("flow-logs"),
            opts=child,
        )
        # The permissions and trust the VPC User Guide documents for publishing flow logs to
        # CloudWatch Logs ("IAM role for publishing flow logs to CloudWatch Logs"), scoped:
        # writes to this stack's log group only; the trust to flow logs of this account.
        flow_logs_in_account = ctx.account_id.apply(
            lambda account: f"arn:{ctx.partition}:ec2:{ctx.region}:{account}:vpc-flow-log/*"
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            description="VPC flow logs delivery to its own log group",
            assume_role_policy=service_trust_policy(
                "vpc-flow-logs.amazonaws.com", ctx.account_id, flow_logs_in_account
            ),
            tags=self._tags("flow-logs-role"),
            opts=child,
        )
        in_region = ctx.account_id.apply(
            lambda account: f"arn:{ctx.partition}:logs:{ctx.region}:{account}:log-group:*"
        )
        policy = aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=policy_document(
                statement(
                    "DeliverToOwnLogGroup",
                    [
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:DescribeLogStreams",
                        "logs:PutLogEvents",
                    ],
                    [log_group.arn, log_group.arn.apply(lambda arn: f"{arn}:*")],
                ),
                # DescribeLogGroups lists; it cannot be scoped to one group.
                statement("FindLogGroups", ["logs:DescribeLogGroups"], [in_region]),
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=self._tags("flow-log"),
            # EC2 checks the role can deliver when the flow log is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
