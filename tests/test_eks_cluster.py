"""EksCluster under each tier: endpoint exposure, Auto Mode, logs, encryption, IAM, access
entries, security groups, the kubeconfig; and the task node pool's manifest."""

from __future__ import annotations

import base64
import json
import re

import pulumi
import pytest

from airflow_platform import container_insights as ci
from airflow_platform.aws_context import AwsContext
from airflow_platform.components.eks import (
    CLUSTER_ROLE_POLICIES,
    COMPUTE_CREATE_ACTIONS,
    LOAD_BALANCER_CREATE_ACTIONS,
    LOG_TYPES,
    NODE_ROLE_POLICIES,
    EksCluster,
    EksClusterArgs,
    cluster_name,
    log_group_name,
    node_role_name,
)
from airflow_platform.config import Tier
from airflow_platform.plan.mocks import PLACEHOLDER_ACCOUNT_ID
from airflow_platform.plan.project import SECRET_PLACEHOLDER, StackConfig
from airflow_platform.plan.runner import run_function
from airflow_platform.tagging import stack_tags
from airflow_platform.task_pool import (
    TASK_NODE_CLASS,
    TASK_NODE_LABEL,
    TASK_TOLERATION,
    task_node_class,
    task_node_pool,
)
from airflow_platform.versions import versions
from tests.conftest import REGION, TIER_STACKS, Declared, settings_for

CLUSTER = "aws:eks/cluster:Cluster"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ADDON = "aws:eks/addon:Addon"
ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/test"
VPC_ID = "vpc-0123456789abcdef0"
SUBNET_IDS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
ADMINS = [
    "arn:aws:iam::123456789012:role/platform-admins",
    "arn:aws:iam::210987654321:role/team/oncall",
]
DEPLOYER = "arn:aws:iam::123456789012:role/ci/airflow-deployer"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
TIERS = list(Tier)


def _build(settings, kms_key_arn=None, version=None):
    def build():
        cluster = EksCluster(
            "eks",
            EksClusterArgs(
                stack=settings.stack,
                aws=AwsContext.current(REGION),
                config=settings.config.eks,
                kubernetes_version=version or versions().kubernetes,
                vpc_id=VPC_ID,
                subnet_ids=SUBNET_IDS,
                tags=stack_tags(settings),
                kms_key_arn=kms_key_arn,
            ),
        )
        pulumi.export("kubeconfig", cluster.kubeconfig)
        pulumi.export("kubeconfigText", pulumi.Output.unsecret(cluster.kubeconfig))
        pulumi.export("securityGroupId", cluster.security_group_id)
        pulumi.export("deployerSecurityGroupId", cluster.deployer_security_group_id)
        pulumi.export("nodeRoleArn", cluster.node_role_arn)
        pulumi.export("endpoint", cluster.endpoint)
        pulumi.export("certificateAuthority", cluster.certificate_authority)
        pulumi.export("oidcIssuer", cluster.oidc_issuer)
        pulumi.export("cloudwatchAgentRoleArn", cluster.cloudwatch_agent_role_arn)
        pulumi.export("containerInsightsLogGroup", cluster.container_insights_log_group_name)
        pulumi.export("clusterRoleArn", cluster.cluster_role_arn)

    return build


def _declared(declare, tier, **eks):
    settings = settings_for(tier, **({"eks": eks} if eks else {}))
    key = KEY_ARN if settings.config.encryption.customer_managed_key else None
    return declare(_build(settings, key), TIER_STACKS[tier])


@pytest.fixture(scope="module")
def by_tier():
    """Each tier's cluster with its defaults, declared once (the `declare` fixture is
    function-scoped)."""

    def declare(build, stack):
        config = StackConfig(values={"aws:region": REGION}, secret_keys=[])
        return Declared(run_function(build, "airflow-platform", stack, config))

    return {tier: _declared(declare, tier) for tier in TIERS}


def _cluster(declared):
    return declared.one(CLUSTER, "eks-cluster").inputs


# --- the cluster ---------------------------------------------------------------------------


@pytest.mark.parametrize("tier", TIERS)
def test_cluster_is_named_for_the_stack_on_the_pinned_version_in_the_private_subnets(by_tier, tier):
    inputs = _cluster(by_tier[tier])
    assert inputs["name"] == f"airflow-{TIER_STACKS[tier]}" == cluster_name(TIER_STACKS[tier])
    assert inputs["version"] == versions().kubernetes == "1.37"
    assert inputs["vpcConfig"]["subnetIds"] == SUBNET_IDS


@pytest.mark.parametrize("tier", TIERS)
def test_endpoint_is_private_only_when_no_cidrs_are_configured(by_tier, tier):
    vpc = _cluster(by_tier[tier])["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    # Never sent without the public endpoint: EKS would default it to 0.0.0.0/0.
    assert "publicAccessCidrs" not in vpc


@pytest.mark.parametrize("tier", [Tier.EPHEMERAL, Tier.DEV, Tier.STAGING])
def test_public_endpoint_opens_to_the_configured_cidrs_only_outside_prod(declare, tier):
    cidrs = ["198.51.100.0/24", "203.0.113.10/32"]
    vpc = _cluster(_declared(declare, tier, publicAccessCidrs=cidrs))["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == cidrs


@pytest.mark.parametrize("tier", TIERS)
def test_auto_mode_is_on_with_the_built_in_pools_and_no_self_managed_addons(by_tier, tier):
    declared = by_tier[tier]
    inputs = _cluster(declared)
    compute = inputs["computeConfig"]
    assert compute["enabled"] is True
    assert sorted(compute["nodePools"]) == ["general-purpose", "system"]
    node_role = declared.one(ROLE, "eks-node-role").inputs["name"]
    assert compute["nodeRoleArn"] == f"arn:aws:iam::{PLACEHOLDER_ACCOUNT_ID}:role/{node_role}"
    assert inputs["kubernetesNetworkConfig"]["elasticLoadBalancing"]["enabled"] is True
    assert inputs["storageConfig"]["blockStorage"]["enabled"] is True
    assert inputs["bootstrapSelfManagedAddons"] is False


@pytest.mark.parametrize("tier", TIERS)
def test_authentication_is_access_entries_only_and_the_creator_gets_no_admin(by_tier, tier):
    access = _cluster(by_tier[tier])["accessConfig"]
    assert access == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}


@pytest.mark.parametrize("tier", TIERS)
def test_all_five_log_types_go_to_the_stacks_log_group_created_first(by_tier, tier):
    declared = by_tier[tier]
    stack = TIER_STACKS[tier]
    cluster = declared.one(CLUSTER, "eks-cluster")
    assert sorted(cluster.inputs["enabledClusterLogTypes"]) == sorted(LOG_TYPES)
    assert set(LOG_TYPES) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    group = declared.one(LOG_GROUP, "eks-logs")
    assert group.inputs["name"] == f"/aws/eks/airflow-{stack}/cluster" == log_group_name(stack)
    expected = {Tier.EPHEMERAL: 7, Tier.DEV: 30, Tier.STAGING: 30, Tier.PROD: 365}[tier]
    assert group.inputs["retentionInDays"] == expected
    assert group.urn in cluster.dependencies, "EKS would create the group without retention"


@pytest.mark.parametrize("tier", TIERS)
def test_project_key_encrypts_secrets_and_logs_in_prod_only(by_tier, tier):
    declared = by_tier[tier]
    inputs = _cluster(declared)
    group = declared.one(LOG_GROUP, "eks-logs").inputs
    if tier is Tier.PROD:
        assert inputs["encryptionConfig"] == {
            "provider": {"keyArn": KEY_ARN},
            "resources": ["secrets"],
        }
        assert group["kmsKeyId"] == KEY_ARN
    else:
        # EKS envelope-encrypts all API data with an AWS owned key on 1.28 and later.
        assert "encryptionConfig" not in inputs
        assert "kmsKeyId" not in group


def test_log_retention_follows_the_config(declare):
    declared = _declared(declare, Tier.STAGING, logRetentionDays=90)
    assert declared.one(LOG_GROUP, "eks-logs").inputs["retentionInDays"] == 90


def test_a_version_that_is_not_a_minor_is_refused(declare):
    settings = settings_for(Tier.DEV)
    with pytest.raises(ValueError, match=r"not a minor such as 1\.37"):
        declare(_build(settings, version="1.37.2"), "dev")


# --- IAM -----------------------------------------------------------------------------------


def _attached(declared, role_logical: str) -> set[str]:
    role = declared.one(ROLE, role_logical)
    return {
        a.inputs["policyArn"].rsplit("/", 1)[-1]
        for a in declared.of_type(ATTACHMENT)
        if a.inputs["role"] == role.inputs["name"]
    }


@pytest.mark.parametrize("tier", TIERS)
def test_cluster_role_is_trusted_by_this_eks_cluster_with_auto_modes_policies(by_tier, tier):
    declared = by_tier[tier]
    stack = TIER_STACKS[tier]
    role = declared.one(ROLE, "eks-cluster-role").inputs
    assert role["name"] == f"airflow-{stack}-eks-cluster"
    assert "managedPolicyArns" not in role, "attachments only: the two overwrite each other"
    (trust,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "eks.amazonaws.com"}
    assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    cluster_arn = f"arn:aws:eks:{REGION}:{PLACEHOLDER_ACCOUNT_ID}:cluster/airflow-{stack}"
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": PLACEHOLDER_ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": cluster_arn},
    }
    assert (
        _attached(declared, "eks-cluster-role")
        == set(CLUSTER_ROLE_POLICIES)
        == {
            "AmazonEKSClusterPolicy",
            "AmazonEKSComputePolicy",
            "AmazonEKSBlockStoragePolicy",
            "AmazonEKSLoadBalancingPolicy",
            "AmazonEKSNetworkingPolicy",
        }
    )


@pytest.mark.parametrize("tier", TIERS)
def test_node_role_is_trusted_by_ec2_with_the_minimal_node_policies(by_tier, tier):
    declared = by_tier[tier]
    role = declared.one(ROLE, "eks-node-role").inputs
    assert role["name"] == f"airflow-{TIER_STACKS[tier]}-eks-node"
    assert "managedPolicyArns" not in role
    (trust,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert (
        _attached(declared, "eks-node-role")
        == set(NODE_ROLE_POLICIES)
        == {
            "AmazonEKSWorkerNodeMinimalPolicy",
            "AmazonEC2ContainerRegistryPullOnly",
        }
    )


def test_cluster_waits_for_its_roles_policies(by_tier):
    declared = by_tier[Tier.PROD]
    cluster = declared.one(CLUSTER, "eks-cluster")
    roles = {declared.one(ROLE, r).urn for r in ("eks-cluster-role", "eks-node-role")}
    attached = declared.of_type(ATTACHMENT) + declared.of_type(ROLE_POLICY)
    policies = {p.urn for p in attached if p.parent in roles}
    # The five and two managed policies, and the cluster role's tag policy.
    assert len(policies) == len(CLUSTER_ROLE_POLICIES) + len(NODE_ROLE_POLICIES) + 1
    assert policies <= set(cluster.dependencies)


# --- access entries ------------------------------------------------------------------------


@pytest.mark.parametrize("tier", TIERS)
def test_no_access_entry_when_no_role_is_configured(by_tier, tier):
    assert by_tier[tier].of_type(ENTRY) == []
    assert by_tier[tier].of_type(ASSOCIATION) == []


@pytest.mark.parametrize("tier", [Tier.DEV, Tier.PROD])
def test_each_admin_and_the_deployer_get_one_entry_and_a_cluster_admin_association(declare, tier):
    declared = _declared(declare, tier, adminRoleArns=ADMINS, deployerRoleArn=DEPLOYER)
    entries = declared.of_type(ENTRY)
    assert sorted(e.inputs["principalArn"] for e in entries) == sorted([*ADMINS, DEPLOYER])
    for entry in entries:
        assert entry.inputs["clusterName"] == f"airflow-{TIER_STACKS[tier]}"
        assert entry.inputs["type"] == "STANDARD"
        (association,) = [a for a in declared.of_type(ASSOCIATION) if a.parent == entry.urn]
        assert association.inputs["principalArn"] == entry.inputs["principalArn"]
        assert association.inputs["policyArn"] == ADMIN_POLICY
        assert association.inputs["accessScope"] == {"type": "cluster"}
        assert entry.urn in association.dependencies
    assert len(declared.of_type(ASSOCIATION)) == 3
    assert declared.one(ENTRY, "eks-access-deployer").inputs["principalArn"] == DEPLOYER


def test_reordering_admins_keeps_every_entrys_logical_name(declare):
    first = _declared(declare, Tier.DEV, adminRoleArns=ADMINS)
    second = _declared(declare, Tier.DEV, adminRoleArns=list(reversed(ADMINS)))
    assert {e.name for e in first.of_type(ENTRY)} == {e.name for e in second.of_type(ENTRY)}


# --- security groups -----------------------------------------------------------------------


def test_control_plane_admits_the_deployer_on_443_and_pods_use_the_cluster_group(by_tier):
    declared = by_tier[Tier.PROD]
    outputs = declared.run.outputs
    control_plane = declared.one(SECURITY_GROUP, "eks-control-plane-sg")
    deployer = declared.one(SECURITY_GROUP, "eks-deployer-sg")
    vpc = _cluster(declared)["vpcConfig"]
    # The mocks give a security group's id as its `id`; the cluster takes its own group only.
    assert len(vpc["securityGroupIds"]) == 1
    assert vpc["securityGroupIds"][0].startswith("sg-")
    (ingress,) = declared.of_type(INGRESS)
    assert ingress.inputs["ipProtocol"] == "tcp"
    assert ingress.inputs["fromPort"] == ingress.inputs["toPort"] == 443
    assert ingress.inputs["referencedSecurityGroupId"] == outputs["deployerSecurityGroupId"]
    assert control_plane.urn in ingress.dependencies or control_plane.urn == ingress.parent
    (egress,) = declared.of_type(EGRESS)
    assert egress.parent == deployer.urn
    assert (egress.inputs["ipProtocol"], egress.inputs["fromPort"]) == ("tcp", 443)
    # The group the database must admit: the one EKS creates, on Auto Mode's nodes and pods.
    assert re.fullmatch(r"sg-[0-9a-f]{17}", outputs["securityGroupId"])
    assert outputs["securityGroupId"] not in vpc["securityGroupIds"]


@pytest.mark.parametrize("tier", TIERS)
def test_every_taggable_resource_carries_the_stack_tags(by_tier, tier):
    for resource in by_tier[tier].run.resources:
        if resource.custom and resource.type not in (ATTACHMENT, ASSOCIATION, ROLE_POLICY):
            tags = resource.inputs.get("tags") or {}
            assert {"project", "stack", "tier", "owner"} <= set(tags), resource.urn
            assert tags["stack"] == TIER_STACKS[tier]


# --- Container Insights --------------------------------------------------------------------


def _addon(declared):
    return declared.one(ADDON, "eks-amazon-cloudwatch-observability")


@pytest.mark.parametrize("tier", TIERS)
def test_observability_addon_runs_its_agent_through_pod_identity(by_tier, tier):
    declared = by_tier[tier]
    addon = _addon(declared).inputs
    assert addon["addonName"] == "amazon-cloudwatch-observability" == ci.ADDON_NAME
    assert addon["clusterName"] == f"airflow-{TIER_STACKS[tier]}"
    # EKS picks the default version for the cluster's Kubernetes minor.
    assert "addonVersion" not in addon
    # The add-on's own association, not an IRSA role.
    assert "serviceAccountRoleArn" not in addon
    (association,) = addon["podIdentityAssociations"]
    assert association["serviceAccount"] == "cloudwatch-agent" == ci.AGENT_SERVICE_ACCOUNT
    assert association["roleArn"] == declared.run.outputs["cloudwatchAgentRoleArn"]
    assert addon["resolveConflictsOnCreate"] == addon["resolveConflictsOnUpdate"] == "OVERWRITE"
    assert {"project", "stack", "tier", "owner"} <= set(addon["tags"])


@pytest.mark.parametrize("tier", TIERS)
def test_agent_role_is_trusted_by_the_agents_service_account_alone(by_tier, tier):
    declared = by_tier[tier]
    stack = TIER_STACKS[tier]
    role = declared.one(ROLE, "eks-cloudwatch-agent-role").inputs
    assert role["name"] == f"airflow-{stack}-cloudwatch-agent"
    assert declared.run.outputs["cloudwatchAgentRoleArn"].endswith(f":role/{role['name']}")
    (trust,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert trust["Condition"] == {
        "StringEquals": {
            "aws:RequestTag/eks-cluster-arn": (
                f"arn:aws:eks:{REGION}:{PLACEHOLDER_ACCOUNT_ID}:cluster/airflow-{stack}"
            ),
            "aws:RequestTag/kubernetes-namespace": "amazon-cloudwatch",
            "aws:RequestTag/kubernetes-service-account": "cloudwatch-agent",
        }
    }
    assert _attached(declared, "eks-cloudwatch-agent-role") == {"CloudWatchAgentServerPolicy"}
    assert "managedPolicyArns" not in role
    assert not [p for p in declared.of_type(ROLE_POLICY) if p.inputs["role"] == role["name"]]


@pytest.mark.parametrize("tier", TIERS)
def test_addon_ships_no_container_logs_and_keeps_enhanced_metrics(by_tier, tier):
    config = json.loads(_addon(by_tier[tier]).inputs["configurationValues"])
    assert config == ci.ADDON_CONFIGURATION
    assert config["containerLogs"] == {"enabled": False}
    kubernetes = config["agent"]["config"]["logs"]["metrics_collected"]["kubernetes"]
    assert kubernetes["enhanced_container_insights"] is True
    # No Application Signals: no traces section, and no instrumentation of Airflow's pods.
    assert set(config["agent"]["config"]) == {"logs"}
    assert config["manager"]["applicationSignals"]["autoMonitor"]["monitorAllServices"] is False


@pytest.mark.parametrize("tier", TIERS)
def test_the_agents_one_log_group_exists_first_with_retention_and_the_key(by_tier, tier):
    declared = by_tier[tier]
    stack = TIER_STACKS[tier]
    group = declared.one(LOG_GROUP, "eks-container-insights-logs")
    name = f"/aws/containerinsights/airflow-{stack}/performance"
    assert group.inputs["name"] == name == declared.run.outputs["containerInsightsLogGroup"]
    assert group.inputs["retentionInDays"] == _cluster_log_retention(declared)
    assert group.inputs.get("kmsKeyId") == (KEY_ARN if tier is Tier.PROD else None)
    addon = _addon(declared)
    assert group.urn in addon.dependencies, "the agent would create the group without retention"
    (policy,) = [a for a in declared.of_type(ATTACHMENT) if a.name.startswith("eks-cloudwatch")]
    assert policy.urn in addon.dependencies, "the agent's first credentials can publish"
    # Fluent Bit is off, so nothing writes to the groups it would create without retention.
    groups = [g.inputs["name"] for g in declared.of_type(LOG_GROUP)]
    assert [g for g in groups if "/containerinsights/" in g] == [name]


def _cluster_log_retention(declared):
    return declared.one(LOG_GROUP, "eks-logs").inputs["retentionInDays"]


def test_cluster_role_may_tag_only_its_own_load_balancers(by_tier):
    declared = by_tier[Tier.STAGING]
    role = declared.one(ROLE, "eks-cluster-role")
    policy = declared.one(ROLE_POLICY, "eks-cluster-role-tags")
    assert policy.parent == role.urn
    assert policy.inputs["name"] == "auto-mode-tags"
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    same_cluster = "${aws:PrincipalTag/eks:eks-cluster-name}"
    create = statements["CreateLoadBalancersWithTags"]
    assert sorted(create["Action"]) == sorted(
        [*LOAD_BALANCER_CREATE_ACTIONS, "ec2:CreateSecurityGroup"]
    )
    assert create["Condition"] == {
        "StringEquals": {"aws:RequestTag/eks:eks-cluster-name": same_cluster}
    }
    on_create = statements["TagLoadBalancersOnCreate"]
    assert on_create["Action"] == "elasticloadbalancing:AddTags"
    assert sorted(on_create["Condition"]["StringEquals"]["elasticloadbalancing:CreateAction"]) == [
        "CreateListener",
        "CreateLoadBalancer",
        "CreateRule",
        "CreateTargetGroup",
    ]
    retag = statements["RetagOwnLoadBalancers"]
    assert retag["Condition"] == {
        "StringEquals": {"aws:ResourceTag/eks:eks-cluster-name": same_cluster}
    }
    assert all(r.startswith("arn:aws:elasticloadbalancing:*:*:") for r in retag["Resource"])
    for entry in statements.values():
        actions = [entry["Action"]] if isinstance(entry["Action"], str) else entry["Action"]
        assert all("*" not in action for action in actions)


def test_cluster_role_may_tag_nodes_interfaces_and_volumes_of_its_own_cluster_only(by_tier):
    # The "Compute", "Networking" and "Storage" statements of the EKS User Guide's custom tag
    # policy, with its conditions: the task NodeClass's and StorageClass's tags need them.
    declared = by_tier[Tier.STAGING]
    policy = declared.one(ROLE_POLICY, "eks-cluster-role-tags")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    same_cluster = {
        "aws:RequestTag/eks:eks-cluster-name": "${aws:PrincipalTag/eks:eks-cluster-name}"
    }
    nodes = statements["LaunchNodesWithTags"]
    assert sorted(nodes["Action"]) == sorted(COMPUTE_CREATE_ACTIONS)
    assert nodes["Condition"] == {
        "StringEquals": same_cluster,
        "StringLike": {
            "aws:RequestTag/eks:kubernetes-node-class-name": "*",
            "aws:RequestTag/eks:kubernetes-node-pool-name": "*",
        },
    }
    interfaces = statements["CreateNodeInterfacesWithTags"]
    assert interfaces["Action"] == "ec2:CreateNetworkInterface"
    assert interfaces["Condition"] == {
        "StringEquals": same_cluster,
        "StringLike": {"aws:RequestTag/eks:kubernetes-cni-node-name": "*"},
    }
    volumes = statements["CreateVolumesWithTags"]
    assert sorted(volumes["Action"]) == ["ec2:CreateSnapshot", "ec2:CreateVolume"]
    assert sorted(volumes["Resource"]) == ["arn:aws:ec2:*:*:snapshot/*", "arn:aws:ec2:*:*:volume/*"]
    assert volumes["Condition"] == {"StringEquals": same_cluster}
    # Nothing else: no Shield (the platform asks for no Shield protection), no tag deletes.
    assert set(statements) == {
        "LaunchNodesWithTags",
        "CreateNodeInterfacesWithTags",
        "CreateVolumesWithTags",
        "CreateLoadBalancersWithTags",
        "TagLoadBalancersOnCreate",
        "RetagOwnLoadBalancers",
    }


def test_node_role_name_is_the_clusters_auto_mode_node_role(by_tier):
    role = by_tier[Tier.STAGING].one(ROLE, "eks-node-role")
    assert role.inputs["name"] == node_role_name(TIER_STACKS[Tier.STAGING])


# --- kubeconfig ----------------------------------------------------------------------------


def test_kubeconfig_is_secret_and_gets_a_token_from_aws_eks_get_token(by_tier):
    outputs = by_tier[Tier.PROD].run.outputs
    assert outputs["kubeconfig"] == SECRET_PLACEHOLDER
    config = json.loads(outputs["kubeconfigText"])
    (cluster,) = config["clusters"]
    assert cluster["cluster"]["server"] == outputs["endpoint"]
    assert re.fullmatch(
        rf"https://[0-9A-F]{{32}}\.gr7\.{REGION}\.eks\.amazonaws\.com", outputs["endpoint"]
    )
    ca = cluster["cluster"]["certificate-authority-data"]
    assert ca == outputs["certificateAuthority"]
    assert base64.b64decode(ca).startswith(b"-----BEGIN CERTIFICATE-----")
    (user,) = config["users"]
    assert set(user["user"]) == {"exec"}, "no static token or client certificate"
    run = user["user"]["exec"]
    assert run["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert run["command"] == "aws"
    assert run["args"] == [
        "--region",
        REGION,
        "eks",
        "get-token",
        "--cluster-name",
        "airflow-prod",
        "--output",
        "json",
    ]
    assert config["current-context"] == "airflow-prod"


def test_oidc_issuer_is_the_clusters(by_tier):
    issuer = by_tier[Tier.DEV].run.outputs["oidcIssuer"]
    assert re.fullmatch(rf"https://oidc\.eks\.{REGION}\.amazonaws\.com/id/[0-9A-F]{{32}}", issuer)


# --- the task node pool --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "capacity"),
    [
        (Tier.EPHEMERAL, ["spot", "on-demand"]),
        (Tier.DEV, ["spot", "on-demand"]),
        (Tier.STAGING, ["spot", "on-demand"]),
        (Tier.PROD, ["on-demand"]),
    ],
)
def test_node_pool_takes_the_tiers_capacity_types_spot_only_outside_prod(tier, capacity):
    eks = settings_for(tier).config.eks
    pool = task_node_pool([c.value for c in eks.task_capacity_types])
    requirements = {r["key"]: r for r in pool["spec"]["template"]["spec"]["requirements"]}
    assert requirements["karpenter.sh/capacity-type"] == {
        "key": "karpenter.sh/capacity-type",
        "operator": "In",
        "values": capacity,
    }


def test_node_pool_is_an_auto_mode_karpenter_pool_for_task_pods_only():
    pool = task_node_pool(["spot", "on-demand"])
    assert pool["apiVersion"] == "karpenter.sh/v1"
    assert pool["kind"] == "NodePool"
    template = pool["spec"]["template"]
    # The platform's NodeClass (tagged), never Auto Mode's built-in `default`.
    assert template["spec"]["nodeClassRef"] == {
        "group": "eks.amazonaws.com",
        "kind": "NodeClass",
        "name": TASK_NODE_CLASS,
    }
    assert TASK_NODE_CLASS != "default"
    requirements = {r["key"]: r["values"] for r in template["spec"]["requirements"]}
    assert requirements["kubernetes.io/arch"] == ["amd64"], "the image is linux/amd64"
    assert requirements["eks.amazonaws.com/instance-category"] == ["c", "m", "r"]
    (taint,) = template["spec"]["taints"]
    assert taint["effect"] == "NoSchedule"
    assert (taint["key"], taint["value"]) == (TASK_TOLERATION["key"], TASK_TOLERATION["value"])
    assert template["metadata"]["labels"] == TASK_NODE_LABEL
    disruption = pool["spec"]["disruption"]
    assert disruption["consolidationPolicy"] == "WhenEmpty", "never evict a running task"
    assert disruption["consolidateAfter"] == "5m"
    assert disruption["budgets"] == [{"nodes": "10%"}]
    assert pool["spec"]["limits"] == {"cpu": "256", "memory": "1024Gi"}
    json.dumps(pool)  # plain data, as the Kubernetes provider takes it


@pytest.mark.parametrize("capacity", [[], ["reserved"], ["spot", "preemptible"]])
def test_node_pool_refuses_unknown_capacity_types(capacity):
    with pytest.raises(ValueError, match="capacity types must be some of"):
        task_node_pool(capacity)


# --- the task NodeClass ----------------------------------------------------------------------


def test_task_node_class_carries_the_stack_tags_on_the_clusters_role_subnets_and_group():
    tags = stack_tags(settings_for(Tier.EPHEMERAL))
    node_class = task_node_class("airflow-pr-7", "airflow-pr-7-eks-node", tags)
    assert (node_class["apiVersion"], node_class["kind"]) == ("eks.amazonaws.com/v1", "NodeClass")
    assert node_class["metadata"] == {"name": TASK_NODE_CLASS}
    spec = node_class["spec"]
    assert spec["tags"] == tags
    assert {"stack", "expires-at"} <= set(spec["tags"])
    # The cluster's own node role: EKS made its access entry with the cluster.
    assert spec["role"] == "airflow-pr-7-eks-node"
    assert spec["subnetSelectorTerms"] == [
        {
            "tags": {
                "kubernetes.io/role/internal-elb": "1",
                "project": tags["project"],
                "stack": tags["stack"],
            }
        }
    ]
    assert spec["securityGroupSelectorTerms"] == [
        {"tags": {"aws:eks:cluster-name": "airflow-pr-7"}}
    ]


@pytest.mark.parametrize(
    "key",
    ["kubernetes.io/cluster/airflow-pr-7", "karpenter.sh/nodepool", "eks.amazonaws.com/nodeclass"],
)
def test_task_node_class_refuses_tags_auto_mode_reserves(key):
    with pytest.raises(ValueError, match="reserved by EKS Auto Mode"):
        task_node_class("airflow-pr-7", "airflow-pr-7-eks-node", {"stack": "pr-7", key: "x"})
