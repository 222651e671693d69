"""The task pods' node pool on EKS Auto Mode, and what a task pod needs to land on it.

The pool is a Kubernetes object (a Karpenter `NodePool`) that `AirflowOnEks` creates, on the
platform's own NodeClass (`task_node_class`) rather than Auto Mode's built-in `default`: the
same role, subnets and security group as `default`, plus the stack's tags, so every instance,
root volume and network interface Auto Mode launches for tasks carries them (the built-in
class tags only with EKS's own keys) and the reaper and the audit see them. The chart's task
pods (the KubernetesExecutor's pod template) carry the toleration and node selector below
(`helm.values`), so they, and only they, run there: spot where the tier allows it,
consolidated only when empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_platform.config.eks import CapacityType

# The task node pool and its NodeClass (EKS User Guide, "Create a Node Class for Amazon EKS":
# "Do not name your custom node class `default`"). Task pods (and only they) carry the
# toleration and the node selector; the taint keeps every other pod off these nodes, the label
# keeps task pods off the others.
TASK_NODE_POOL = "airflow-tasks"
TASK_NODE_CLASS = "airflow-tasks"
TASK_NODE_LABEL = {"airflow-platform/node-pool": "tasks"}
TASK_TAINT = {"key": "airflow-platform/tasks", "value": "true", "effect": "NoSchedule"}
TASK_TOLERATION = {
    "key": TASK_TAINT["key"],
    "operator": "Equal",
    "value": TASK_TAINT["value"],
    "effect": TASK_TAINT["effect"],
}
"""What a task pod's spec needs (with `nodeSelector: TASK_NODE_LABEL`) to land on the pool."""
# The Airflow image is built for linux/amd64 only (images/eks/Dockerfile).
TASK_ARCHITECTURES = ("amd64",)
# General-purpose, compute- and memory-optimised families: no burstable (t), accelerated
# (g, p, inf) or storage (i, d) instances for tasks (EKS Auto Mode's supported label
# `eks.amazonaws.com/instance-category`).
TASK_INSTANCE_CATEGORIES = ("c", "m", "r")


DO_NOT_DISRUPT = {"karpenter.sh/do-not-disrupt": "true"}
"""A running task pod's annotation: Auto Mode does not replace its node (drift, expiry)
while it runs (Karpenter's pod-level disruption control)."""


def task_node_pool(
    capacity_types: Sequence[str], cpu_limit: int = 256, memory_limit_gib: int = 1024
) -> dict[str, Any]:
    """The EKS Auto Mode node pool task pods run on, as a Karpenter `NodePool` manifest.

    Fields from the EKS User Guide, "Create a Node Pool for EKS Auto Mode" (Karpenter's
    `karpenter.sh/v1` NodePool, `nodeClassRef` to the platform's `TASK_NODE_CLASS`, the
    well-known labels Auto Mode supports, the disruption settings):

    - `karpenter.sh/capacity-type` in `capacity_types` (`spot`, `on-demand`: prod's config
      allows on-demand only), amd64 only (the image's platform), c/m/r instance categories;
    - the taint `airflow-platform/tasks=true:NoSchedule` and the label
      `airflow-platform/node-pool=tasks`: task pods tolerate the one and select the other
      (`TASK_TOLERATION`, `TASK_NODE_LABEL`), nothing else schedules there;
    - disruption: `WhenEmpty` consolidation, so a node is removed only once its tasks are done
      (consolidating an underused node would kill running tasks; a task retry is not free),
      after 5 minutes empty (a burst of tasks finds a node), at most 10% of nodes at a time;
      nodes expire after 336 hours (Auto Mode's default, stated), draining for at most 24
      hours (`terminationGracePeriod`, Auto Mode's default, stated) so a running task can
      finish. Task pods should also carry `karpenter.sh/do-not-disrupt: "true"` against
      drift replacement while they run;
    - limits: a ceiling on the pool's total CPU and memory, against runaway scale-out.
    """
    ordered = list(dict.fromkeys(capacity_types))
    allowed = {c.value for c in CapacityType}
    if not ordered or any(c not in allowed for c in ordered):
        raise ValueError(f"capacity types must be some of {sorted(allowed)}, got {capacity_types}")
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": TASK_NODE_POOL},
        "spec": {
            "template": {
                "metadata": {"labels": dict(TASK_NODE_LABEL)},
                "spec": {
                    "nodeClassRef": {
                        "group": "eks.amazonaws.com",
                        "kind": "NodeClass",
                        "name": TASK_NODE_CLASS,
                    },
                    "requirements": [
                        {
                            "key": "karpenter.sh/capacity-type",
                            "operator": "In",
                            "values": ordered,
                        },
                        {
                            "key": "kubernetes.io/arch",
                            "operator": "In",
                            "values": list(TASK_ARCHITECTURES),
                        },
                        {
                            "key": "eks.amazonaws.com/instance-category",
                            "operator": "In",
                            "values": list(TASK_INSTANCE_CATEGORIES),
                        },
                    ],
                    "taints": [dict(TASK_TAINT)],
                    "expireAfter": "336h",
                    "terminationGracePeriod": "24h",
                },
            },
            "disruption": {
                "consolidationPolicy": "WhenEmpty",
                "consolidateAfter": "5m",
                "budgets": [{"nodes": "10%"}],
            },
            "limits": {"cpu": str(cpu_limit), "memory": f"{memory_limit_gib}Gi"},
        },
    }


# Tag keys a NodeClass may not set (EKS User Guide, "Create a Node Class for Amazon EKS",
# "Node Class Specification": `kubernetes.io/cluster/*`, `karpenter.sh/provisioner-name`,
# `karpenter.sh/nodepool`, `karpenter.sh/nodeclaim`, `karpenter.sh/managed-by`,
# `eks.amazonaws.com/nodeclass`).
_RESTRICTED_TAG_KEYS = (
    "karpenter.sh/provisioner-name",
    "karpenter.sh/nodepool",
    "karpenter.sh/nodeclaim",
    "karpenter.sh/managed-by",
    "eks.amazonaws.com/nodeclass",
)
_RESTRICTED_TAG_PREFIX = "kubernetes.io/cluster/"
# What EKS tags the cluster security group it creates with (EKS User Guide, "View Amazon EKS
# security group requirements for clusters": `aws:eks:cluster-name` = the cluster's name).
CLUSTER_SECURITY_GROUP_TAG = "aws:eks:cluster-name"
# What the network tags the private subnets with (components.network; the EKS User Guide's
# NodeClass example selects private subnets by `kubernetes.io/role/internal-elb`).
PRIVATE_SUBNET_TAG = {"kubernetes.io/role/internal-elb": "1"}


def task_node_class(
    cluster_name: Any, node_role_name: Any, tags: Mapping[str, str]
) -> dict[str, Any]:
    """The task pool's EKS Auto Mode NodeClass, as a manifest.

    From the EKS User Guide, "Create a Node Class for Amazon EKS", "Node Class Specification":
    the required `role`, `subnetSelectorTerms` and `securityGroupSelectorTerms`, and `tags`,
    the "additional EC2 tags" Auto Mode puts on what it launches for the class.

    - `role`: the cluster's own Auto Mode node role (`compute_config.node_role_arn`), by name.
      EKS created that role's `EC2` access entry with the cluster, so the class needs no entry
      of its own (the guide: a new access entry is needed only when a NodeClass uses another
      role);
    - subnets: the stack's private subnets, by the network's tags (the stack and project tags
      keep another stack's subnets in the same account out);
    - security group: the cluster security group EKS created, by its `aws:eks:cluster-name`
      tag, which is what the built-in `default` class uses, so task pods reach the database
      and the API as before;
    - `tags`: the stack's tags. Tagging needs the cluster role's custom tag permissions
      (`components.eks`, "Custom AWS tags for EKS Auto resources").

    Tag keys the guide reserves are refused, naming the key.
    """
    for key in tags:
        if key in _RESTRICTED_TAG_KEYS or key.startswith(_RESTRICTED_TAG_PREFIX):
            raise ValueError(
                f"tag {key!r} is reserved by EKS Auto Mode and cannot be a NodeClass tag: "
                "rename it in airflow-platform:tags"
            )
    subnet_tags = {
        **PRIVATE_SUBNET_TAG,
        **{key: tags[key] for key in ("project", "stack") if key in tags},
    }
    return {
        "apiVersion": "eks.amazonaws.com/v1",
        "kind": "NodeClass",
        "metadata": {"name": TASK_NODE_CLASS},
        "spec": {
            "role": node_role_name,
            "subnetSelectorTerms": [{"tags": subnet_tags}],
            "securityGroupSelectorTerms": [{"tags": {CLUSTER_SECURITY_GROUP_TAG: cluster_name}}],
            "tags": dict(tags),
        },
    }
