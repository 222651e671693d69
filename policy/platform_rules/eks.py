"""EKS: a private API endpoint, Kubernetes secrets envelope-encrypted with KMS, every
control-plane log, a Kubernetes version in standard support, and no node open to SSH from
anywhere.

EKS Auto Mode (what the platform runs) has no node groups; the SSH rule reads any
`aws:eks/nodeGroup:NodeGroup` a stack declares all the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

from platform_rules.model import Level, Resource, Rule, Stack, levels
from platform_rules.reading import items, name_of

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
# The five control-plane log types (EKS User Guide, "Send control plane logs to CloudWatch
# Logs").
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
OPEN_TO_ALL = ("0.0.0.0/0", "::/0")

# End of standard support per Kubernetes minor on EKS, dated UTC. Sources: the EKS User
# Guide's "Amazon EKS Kubernetes release calendar"
# (https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html) for 1.29-1.34;
# 1.35 as https://endoflife.date/amazon-eks reports the calendar (EKS release 2026-01-28);
# 1.36 and 1.37 as versions.env records them (1.37: AWS What's New 2026-10-02,
# plus the guide's 14 months of standard support: approximate until the calendar lists it).
# Add each new minor here when versions.env moves to it: a minor missing from this table is
# reported, not assumed supported.
STANDARD_SUPPORT_ENDS = {
    "1.29": date(2025, 3, 23),
    "1.30": date(2025, 7, 23),
    "1.31": date(2025, 11, 26),
    "1.32": date(2026, 3, 23),
    "1.33": date(2026, 7, 29),
    "1.34": date(2026, 12, 2),
    "1.35": date(2027, 3, 27),
    "1.36": date(2027, 8, 2),
    "1.37": date(2027, 12, 2),
}


def today() -> date:
    """Today in UTC (the calendar's timezone); tests replace it."""
    return datetime.now(UTC).date()


def _label(cluster: Resource) -> str:
    return f"EKS cluster {cluster.get('name') or name_of(cluster)}"


def _public(cluster: Resource) -> bool:
    # The provider's default for endpoint_public_access is True: absent means public.
    return cluster.get("vpcConfig.endpointPublicAccess") is not False


def no_public_endpoint(cluster: Resource, stack: Stack) -> Iterable[str]:
    if _public(cluster):
        yield (
            f"{_label(cluster)} has a public API endpoint: set vpc_config "
            "endpoint_public_access False (airflow-platform:eks.publicAccessCidrs = []) and "
            "deploy from inside the VPC (airflow-platform:eks.deployerRoleArn)"
        )


def public_endpoint_restricted(cluster: Resource, stack: Stack) -> Iterable[str]:
    if not _public(cluster):
        return
    cidrs = [str(c) for c in items(cluster.get("vpcConfig.publicAccessCidrs"))]
    if not cidrs:
        yield (
            f"{_label(cluster)}'s public endpoint admits any address (EKS's default "
            "public_access_cidrs is 0.0.0.0/0): list the office or VPN CIDRs in "
            "airflow-platform:eks.publicAccessCidrs, or turn the public endpoint off"
        )
    elif set(cidrs) & set(OPEN_TO_ALL):
        yield (
            f"{_label(cluster)}'s public endpoint admits "
            f"{', '.join(sorted(set(cidrs) & set(OPEN_TO_ALL)))}: list the office or VPN "
            "CIDRs instead, or turn the public endpoint off"
        )


def secrets_encryption(cluster: Resource, stack: Stack) -> Iterable[str]:
    resources = items(cluster.get("encryptionConfig.resources"))
    if "secrets" not in resources or not cluster.get("encryptionConfig.provider.keyArn"):
        yield (
            f"{_label(cluster)} does not envelope-encrypt Kubernetes secrets with a KMS key "
            "of its own: set encryption_config with resources [secrets] and the project key "
            "(airflow-platform:encryption.customerManagedKey)"
        )


def control_plane_logs(cluster: Resource, stack: Stack) -> Iterable[str]:
    enabled = {str(t) for t in items(cluster.get("enabledClusterLogTypes"))}
    missing = [t for t in LOG_TYPES if t not in enabled]
    if missing:
        yield (
            f"{_label(cluster)} does not log {', '.join(missing)}: enable all five "
            "control-plane log types in enabled_cluster_log_types (audit is who did what)"
        )


def supported_version(cluster: Resource, stack: Stack) -> Iterable[str]:
    version = cluster.get("version")
    if not version:
        yield (
            f"{_label(cluster)} does not pin its Kubernetes version: set version "
            "(KUBERNETES_VERSION in versions.env), so EKS's default cannot change under it"
        )
        return
    ends = STANDARD_SUPPORT_ENDS.get(str(version))
    if ends is None:
        yield (
            f"{_label(cluster)} runs Kubernetes {version}, whose end of standard support this "
            "rule does not know: add it to STANDARD_SUPPORT_ENDS in policy/platform_rules/"
            "eks.py from the EKS release calendar"
        )
    elif today() >= ends:
        yield (
            f"{_label(cluster)} runs Kubernetes {version}, out of standard support since "
            f"{ends.isoformat()} (extended support costs extra per cluster hour): upgrade "
            "KUBERNETES_VERSION in versions.env to a minor in standard support"
        )


def no_open_ssh(node_group: Resource, stack: Stack) -> Iterable[str]:
    # EKS API, RemoteAccessConfig: with an SSH key but no source security groups, port 22 is
    # opened to 0.0.0.0/0.
    if node_group.get("remoteAccess.ec2SshKey") and not items(
        node_group.get("remoteAccess.sourceSecurityGroupIds")
    ):
        yield (
            f"node group {node_group.get('nodeGroupName') or name_of(node_group)} opens SSH "
            "to the world (an ec2_ssh_key without source_security_group_ids): name the "
            "security groups that may connect, or drop remote_access and use SSM"
        )


# Never, on any tier: a control plane or a node reachable from the whole internet.
_EVERYWHERE = levels(others=Level.MANDATORY)
_CLUSTER = frozenset({CLUSTER})

RULES: list[Rule] = [
    Rule(
        name="eks-no-public-endpoint",
        service="EKS",
        description="The Kubernetes API endpoint is private.",
        types=_CLUSTER,
        check=no_public_endpoint,
    ),
    Rule(
        name="eks-public-endpoint-restricted",
        service="EKS",
        description="A public endpoint, where there is one, is never open to 0.0.0.0/0.",
        levels=_EVERYWHERE,
        types=_CLUSTER,
        check=public_endpoint_restricted,
    ),
    Rule(
        name="eks-secrets-encryption",
        service="EKS",
        description="Kubernetes secrets are envelope-encrypted with a KMS key.",
        types=_CLUSTER,
        check=secrets_encryption,
    ),
    Rule(
        name="eks-control-plane-logs",
        service="EKS",
        description="All five control-plane log types are on.",
        types=_CLUSTER,
        check=control_plane_logs,
    ),
    Rule(
        name="eks-supported-version",
        service="EKS",
        description="The Kubernetes version is pinned and in EKS standard support.",
        types=_CLUSTER,
        check=supported_version,
    ),
    Rule(
        name="eks-node-group-no-open-ssh",
        service="EKS",
        description="No node group opens SSH to the world.",
        levels=_EVERYWHERE,
        types=frozenset({NODE_GROUP}),
        check=no_open_ssh,
    ),
]
