"""MwaaEnvironment and DagBundle in the program (mwaa stacks of every tier), the execution
role's policy, and what a DAG, requirements or plugins change does to the plan."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from airflow_platform.airflow_settings import (
    MWAA_MANAGED,
    SIZING,
    SettingsInputs,
    mwaa_options,
    production_settings,
)
from airflow_platform.bundle import bundle_files
from airflow_platform.components.mwaa import LOG_TYPES, log_group_name
from airflow_platform.config import ConfigError, Platform, Tier
from airflow_platform.config.tiers import TIER_DEFAULTS
from airflow_platform.plan.mocks import _bucket_object
from airflow_platform.plan.project import Project, StackConfig
from airflow_platform.plan.runner import run_program
from airflow_platform.versions import versions
from tests.conftest import EXAMPLE_SLACK, REGION, ROOT, TIER_STACKS, settings_for
from tests.test_plan import _project_copy, plan

ENVIRONMENT = "aws:mwaa/environment:Environment"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
# Actions AWS offers no resource scope for: the only ones allowed a "*" resource.
UNSCOPABLE = {
    "logs:DescribeLogGroups",
    "s3:GetAccountPublicAccessBlock",
    "cloudwatch:PutMetricData",
}


def _run(tier: Tier, **config):
    values = {"aws:region": REGION, "airflow-platform:platform": "mwaa"}
    values |= {f"airflow-platform:{k}": v for k, v in config.items()}
    if tier is not Tier.EPHEMERAL:
        values["airflow-platform:tier"] = tier.value
    if tier in {Tier.STAGING, Tier.PROD}:
        values.setdefault("airflow-platform:monitoring", {"slack": EXAMPLE_SLACK})
    return run_program(Project.load(ROOT), TIER_STACKS[tier], StackConfig(values, []))


@pytest.fixture(scope="module")
def runs():
    return {tier: _run(tier) for tier in Tier}


def _one(run, token, name=None):
    found = [r for r in run.resources if r.type == token and (name is None or r.name == name)]
    assert len(found) == 1, f"{token} {name}: {len(found)} found"
    return found[0]


@pytest.mark.parametrize("tier", list(Tier))
def test_environment_takes_its_size_from_the_tier(runs, tier):
    inputs = _one(runs[tier], ENVIRONMENT).inputs
    expected = TIER_DEFAULTS[tier]["mwaa"]
    assert inputs["environmentClass"] == expected["environmentClass"]
    assert inputs["minWorkers"] == expected["minWorkers"]
    assert inputs["maxWorkers"] == expected["maxWorkers"]
    assert inputs["schedulers"] == expected["schedulers"]
    assert inputs["airflowVersion"] == versions().airflow
    assert inputs["name"] == f"airflow-{TIER_STACKS[tier]}"


@pytest.mark.parametrize("tier", list(Tier))
def test_environment_has_all_five_log_types_on_with_the_tier_levels(runs, tier):
    run = runs[tier]
    logging = _one(run, ENVIRONMENT).inputs["loggingConfiguration"]
    expected = TIER_DEFAULTS[tier]["mwaa"]
    assert set(logging) == {"dagProcessingLogs", "schedulerLogs", "taskLogs", "webserverLogs",
                            "workerLogs"}  # fmt: skip
    for log_type, setting in logging.items():
        assert setting["enabled"] is True, log_type
        level = expected["taskLogLevel"] if log_type == "taskLogs" else expected["logLevel"]
        assert setting["logLevel"] == level, log_type
    groups = {g.inputs["name"]: g.inputs for g in run.resources if g.type == LOG_GROUP}
    environment = f"airflow-{TIER_STACKS[tier]}"
    for log_type in LOG_TYPES:
        group = groups[log_group_name(environment, log_type)]
        assert group["retentionInDays"] == expected["logRetentionDays"]
        assert ("kmsKeyId" in group) is (tier is Tier.PROD)


@pytest.mark.parametrize("tier", [Tier.STAGING, Tier.PROD])
def test_webserver_is_private_in_staging_and_prod_and_cannot_be_made_public(runs, tier):
    assert _one(runs[tier], ENVIRONMENT).inputs["webserverAccessMode"] == "PRIVATE_ONLY"
    with pytest.raises(ConfigError, match="webserverAccess = PUBLIC_ONLY is not allowed"):
        settings_for(tier, platform="mwaa", mwaa={"webserverAccess": "PUBLIC_ONLY"})


@pytest.mark.parametrize(
    ("mwaa", "complaint"),
    [
        ({"minWorkers": 3, "maxWorkers": 2}, "maxWorkers .2. must be at least minWorkers"),
        ({"environmentClass": "mw1.micro", "schedulers": 2}, "mw1.micro runs exactly 1"),
        ({"maintenanceWindowStart": "SUN:03:15"}, "on :00 or :30"),
        ({"airflowOptions": {"Core.Parallelism": "8"}}, "not a section.key name"),
    ],
)
def test_invalid_mwaa_settings_are_refused_with_the_reason(mwaa, complaint):
    with pytest.raises(ConfigError, match=complaint):
        settings_for(Tier.DEV, mwaa=mwaa)


def test_environment_runs_on_two_private_subnets_in_its_own_and_the_runtime_group(runs):
    run = runs[Tier.PROD]
    network = _one(run, ENVIRONMENT).inputs["networkConfiguration"]
    private = [r for r in run.resources if r.name.startswith("network-private-")
               and r.type == "aws:ec2/subnet:Subnet"]  # fmt: skip
    assert len(network["subnetIds"]) == 2
    assert len(private) == 3, "prod spans three AZs; MWAA takes two of them"
    assert len(network["securityGroupIds"]) == 2
    self_rule = _one(run, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                     "mwaa-sg-self").inputs  # fmt: skip
    assert self_rule["referencedSecurityGroupId"] == self_rule["securityGroupId"]
    assert "cidrIpv4" not in self_rule


def _policy(run) -> list[dict]:
    return json.loads(_one(run, ROLE_POLICY, "mwaa-execution-policy").inputs["policy"])["Statement"]


@pytest.mark.parametrize("tier", list(Tier))
def test_execution_role_has_no_wildcard_action_and_star_only_where_aws_allows_no_scope(runs, tier):
    for entry in _policy(runs[tier]):
        actions = entry["Action"] if isinstance(entry["Action"], list) else [entry["Action"]]
        assert all("*" not in action for action in actions), entry["Sid"]
        resources = entry.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        if "*" in resources:
            assert set(actions) <= UNSCOPABLE, entry["Sid"]


def test_execution_role_is_scoped_to_this_environment(runs):
    run = runs[Tier.PROD]
    by_sid = {entry["Sid"]: entry for entry in _policy(run)}
    stack = TIER_STACKS[Tier.PROD]
    dag_bucket = _one(run, "aws:s3/bucket:Bucket", "storage-dags").inputs["bucket"]
    assert by_sid["ReadDagBucket"]["Resource"] == [
        f"arn:aws:s3:::{dag_bucket}",
        f"arn:aws:s3:::{dag_bucket}/*",
    ]
    assert not any(a.startswith("s3:Put") for a in by_sid["ReadDagBucket"]["Action"])
    assert by_sid["WriteOwnLogs"]["Resource"] == (
        f"arn:aws:logs:{REGION}:123456789012:log-group:airflow-airflow-{stack}-*"
    )
    assert by_sid["ReadOwnSecrets"]["Resource"] == (
        f"arn:aws:secretsmanager:{REGION}:123456789012:secret:airflow/{stack}/*"
    )
    assert by_sid["CeleryQueues"]["Resource"] == f"arn:aws:sqs:{REGION}:*:airflow-celery-*"
    assert by_sid["UseProjectKeyThroughServices"]["Resource"].startswith(
        f"arn:aws:kms:{REGION}:123456789012:key/"
    )
    assert by_sid["PutOwnMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": ["AmazonMWAA", "AirflowPlatform/Backups"]}
    }
    assert by_sid["RemoveBackupStaging"]["Resource"].endswith("/metadata-db/*.partial")
    environment_arn = f"arn:aws:airflow:{REGION}:123456789012:environment/airflow-{stack}"
    assert by_sid["RunOwnCliCommands"] == {
        "Sid": "RunOwnCliCommands",
        "Effect": "Allow",
        "Action": "airflow:CreateCliToken",
        "Resource": environment_arn,
    }
    log_bucket = _one(run, "aws:s3/bucket:Bucket", "storage-logs").inputs["bucket"]
    assert by_sid["ArchiveLocalLogs"]["Resource"] == f"arn:aws:s3:::{log_bucket}/airflow-logs/*"
    assert "s3:DeleteObject" not in by_sid["ArchiveLocalLogs"]["Action"]


def test_bundle_ships_each_dag_file_as_its_own_object_with_its_hash(runs):
    run = runs[Tier.DEV]
    objects = {o.inputs["key"]: o.inputs for o in run.resources if o.type == OBJECT}
    expected = {f.key: f for f in bundle_files(ROOT / "dags")}
    assert {k for k in objects if k.startswith("dags/")} == set(expected)
    assert not any(k.startswith("dags/platform_ops/") for k in objects), ".airflowignore"
    for key, file in expected.items():
        assert objects[key]["sourceHash"] == file.sha256
        assert objects[key]["metadata"] == {"sha256": file.sha256}
        # Relative to the project, as the program reads them, so the state is the same on
        # every machine; the dbt project is `dags/`'s sibling in the repository.
        source = file.path if file.path.startswith("dbt/") else f"dags/{file.path}"
        assert objects[key]["source"] == {"asset": {"path": source}}


def test_environment_reads_requirements_plugins_and_startup_at_their_stored_versions(runs):
    run = runs[Tier.DEV]
    inputs = _one(run, ENVIRONMENT).inputs
    objects = {o.inputs["key"]: o.inputs for o in run.resources if o.type == OBJECT}
    for path, version in [
        ("requirementsS3Path", "requirementsS3ObjectVersion"),
        ("pluginsS3Path", "pluginsS3ObjectVersion"),
        ("startupScriptS3Path", "startupScriptS3ObjectVersion"),
    ]:
        stored = objects[inputs[path]]
        assert inputs[version] == _bucket_object(stored)["versionId"], path
    assert inputs["dagS3Path"] == "dags"


def test_production_settings_reach_mwaa_without_the_options_mwaa_manages():
    settings = production_settings(
        Tier.PROD,
        SettingsInputs("prod", Platform.MWAA, "airflow-prod", "backups-bucket", "logs-bucket"),
    )
    options = mwaa_options(settings, {"core.default_timezone": "Europe/Paris"})
    assert options["dag_processor.refresh_interval"] == str(
        SIZING[Tier.PROD].refresh_interval_seconds
    )
    assert options["core.parallelism"] == str(SIZING[Tier.PROD].parallelism)
    assert options["secrets.backend"].endswith("SecretsManagerBackend")
    assert json.loads(options["secrets.backend_kwargs"])["connections_prefix"] == (
        "airflow/prod/connections"
    )
    assert options["platform.backup_bucket"] == "backups-bucket"
    assert options["core.default_timezone"] == "Europe/Paris"
    assert not {f"{s}.{k}" for s, k in MWAA_MANAGED} & set(options)
    with pytest.raises(ValueError, match=r"MWAA manages core\.executor"):
        mwaa_options(settings, {"core.executor": "LocalExecutor"})


# What a change does to the plan: --diff against the plan before the change.


def _diff_after(tmp_path: Path, change) -> list[tuple[str, str, list[str]]]:
    copy = _project_copy(tmp_path)
    base = tmp_path / "base.json"
    assert plan("dev", "--json", str(base), cwd=copy).returncode == 0
    change(copy)
    done = plan("dev", "--json", "-", "--diff", str(base), cwd=copy)
    assert done.returncode == 0, done.stderr
    steps = json.loads(done.stdout)["steps"]
    return sorted(
        (s["op"], s["urn"].rsplit("::", 1)[1], s.get("diffs", [])) for s in steps
        if s["op"] != "same"
    )  # fmt: skip


@pytest.mark.slow
def test_a_dag_change_updates_only_its_object_and_not_the_environment(tmp_path):
    def edit(copy: Path) -> None:
        dag = copy / "dags" / "metadata_backup.py"
        dag.write_text(dag.read_text().replace("30 3 * * *", "45 3 * * *"))

    assert _diff_after(tmp_path, edit) == [
        ("update", "dag-bundle-dags/metadata_backup.py", ["metadata", "sourceHash"])
    ]


@pytest.mark.slow
def test_added_and_removed_dag_files_are_created_and_deleted(tmp_path):
    def edit(copy: Path) -> None:
        (copy / "dags" / "extra_dag.py").write_text("# a new DAG file\n")
        shutil.move(copy / "dags" / "metadata_backup.py", tmp_path / "moved.py")

    assert _diff_after(tmp_path, edit) == [
        ("create", "dag-bundle-dags/extra_dag.py", []),
        ("delete", "dag-bundle-dags/metadata_backup.py", []),
    ]


@pytest.mark.slow
def test_a_requirements_change_updates_its_object_and_the_environment(tmp_path):
    def edit(copy: Path) -> None:
        with (copy / "dags" / "requirements.txt").open("a") as requirements:
            requirements.write("apache-airflow-providers-http\n")

    changed = _diff_after(tmp_path, edit)
    assert changed == [
        ("update", "dag-bundle-requirements.txt", ["contentBase64", "metadata"]),
        ("update", "mwaa-environment", ["requirementsS3ObjectVersion"]),
    ]


@pytest.mark.slow
def test_a_logic_change_ships_in_plugins_zip_and_updates_the_environment(tmp_path):
    def edit(copy: Path) -> None:
        module = copy / "dags" / "platform_ops" / "alerts.py"
        module.write_text(module.read_text() + "\n# changed\n")

    assert _diff_after(tmp_path, edit) == [
        ("update", "dag-bundle-plugins.zip", ["contentBase64", "metadata"]),
        ("update", "mwaa-environment", ["pluginsS3ObjectVersion"]),
    ]


def _depends_on(resource, name: str) -> bool:
    return any(urn.endswith(f"::{name}") for urn in resource.dependencies)


@pytest.mark.parametrize("tier", list(Tier))
def test_versioned_bundle_objects_wait_for_the_buckets_versioning_and_public_access_block(
    runs, tier
):
    # An object written before versioning is on has no version id, and CreateEnvironment
    # requires one for each of these three.
    run = runs[tier]
    for name in ("requirements.txt", "plugins.zip", "startup.sh"):
        stored = _one(run, OBJECT, f"dag-bundle-{name}")
        assert _depends_on(stored, "storage-dags-versioning"), stored.urn
        assert _depends_on(stored, "storage-dags-public-access"), stored.urn
    for stored in (r for r in run.resources if r.type == OBJECT):
        assert _depends_on(stored, "storage-dags-versioning"), stored.urn


@pytest.mark.parametrize("tier", list(Tier))
def test_environment_waits_for_its_role_policy_and_the_buckets_public_access_block(runs, tier):
    environment = _one(runs[tier], ENVIRONMENT)
    # MWAA validates the role's permissions and the bucket's block when it creates the
    # environment; the role's ARN alone would let it start before the policy exists.
    assert _depends_on(environment, "mwaa-execution-policy"), environment.urn
    assert _depends_on(environment, "storage-dags-public-access"), environment.urn
    assert _depends_on(environment, "storage-dags-versioning"), environment.urn


@pytest.mark.parametrize("tier", list(Tier))
def test_execution_role_trusts_mwaa_for_this_environment_only(runs, tier):
    role = _one(runs[tier], "aws:iam/role:Role", "mwaa-execution-role")
    [trust] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    environment = f"arn:aws:airflow:{REGION}:123456789012:environment/airflow-{TIER_STACKS[tier]}"
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": environment},
    }
    outputs = runs[tier].outputs
    assert outputs["mwaaEnvironmentArn"] == environment, "the ARN the trust names is the real one"


def test_project_key_is_usable_through_secrets_manager_for_the_stacks_own_secrets(runs):
    by_sid = {entry["Sid"]: entry for entry in _policy(runs[Tier.PROD])}
    via = by_sid["UseProjectKeyThroughServices"]["Condition"]["StringLike"]["kms:ViaService"]
    assert f"secretsmanager.{REGION}.amazonaws.com" in via
    secret = _one(runs[Tier.PROD], "aws:secretsmanager/secret:Secret", "airflow-variables-mode")
    assert secret.inputs["kmsKeyId"] == runs[Tier.PROD].outputs["kmsKeyArn"]
