"""The official Airflow Helm chart's values for eks stacks: every tier's document fits the
model of the chart's schema, sets what production needs (KubernetesExecutor, the image by
digest, RDS through PgBouncer, resources and probes on every component, HA in prod, fixed
service-account names) and holds secrets by name only."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from airflow_platform.airflow_settings import (
    METADATA_SECRET_NAME,
    SettingsInputs,
    environment_name,
    production_settings,
)
from airflow_platform.config import Platform, Tier
from airflow_platform.helm import (
    CHART_NAME,
    CHART_REPOSITORY,
    SERVICE_ACCOUNTS,
    ChartInputs,
    ChartValuesError,
    chart_values,
    chart_values_output,
    chart_version,
    pgbouncer_target,
    validate_values,
)
from airflow_platform.helm.schema import UNKNOWN_AT_PLAN_TIME
from airflow_platform.helm.values import CHART_FIXED_PROBES, NO_PROBES, RESOURCES
from airflow_platform.versions import parse_versions, versions
from tests.conftest import ROOT

DIGEST = "sha256:" + "0123456789abcdef" * 4
REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/airflow"
# What the Kubernetes secrets would hold: none of it may reach the values.
FAKE_SECRET_MATERIAL = {
    "connection": "postgresql://airflow:Sup3r-S3cret-Pw@airflow-prod-pgbouncer.airflow:6543/x",
    "fernet-key": "q5nJbN3vW2Yk8Zc9Hf1Lm4Rt7Ux0Ae6Sd2Gi5Po8Kw=",
    "api-secret-key": "4f1d2c3b4a59687766554433221100ff",
    "jwt-secret": "jwt-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0",
    "password": "Adm1n-Pa55w0rd!",
}
# Chart components the platform runs and the values key each is configured under.
COMPONENTS = (
    "scheduler",
    "apiServer",
    "dagProcessor",
    "triggerer",
    "statsd",
    "pgbouncer",
    "migrateDatabaseJob",
    "createUserJob",
    "databaseCleanup",
    "workers",
)
RUNNING_COMPONENTS = ("scheduler", "apiServer", "dagProcessor", "triggerer", "statsd", "pgbouncer")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


def inputs_for(tier: Tier, **overrides: Any) -> ChartInputs:
    stack = {Tier.DEV: "dev", Tier.STAGING: "staging", Tier.PROD: "prod"}.get(tier, "pr-7")
    fields: dict[str, Any] = {
        "image_repository": REPOSITORY,
        "image_tag": "3.3.1-abc1234",
        "image_digest": DIGEST,
        "namespace": "airflow",
        "release_name": environment_name(stack),
    }
    return ChartInputs(**{**fields, **overrides})


def settings_for(tier: Tier) -> dict:
    inputs = SettingsInputs(
        "prod", Platform.EKS, "airflow-prod", "backups", "log-archive", "dags"
    )  # fmt: skip
    return production_settings(tier, inputs)


def values_for(tier: Tier) -> dict[str, Any]:
    return chart_values(settings_for(tier), tier, inputs_for(tier))


@pytest.fixture(scope="module", params=list(Tier), ids=lambda tier: tier.value)
def tier_values(request: pytest.FixtureRequest) -> tuple[Tier, dict[str, Any]]:
    return request.param, values_for(request.param)


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str, str]]:
    """(path, key, string) of every string in a document, keys included."""
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, str(key), str(key)
            yield from strings(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, path.rsplit(".", 1)[-1], value


def secret_problems(document: dict[str, Any]) -> list[str]:
    problems = []
    for path, key, text in strings(document):
        for name, material in FAKE_SECRET_MATERIAL.items():
            if material in text:
                problems.append(f"{path} carries the {name} secret's value")
        if re.search(r"://[^/\s:@]+:[^/\s@]+@", text):
            problems.append(f"{path} holds a URL with credentials")
        if re.fullmatch(r"[A-Za-z0-9_-]{43}=", text):
            problems.append(f"{path} looks like a Fernet key")
        if key.lower() in {"pass", "password", "fernetkey", "apisecretkey", "jwtsecret"}:
            problems.append(f"{path} is a key that carries a secret value in the chart")
        names_a_secret = re.search(r"(Secret|SecretName|Key)$", key) and text != key
        if names_a_secret and not (DNS_SUBDOMAIN.fullmatch(text) and len(text) <= 253):
            problems.append(f"{path} should hold a secret's name, not {text!r}")
        if re.search(r'(?:^|\s)(?:-p|--password)\s+(?!"\$\{[A-Z_]+\}")', text):
            problems.append(f"{path} passes a password other than from the environment")
    return problems


# --- the chart and its schema ----------------------------------------------------------


def test_the_chart_is_pinned_in_versions_env_and_named_by_its_repository():
    text = (ROOT / "versions.env").read_text()
    assert re.search(r"^AIRFLOW_CHART_VERSION=1\.22\.0$", text, re.MULTILINE)
    assert chart_version() == versions().chart == "1.22.0"
    assert CHART_REPOSITORY == "https://airflow.apache.org"
    assert CHART_NAME == "airflow"


def test_a_versions_file_without_the_chart_is_refused_where_the_chart_is_needed(monkeypatch):
    bare = parse_versions("AIRFLOW_VERSION=3.3.1\nAIRFLOW_PYTHON_VERSION=3.12\n"
                          "POSTGRES_CLIENT_MAJOR=17\n")  # fmt: skip
    monkeypatch.setattr("airflow_platform.helm.values.versions", lambda: bare)
    with pytest.raises(ValueError, match="AIRFLOW_CHART_VERSION"):
        chart_version()


def test_every_tier_fits_the_charts_schema(tier_values):
    _, values = tier_values
    validate_values(values)  # chart_values validated it too; this names the contract


def test_a_misspelt_key_fails_naming_it_and_what_is_known_there():
    values = values_for(Tier.PROD)
    values["schduler"] = values.pop("scheduler")
    with pytest.raises(ChartValuesError) as raised:
        validate_values(values)
    message = str(raised.value)
    assert re.search(r"- schduler: not a key .*\bscheduler\b", message)
    assert "- scheduler: missing" in message


def test_a_misspelt_nested_key_fails_with_its_full_path():
    values = values_for(Tier.PROD)
    values["pgbouncer"]["metricsExporterSidecar"]["statsSecret"] = "x"
    with pytest.raises(ChartValuesError, match=r"pgbouncer\.metricsExporterSidecar\.statsSecret:"):
        validate_values(values)


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        (("scheduler", "replicas"), "two", r"scheduler\.replicas: Input should be a valid integer"),
        (("scheduler", "replicas"), "2", r"scheduler\.replicas: .*integer"),
        (("images", "airflow", "pullPolicy"), "Sometimes", r"pullPolicy: .*'IfNotPresent'"),
        (("images", "airflow", "digest"), "latest", r"images\.airflow\.digest: .*pattern"),
        (("executor",), "Kubernetes", r"executor: .*pattern"),
        (("databaseCleanup", "retentionDays"), 0, r"retentionDays: .*greater than or equal to 1"),
        (("apiServer", "resources", "limits", "memory"), "lots", r"limits\.memory: .*quantity"),
        (("config", "core", "parallelism"), None, r"config\.core\.parallelism: "),
    ],
)
def test_a_mistyped_value_fails_naming_the_key_path(path, value, complaint):
    values = values_for(Tier.PROD)
    target = values
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ChartValuesError, match=complaint):
        validate_values(values)


def test_an_output_is_allowed_where_a_string_is_and_nowhere_else(declare):
    # Outputs only inside the mock runtime: one made outside it would outlive the test.
    def build() -> None:
        values = values_for(Tier.DEV)
        values["images"]["airflow"]["repository"] = pulumi.Output.from_input(REPOSITORY)
        validate_values(values)
        values["scheduler"]["replicas"] = pulumi.Output.from_input(1)
        with pytest.raises(ChartValuesError, match=re.escape(UNKNOWN_AT_PLAN_TIME)):
            validate_values(values)
        pulumi.export("checked", True)

    assert declare(build, "dev").run.outputs["checked"] is True


def test_the_values_take_outputs_for_the_image_and_the_buckets(declare):
    def build() -> None:
        settings = production_settings(
            Tier.STAGING,
            SettingsInputs(
                "staging", Platform.EKS, "airflow-staging",
                pulumi.Output.from_input("backups"), pulumi.Output.from_input("logs"),
                pulumi.Output.from_input("dags"),
            ),
        )  # fmt: skip
        inputs = inputs_for(
            Tier.STAGING,
            image_repository=pulumi.Output.from_input(REPOSITORY),
            image_digest=pulumi.Output.from_input(DIGEST),
        )
        values = chart_values_output(settings, Tier.STAGING, inputs)
        pulumi.export("repository", values.apply(lambda v: v["images"]["airflow"]["repository"]))
        pulumi.export("digest", values.apply(lambda v: v["images"]["airflow"]["digest"]))
        pulumi.export(
            "worker",
            values.apply(
                lambda v: v["config"]["kubernetes_executor"]["worker_container_repository"]
            ),
        )
        pulumi.export("bundles", values.apply(lambda v: v["dagProcessor"]["dagBundleConfigList"]))

    outputs = declare(build, "staging").run.outputs
    assert outputs["repository"] == outputs["worker"] == REPOSITORY
    assert outputs["digest"] == DIGEST
    # The chart's own dagBundleConfigList carries the S3 bundle, so its default cannot win.
    [bundle] = outputs["bundles"]
    assert bundle["classpath"].endswith("S3DagBundle")
    assert bundle["kwargs"]["bucket_name"] == "dags"


# --- what the values set ------------------------------------------------------------------


def test_the_kubernetes_executor_runs_and_matches_the_airflow_config(tier_values):
    _, values = tier_values
    assert values["executor"] == "KubernetesExecutor"
    # The chart refuses an `executor` that differs from `config.core.executor`.
    assert values["config"]["core"]["executor"] == values["executor"]
    assert values["airflowVersion"] == versions().airflow


def test_the_settings_reach_the_config_unchanged(tier_values):
    tier, values = tier_values
    for section, settings in settings_for(tier).items():
        for key, value in settings.items():
            assert values["config"][section][key] == value, f"{section}.{key}"


def test_the_image_is_referenced_by_digest_everywhere(tier_values):
    _, values = tier_values
    airflow = values["images"]["airflow"]
    assert airflow["repository"] == REPOSITORY
    assert airflow["digest"] == DIGEST
    assert airflow["pullPolicy"] == "IfNotPresent"
    # Task pods: the executor starts `<worker_container_repository>:<worker_container_tag>`.
    executor = values["config"]["kubernetes_executor"]
    task_image = f"{executor['worker_container_repository']}:{executor['worker_container_tag']}"
    assert task_image == f"{REPOSITORY}:3.3.1-abc1234@{DIGEST}"
    template = values["images"]["pod_template"]
    assert f"{template['repository']}:{template['tag']}" == task_image


def test_the_bundled_postgresql_is_off_and_pgbouncer_fronts_rds_through_secrets(tier_values):
    _, values = tier_values
    assert values["postgresql"] == {"enabled": False}
    assert values["data"] == {"metadataSecretName": METADATA_SECRET_NAME}
    pgbouncer = values["pgbouncer"]
    assert pgbouncer["enabled"] is True
    assert pgbouncer["configSecretName"] == "airflow-pgbouncer-config"
    assert pgbouncer["metricsExporterSidecar"]["statsSecretName"] == "airflow-pgbouncer-stats"


def test_the_metadata_secret_points_at_pgbouncer_as_the_chart_names_it():
    inputs = inputs_for(Tier.PROD)
    assert pgbouncer_target(inputs) == (
        "airflow-prod-pgbouncer.airflow",
        6543,
        "airflow-prod-metadata",
    )


def test_every_airflow_component_runs(tier_values):
    _, values = tier_values
    for component in (*RUNNING_COMPONENTS, "migrateDatabaseJob"):
        assert values[component]["enabled"] is True, component


@pytest.mark.parametrize("tier", list(Tier))
def test_the_create_user_job_runs_only_where_people_try_dags_and_never_holds_a_password(tier):
    job = values_for(tier)["createUserJob"]
    assert job["enabled"] is (tier in {Tier.DEV, Tier.EPHEMERAL})
    if job["enabled"]:
        [env] = job["env"]
        assert env["valueFrom"]["secretKeyRef"] == {"name": "airflow-admin-user", "key": "password"}
        assert f'--password "${{{env["name"]}}}"' in job["args"][-1]
        assert "defaultUser" not in job
    else:
        assert "args" not in job
        assert "env" not in job


def test_prod_runs_two_schedulers_and_api_servers_behind_disruption_budgets(tier_values):
    tier, values = tier_values
    expected = 2 if tier is Tier.PROD else 1
    for component in ("scheduler", "apiServer", "pgbouncer"):
        assert values[component]["replicas"] == expected, component
        budget = values[component]["podDisruptionBudget"]
        assert budget["enabled"] is (tier is Tier.PROD), component
        # One down at a time: a budget that also set minAvailable would be refused.
        assert budget["config"] == {"maxUnavailable": 1}, component


def quantity(text: str) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for unit, factor in units.items():
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def resources_of(values: dict[str, Any], component: str) -> dict[str, Any]:
    if component == "workers":
        return values["workers"]["kubernetes"]["resources"]
    return values[component]["resources"]


def test_every_component_has_requests_and_limits(tier_values):
    tier, values = tier_values
    checked = {*COMPONENTS, "pgbouncerExporter"}
    assert checked == set(RESOURCES)
    for component in COMPONENTS:
        resources = resources_of(values, component)
        for resource in ("cpu", "memory"):
            request = quantity(resources["requests"][resource])
            limit = quantity(resources["limits"][resource])
            assert 0 < request <= limit, f"{component} {resource} in {tier.value}"
    exporter = values["pgbouncer"]["metricsExporterSidecar"]["resources"]
    assert set(exporter) == {"requests", "limits"}


def test_prod_gets_at_least_what_dev_gets():
    dev, prod = values_for(Tier.DEV), values_for(Tier.PROD)
    for component in COMPONENTS:
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                less = quantity(resources_of(dev, component)[kind][resource])
                more = quantity(resources_of(prod, component)[kind][resource])
                assert less <= more, f"{component} {kind}.{resource}"


def test_every_component_has_probes_or_says_why_the_values_cannot_set_them(tier_values):
    _, values = tier_values
    probed = {
        "scheduler": ("livenessProbe", "startupProbe"),
        "apiServer": ("livenessProbe", "readinessProbe", "startupProbe"),
        "dagProcessor": ("livenessProbe",),
        "triggerer": ("livenessProbe",),
    }
    for component, probes in probed.items():
        for probe in probes:
            assert values[component][probe]["periodSeconds"] >= 1, f"{component}.{probe}"
    exporter = values["pgbouncer"]["metricsExporterSidecar"]
    assert exporter["livenessProbe"]
    assert exporter["readinessProbe"]
    accounted = set(probed) | set(CHART_FIXED_PROBES) | set(NO_PROBES)
    assert accounted == set(COMPONENTS)
    assert all(reason.strip() for reason in (*CHART_FIXED_PROBES.values(), *NO_PROBES.values()))


def test_each_identity_runs_under_its_own_fixed_service_account(tier_values):
    _, values = tier_values
    accounts = {
        "scheduler": values["scheduler"]["serviceAccount"],
        "apiServer": values["apiServer"]["serviceAccount"],
        "dagProcessor": values["dagProcessor"]["serviceAccount"],
        "triggerer": values["triggerer"]["serviceAccount"],
        "workers": values["workers"]["kubernetes"]["serviceAccount"],
    }
    assert {name: account["name"] for name, account in accounts.items()} == SERVICE_ACCOUNTS
    assert all(account["create"] is True for account in accounts.values())
    assert len(set(SERVICE_ACCOUNTS.values())) == len(SERVICE_ACCOUNTS)
    assert all(DNS_SUBDOMAIN.fullmatch(name) for name in SERVICE_ACCOUNTS.values())


def test_secrets_are_referenced_by_name_only(tier_values):
    _, values = tier_values
    assert values["fernetKeySecretName"] == "airflow-fernet-key"
    assert values["apiSecretKeySecretName"] == "airflow-api-secret-key"
    assert values["jwtSecretName"] == "airflow-jwt-secret"
    for key in ("fernetKey", "apiSecretKey", "jwtSecret", "webserverSecretKey"):
        assert key not in values
    assert "metadataConnection" not in values["data"]
    assert secret_problems(values) == []


@pytest.mark.parametrize(
    "smuggle",
    [
        lambda v: v["data"].update(metadataSecretName=FAKE_SECRET_MATERIAL["connection"]),
        lambda v: v.update(fernetKey=FAKE_SECRET_MATERIAL["fernet-key"]),
        lambda v: v["config"]["core"].update(fernet_key=FAKE_SECRET_MATERIAL["fernet-key"]),
        lambda v: v["createUserJob"].update(args=["bash", "-c", "airflow users create -p x"]),
        lambda v: v.update(jwtSecretName="jwt Zx9Yw8"),
    ],
)
def test_the_secret_scan_finds_a_smuggled_secret(smuggle):
    values = copy.deepcopy(values_for(Tier.DEV))
    smuggle(values)
    assert secret_problems(values)


def test_the_whole_document_is_plain_json_for_the_release():
    # helm.v3.Release takes the values as given: no tuple, set or dataclass may hide in them.
    values = values_for(Tier.PROD)
    assert json.loads(json.dumps(values)) == values


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("image_digest", "sha256:abc"),
        ("image_digest", "latest"),
        ("release_name", "Airflow_Prod"),
        ("namespace", "a" * 54),
    ],
)
def test_chart_inputs_refuse_what_kubernetes_or_helm_would(field, value):
    with pytest.raises(ValueError, match=field):
        inputs_for(Tier.DEV, **{field: value})
