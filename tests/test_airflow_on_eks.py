"""Airflow on EKS in the staging and prod plans: pod roles scoped to exactly one service
account and to exact prefixes, secrets generated once and never in the chart's values, the
metadata login job, the release's ordering, and what a DAG or requirements change touches."""

from __future__ import annotations

import json
import re

import pulumi
import pytest

from airflow_platform.airflow_settings import SettingsInputs, environment_name, production_settings
from airflow_platform.aws_context import AwsContext
from airflow_platform.components.airflow_eks import (
    GRANTS,
    METADATA_USER_SERVICE_ACCOUNT,
    AirflowOnEks,
    AirflowOnEksArgs,
    api_url,
    tag_annotation,
    tagged_storage_class,
)
from airflow_platform.config.model import Platform, Tier
from airflow_platform.helm.values import SERVICE_ACCOUNTS
from airflow_platform.plan.mocks import _RANDOM_PASSWORD, _load_balancer_status, _random_material
from airflow_platform.plan.project import StackConfig
from airflow_platform.plan.runner import run_function
from airflow_platform.tagging import stack_tags
from airflow_platform.task_pool import task_node_pool
from tests.conftest import REGION, Declared, settings_for
from tests.test_plan import _project_copy, plan

EKS_STACKS = ["staging", "prod"]
RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("eks-plans")
    docs = {}
    for stack in EKS_STACKS:
        done = plan(stack, "--json", str(out / f"{stack}.json"))
        assert done.returncode == 0, done.stderr
        docs[stack] = json.loads((out / f"{stack}.json").read_text())
    return docs


def _states(doc: dict, token: str) -> list[dict]:
    return [s["newState"] for s in doc["steps"] if s["newState"]["type"] == token]


def _named(doc: dict, name: str, token: str | None = None) -> dict:
    [state] = [
        s["newState"]
        for s in doc["steps"]
        if s["urn"].endswith(f"::{name}") and token in (None, s["newState"]["type"])
    ]
    return state


@pytest.mark.parametrize("stack", EKS_STACKS)
def test_every_airflow_service_account_has_a_role_trusted_by_it_alone(plans, stack):
    doc = plans[stack]
    cluster = _named(doc, "eks-cluster")["inputs"]
    associations = _states(doc, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert {a["inputs"]["serviceAccount"] for a in associations} == set(GRANTS)
    assert set(SERVICE_ACCOUNTS.values()) | {METADATA_USER_SERVICE_ACCOUNT} == set(GRANTS)
    for association in associations:
        service_account = association["inputs"]["serviceAccount"]
        assert association["inputs"]["namespace"] == "airflow"
        role = _named(doc, f"airflow-pods-{service_account}")
        assert association["inputs"]["roleArn"].endswith(f":role/{role['inputs']['name']}")
        [trust] = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"]
        assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
        tags = trust["Condition"]["StringEquals"]
        assert tags["aws:RequestTag/kubernetes-service-account"] == service_account
        assert tags["aws:RequestTag/kubernetes-namespace"] == "airflow"
        assert tags["aws:RequestTag/eks-cluster-arn"].endswith(f":cluster/airflow-{stack}")
    assert cluster["name"] == f"airflow-{stack}"


@pytest.mark.parametrize("stack", EKS_STACKS)
def test_pod_policies_name_actions_and_exact_prefixes(plans, stack):
    doc = plans[stack]
    outputs = doc["outputs"]
    for service_account, grants in GRANTS.items():
        policy = json.loads(
            _named(doc, f"airflow-pods-{service_account}-policy")["inputs"]["policy"]
        )
        for entry in policy["Statement"]:
            actions = [entry["Action"]] if isinstance(entry["Action"], str) else entry["Action"]
            assert all("*" not in action for action in actions), (service_account, entry)
            resources = (
                entry["Resource"] if isinstance(entry["Resource"], list) else [entry["Resource"]]
            )
            if "*" in resources:
                assert actions == ["cloudwatch:PutMetricData"], entry
                assert entry["Condition"] == {
                    "StringEquals": {"cloudwatch:namespace": "AirflowPlatform/Backups"}
                }
        by_sid = {entry["Sid"]: entry for entry in policy["Statement"]}
        if "read-dags" in grants:
            assert by_sid["ReadDagObjects"]["Resource"] == (
                f"arn:aws:s3:::{outputs['dagBucket']}/dags/*"
            )
        if "write-task-logs" in grants:
            assert by_sid["TaskLogObjects"]["Resource"] == (
                f"arn:aws:s3:::{outputs['logArchiveBucket']}/task-logs/*"
            )
        if "read-master-secret" in grants:
            assert by_sid["ReadMasterSecret"]["Resource"] == outputs["databaseSecretArn"]
        # Nothing reads the master secret but the login job.
        assert ("ReadMasterSecret" in by_sid) is (service_account == METADATA_USER_SERVICE_ACCOUNT)


@pytest.mark.parametrize("stack", EKS_STACKS)
def test_secrets_are_generated_once_and_never_in_the_values_or_the_plan(plans, stack):
    doc = plans[stack]
    text = json.dumps(doc)
    # What the mocks generate for the stack's passwords: none of it may show anywhere.
    for name, length in (
        ("airflow-app-db-password", 40),
        ("airflow-api-secret-key", 48),
        ("airflow-jwt-secret", 48),
    ):
        material = _random_material(_RANDOM_PASSWORD, name, {"length": length})["result"]
        assert material not in text, f"{name} leaked into the plan"
    for secret in _states(doc, "kubernetes:core/v1:Secret"):
        assert secret["inputs"]["stringData"] == "[secret]", secret["urn"]
    [release] = _states(doc, RELEASE)
    values = release["inputs"]["values"]
    assert values["fernetKeySecretName"] == "airflow-fernet-key"
    assert values["data"] == {"metadataSecretName": "airflow-metadata"}
    assert "postgresql://" not in json.dumps(values)


@pytest.mark.parametrize("stack", EKS_STACKS)
def test_the_login_job_runs_the_image_by_digest_before_the_release(plans, stack):
    doc = plans[stack]
    job = _named(doc, "airflow-metadata-user", "kubernetes:batch/v1:Job")
    [release] = _states(doc, RELEASE)
    images = release["inputs"]["values"]["images"]["airflow"]
    pod = job["inputs"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == f"{images['repository']}@{images['digest']}"
    assert container["command"] == ["python", "-m", "platform_ops.metadata_user"]
    env = {item["name"]: item for item in container["env"]}
    assert env["METADATA_MASTER_SECRET_ARN"]["value"] == doc["outputs"]["databaseSecretArn"]
    assert env["METADATA_APP_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == (
        "airflow-metadata-user"
    )
    assert env["AWS_REGION"]["value"] == REGION
    assert pod["serviceAccountName"] == METADATA_USER_SERVICE_ACCOUNT
    waits_for = release["dependencies"]
    for name in ("airflow-metadata-user", "airflow-namespace", "airflow-task-node-pool"):
        assert any(urn.endswith(f"::{name}") for urn in waits_for), name
    assert any("::dag-bundle-dags/" in urn for urn in waits_for), "the release waits for DAGs"


def test_task_pods_run_on_spot_only_outside_prod(plans):
    def capacity(stack: str) -> list[str]:
        [pool] = _states(plans[stack], "kubernetes:karpenter.sh/v1:NodePool")
        [requirement] = [
            r
            for r in pool["inputs"]["spec"]["template"]["spec"]["requirements"]
            if r["key"] == "karpenter.sh/capacity-type"
        ]
        return sorted(requirement["values"])

    assert capacity("prod") == ["on-demand"]
    assert capacity("staging") == ["on-demand", "spot"]


@pytest.mark.parametrize("stack", EKS_STACKS)
def test_the_database_admits_the_pods_security_group_on_eks(plans, stack):
    doc = plans[stack]
    rule = _named(doc, "database-ingress-from-runtime")
    assert rule["inputs"]["referencedSecurityGroupId"] == doc["outputs"]["eksSecurityGroupId"]


def _diff_after(tmp_path, change) -> dict[str, str]:
    copy = _project_copy(tmp_path)
    base = tmp_path / "base.json"
    assert plan("staging", "--json", str(base), cwd=copy).returncode == 0
    change(copy)
    done = plan("staging", "--json", "-", "--diff", str(base), cwd=copy)
    assert done.returncode == 0, done.stderr
    return {
        s["urn"].rsplit("::", 1)[1]: s["op"]
        for s in json.loads(done.stdout)["steps"]
        if s["op"] != "same"
    }


@pytest.mark.slow
def test_a_dag_edit_changes_no_eks_resource(tmp_path):
    def edit(copy):
        path = copy / "dags" / "dependency_target.py"
        path.write_text(path.read_text() + "\n# an edit\n")

    assert _diff_after(tmp_path, edit) == {"dag-bundle-dags/dependency_target.py": "update"}


@pytest.mark.slow
def test_a_requirements_change_rebuilds_the_image_and_rolls_the_release_only(tmp_path):
    def edit(copy):
        path = copy / "dags" / "requirements.txt"
        path.write_text(path.read_text() + "\n# a requirements change\n")

    changed = _diff_after(tmp_path, edit)
    # The login job runs the image too, so its (immutable) pod template follows the digest.
    assert changed == {
        "image-image": "update",
        "airflow-release": "update",
        "airflow-metadata-user": "replace",
    }


@pytest.mark.parametrize("stack", EKS_STACKS)
def test_task_pods_select_and_tolerate_exactly_the_task_node_pool(plans, stack):
    doc = plans[stack]
    [pool] = _states(doc, "kubernetes:karpenter.sh/v1:NodePool")
    [release] = _states(doc, RELEASE)
    workers = release["inputs"]["values"]["workers"]
    template = pool["inputs"]["spec"]["template"]
    # The pool's label is what task pods select; its taint is what they (alone) tolerate.
    assert workers["nodeSelector"] == template["metadata"]["labels"]
    [taint] = template["spec"]["taints"]
    [toleration] = workers["tolerations"]
    assert {k: toleration[k] for k in ("key", "value", "effect")} == taint
    assert toleration["operator"] == "Equal"
    assert workers["podAnnotations"] == {"karpenter.sh/do-not-disrupt": "true"}
    # No other component tolerates the taint: only task pods land on the pool.
    values = release["inputs"]["values"]
    others = [name for name, part in values.items() if name != "workers" and "tolerations" in
              (part if isinstance(part, dict) else {})]  # fmt: skip
    assert others == []


# --- the API server's in-VPC endpoint (the component alone, under the mocks) ----------------

SERVICE = "kubernetes:core/v1:Service"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
VPC_ID = "vpc-0123456789abcdef0"
CLUSTER_SG = "sg-0c1u5te7000000001"
LB = "service.beta.kubernetes.io/aws-load-balancer-"


def _component(stack: str = "staging", endpoint: bool = True, **overrides):
    """AirflowOnEks of a staging-tier stack with fixed inputs, exporting its endpoint."""

    def build():
        settings = settings_for(Tier.STAGING)
        buckets = {"dags": "airflow-dags", "logs": "airflow-logs", "backups": "airflow-backups"}
        args = {
            "stack": stack,
            "tier": Tier.STAGING,
            "aws": AwsContext.current(REGION),
            "cluster_name": f"airflow-{stack}",
            "cluster_arn": f"arn:aws:eks:{REGION}:123456789012:cluster/airflow-{stack}",
            "settings": production_settings(
                Tier.STAGING,
                SettingsInputs(
                    stack=stack,
                    platform=Platform.EKS,
                    environment_name=environment_name(stack),
                    backup_bucket=buckets["backups"],
                    log_archive_bucket=buckets["logs"],
                    dag_bucket=buckets["dags"],
                ),
            ),
            "image_repository": f"123456789012.dkr.ecr.{REGION}.amazonaws.com/airflow",
            "image_tag": "3.3.1-0123abcd",
            "image_digest": "sha256:" + "0" * 64,
            "database_address": f"airflow-{stack}.abc.{REGION}.rds.amazonaws.com",
            "database_port": 5432,
            "database_name": "airflow",
            "master_secret_arn": f"arn:aws:secretsmanager:{REGION}:123456789012:secret:rds-x",
            "dag_bucket_arn": f"arn:aws:s3:::{buckets['dags']}",
            "log_archive_bucket_arn": f"arn:aws:s3:::{buckets['logs']}",
            "backup_bucket_arn": f"arn:aws:s3:::{buckets['backups']}",
            "task_node_pool": task_node_pool(["spot", "on-demand"]),
            "tags": stack_tags(settings),
        }
        if endpoint:
            args |= {"vpc_id": VPC_ID, "cluster_security_group_id": CLUSTER_SG}
        airflow = AirflowOnEks("airflow", AirflowOnEksArgs(**(args | overrides)))
        pulumi.export("apiUrl", airflow.api_url)
        pulumi.export("apiSecurityGroupId", airflow.api_security_group_id)
        pulumi.export("tags", args["tags"])

    return build


@pytest.fixture(scope="module")
def endpoint():
    config = StackConfig(values={"aws:region": REGION}, secret_keys=[])
    return Declared(run_function(_component(), "airflow-platform", "staging", config))


def test_the_api_service_is_an_internal_auto_mode_nlb(endpoint):
    service = endpoint.one(SERVICE, "airflow-api").inputs
    spec = service["spec"]
    assert spec["type"] == "LoadBalancer"
    assert spec["loadBalancerClass"] == "eks.amazonaws.com/nlb"
    annotations = service["metadata"]["annotations"]
    assert annotations[f"{LB}scheme"] == "internal"
    assert annotations[f"{LB}nlb-target-type"] == "ip"
    # Pods see the NLB's address: the backend rule admits its group, not the client.
    assert annotations[f"{LB}target-group-attributes"] == "preserve_client_ip.enabled=false"
    assert annotations[f"{LB}healthcheck-path"] == "/api/v2/monitor/health"
    assert annotations[f"{LB}healthcheck-protocol"] == "HTTP"
    assert service["metadata"]["namespace"] == "airflow"
    # Never the chart's own ClusterIP Service (`<release>-api-server`).
    assert service["metadata"]["name"] == "airflow-staging-api-nlb"


def test_the_api_service_selects_the_api_server_pods_of_the_release(endpoint):
    spec = endpoint.one(SERVICE, "airflow-api").inputs["spec"]
    assert spec["selector"] == {
        "tier": "airflow",
        "component": "api-server",
        "release": "airflow-staging",
    }
    [release] = endpoint.of_type(RELEASE)
    assert release.inputs["name"] == "airflow-staging"
    (port,) = spec["ports"]
    assert (port["port"], port["targetPort"], port["protocol"]) == (8080, "api-server", "TCP")


def test_the_nlb_uses_the_dedicated_group_and_carries_the_stack_tags(endpoint):
    annotations = endpoint.one(SERVICE, "airflow-api").inputs["metadata"]["annotations"]
    group = endpoint.one(SECURITY_GROUP, "airflow-api-sg")
    assert annotations[f"{LB}security-groups"] == endpoint.run.outputs["apiSecurityGroupId"]
    assert group.inputs["vpcId"] == VPC_ID
    tags = dict(
        pair.split("=", 1) for pair in annotations[f"{LB}additional-resource-tags"].split(",")
    )
    assert tags == endpoint.run.outputs["tags"]
    assert {"project", "stack", "tier", "owner"} <= set(tags)
    assert tags["stack"] == "staging"


def test_the_api_group_admits_nothing_itself_and_reaches_only_the_pods(endpoint):
    group_id = endpoint.run.outputs["apiSecurityGroupId"]
    assert not [r for r in endpoint.of_type(INGRESS) if r.inputs["securityGroupId"] == group_id]
    (egress,) = [r for r in endpoint.of_type(EGRESS) if r.inputs["securityGroupId"] == group_id]
    assert egress.inputs["referencedSecurityGroupId"] == CLUSTER_SG
    assert (egress.inputs["ipProtocol"], egress.inputs["fromPort"], egress.inputs["toPort"]) == (
        "tcp",
        8080,
        8080,
    )
    # The backend path: the cluster security group (on every pod) admits the NLB's group.
    (backend,) = [r for r in endpoint.of_type(INGRESS) if r.inputs["securityGroupId"] == CLUSTER_SG]
    assert backend.inputs["referencedSecurityGroupId"] == group_id
    assert (backend.inputs["fromPort"], backend.inputs["toPort"]) == (8080, 8080)
    assert backend.urn in endpoint.one(SERVICE, "airflow-api").dependencies


def test_the_service_waits_for_the_release(endpoint):
    service = endpoint.one(SERVICE, "airflow-api")
    [release] = endpoint.of_type(RELEASE)
    assert release.urn in service.dependencies, "its await needs ready API server pods"


def test_api_url_is_the_nlb_hostname_on_the_api_port(endpoint):
    service = endpoint.one(SERVICE, "airflow-api")
    status = _load_balancer_status(service.inputs, REGION)["status"]
    hostname = status["loadBalancer"]["ingress"][0]["hostname"]
    assert endpoint.run.outputs["apiUrl"] == f"http://{hostname}:8080"
    assert re.fullmatch(
        rf"http://[a-z0-9-]+\.elb\.{REGION}\.amazonaws\.com:8080", f"http://{hostname}:8080"
    )


def test_without_a_vpc_there_is_no_endpoint(declare):
    declared = declare(_component(endpoint=False), "staging")
    assert declared.of_type(SERVICE) == []
    assert declared.of_type(SECURITY_GROUP) == []
    assert declared.run.outputs.get("apiUrl") is None


def test_half_an_endpoint_is_refused(declare):
    with pytest.raises(ValueError, match="needs both vpc_id and cluster_security_group_id"):
        declare(_component(endpoint=False, vpc_id=VPC_ID), "staging")


def test_api_url_refuses_a_status_without_a_hostname():
    with pytest.raises(ValueError, match="no load balancer hostname"):
        api_url({"loadBalancer": {"ingress": []}})
    assert api_url({"loadBalancer": {"ingress": [{"hostname": "x.elb"}]}}) == "http://x.elb:8080"


@pytest.mark.parametrize("tags", [{"team": "a,b"}, {"team": "a=b"}, {"a=b": "c"}])
def test_tags_that_cannot_be_a_load_balancer_annotation_are_refused(tags):
    with pytest.raises(ValueError, match="cannot hold"):
        tag_annotation(tags)


# --- what Auto Mode creates at run time carries the stack's tags ---------------------------

NODE_CLASS = "kubernetes:eks.amazonaws.com/v1:NodeClass"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"


def _stack_tags_of(doc: dict) -> dict[str, str]:
    """The stack's tags as the plan states them: the cluster's, without its Name."""
    tags = dict(_named(doc, "eks-cluster", "aws:eks/cluster:Cluster")["inputs"]["tags"])
    tags.pop("Name")
    return tags


@pytest.mark.parametrize("stack", EKS_STACKS)
def test_task_nodes_come_from_the_platforms_node_class_with_the_stack_tags(plans, stack):
    doc = plans[stack]
    [node_class] = _states(doc, NODE_CLASS)
    [pool] = _states(doc, NODE_POOL)
    spec = node_class["inputs"]["spec"]
    assert spec["tags"] == _stack_tags_of(doc)
    # The cluster's node role (its access entry exists), its cluster group, its private subnets.
    node_role = _named(doc, "eks-node-role", "aws:iam/role:Role")
    assert spec["role"] == node_role["inputs"]["name"]
    assert spec["securityGroupSelectorTerms"] == [
        {"tags": {"aws:eks:cluster-name": f"airflow-{stack}"}}
    ]
    [term] = spec["subnetSelectorTerms"]
    private = [
        s["inputs"]["tags"]
        for s in _states(doc, "aws:ec2/subnet:Subnet")
        if s["inputs"]["tags"].get("subnet-role") == "private"
    ]
    public = [
        s["inputs"]["tags"]
        for s in _states(doc, "aws:ec2/subnet:Subnet")
        if s["inputs"]["tags"].get("subnet-role") == "public"
    ]
    assert private
    assert all(term["tags"].items() <= tags.items() for tags in private)
    assert not any(term["tags"].items() <= tags.items() for tags in public)
    # The pool names it and is created after it (deleted before it).
    assert (
        pool["inputs"]["spec"]["template"]["spec"]["nodeClassRef"]["name"]
        == (node_class["inputs"]["metadata"]["name"])
    )
    assert node_class["urn"] in pool["dependencies"]


@pytest.mark.parametrize("stack", EKS_STACKS)
def test_the_default_storage_class_tags_every_volume_with_the_stack_tags(plans, stack):
    doc = plans[stack]
    [storage] = _states(doc, STORAGE_CLASS)
    inputs = storage["inputs"]
    assert inputs["provisioner"] == "ebs.csi.eks.amazonaws.com"
    assert inputs["metadata"]["annotations"] == {
        "storageclass.kubernetes.io/is-default-class": "true"
    }
    assert inputs["reclaimPolicy"] == "Delete"
    assert inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    parameters = dict(inputs["parameters"])
    assert (parameters.pop("type"), parameters.pop("encrypted")) == ("gp3", "true")
    assert all(re.fullmatch(r"tagSpecification_\d+", key) for key in parameters), parameters
    tags = dict(value.split("=", 1) for value in parameters.values())
    assert tags == _stack_tags_of(doc)


def test_a_tag_that_cannot_be_a_volume_tag_is_refused():
    with pytest.raises(ValueError, match="cannot hold '='"):
        tagged_storage_class({"team": "a=b"})
