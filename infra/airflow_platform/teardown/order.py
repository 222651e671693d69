"""The phases a destroy runs in, as a pure function of the stack's resources.

A plain `pulumi destroy` deletes in reverse dependency order, which knows nothing about what
AWS makes on the stack's behalf:

1. **In-cluster objects first** (every `kubernetes:*` resource: the Helm release, the API's
   LoadBalancer Service, the Karpenter NodePool, namespaces). Their controllers made AWS
   resources (load balancers and target groups, EBS volumes, EC2 instances) that deleting the
   cluster would orphan: the EKS User Guide's "Delete a cluster" and "Disable EKS Auto Mode"
   pages say Auto Mode deletes its instances and load balancers but *not* the EBS volumes it
   provisioned, and the AWS-DeleteEKSCluster runbook that load balancers of Services left in
   the cluster cannot be deleted. Then wait until the load balancers and the claims' volumes
   are gone (not the nodes: the built-in node pools and their root volumes, and the control
   plane's interfaces, belong to the cluster and go with it in phase 2).
2. **What holds network interfaces in the VPC**: Lambda functions, the MWAA environment, the
   EKS cluster and its add-ons, the RDS instance. Lambda releases a deleted function's ENIs on
   its own time (up to 20 minutes, Lambda's "foundation-networking" page as quoted in
   pulumi/pulumi-aws#2642; ~35 minutes observed, pulumi/pulumi-aws#4392), and the subnets and
   security groups of phase 3 cannot go while they exist. Then wait until they are released,
   and the cluster's instances, volumes and load balancers with them.
3. **Everything left**, the network last by its own dependencies.

Each phase destroys its targets with `target_dependents`, so whatever depends on a target goes
with it; empty phases are skipped (an mwaa stack has no kubernetes phase).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from airflow_platform.teardown.automation import StackResource

IN_CLUSTER_PREFIX = "kubernetes:"
"""Type tokens of objects inside the cluster (the provider itself is
`pulumi:providers:kubernetes`, which this does not match: it goes with the cluster)."""

NETWORK_HOLDERS = frozenset(
    {
        "aws:lambda/function:Function",
        "aws:mwaa/environment:Environment",
        "aws:eks/cluster:Cluster",
        "aws:eks/addon:Addon",
        "aws:rds/instance:Instance",
    }
)
"""Type tokens of resources whose network interfaces live in the stack's subnets."""


class Settle(StrEnum):
    """What AWS must have finished cleaning up before the next phase starts."""

    LOAD_BALANCERS = "load balancers and target groups"
    VOLUMES = "EBS volumes"
    CLAIMED_VOLUMES = "EBS volumes made for PersistentVolumeClaims"
    INSTANCES = "EC2 instances"
    NETWORK_INTERFACES = "network interfaces"


@dataclass(frozen=True)
class Phase:
    """One `pulumi destroy` of the teardown, and what to wait for after it."""

    name: str
    why: str
    """For the person watching: why this goes before the next phase."""
    targets: tuple[str, ...] | None
    """URNs to destroy (with their dependents); None: everything left in the stack."""
    settle: tuple[Settle, ...] = ()


def is_in_cluster(resource: StackResource) -> bool:
    return resource.type.startswith(IN_CLUSTER_PREFIX)


def holds_network_interfaces(resource: StackResource) -> bool:
    return resource.type in NETWORK_HOLDERS


def destroy_phases(resources: Sequence[StackResource]) -> tuple[Phase, ...]:
    """The phases for a stack holding `resources`, in the order to run them."""
    in_cluster = tuple(r.urn for r in resources if is_in_cluster(r))
    holders = tuple(r.urn for r in resources if holds_network_interfaces(r))
    phases = []
    if in_cluster:
        phases.append(
            Phase(
                name="in-cluster objects",
                why="their controllers made load balancers, volumes and instances that "
                "deleting the cluster would leave behind",
                targets=in_cluster,
                # Only what the deleted objects made: the cluster's own nodes (the built-in
                # pools, their root volumes) and control-plane interfaces stay until phase 2.
                settle=(Settle.LOAD_BALANCERS, Settle.CLAIMED_VOLUMES),
            )
        )
    if holders:
        phases.append(
            Phase(
                name="network-interface holders",
                why="Lambda, MWAA, EKS and RDS interfaces must be released before the subnets "
                "and security groups can go",
                targets=holders,
                settle=(
                    Settle.LOAD_BALANCERS,
                    Settle.VOLUMES,
                    Settle.INSTANCES,
                    Settle.NETWORK_INTERFACES,
                ),
            )
        )
    phases.append(Phase(name="everything left", why="the rest, network last", targets=None))
    return tuple(phases)
