"""A stack's naming rule as data: what, by its name alone, belongs to a stack.

The orphan audit finds most of what a stack left behind by its tags; this rule finds what no
tag can: a log group AWS or an agent created itself (RDS, EKS, Container Insights, Chatbot
each create theirs on first use when it is missing), an EventBridge Scheduler schedule
(schedules take no tags), a bucket or role whose tags were lost.

Every name comes from the function the component uses where the component has one
(`storage.bucket_name`, `database.instance_identifier`, `eks.cluster_name`,
`eks.log_group_name`, `mwaa.log_group_name`, `airflow_settings.secrets_prefix`, ...); the rest
repeat the component's f-string, and tests/test_teardown_naming.py checks every log group,
bucket, schedule and secret the offline plan declares against this rule, so the two cannot
drift apart unnoticed.

A rule must never own another stack's names, `pr-70`'s for `pr-7` or `dev-eu`'s for `dev`:
names are exact, or prefixes that end in `/` (a stack name has no `/`). The one hyphen-ended
prefix, `airflow-<stack>-` for IAM roles, the audit only applies to roles without stack tags
(a tagged role is decided by its tags).
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_platform.airflow_settings import environment_name, secrets_prefix
from airflow_platform.components import eks, mwaa, storage
from airflow_platform.components.alerts import CHATBOT_LOG_REGION
from airflow_platform.components.database import LOG_EXPORTS, instance_identifier
from airflow_platform.container_insights import performance_log_group_name

# The tag EKS Auto Mode puts on everything it creates for a cluster (instances, volumes,
# network interfaces, load balancers): the managed AmazonEKSComputePolicy and
# AmazonEKSLoadBalancingPolicy allow those creations only with
# `aws:RequestTag/eks:eks-cluster-name` (EKS User Guide, "Amazon EKS Auto Mode cluster IAM
# role", "Custom AWS tags for EKS Auto resources"). components/eks.py scopes its tag policy by
# the same key.
CLUSTER_NAME_TAG = eks._CLUSTER_NAME_TAG
# The purposes of the stack's buckets (components/storage.py: its BucketSpecs, and the
# access-log bucket where storage.accessLogging is on).
BUCKET_PURPOSES = ("dags", "logs", "backups", storage.ACCESS_LOGS)


def health_probe_name(stack: str) -> str:
    """The health probe's Lambda function, and its schedules' and roles' stem
    (components/health_probe.py)."""
    return f"airflow-{stack}-health-probe"


def chatbot_configuration_name(stack: str) -> str:
    """The Chatbot Slack channel configuration (components/alerts.py)."""
    return f"airflow-{stack}-alerts"


@dataclass(frozen=True)
class NamingRule:
    """What the stack's naming rule owns in one account and region."""

    project: str
    stack: str
    account_id: str
    region: str
    cluster_name: str
    """The EKS cluster (`airflow-<stack>`), the value of the `eks:eks-cluster-name` tag."""
    log_group_names: frozenset[str]
    """Log groups owned by their exact name."""
    log_group_prefixes: tuple[str, ...]
    """Log groups owned by prefix: each ends in `/`, so none reaches another stack's."""
    bucket_prefix: str
    """`airflow-<stack>-`: the start of every bucket name (what to list, not what to own)."""
    bucket_names: frozenset[str]
    """The buckets owned in this region: `airflow-<stack>-<purpose>-<account>-<region>`."""
    schedule_prefix: str
    """`airflow-<stack>-health-probe`: ListSchedules' NamePrefix."""
    schedule_names: frozenset[str]
    """The schedules owned (EventBridge Scheduler schedules take no tags)."""
    secret_prefix: str
    """`airflow/<stack>/`: the stack's connections and Variables."""
    role_prefix: str
    """`airflow-<stack>-`: the named IAM roles (applied to roles without stack tags only)."""

    def owns_log_group(self, name: str) -> bool:
        return name in self.log_group_names or name.startswith(self.log_group_prefixes)

    def owns_bucket(self, name: str) -> bool:
        return name in self.bucket_names

    def owns_schedule(self, name: str) -> bool:
        return name in self.schedule_names

    def owns_secret(self, name: str) -> bool:
        return name.startswith(self.secret_prefix)

    def owns_role(self, name: str) -> bool:
        return name.startswith(self.role_prefix)


def naming_rule(project: str, stack: str, account_id: str, region: str) -> NamingRule:
    """The naming rule of `stack` of `project` in `account_id`, `region`: the names as if the
    stack ran in `region` (a stack that moved regions leaves them in the old one), plus
    Chatbot's log group where Chatbot writes it."""
    cluster = eks.cluster_name(stack)
    environment = environment_name(stack)
    probe = health_probe_name(stack)
    exact = {
        f"/aws/lambda/{probe}",
        *(mwaa.log_group_name(environment, log_type) for log_type in mwaa.LOG_TYPES),
        *(f"/aws/rds/instance/{instance_identifier(stack)}/{kind}" for kind in LOG_EXPORTS),
        eks.log_group_name(stack),
        performance_log_group_name(cluster),
    }
    if region == CHATBOT_LOG_REGION:
        exact.add(f"/aws/chatbot/{chatbot_configuration_name(stack)}")
    prefixes = (
        # RDS exports one group per log type under the instance's path.
        f"/aws/rds/instance/{instance_identifier(stack)}/",
        # The control plane's group, and what Container Insights' agent creates for the
        # cluster (performance, application, dataplane, host).
        eks.log_group_name(stack).rsplit("/", 1)[0] + "/",
        performance_log_group_name(cluster).rsplit("/", 1)[0] + "/",
        # The VPC flow logs (components/network.py).
        f"/airflow-platform/{stack}/",
    )
    return NamingRule(
        project=project,
        stack=stack,
        account_id=account_id,
        region=region,
        cluster_name=cluster,
        log_group_names=frozenset(exact),
        log_group_prefixes=prefixes,
        bucket_prefix=f"airflow-{stack}-",
        bucket_names=frozenset(
            storage.bucket_name(stack, purpose, account_id, region) for purpose in BUCKET_PURPOSES
        ),
        schedule_prefix=probe,
        schedule_names=frozenset({probe, f"{probe}-freshness"}),
        secret_prefix=f"{secrets_prefix(stack)}/",
        role_prefix=f"airflow-{stack}-",
    )
