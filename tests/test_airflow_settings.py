"""The production settings are defined once, name only options the pinned Airflow knows by
their current names, and reach both MWAA's options and the Helm chart's values: each setting
is carried by both, or MWAA provides it itself in a way the environment is checked for."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pulumi
import pytest

from airflow_platform.airflow_settings import (
    DAG_BUNDLE_NAME,
    FAB_AUTH_MANAGER,
    METADATA_SECRET_NAME,
    MWAA_MANAGED,
    SIZING,
    SettingsInputs,
    helm_values,
    mwaa_options,
    production_settings,
    stack_variables,
)
from airflow_platform.bundle import dag_key
from airflow_platform.config import Platform, Tier
from tests.conftest import ROOT

CUSTOM_SECTIONS = {"platform"}  # read by the platform's own DAGs, unknown to Airflow
# Read through Airflow's conf by a package the DAGs install, which registers no config of its
# own with Airflow: the module that reads them.
PACKAGE_SECTIONS = {"cosmos": "cosmos.settings"}


def settings_for_platform(tier: Tier, platform: Platform) -> dict:
    inputs = SettingsInputs("stack", platform, "airflow-stack", "backups", "log-archive", "dags")
    return production_settings(tier, inputs)


@pytest.fixture(scope="module")
def airflow_conf():
    from airflow.configuration import conf

    return conf


@pytest.mark.parametrize("platform", list(Platform))
@pytest.mark.parametrize("tier", list(Tier))
def test_every_setting_is_a_current_airflow_option(airflow_conf, tier, platform):
    deprecated = {old[:2] for old in airflow_conf.deprecated_options.values()}
    for section, values in settings_for_platform(tier, platform).items():
        if section in CUSTOM_SECTIONS or section in PACKAGE_SECTIONS:
            continue
        for key in values:
            assert airflow_conf.has_option(section, key), f"{section}.{key} unknown to Airflow"
            assert (section, key) not in deprecated, f"{section}.{key} is a deprecated name"


@pytest.mark.parametrize("platform", list(Platform))
def test_every_package_setting_is_one_its_package_reads(platform):
    import importlib.util

    settings = settings_for_platform(Tier.PROD, platform)
    for section, module in PACKAGE_SECTIONS.items():
        spec = importlib.util.find_spec(module)
        assert spec is not None, module
        source = Path(str(spec.origin)).read_text()
        for key in settings[section]:
            assert f'"{section}", "{key}"' in source, f"{module} reads no [{section}] {key}"


@pytest.mark.parametrize("tier", list(Tier))
def test_mwaa_and_helm_each_carry_every_setting_or_mwaa_manages_it(tier):
    mwaa = mwaa_options(settings_for_platform(tier, Platform.MWAA))
    eks_settings = settings_for_platform(tier, Platform.EKS)
    helm = helm_values(eks_settings, tier)
    for section, values in eks_settings.items():
        for key, value in values.items():
            assert helm["config"][section][key] == value, f"helm lacks {section}.{key}"
            if (section, key) in MWAA_MANAGED:
                assert f"{section}.{key}" not in mwaa
            else:
                assert f"{section}.{key}" in mwaa, f"MWAA lacks {section}.{key}"


def test_the_production_guide_settings_are_all_there():
    """The settings a production guide asks for, by name, with the values that matter."""
    settings = settings_for_platform(Tier.PROD, Platform.EKS)
    sizing = SIZING[Tier.PROD]
    assert settings["dag_processor"]["refresh_interval"] == str(sizing.refresh_interval_seconds)
    assert settings["core"]["parallelism"] == str(sizing.parallelism)
    assert settings["core"]["max_active_tasks_per_dag"] == str(sizing.max_active_tasks_per_dag)
    assert settings["core"]["executor"] == "KubernetesExecutor"
    assert settings["core"]["auth_manager"] == FAB_AUTH_MANAGER
    assert settings["core"]["load_examples"] == "False"
    assert settings["api"]["expose_config"] == "False"
    assert settings["logging"]["remote_logging"] == "True"
    assert settings["logging"]["remote_base_log_folder"] == "s3://log-archive/task-logs"
    assert settings["secrets"]["backend"].endswith("SecretsManagerBackend")
    assert settings["platform"]["log_retention_days"] == str(sizing.log_retention_days)
    assert settings["platform"]["metadata_retention_days"] == str(sizing.metadata_retention_days)


def test_no_setting_names_sqlite_or_carries_a_database_url():
    for platform in Platform:
        for values in settings_for_platform(Tier.PROD, platform).values():
            for key, value in values.items():
                assert "sqlite" not in str(value).lower(), key
                assert key != "sql_alchemy_conn", "the connection is a secret, never a setting"


def test_helm_values_keep_the_metadata_database_on_rds_through_a_secret():
    helm = helm_values(settings_for_platform(Tier.PROD, Platform.EKS), Tier.PROD)
    assert helm["data"] == {"metadataSecretName": METADATA_SECRET_NAME}
    assert helm["postgresql"] == {"enabled": False}
    assert helm["executor"] == "KubernetesExecutor"


@pytest.mark.parametrize("tier", list(Tier))
def test_helm_database_cleanup_keeps_the_tier_metadata_retention(tier):
    helm = helm_values(settings_for_platform(tier, Platform.EKS), tier)
    cleanup = helm["databaseCleanup"]
    assert cleanup["enabled"] is True
    assert cleanup["retentionDays"] == SIZING[tier].metadata_retention_days
    minute, hour = (int(part) for part in cleanup["schedule"].split()[:2])
    assert (hour, minute) > (3, 30), "runs after the 03:30 metadata backup"


def test_retention_grows_with_the_tier():
    order = [Tier.EPHEMERAL, Tier.DEV, Tier.STAGING, Tier.PROD]
    logs = [SIZING[t].log_retention_days for t in order]
    metadata = [SIZING[t].metadata_retention_days for t in order]
    assert logs == sorted(logs)
    assert metadata == sorted(metadata)
    assert all(days >= 1 for days in logs + metadata)


def test_the_eks_image_installs_the_auth_manager_provider():
    """The auth manager's class lives in a provider the eks image must install."""
    distribution = "apache-airflow-providers-" + FAB_AUTH_MANAGER.split(".")[2]
    dockerfile = (ROOT / "images" / "eks" / "Dockerfile").read_text()
    assert re.search(rf'"{re.escape(distribution)}"', dockerfile), distribution


def test_mwaa_option_names_and_values_fit_mwaa_limits():
    for name, value in mwaa_options(settings_for_platform(Tier.PROD, Platform.MWAA)).items():
        assert len(name) <= 64, name
        assert isinstance(value, str), name
        assert 1 <= len(value) <= 256, name


def test_mwaa_managed_settings_each_say_where_mwaa_provides_them():
    assert all(reason.strip() for reason in MWAA_MANAGED.values())
    with pytest.raises(ValueError, match=r"MWAA manages logging\.remote_logging"):
        mwaa_options(
            settings_for_platform(Tier.DEV, Platform.MWAA), {"logging.remote_logging": "x"}
        )


@pytest.mark.parametrize("tier", list(Tier))
def test_new_dags_start_paused_only_where_a_human_decides_when_they_go_live(tier):
    core = settings_for_platform(tier, Platform.MWAA)["core"]
    paused = core["dags_are_paused_at_creation"]
    assert paused == ("True" if tier in {Tier.STAGING, Tier.PROD} else "False")


def test_the_platforms_own_dags_run_from_the_first_deploy_whatever_the_tier():
    # dags_are_paused_at_creation is True in staging and prod: the backup and the cleanups
    # opt out of it in their own definitions.
    import ast

    for name in ("metadata_backup", "metadata_cleanup", "log_cleanup"):
        tree = ast.parse((ROOT / "dags" / f"{name}.py").read_text())
        flags = [
            keyword.value.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            for keyword in node.keywords
            if keyword.arg == "is_paused_upon_creation"
        ]
        assert flags == [False], f"dags/{name}.py must set is_paused_upon_creation=False"


@pytest.mark.parametrize("tier", list(Tier))
def test_the_mode_variable_by_tier_is_one_the_dependency_dags_accept(tier):
    from platform_ops.dependencies import Mode, parse_mode

    mode = stack_variables(tier)["mode"]
    expected = Mode.DEV if tier in {Tier.DEV, Tier.EPHEMERAL} else Mode(tier.value)
    assert parse_mode(mode) is expected


def test_the_secrets_backend_skips_aws_default_and_reads_the_stacks_prefixes():
    import json

    backend = settings_for_platform(Tier.PROD, Platform.MWAA)["secrets"]
    kwargs = json.loads(backend["backend_kwargs"])
    pattern = re.compile(kwargs["connections_lookup_pattern"])
    assert not pattern.match("aws_default")
    assert all(pattern.match(c) for c in ("metadata_db", "slack_alerts", "aws_default_2"))
    assert kwargs["variables_prefix"] == "airflow/stack/variables"
    assert kwargs["connections_prefix"] == "airflow/stack/connections"


# eks stacks' DAGs: the S3 DAG bundle over the DAG bucket's dags/ prefix.


def bundle_list(tier: Tier) -> list[dict]:
    return json.loads(
        settings_for_platform(tier, Platform.EKS)["dag_processor"]["dag_bundle_config_list"]
    )


@pytest.mark.parametrize("tier", list(Tier))
def test_eks_reads_its_dags_from_the_keys_ship_dags_writes_at_the_tier_refresh_interval(tier):
    [bundle] = bundle_list(tier)
    assert bundle["name"] == DAG_BUNDLE_NAME == "dags-folder"
    assert bundle["classpath"] == "airflow.providers.amazon.aws.bundles.s3.S3DagBundle"
    kwargs = bundle["kwargs"]
    assert kwargs["bucket_name"] == "dags"
    assert dag_key("etl/daily.py").startswith(kwargs["prefix"])
    assert kwargs["prefix"] == "dags/"
    assert kwargs["refresh_interval"] == SIZING[tier].refresh_interval_seconds
    # None: the hook looks no connection up and uses boto3's chain (the pods' own role).
    assert kwargs["aws_conn_id"] is None


def test_the_pinned_airflow_accepts_the_bundle_list_and_the_provider_takes_its_kwargs():
    import inspect

    from airflow._shared.module_loading import import_string
    from airflow.dag_processing.bundles.base import BaseDagBundle
    from airflow.dag_processing.bundles.manager import _parse_bundle_config

    [parsed] = _parse_bundle_config(bundle_list(Tier.PROD))
    bundle_class = import_string(parsed.classpath)
    assert issubclass(bundle_class, BaseDagBundle)
    accepted = set(inspect.signature(bundle_class).parameters) | set(
        inspect.signature(BaseDagBundle).parameters
    )
    assert set(parsed.kwargs) <= accepted


def test_mwaa_stacks_leave_the_dag_bundle_list_to_mwaa_and_refuse_an_override():
    settings = settings_for_platform(Tier.DEV, Platform.MWAA)
    assert "dag_bundle_config_list" not in settings["dag_processor"]
    assert ("dag_processor", "dag_bundle_config_list") in MWAA_MANAGED
    with pytest.raises(ValueError, match=r"MWAA manages dag_processor\.dag_bundle_config_list"):
        mwaa_options(settings, {"dag_processor.dag_bundle_config_list": "[]"})


def test_an_eks_stack_without_its_dag_bucket_is_refused():
    inputs = SettingsInputs("stack", Platform.EKS, "airflow-stack", "backups", "log-archive")
    with pytest.raises(ValueError, match="dag_bucket"):
        production_settings(Tier.STAGING, inputs)


def test_the_bundle_list_reaches_helm_config_intact_through_the_charts_tpl():
    # The chart renders every config value through `tpl` (templates/configmaps/configmap.yaml):
    # a "{{" would start a template action.
    helm = helm_values(settings_for_platform(Tier.PROD, Platform.EKS), Tier.PROD)
    value = helm["config"]["dag_processor"]["dag_bundle_config_list"]
    assert "{{" not in value
    assert json.loads(value) == bundle_list(Tier.PROD)


def test_the_bundle_list_names_the_dag_bucket_when_it_is_an_output(declare):
    bucket = "airflow-staging-dags-123456789012-eu-west-1"

    def build() -> None:
        inputs = SettingsInputs(
            "staging", Platform.EKS, "airflow-staging", "backups", "logs",
            pulumi.Output.from_input(bucket),
        )  # fmt: skip
        settings = production_settings(Tier.STAGING, inputs)
        pulumi.export("bundles", settings["dag_processor"]["dag_bundle_config_list"])

    outputs = declare(build, "staging").run.outputs
    [bundle] = json.loads(outputs["bundles"])
    assert bundle["kwargs"]["bucket_name"] == bucket
