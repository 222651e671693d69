"""Waiting for what AWS deletes on its own time between the destroy phases (order.Settle).

What counts as the stack's:

* load balancers and target groups, EBS volumes and EC2 instances tagged with the stack
  (`project` and `stack`, tagging.stack_tags) or with the cluster's `eks:eks-cluster-name`
  (the tag EKS Auto Mode puts on what it creates: the cluster role's tag conditions in the
  EKS User Guide, "Amazon EKS Auto Mode cluster IAM role", and components/eks.py), or, for
  load balancers, `elbv2.k8s.aws/cluster` (the load-balancer controller's tag, as the
  aws-samples EKS Auto Mode cleanup playbook polls for it);
* network interfaces in the stack's VPC that Lambda, a load balancer or EKS made: Lambda's
  are described `AWS Lambda VPC ENI-<function>-...` (interface type `lambda`), a load
  balancer's `ELB <type>/<name>/<id>`, the cluster's `Amazon EKS <cluster>`.

Gone means absent, or in a final state (a volume `deleted`, an instance `terminated`). The
wait polls every `interval` seconds until nothing is left or the deadline passes, which raises
`SettleTimeoutError` naming what is still there. Clock and sleep are injectable for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_platform.teardown.order import Settle

ClientFor = Callable[[str, str], Any]
"""`client_for(service, region)`: a boto3 client."""

CLUSTER_NAME_TAG = "eks:eks-cluster-name"
CSI_VOLUME_TAG = "CSIVolumeName"
"""The tag the EBS CSI driver puts on every volume it makes for a claim (aws-ebs-csi-driver,
docs/tagging.md): what tells a claim's volume from a node's root volume."""
LOAD_BALANCER_CLUSTER_TAG = "elbv2.k8s.aws/cluster"
_DESCRIBE_TAGS_BATCH = 20  # elbv2 DescribeTags takes at most 20 ARNs


@dataclass(frozen=True)
class SettleScope:
    """Whose leftovers to wait for."""

    project: str
    stack: str
    region: str
    vpc_id: str | None
    """The stack's VPC (its `vpcId` output); None: no network interface check."""

    @property
    def cluster_name(self) -> str:
        return f"airflow-{self.stack}"

    def owns_tags(self, tags: Mapping[str, str]) -> bool:
        """Tags that mark a resource as the stack's (its own or its cluster's)."""
        if tags.get("stack") == self.stack and tags.get("project") == self.project:
            return True
        return self.cluster_name in (
            tags.get(CLUSTER_NAME_TAG),
            tags.get(LOAD_BALANCER_CLUSTER_TAG),
        )


@dataclass(frozen=True)
class Remaining:
    """Something AWS has not finished deleting."""

    kind: str
    identifier: str
    state: str

    def __str__(self) -> str:
        return f"{self.kind} {self.identifier} ({self.state})"


class SettleTimeoutError(Exception):
    """The deadline passed with AWS-side resources still there."""

    def __init__(self, waited: float, remaining: Sequence[Remaining]) -> None:
        self.waited = waited
        self.remaining = tuple(remaining)
        listed = "; ".join(str(item) for item in self.remaining)
        super().__init__(
            f"still there after {waited / 60:.1f} min of waiting for AWS to clean up: {listed}"
        )


def _tags(pairs: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {pair["Key"]: pair["Value"] for pair in pairs or ()}


def eni_maker(interface: Mapping[str, Any], scope: SettleScope) -> str | None:
    """Which service made a network interface, among those this waits for, else None."""
    description = interface.get("Description") or ""
    kind = interface.get("InterfaceType") or ""
    if kind == "lambda" or description.startswith(f"AWS Lambda VPC ENI-airflow-{scope.stack}-"):
        return "Lambda"
    if kind in ("network_load_balancer", "gateway_load_balancer") or description.startswith("ELB "):
        return "load balancer"
    if description.startswith(f"Amazon EKS {scope.cluster_name}") or scope.owns_tags(
        _tags(interface.get("TagSet"))
    ):
        return "EKS"
    return None


def _load_balancers(scope: SettleScope, client_for: ClientFor) -> list[Remaining]:
    elbv2 = client_for("elbv2", scope.region)
    found: dict[str, tuple[str, str, str]] = {}
    for page in elbv2.get_paginator("describe_load_balancers").paginate():
        for balancer in page["LoadBalancers"]:
            state = balancer.get("State", {}).get("Code", "unknown")
            found[balancer["LoadBalancerArn"]] = (
                "load balancer",
                balancer["LoadBalancerName"],
                state,
            )
    for page in elbv2.get_paginator("describe_target_groups").paginate():
        for group in page["TargetGroups"]:
            found[group["TargetGroupArn"]] = ("target group", group["TargetGroupName"], "present")
    arns = list(found)
    remaining = []
    for start in range(0, len(arns), _DESCRIBE_TAGS_BATCH):
        batch = arns[start : start + _DESCRIBE_TAGS_BATCH]
        for described in elbv2.describe_tags(ResourceArns=batch)["TagDescriptions"]:
            if scope.owns_tags(_tags(described.get("Tags"))):
                kind, name, state = found[described["ResourceArn"]]
                remaining.append(Remaining(kind, name, state))
    return remaining


def _tag_filters(scope: SettleScope) -> list[list[dict[str, Any]]]:
    """One filter set per way a resource can be the stack's (EC2 ANDs the filters of a call)."""
    return [
        [
            {"Name": "tag:stack", "Values": [scope.stack]},
            {"Name": "tag:project", "Values": [scope.project]},
        ],
        [{"Name": f"tag:{CLUSTER_NAME_TAG}", "Values": [scope.cluster_name]}],
    ]


def _stack_volumes(
    scope: SettleScope, client_for: ClientFor, kind: str, *extra: dict[str, Any]
) -> list[Remaining]:
    """The stack's volumes not yet deleted (`extra`: filters every one must also match)."""
    ec2 = client_for("ec2", scope.region)
    found: dict[str, str] = {}
    for filters in _tag_filters(scope):
        for page in ec2.get_paginator("describe_volumes").paginate(Filters=[*filters, *extra]):
            for volume in page["Volumes"]:
                if volume["State"] != "deleted":
                    found[volume["VolumeId"]] = volume["State"]
    return [Remaining(kind, key, state) for key, state in sorted(found.items())]


def _volumes(scope: SettleScope, client_for: ClientFor) -> list[Remaining]:
    return _stack_volumes(scope, client_for, "EBS volume")


def _claimed_volumes(scope: SettleScope, client_for: ClientFor) -> list[Remaining]:
    claimed = {"Name": "tag-key", "Values": [CSI_VOLUME_TAG]}
    return _stack_volumes(scope, client_for, "EBS volume (claim)", claimed)


def _instances(scope: SettleScope, client_for: ClientFor) -> list[Remaining]:
    ec2 = client_for("ec2", scope.region)
    found: dict[str, str] = {}
    for filters in _tag_filters(scope):
        for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    state = instance["State"]["Name"]
                    if state != "terminated":
                        found[instance["InstanceId"]] = state
    return [Remaining("EC2 instance", key, state) for key, state in sorted(found.items())]


def _network_interfaces(scope: SettleScope, client_for: ClientFor) -> list[Remaining]:
    if scope.vpc_id is None:
        return []
    ec2 = client_for("ec2", scope.region)
    remaining = []
    filters = [{"Name": "vpc-id", "Values": [scope.vpc_id]}]
    for page in ec2.get_paginator("describe_network_interfaces").paginate(Filters=filters):
        for interface in page["NetworkInterfaces"]:
            maker = eni_maker(interface, scope)
            if maker is not None:
                remaining.append(
                    Remaining(
                        f"{maker} network interface",
                        interface["NetworkInterfaceId"],
                        interface.get("Status", "unknown"),
                    )
                )
    return remaining


_CHECKS: dict[Settle, Callable[[SettleScope, ClientFor], list[Remaining]]] = {
    Settle.LOAD_BALANCERS: _load_balancers,
    Settle.VOLUMES: _volumes,
    Settle.CLAIMED_VOLUMES: _claimed_volumes,
    Settle.INSTANCES: _instances,
    Settle.NETWORK_INTERFACES: _network_interfaces,
}


def remaining(
    conditions: Sequence[Settle], scope: SettleScope, client_for: ClientFor
) -> list[Remaining]:
    """What of `conditions` AWS has not cleaned up yet, right now."""
    return [item for condition in conditions for item in _CHECKS[condition](scope, client_for)]


def wait_until_settled(
    conditions: Sequence[Settle],
    scope: SettleScope,
    client_for: ClientFor,
    *,
    timeout: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_poll: Callable[[Sequence[Remaining], float], None] | None = None,
) -> float:
    """Poll until nothing of `conditions` is left; the seconds waited. Raises SettleTimeoutError
    (naming what is left) once `timeout` seconds have passed."""
    if not conditions:
        return 0.0
    started = clock()
    while True:
        left = remaining(conditions, scope, client_for)
        waited = clock() - started
        if not left:
            return waited
        if on_poll is not None:
            on_poll(left, waited)
        if waited >= timeout:
            raise SettleTimeoutError(waited, left)
        sleep(min(interval, max(timeout - waited, 0.0)))
