"""The task pods' node pool on EKS Auto Mode, and what a task pod needs to land on it.

The pool is a Kubernetes object (a Karpenter `NodePool` on Auto Mode's `default` NodeClass)
that `AirflowOnEks` creates; the chart's task pods (the KubernetesExecutor's pod template)
carry the toleration and node selector below (`helm.values`), so they, and only they, run
there: spot where the tier allows it, consolidated only when empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_platform.config.eks import CapacityType

# The task node pool. Task pods (and only they) carry the toleration and the node selector;
# the taint keeps every other pod off these nodes, the label keeps task pods off the others.
TASK_NODE_POOL = "airflow-tasks"
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
    `karpenter.sh/v1` NodePool, `nodeClassRef` to Auto Mode's `default` NodeClass, the
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
                        "name": "default",
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
