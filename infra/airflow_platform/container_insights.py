"""The Container Insights contract between the EKS runtime and the alarms that watch it.

EksCluster installs the `amazon-cloudwatch-observability` add-on with `ADDON_CONFIGURATION`;
what that agent publishes is this module: the metric namespace, the metric names, and for each
metric the exact dimension sets it is published with. A CloudWatch alarm matches a metric only
on its full dimension set, so an alarm on a set that is not listed here never gets a data point
(and with missing data "not breaching" never fires): check it with `is_published`.

Sources, cited per entry below:
- [metrics] CloudWatch User Guide, "Amazon EKS and Kubernetes Container Insights metrics"
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-EKS.html):
  names, and the dimensions of all versions vs. the ones enhanced observability adds.
- [agent] aws/amazon-cloudwatch-agent, translator/translate/otel/exporter/awsemf/kubernetes.go
  (commit 0316fb693cef5f290869f91daab83f7e8c5a7e57): the EMF metric declarations the agent
  builds, i.e. the dimension sets actually emitted with `enhanced_container_insights` on
  (getClusterMetricDeclarations, getNodeMetricDeclarations, getPodMetricDeclarations,
  getNamespaceMetricDeclarations); and awsemf_default_kubernetes.yaml: `namespace:
  ContainerInsights`, `log_group_name: /aws/containerinsights/{ClusterName}/performance`.
- [addon] CloudWatch User Guide, "Install the CloudWatch agent with the Amazon CloudWatch
  Observability EKS add-on or the Helm chart" (install-CloudWatch-Observability-EKS-addon.html):
  the add-on's configuration keys.

These are the "Enhanced Container Insights (Classic)" names. The add-on's newer OTel Container
Insights (opt-in, `otelContainerInsights.enabled`, add-on 6.2.0+: CloudWatch User Guide,
"Quick start: OTel Container Insights on Amazon EKS") publishes OpenTelemetry metric names
instead; switching to it is a change of this contract, not of configuration alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

NAMESPACE = "ContainerInsights"
"""[agent] awsemf_default_kubernetes.yaml `namespace`; [metrics] "in the ContainerInsights
namespace"."""

# --- the add-on ----------------------------------------------------------------------------

ADDON_NAME = "amazon-cloudwatch-observability"
"""[addon] "The Amazon EKS add-on name is amazon-cloudwatch-observability"; EKS User Guide,
"AWS add-ons": compatible compute types "EC2, EKS Auto Mode, EKS Hybrid Nodes"."""
AGENT_NAMESPACE = "amazon-cloudwatch"
AGENT_SERVICE_ACCOUNT = "cloudwatch-agent"
"""[addon] Option 1, EKS Pod Identity: `--pod-identity-associations
serviceAccount=cloudwatch-agent,...`; the IRSA option names the same account in namespace
`amazon-cloudwatch` (`eksctl create iamserviceaccount --name cloudwatch-agent --namespace
amazon-cloudwatch`)."""
AGENT_MANAGED_POLICY = "CloudWatchAgentServerPolicy"
"""[addon] every install option attaches `arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy`
to the agent's role."""


def performance_log_group_name(cluster: str) -> str:
    """The log group the agent writes its EMF performance events to (the source of every
    metric here): `/aws/containerinsights/<cluster>/performance` ([agent] awsemf default
    `log_group_name`). The agent creates it without retention or key if it is missing, so the
    stack creates it first."""
    return f"/aws/containerinsights/{cluster}/performance"


ADDON_CONFIGURATION: dict[str, Any] = {
    # No Fluent Bit: it would ship every container's stdout to /aws/containerinsights/
    # <cluster>/{application,dataplane,host}, groups it creates itself with no retention and
    # no key ([addon] "Opt out of collecting container logs": `{"containerLogs": {"enabled":
    # false}}`; "Use a custom Fluent Bit configuration" names the three groups). Task logs
    # already go to S3 (remote logging), so the application group would only duplicate them.
    "containerLogs": {"enabled": False},
    # A custom agent config replaces the default one ([addon] "Use a custom CloudWatch agent
    # configuration": the default is `logs.metrics_collected.kubernetes.
    # enhanced_container_insights: true` plus Application Signals). Stated here so the
    # pod_status_* / node_status_* metrics below do not depend on a default; Application
    # Signals (traces, its own log group) is left out, and so are accelerated compute metrics
    # ([addon] "Opt out of accelerated compute metrics collection": no GPUs here).
    "agent": {
        "config": {
            "logs": {
                "metrics_collected": {
                    "kubernetes": {
                        "enhanced_container_insights": True,
                        "accelerated_compute_metrics": False,
                    }
                }
            }
        }
    },
    # Auto monitor would inject OpenTelemetry instrumentation into every workload behind a
    # Service, Airflow's own pods included, when they next restart ([addon] "Enabling APM
    # through Application Signals": `monitorAllServices` "Defaults to true" from 5.0.0;
    # "Opt out of Application Signals" gives this key).
    "manager": {"applicationSignals": {"autoMonitor": {"monitorAllServices": False}}},
}

# --- dimensions ----------------------------------------------------------------------------

CLUSTER = "ClusterName"
NAMESPACE_DIMENSION = "Namespace"
POD = "PodName"
FULL_POD = "FullPodName"
"""Added by enhanced observability ([metrics] "additional dimensions")."""
SERVICE = "Service"
NODE = "NodeName"
INSTANCE = "InstanceId"

# --- metrics -------------------------------------------------------------------------------

# Node health.
FAILED_NODES = "cluster_failed_node_count"
"""Worker nodes suffering from any node condition ([metrics])."""
NODE_COUNT = "cluster_node_count"
NODE_READY = "node_status_condition_ready"
"""1 per node whose Ready condition is true (enhanced observability only)."""
# Pod health.
RUNNING_PODS = "namespace_number_of_running_pods"
PENDING_PODS = "pod_status_pending"
FAILED_PODS = "pod_status_failed"
CONTAINER_RESTARTS = "pod_number_of_container_restarts"

_CLUSTER = frozenset({CLUSTER})
_NODE = frozenset({NODE, INSTANCE, CLUSTER})
_POD = frozenset({POD, NAMESPACE_DIMENSION, CLUSTER})
_FULL_POD = frozenset({FULL_POD, POD, NAMESPACE_DIMENSION, CLUSTER})
_SERVICE = frozenset({SERVICE, NAMESPACE_DIMENSION, CLUSTER})
_IN_NAMESPACE = frozenset({NAMESPACE_DIMENSION, CLUSTER})

DIMENSION_SETS: Mapping[str, tuple[frozenset[str], ...]] = {
    # [agent] getClusterMetricDeclarations: [[ClusterName]].
    FAILED_NODES: (_CLUSTER,),
    NODE_COUNT: (_CLUSTER,),
    # [agent] getNodeMetricDeclarations, enhanced: [[NodeName, InstanceId, ClusterName],
    # [ClusterName]].
    NODE_READY: (_NODE, _CLUSTER),
    # [agent] getNamespaceMetricDeclarations: [[Namespace, ClusterName], [ClusterName]].
    RUNNING_PODS: (_IN_NAMESPACE, _CLUSTER),
    # [agent] getPodMetricDeclarations, enhanced: the status and restart selectors get
    # [[PodName, Namespace, ClusterName], [ClusterName], [FullPodName, PodName, Namespace,
    # ClusterName], [Service, Namespace, ClusterName]]. There is no [Namespace, ClusterName]
    # set for them: a per-namespace total needs `namespace_total_query`.
    PENDING_PODS: (_POD, _CLUSTER, _FULL_POD, _SERVICE),
    FAILED_PODS: (_POD, _CLUSTER, _FULL_POD, _SERVICE),
    CONTAINER_RESTARTS: (_POD, _CLUSTER, _FULL_POD, _SERVICE),
}
"""Metric -> every dimension set it is published with (enhanced observability on, as
`ADDON_CONFIGURATION` sets it)."""


def is_published(metric: str, dimensions: Iterable[str]) -> bool:
    """Whether `metric` is published with exactly these dimension names."""
    return frozenset(dimensions) in DIMENSION_SETS.get(metric, ())


_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def namespace_total_query(metric: str, cluster: str, namespace: str) -> str:
    """A Metrics Insights query summing a pod metric over every pod of one namespace.

    The pod status and restart metrics have no [Namespace, ClusterName] set; this sums their
    [PodName, Namespace, ClusterName] series (SCHEMA matches exactly that set, so the
    FullPodName series are not counted twice). Alarms can watch a Metrics Insights query that
    returns one time series (CloudWatch User Guide, "Create a CloudWatch alarm based on a
    Metrics Insights query")."""
    if _POD not in DIMENSION_SETS.get(metric, ()):
        raise ValueError(f"{metric!r} is not published per {sorted(_POD)}")
    for label, value in (("cluster", cluster), ("namespace", namespace)):
        # Both are DNS labels here; the check keeps the quoting below trivially safe.
        if not _LABEL.fullmatch(value) or len(value) > 100:
            raise ValueError(f"{label} {value!r} is not a DNS label")
    schema = f'SCHEMA("{NAMESPACE}", {CLUSTER}, {NAMESPACE_DIMENSION}, {POD})'
    where = f"{CLUSTER} = '{cluster}' AND {NAMESPACE_DIMENSION} = '{namespace}'"
    return f"SELECT SUM({metric}) FROM {schema} WHERE {where}"  # noqa: S608 - checked labels
