"""Airflow on EKS in the staging and prod plans: pod roles scoped to exactly one service
account and to exact prefixes, secrets generated once and never in the chart's values, the
metadata login job, the release's ordering, and what a DAG or requirements change touches."""

from __future__ import annotations

import json

import pytest

from airflow_platform.components.airflow_eks import GRANTS, METADATA_USER_SERVICE_ACCOUNT
from airflow_platform.helm.values import SERVICE_ACCOUNTS
from airflow_platform.plan.mocks import _RANDOM_PASSWORD, _random_material
from tests.conftest import REGION
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
