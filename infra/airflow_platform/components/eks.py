"""EksCluster: the EKS cluster Airflow runs on (eks stacks), EKS Auto Mode, from pulumi-aws.

What it declares: the cluster `airflow-<stack>` in the private subnets with EKS Auto Mode
(compute with the built-in `system` and `general-purpose` node pools, load balancing, block
storage), authentication by access entries only (`API`: no aws-auth ConfigMap, the creator
gets no implicit admin), all five control-plane log types in a log group the stack creates
first, the cluster and node IAM roles, and cluster-admin access entries for
`eks.adminRoleArns` and `eks.deployerRoleArn`. The task node pool is a Kubernetes object
(`task_node_pool`), created through the Kubernetes provider, not here.

Security groups. EKS creates the cluster security group itself (`vpc_config`'s
`cluster_security_group_id`): it admits all traffic from its own members and is on the
control plane's network interfaces. Auto Mode nodes made from the built-in `default`
NodeClass get that same group, and pods take their addresses from the node's interfaces,
which all carry the node's groups (EKS User Guide, "Learn about VPC Networking and Load
Balancing in EKS Auto Mode": secondary interfaces get "identical security groups as the
primary interface"; nodes in groups other than `eks-cluster-sg-*` need extra cluster-role
permissions). So the group Airflow's pods reach the database from is the cluster security
group, `security_group_id`: the database's ingress rule must reference it (tcp 5432). The
network's `airflow-runtime` group is not attached here: on the control plane's interfaces it
would reach no pod, and only give the control plane a path to the database it never uses.
The component's own group (`control_plane_security_group_id`) is the one extra group EKS takes
for those interfaces: it admits the deployer on 443.

How `pulumi up` reaches the private endpoint. Prod has no public endpoint
(`eks.publicAccessCidrs` must be empty there), so the Kubernetes objects of a deploy (node
pool, Helm release) are applied from inside the VPC: the deployer (a self-hosted CI runner
or a CodeBuild project in the private subnets) runs `pulumi up` as `eks.deployerRoleArn`,
which gets cluster-admin through an access entry, and with the `deployer_security_group_id`
group attached, which the control plane admits on 443 (EKS User Guide, "Cluster API server
endpoint", "Accessing a private only API server": the control plane security group must
admit 443 from the client). The stack does not declare that deployer: a stack cannot
bootstrap the thing that deploys it, its role needs the deploy permissions of the whole
stack (which a stack should not grant itself), and `pulumi destroy` would delete it mid-run.
It is account set-up, like the state backend (in prod its role also needs kms:DescribeKey
and kms:CreateGrant on the project key to create the cluster with secrets encryption: EKS
User Guide, "Encrypt Kubernetes secrets with KMS on existing clusters"). AWS resources (the
cluster itself included) need no endpoint, so the first `pulumi up` creates the cluster and
this group from anywhere; only the Kubernetes objects wait for the deployer. Staging and dev
may also open the public endpoint to `eks.publicAccessCidrs` (never 0.0.0.0/0), with the
private endpoint still on.

Container Insights. The `amazon-cloudwatch-observability` add-on runs the CloudWatch agent
that publishes the metrics `airflow_platform.container_insights` lists (the alarms' contract),
configured there (`ADDON_CONFIGURATION`): enhanced observability on, no Fluent Bit container
logs, no Application Signals. Its agent gets credentials through EKS Pod Identity (an
association the add-on creates) for a role trusted by that one service account and holding
`CloudWatchAgentServerPolicy`. The log group the agent writes to is created first, with the
stack's retention and key; EKS picks the add-on version (no pin: see `_observability_addon`).

Run-time tags. The cluster role also carries `auto-mode-tags`: Auto Mode's managed policies
only let EKS create resources with its own tag keys, so the stack tags AirflowOnEks asks for
(a Service's `aws-load-balancer-additional-resource-tags` on the API's NLB, the task
NodeClass's `tags` on instances and their interfaces, the StorageClass's `tagSpecification_N`
on volumes) need these extra permissions (EKS User Guide, "Learn about identity and access in
EKS Auto Mode", "Custom AWS tags for EKS Auto resources").

Outputs: `name`, `arn`, `endpoint`, `certificate_authority`, `kubeconfig` (secret),
`security_group_id`, `control_plane_security_group_id`, `deployer_security_group_id`,
`node_role_arn`, `cluster_role_arn`, `oidc_issuer`, `log_group_name`,
`cloudwatch_agent_role_arn`, `container_insights_log_group_name`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from airflow_platform import container_insights
from airflow_platform.aws_context import AwsContext
from airflow_platform.components.pod_identity import pod_identity_trust
from airflow_platform.config.eks import EksConfig
from airflow_platform.iam import policy_document, statement
from airflow_platform.tagging import resource_tags

# The five control-plane log types (EKS User Guide, "Send control plane logs to CloudWatch
# Logs"; the provider's `enabled_cluster_log_types`).
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# Auto Mode's built-in node pools (the provider's `compute_config.node_pools`: "Valid options
# are `general-purpose` and `system`"). `system` runs the cluster's critical add-ons,
# `general-purpose` Airflow's long-running pods (scheduler, API server, triggerer).
BUILT_IN_NODE_POOLS = ("general-purpose", "system")
# The managed policies AWS suggests for the two Auto Mode roles (EKS User Guide, "Amazon EKS
# Auto Mode cluster IAM role" and "Amazon EKS Auto Mode node IAM role").
CLUSTER_ROLE_POLICIES = (
    "AmazonEKSClusterPolicy",
    "AmazonEKSComputePolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingPolicy",
)
NODE_ROLE_POLICIES = ("AmazonEKSWorkerNodeMinimalPolicy", "AmazonEC2ContainerRegistryPullOnly")
# The EKS access policy with cluster-wide admin (EKS User Guide, "Review access policy
# permissions").
CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
# The Kubernetes API server's port on the control plane's interfaces.
API_PORT = 443
# What EKS Auto Mode may create for a Service or Ingress, and so tag on creation: the
# "LoadBalancer" statement of the custom tag policy (EKS User Guide, "Learn about identity
# and access in EKS Auto Mode", "Custom AWS tags for EKS Auto resources").
LOAD_BALANCER_CREATE_ACTIONS = (
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateRule",
)
# What Auto Mode creates for a NodeClass's nodes, and so tags on creation with the class's
# `tags`: the "Compute" statement of the same custom tag policy.
COMPUTE_CREATE_ACTIONS = ("ec2:CreateFleet", "ec2:RunInstances", "ec2:CreateLaunchTemplate")
# EKS tags everything Auto Mode creates with the cluster's name, and its role session carries
# the same principal tag (the managed AmazonEKSLoadBalancingPolicy's own conditions).
_CLUSTER_NAME_TAG = "eks:eks-cluster-name"
_SAME_CLUSTER = "${aws:PrincipalTag/eks:eks-cluster-name}"
_VERSION = re.compile(r"^1\.\d{2}$")


def cluster_name(stack: str) -> str:
    """The cluster's name, `airflow-<stack>` (EKS takes up to 100 characters)."""
    return f"airflow-{stack}"


def node_role_name(stack: str) -> str:
    """The Auto Mode node role of `airflow-<stack>`: the built-in node pools' and the task
    NodeClass's (`task_pool.task_node_class`)."""
    return f"{cluster_name(stack)}-eks-node"


def log_group_name(stack: str) -> str:
    """The log group EKS writes the control-plane logs of `airflow-<stack>` to: it is fixed,
    `/aws/eks/<cluster>/cluster` (EKS User Guide, "Send control plane logs to CloudWatch
    Logs"), so the stack creates it first to own its retention and key."""
    return f"/aws/eks/{cluster_name(stack)}/cluster"


def kubeconfig(name: str, endpoint: str, certificate_authority: str, region: str) -> str:
    """A kubeconfig for the cluster that holds no credential: the client runs
    `aws eks get-token` for a short-lived token as whoever runs it (EKS User Guide, "Connect
    kubectl to an EKS cluster by creating a kubeconfig file"). JSON, which YAML readers take."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {
                        "server": endpoint,
                        "certificate-authority-data": certificate_authority,
                    },
                }
            ],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [
                {
                    "name": name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": [
                                "--region",
                                region,
                                "eks",
                                "get-token",
                                "--cluster-name",
                                name,
                                "--output",
                                "json",
                            ],
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        },
        indent=2,
    )


@dataclass(frozen=True)
class EksClusterArgs:
    """Inputs of EksCluster."""

    stack: str
    """Stack name: the cluster is `airflow-<stack>`, and the roles and log group carry it."""
    aws: AwsContext
    """Account and region: ARNs of the trust conditions, the managed policies, kubeconfig."""
    config: EksConfig
    """The stack's `eks` section (tier defaults applied)."""
    kubernetes_version: str
    """The pinned Kubernetes minor (`versions().kubernetes`, from versions.env)."""
    vpc_id: pulumi.Input[str]
    """VPC of the control-plane and deployer security groups."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Private subnets in at least two AZs: the control plane's interfaces and Auto Mode's
    nodes go there (the network tags them `kubernetes.io/role/internal-elb`)."""
    tags: Mapping[str, str]
    """The stack's tags."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Project key: envelope encryption of Kubernetes secrets and the log group's key. Without
    it EKS still envelope-encrypts all Kubernetes API data with an AWS owned key (EKS User
    Guide, "Default envelope encryption for all Kubernetes API Data": every cluster on 1.28
    or later), and CloudWatch encrypts the logs with its own key."""


class EksCluster(pulumi.ComponentResource):
    """An EKS Auto Mode cluster, its roles, log group, security groups and access entries.

    Outputs: `name`, `arn`, `endpoint`, `certificate_authority` (base64 PEM),
    `kubeconfig` (secret; exec-based, no token), `security_group_id` (the cluster security
    group: Auto Mode's nodes and pods; the database admits it), `control_plane_security_group_id`,
    `deployer_security_group_id` (attach to the deployer), `node_role_arn`, `cluster_role_arn`,
    `oidc_issuer`, `log_group_name`, `cloudwatch_agent_role_arn` (the Container Insights
    agent's Pod Identity role), `container_insights_log_group_name` (its performance events).
    """

    name: str
    arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    certificate_authority: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    control_plane_security_group_id: pulumi.Output[str]
    deployer_security_group_id: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    cluster_role_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    log_group_name: str
    cloudwatch_agent_role_arn: pulumi.Output[str]
    container_insights_log_group_name: str

    def __init__(
        self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("airflow-platform:aws:EksCluster", name, None, opts)
        if not _VERSION.fullmatch(args.kubernetes_version or ""):
            raise ValueError(
                f"kubernetes_version {args.kubernetes_version!r} is not a minor such as 1.37 "
                "(KUBERNETES_VERSION in versions.env)"
            )
        self._name = name
        self._args = args
        self.name = cluster_name(args.stack)
        self.log_group_name = log_group_name(args.stack)
        self.container_insights_log_group_name = container_insights.performance_log_group_name(
            self.name
        )
        config = args.config

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=self.log_group_name,
            retention_in_days=config.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=self._tags("logs"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        cluster_role, cluster_policies = self._cluster_role()
        node_role, node_policies = self._node_role()
        deployer_group = self._deployer_security_group()
        control_plane_group = self._control_plane_security_group(deployer_group)

        vpc_config: dict[str, Any] = {
            "subnet_ids": args.subnet_ids,
            "security_group_ids": [control_plane_group.id],
            "endpoint_private_access": True,
            "endpoint_public_access": bool(config.public_access_cidrs),
        }
        if config.public_access_cidrs:
            # Always stated with the public endpoint on: EKS defaults it to 0.0.0.0/0.
            vpc_config["public_access_cidrs"] = list(config.public_access_cidrs)
        cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=self.name,
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=vpc_config,
            access_config={
                "authentication_mode": "API",
                "bootstrap_cluster_creator_admin_permissions": False,
            },
            # EKS Auto Mode: the three capabilities on together, and no self-managed add-ons
            # (the provider's Cluster docs, "EKS Cluster with EKS Auto Mode": all three
            # `enabled` must match, and Auto Mode requires bootstrap_self_managed_addons false).
            bootstrap_self_managed_addons=False,
            compute_config={
                "enabled": True,
                "node_pools": list(BUILT_IN_NODE_POOLS),
                "node_role_arn": node_role.arn,
            },
            kubernetes_network_config={"elastic_load_balancing": {"enabled": True}},
            storage_config={"block_storage": {"enabled": True}},
            enabled_cluster_log_types=list(LOG_TYPES),
            encryption_config=(
                {"provider": {"key_arn": args.kms_key_arn}, "resources": ["secrets"]}
                if args.kms_key_arn is not None
                else None
            ),
            tags=resource_tags(args.tags, self.name),
            # The log group exists before EKS writes to it (else EKS creates it without
            # retention); the role's policies are attached before EKS uses the role and stay
            # until EKS has deleted what it created with them (the provider's Cluster docs).
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[log_group, *cluster_policies, *node_policies]
            ),
        )

        admins = {_principal_label(arn): arn for arn in config.admin_role_arns}
        if config.deployer_role_arn is not None:
            admins["deployer"] = config.deployer_role_arn
        for label, principal in admins.items():
            self._cluster_admin(cluster, label, principal)
        agent_role = self._observability_addon(cluster)

        self.arn = cluster.arn
        self.endpoint = cluster.endpoint
        self.certificate_authority = cluster.certificate_authority.apply(lambda ca: ca.data or "")
        self.security_group_id = cluster.vpc_config.apply(
            lambda vpc: vpc.cluster_security_group_id or ""
        )
        self.control_plane_security_group_id = control_plane_group.id
        self.deployer_security_group_id = deployer_group.id
        self.node_role_arn = node_role.arn
        self.cluster_role_arn = cluster_role.arn
        self.oidc_issuer = cluster.identities.apply(_oidc_issuer)
        self.cloudwatch_agent_role_arn = agent_role.arn
        region = args.aws.region
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.endpoint, self.certificate_authority).apply(
                lambda parts: kubeconfig(self.name, parts[0], parts[1], region)
            )
        )
        self.register_outputs(
            {
                "name": self.name,
                "arn": self.arn,
                "endpoint": self.endpoint,
                "certificate_authority": self.certificate_authority,
                "kubeconfig": self.kubeconfig,
                "security_group_id": self.security_group_id,
                "control_plane_security_group_id": self.control_plane_security_group_id,
                "deployer_security_group_id": self.deployer_security_group_id,
                "node_role_arn": self.node_role_arn,
                "cluster_role_arn": self.cluster_role_arn,
                "oidc_issuer": self.oidc_issuer,
                "log_group_name": self.log_group_name,
                "cloudwatch_agent_role_arn": self.cloudwatch_agent_role_arn,
                "container_insights_log_group_name": self.container_insights_log_group_name,
            }
        )

    def _tags(self, suffix: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return resource_tags(self._args.tags, f"{self.name}-{suffix}", extra)

    def _managed_policy(self, policy: str) -> str:
        return f"arn:{self._args.aws.partition}:iam::aws:policy/{policy}"

    def _cluster_arn(self) -> pulumi.Output[str]:
        """The cluster's ARN from its name: known before the cluster exists, so what trusts
        it need not wait for it."""
        ctx = self._args.aws
        return pulumi.Output.concat(
            f"arn:{ctx.partition}:eks:{ctx.region}:", ctx.account_id, f":cluster/{self.name}"
        )

    def _cluster_role(self) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        ctx, child = self._args.aws, pulumi.ResourceOptions(parent=self)
        cluster_arn = self._cluster_arn()
        trust = policy_document(
            {
                "Sid": "AssumeFromEks",
                "Effect": "Allow",
                "Principal": {"Service": "eks.amazonaws.com"},
                # sts:TagSession as Auto Mode's cluster role requires (EKS User Guide, "Amazon
                # EKS Auto Mode cluster IAM role").
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                # This cluster in this account only (EKS User Guide, "Cross-service confused
                # deputy prevention in Amazon EKS", cluster role). Its ARN is known before the
                # cluster exists, so the role does not wait for it.
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": ctx.account_id},
                    "ArnLike": {"aws:SourceArn": cluster_arn},
                },
            }
        )
        role = aws.iam.Role(
            f"{self._name}-cluster-role",
            name=f"{self.name}-eks-cluster",
            description=f"EKS cluster {self.name}: control plane and Auto Mode capabilities",
            assume_role_policy=trust,
            tags=self._tags("eks-cluster"),
            opts=child,
        )
        # Each its own resource, not the role's managed_policy_arns: a role that mixes the two
        # has them overwrite each other.
        attachments: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(
                f"{self._name}-cluster-role-{policy}",
                role=role.name,
                policy_arn=self._managed_policy(policy),
                opts=pulumi.ResourceOptions(parent=role),
            )
            for policy in CLUSTER_ROLE_POLICIES
        ]
        attachments.append(
            aws.iam.RolePolicy(
                f"{self._name}-cluster-role-tags",
                role=role.id,
                name="auto-mode-tags",
                policy=_custom_tag_policy(ctx.partition),
                opts=pulumi.ResourceOptions(parent=role),
            )
        )
        return role, attachments

    def _node_role(self) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
        # The trust AWS documents for Auto Mode's node role (EKS User Guide, "Amazon EKS Auto
        # Mode node IAM role"): EC2 assumes it for the instances; EC2 documents no source
        # condition for instance roles, so there is none.
        trust = policy_document(
            {
                "Sid": "AssumeFromEc2",
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        )
        role = aws.iam.Role(
            f"{self._name}-node-role",
            name=node_role_name(self._args.stack),
            description=f"EKS Auto Mode nodes of {self.name}: join the cluster, pull images",
            assume_role_policy=trust,
            tags=self._tags("eks-node"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{self._name}-node-role-{policy}",
                role=role.name,
                policy_arn=self._managed_policy(policy),
                opts=pulumi.ResourceOptions(parent=role),
            )
            for policy in NODE_ROLE_POLICIES
        ]
        return role, attachments

    def _deployer_security_group(self) -> aws.ec2.SecurityGroup:
        group = aws.ec2.SecurityGroup(
            f"{self._name}-deployer-sg",
            vpc_id=self._args.vpc_id,
            description=f"Deployer of {self.name} (pulumi up in the VPC): its private API",
            tags=self._tags("deployer-sg"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # HTTPS only: AWS APIs, the cluster's API, the state backend and package indexes.
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-deployer-egress",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=API_PORT,
            to_port=API_PORT,
            cidr_ipv4="0.0.0.0/0",
            description="HTTPS: AWS APIs, the Kubernetes API, state backend, package indexes",
            tags=self._tags("deployer-egress"),
            opts=pulumi.ResourceOptions(parent=group),
        )
        return group

    def _control_plane_security_group(
        self, deployer: aws.ec2.SecurityGroup
    ) -> aws.ec2.SecurityGroup:
        # No egress rule (the provider drops AWS's default allow-all): the EKS-created cluster
        # security group on the same interfaces carries the control plane's egress.
        group = aws.ec2.SecurityGroup(
            f"{self._name}-control-plane-sg",
            vpc_id=self._args.vpc_id,
            description=f"EKS {self.name} control plane: Kubernetes API from the deployer",
            tags=self._tags("control-plane-sg"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-api-from-deployer",
            security_group_id=group.id,
            referenced_security_group_id=deployer.id,
            ip_protocol="tcp",
            from_port=API_PORT,
            to_port=API_PORT,
            description="Kubernetes API (private endpoint) from the deployer",
            tags=self._tags("api-from-deployer"),
            opts=pulumi.ResourceOptions(parent=group),
        )
        return group

    def _cluster_admin(self, cluster: aws.eks.Cluster, label: str, principal: str) -> None:
        entry = aws.eks.AccessEntry(
            f"{self._name}-access-{label}",
            cluster_name=cluster.name,
            principal_arn=principal,
            type="STANDARD",
            tags=self._tags(f"access-{label}"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.eks.AccessPolicyAssociation(
            f"{self._name}-access-{label}-admin",
            cluster_name=cluster.name,
            # From the entry, so the association waits for it.
            principal_arn=entry.principal_arn,
            policy_arn=(
                f"arn:{self._args.aws.partition}:eks::aws:cluster-access-policy/"
                f"{CLUSTER_ADMIN_POLICY}"
            ),
            access_scope={"type": "cluster"},
            opts=pulumi.ResourceOptions(parent=entry),
        )

    def _observability_addon(self, cluster: aws.eks.Cluster) -> aws.iam.Role:
        """The CloudWatch observability add-on, its agent's role and its log group; returns
        the role."""
        ci, child = container_insights, pulumi.ResourceOptions(parent=self)
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-container-insights-logs",
            name=self.container_insights_log_group_name,
            retention_in_days=self._args.config.log_retention_days,
            kms_key_id=self._args.kms_key_arn,
            tags=self._tags("container-insights-logs"),
            opts=child,
        )
        role_name = f"{self.name}-cloudwatch-agent"
        role = aws.iam.Role(
            f"{self._name}-cloudwatch-agent-role",
            name=role_name,
            description=f"CloudWatch agent of {self.name} (Container Insights, Pod Identity)",
            # sts:AssumeRole and sts:TagSession from pods.eks.amazonaws.com, for this one
            # service account of this cluster (EKS User Guide, "Create IAM role with trust
            # policy required by EKS Pod Identity").
            assume_role_policy=pod_identity_trust(
                self._cluster_arn(), ci.AGENT_NAMESPACE, ci.AGENT_SERVICE_ACCOUNT
            ),
            tags=self._tags("cloudwatch-agent"),
            opts=child,
        )
        policy = aws.iam.RolePolicyAttachment(
            f"{self._name}-cloudwatch-agent-role-{ci.AGENT_MANAGED_POLICY}",
            role=role.name,
            policy_arn=self._managed_policy(ci.AGENT_MANAGED_POLICY),
            opts=pulumi.ResourceOptions(parent=role),
        )
        aws.eks.Addon(
            f"{self._name}-{ci.ADDON_NAME}",
            cluster_name=cluster.name,
            addon_name=ci.ADDON_NAME,
            # No addon_version: EKS installs the version DescribeAddonVersions marks
            # `defaultVersion` for the cluster's Kubernetes minor (EKS User Guide, "Verify
            # Amazon EKS add-on version compatibility with a cluster"). No document names a
            # version for 1.37 (the guide's example output is `vX.X.X-eksbuild.X`), so a pin
            # here would be a guess; EKS keeps the installed version until it is set.
            configuration_values=json.dumps(ci.ADDON_CONFIGURATION, sort_keys=True),
            # The add-on creates the association itself (CreateAddon
            # `podIdentityAssociations`; CloudWatch User Guide, "Install ... using EKS Pod
            # Identity", add-on 3.1.0 or later). Auto Mode runs the Pod Identity agent itself
            # (EKS User Guide, "Set up the Amazon EKS Pod Identity Agent": "This capability is
            # built into EKS Auto Mode").
            pod_identity_associations=[
                {"service_account": ci.AGENT_SERVICE_ACCOUNT, "role_arn": role.arn}
            ],
            # The stack owns the add-on's settings: a change made in the cluster is
            # overwritten, not kept.
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=self._tags(ci.ADDON_NAME),
            # The agent's first write finds the group with its retention and key, and its
            # first credentials can already publish.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, policy]),
        )
        return role


def _custom_tag_policy(partition: str) -> pulumi.Output[str]:
    """What Auto Mode needs to put the stack's tags on what it creates at run time: the task
    NodeClass's nodes, their pods' interfaces and the StorageClass's volumes (the guide's
    "Compute", "Networking" and "Storage" statements, conditions as it gives them: this
    cluster's requests only, and for nodes only those of a node class and pool), and a
    Service's load balancers (below). Not its "ShieldProtection" statements: the platform asks
    for no Shield protection.

    The managed AmazonEKSLoadBalancingPolicy lets EKS create load balancers, target groups,
    listeners and rules only with EKS's own tag keys (`ForAllValues:StringEquals` on
    `aws:TagKeys`), so a Service asking for other tags would fail to get a load balancer.
    The first statement is the "LoadBalancer" statement of the EKS User Guide's custom tag
    policy ("Learn about identity and access in EKS Auto Mode", "Custom AWS tags for EKS Auto
    resources"); tagging on create also needs elasticloadbalancing:AddTags with
    `elasticloadbalancing:CreateAction` (ELB User Guide, "ELB API permissions to tag resources
    during creation"); and a change of the stack's tags re-tags existing ones, which the same
    EKS page says needs permission to modify and remove tags. Every statement stays within
    this cluster's resources (its `eks:eks-cluster-name` tag, which EKS sets and the role's
    session carries)."""
    elb = f"arn:{partition}:elasticloadbalancing:*:*"
    same_cluster_request = {"StringEquals": {f"aws:RequestTag/{_CLUSTER_NAME_TAG}": _SAME_CLUSTER}}
    return policy_document(
        # The guide's "Compute" statement: the task NodeClass's tags on the instances, launch
        # templates and fleets Auto Mode creates for this cluster's node classes and pools.
        statement(
            "LaunchNodesWithTags",
            list(COMPUTE_CREATE_ACTIONS),
            ["*"],
            condition={
                **same_cluster_request,
                "StringLike": {
                    "aws:RequestTag/eks:kubernetes-node-class-name": "*",
                    "aws:RequestTag/eks:kubernetes-node-pool-name": "*",
                },
            },
        ),
        # The guide's "Networking" statement: the pods' network interfaces on those nodes.
        statement(
            "CreateNodeInterfacesWithTags",
            ["ec2:CreateNetworkInterface"],
            ["*"],
            condition={
                **same_cluster_request,
                "StringLike": {"aws:RequestTag/eks:kubernetes-cni-node-name": "*"},
            },
        ),
        # The guide's "Storage" statement: the tagged StorageClass's volumes (and snapshots).
        statement(
            "CreateVolumesWithTags",
            ["ec2:CreateVolume", "ec2:CreateSnapshot"],
            [f"arn:{partition}:ec2:*:*:volume/*", f"arn:{partition}:ec2:*:*:snapshot/*"],
            condition=same_cluster_request,
        ),
        statement(
            "CreateLoadBalancersWithTags",
            [*LOAD_BALANCER_CREATE_ACTIONS, "ec2:CreateSecurityGroup"],
            ["*"],
            condition=same_cluster_request,
        ),
        statement(
            "TagLoadBalancersOnCreate",
            ["elasticloadbalancing:AddTags"],
            ["*"],
            condition={
                "StringEquals": {
                    **same_cluster_request["StringEquals"],
                    "elasticloadbalancing:CreateAction": [
                        action.split(":", 1)[1] for action in LOAD_BALANCER_CREATE_ACTIONS
                    ],
                }
            },
        ),
        statement(
            "RetagOwnLoadBalancers",
            ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            [
                f"{elb}:loadbalancer/*",
                f"{elb}:targetgroup/*/*",
                f"{elb}:listener/*",
                f"{elb}:listener-rule/*",
            ],
            condition={"StringEquals": {f"aws:ResourceTag/{_CLUSTER_NAME_TAG}": _SAME_CLUSTER}},
        ),
    )


def _principal_label(role_arn: str) -> str:
    """A stable logical-name part for a role: its name and a short hash of the full ARN (two
    accounts may have roles of the same name), so reordering `adminRoleArns` replaces
    nothing."""
    digest = hashlib.sha256(role_arn.encode()).hexdigest()[:8]
    return f"{role_arn.rsplit('/', 1)[-1]}-{digest}"


def _oidc_issuer(identities: Sequence[Any] | None) -> str:
    for identity in identities or []:
        for oidc in identity.oidcs or []:
            if oidc.issuer:
                return str(oidc.issuer)
    return ""
