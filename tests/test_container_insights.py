"""The Container Insights contract: names, dimension sets, and the add-on settings that make
the agent publish them."""

from __future__ import annotations

import pytest

from airflow_platform import container_insights as ci


def test_namespace_and_the_add_on_identity():
    assert ci.NAMESPACE == "ContainerInsights"
    assert ci.ADDON_NAME == "amazon-cloudwatch-observability"
    assert (ci.AGENT_NAMESPACE, ci.AGENT_SERVICE_ACCOUNT) == (
        "amazon-cloudwatch",
        "cloudwatch-agent",
    )
    assert ci.AGENT_MANAGED_POLICY == "CloudWatchAgentServerPolicy"
    assert ci.performance_log_group_name("airflow-prod") == (
        "/aws/containerinsights/airflow-prod/performance"
    )


def test_metric_names():
    assert ci.FAILED_NODES == "cluster_failed_node_count"
    assert ci.NODE_READY == "node_status_condition_ready"
    assert ci.RUNNING_PODS == "namespace_number_of_running_pods"
    assert ci.PENDING_PODS == "pod_status_pending"
    assert ci.FAILED_PODS == "pod_status_failed"
    assert ci.CONTAINER_RESTARTS == "pod_number_of_container_restarts"


@pytest.mark.parametrize(
    ("metric", "dimensions"),
    [
        (ci.FAILED_NODES, {"ClusterName"}),
        (ci.NODE_READY, {"ClusterName"}),
        (ci.NODE_READY, {"NodeName", "InstanceId", "ClusterName"}),
        (ci.RUNNING_PODS, {"Namespace", "ClusterName"}),
        (ci.PENDING_PODS, {"PodName", "Namespace", "ClusterName"}),
        (ci.FAILED_PODS, {"ClusterName"}),
        (ci.CONTAINER_RESTARTS, {"PodName", "Namespace", "ClusterName"}),
        (ci.CONTAINER_RESTARTS, {"FullPodName", "PodName", "Namespace", "ClusterName"}),
        (ci.CONTAINER_RESTARTS, {"Service", "Namespace", "ClusterName"}),
    ],
)
def test_published_dimension_sets(metric, dimensions):
    assert ci.is_published(metric, dimensions)


@pytest.mark.parametrize(
    ("metric", "dimensions"),
    [
        # The agent declares no per-namespace set for the pod status and restart metrics.
        (ci.PENDING_PODS, {"Namespace", "ClusterName"}),
        (ci.FAILED_PODS, {"Namespace", "ClusterName"}),
        (ci.CONTAINER_RESTARTS, {"Namespace", "ClusterName"}),
        (ci.FAILED_NODES, {"NodeName", "InstanceId", "ClusterName"}),
        (ci.RUNNING_PODS, {"PodName", "Namespace", "ClusterName"}),
        ("pod_status_pendingg", {"ClusterName"}),
    ],
)
def test_unpublished_dimension_sets(metric, dimensions):
    assert not ci.is_published(metric, dimensions)


def test_every_set_names_the_cluster():
    for metric, sets in ci.DIMENSION_SETS.items():
        assert sets, metric
        assert all(ci.CLUSTER in dimensions for dimensions in sets), metric


def test_the_add_on_keeps_on_what_the_contract_needs():
    config = ci.ADDON_CONFIGURATION
    kubernetes = config["agent"]["config"]["logs"]["metrics_collected"]["kubernetes"]
    # pod_status_*, node_status_* and the FullPodName/Service sets exist only with it.
    assert kubernetes["enhanced_container_insights"] is True
    assert config["containerLogs"] == {"enabled": False}
    assert config["manager"]["applicationSignals"]["autoMonitor"]["monitorAllServices"] is False


def test_namespace_total_query_sums_the_pod_series_of_one_namespace():
    query = ci.namespace_total_query(ci.PENDING_PODS, "airflow-prod", "airflow")
    assert query == (
        'SELECT SUM(pod_status_pending) FROM SCHEMA("ContainerInsights", ClusterName, Namespace, '
        "PodName) WHERE ClusterName = 'airflow-prod' AND Namespace = 'airflow'"
    )


@pytest.mark.parametrize(
    ("metric", "cluster", "namespace"),
    [
        (ci.FAILED_NODES, "airflow-prod", "airflow"),
        (ci.PENDING_PODS, "airflow-prod", "air'flow"),
        (ci.PENDING_PODS, "Airflow", "airflow"),
    ],
)
def test_namespace_total_query_refuses_what_it_cannot_express(metric, cluster, namespace):
    with pytest.raises(ValueError, match=r"not published|not a DNS label"):
        ci.namespace_total_query(metric, cluster, namespace)
