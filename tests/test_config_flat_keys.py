"""Stack config the way `pulumi config set` writes it: flat dotted keys, string values.

`pulumi config set network.azCount 3` (without --path) stores the flat key
`airflow-platform:network.azCount: "3"`; both the offline plan (stack file -> read_stack_config
-> settings_from_values) and `pulumi up` (pulumi.Config -> load_settings) read it as the nested
key it names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_platform.config import ConfigError, Settings, load_settings, settings_from_values
from airflow_platform.plan.project import Project, ProjectError, StackConfig, read_stack_config
from airflow_platform.plan.runner import run_function
from tests.conftest import write_tree

PULUMI_YAML = "name: airflow-platform\nruntime: python\nmain: infra/\nstackConfigDir: stacks\n"

FLAT = """\
config:
  aws:region: eu-west-1
  airflow-platform:tier: dev
  airflow-platform:network.azCount: "3"
  airflow-platform:network.flowLogs: "true"
  airflow-platform:database.multiAz: "true"
  airflow-platform:database.allocatedStorageGb: "50"
  airflow-platform:mwaa.maxWorkers: "4"
  airflow-platform:mwaa.airflowOptions.core.parallelism: "32"
  airflow-platform:tags.team: analytics
"""

NESTED = """\
config:
  aws:region: eu-west-1
  airflow-platform:tier: dev
  airflow-platform:network:
    azCount: 3
    flowLogs: true
  airflow-platform:database:
    multiAz: true
    allocatedStorageGb: 50
  airflow-platform:mwaa:
    maxWorkers: 4
    airflowOptions:
      core.parallelism: "32"
  airflow-platform:tags:
    team: analytics
"""


def _project(tmp_path: Path, stack_file: str, stack: str = "dev") -> Project:
    root = write_tree(
        tmp_path / "project",
        {"Pulumi.yaml": PULUMI_YAML, f"stacks/Pulumi.{stack}.yaml": stack_file},
    )
    return Project.load(root)


def _offline(tmp_path: Path, stack_file: str) -> Settings:
    config = read_stack_config(_project(tmp_path, stack_file), "dev")
    return settings_from_values("airflow-platform", "dev", config.values)


def _at_runtime(tmp_path: Path, stack_file: str) -> Settings:
    """What `load_settings()` returns inside the program, under the mock runtime, with the
    stack file's config handed over as the engine would (strings; objects as JSON)."""
    config = read_stack_config(_project(tmp_path, stack_file), "dev")
    loaded: list[Settings] = []
    run_function(lambda: loaded.append(load_settings()), "airflow-platform", "dev", config)
    return loaded[0]


def _refused(values: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        settings_from_values("airflow-platform", "dev", {"aws:region": "eu-west-1", **values})
    return str(caught.value)


def test_flat_keys_in_a_stack_file_mean_the_nested_keys_they_name(tmp_path):
    flat = _offline(tmp_path / "flat", FLAT)
    assert flat == _offline(tmp_path / "nested", NESTED)
    assert flat.config.network.az_count == 3
    assert flat.config.network.flow_logs is True
    assert flat.config.database.multi_az is True
    assert flat.config.mwaa.max_workers == 4
    assert flat.config.mwaa.airflow_options == {"core.parallelism": "32"}
    assert flat.config.tags == {"team": "analytics"}


def test_flat_keys_read_through_pulumi_config_mean_the_nested_keys_they_name(tmp_path):
    flat = _at_runtime(tmp_path / "flat", FLAT)
    assert flat == _at_runtime(tmp_path / "nested", NESTED)
    assert flat == _offline(tmp_path / "offline", FLAT)
    assert flat.config.network.az_count == 3
    assert flat.config.mwaa.airflow_options == {"core.parallelism": "32"}


def test_flat_key_for_an_object_or_list_takes_json_text_as_pulumi_stores_it():
    subnets = '["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]'
    settings = settings_from_values(
        "airflow-platform",
        "dev",
        {
            "aws:region": "eu-west-1",
            "airflow-platform:tier": "dev",
            "airflow-platform:network.existingVpc.vpcId": "vpc-0123456789abcdef0",
            "airflow-platform:network.existingVpc.privateSubnetIds": subnets,
        },
    )
    assert settings.config.network.existing_vpc is not None
    assert len(settings.config.network.existing_vpc.private_subnet_ids) == 2


def test_flat_string_values_are_coerced_and_refused_like_nested_ones():
    message = _refused({"airflow-platform:tier": "dev", "airflow-platform:network.azCount": "9"})
    assert "airflow-platform:network.azCount = '9' is not allowed" in message
    assert "less than or equal to 6" in message


def test_a_leaf_set_both_flat_and_nested_is_refused_naming_both_spellings():
    message = _refused(
        {
            "airflow-platform:tier": "dev",
            "airflow-platform:network.azCount": "3",
            "airflow-platform:network": {"azCount": 2},
        }
    )
    assert "airflow-platform:network.azCount is set twice" in message
    assert "flat key airflow-platform:network.azCount" in message
    assert "inside airflow-platform:network" in message
    assert "pulumi config rm --path network.azCount" in message


def test_a_flat_key_under_a_nested_single_value_is_refused_naming_both():
    message = _refused(
        {
            "airflow-platform:tier": "dev",
            "airflow-platform:network.azCount": "3",
            "airflow-platform:network": "big",
        }
    )
    assert "airflow-platform:network.azCount conflicts with airflow-platform:network = 'big'" in (
        message
    )


def test_two_flat_keys_setting_the_same_leaf_are_refused_naming_both():
    message = _refused(
        {
            "airflow-platform:tier": "dev",
            "airflow-platform:network.existingVpc": '{"vpcId": "vpc-0123456789abcdef0"}',
            "airflow-platform:network.existingVpc.vpcId": "vpc-0123456789abcdef1",
        }
    )
    assert "airflow-platform:network.existingVpc.vpcId is set twice" in message
    assert "inside airflow-platform:network.existingVpc" in message


def test_unknown_flat_key_is_named_dotted_with_a_suggestion_and_the_path_form():
    message = _refused({"airflow-platform:tier": "dev", "airflow-platform:network.azCuont": "3"})
    assert "airflow-platform:network.azCuont is not a known key (did you mean azCount?)" in (
        message
    )
    assert "`pulumi config set --path network.azCount 3` writes the nested form" in message


def test_flat_key_below_a_single_value_is_not_a_known_key():
    message = _refused({"airflow-platform:tier": "dev", "airflow-platform:tier.x": "dev"})
    assert "airflow-platform:tier.x is not a known key" in message
    assert "takes a single value" in message


def test_flat_keys_found_by_listing_the_namespace_are_checked_too():
    config = StackConfig(
        values={
            "aws:region": "eu-west-1",
            "airflow-platform:tier": "dev",
            "airflow-platform:mwaa.maxWorkerz": "4",
        },
        secret_keys=[],
    )
    with pytest.raises(ConfigError) as caught:
        run_function(load_settings, "airflow-platform", "dev", config)
    message = str(caught.value)
    assert "airflow-platform:mwaa.maxWorkerz is not a known key (did you mean maxWorkers?)" in (
        message
    )
    assert "`pulumi config set --path mwaa.maxWorkers 4` writes the nested form" in message


@pytest.mark.parametrize(
    ("stack_file", "named"),
    [
        (
            "airflow-platform:tier: dev\naws:region: eu-west-1\n",
            "look like config keys: airflow-platform:tier, aws:region",
        ),
        ("# nothing yet\n", "is empty"),
        ("encryptionsalt: v1:abc\n", "has no top-level `config:`"),
    ],
    ids=["keys at the top level", "empty", "only pulumi's own keys"],
)
def test_stack_file_without_top_level_config_is_refused_saying_so(tmp_path, stack_file, named):
    with pytest.raises(ProjectError) as caught:
        read_stack_config(_project(tmp_path, stack_file), "dev")
    message = str(caught.value)
    assert "stacks/Pulumi.dev.yaml" in message
    assert "must sit under a top-level `config:` mapping" in message
    assert named in message


def test_stack_file_names_only_top_level_keys_that_look_like_config_keys(tmp_path):
    stack_file = "encryptionsalt: v1:abc\nnetwork.azCount: 3\n"
    with pytest.raises(ProjectError) as caught:
        read_stack_config(_project(tmp_path, stack_file), "dev")
    assert "look like config keys: network.azCount (move them" in str(caught.value)


def test_a_pr_stack_file_holding_only_what_stack_init_writes_follows_dev(tmp_path):
    # `pulumi stack init pr-5` with a passphrase provider writes only `encryptionsalt:`.
    project = _project(tmp_path, "config:\n  aws:region: eu-west-1\n  airflow-platform:tier: dev\n")
    (project.stack_dir / "Pulumi.pr-5.yaml").write_text("encryptionsalt: v1:abc\n")
    config = read_stack_config(project, "pr-5")
    assert config.values == {"aws:region": "eu-west-1"}
