"""`stack-file pr-<n>`: the stack file a pull-request environment deploys with holds exactly the
config the offline plan gave it (dev's, tier aside), so `pulumi up` and the plan agree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from airflow_platform.cli import main
from airflow_platform.config import settings_from_values
from airflow_platform.plan.project import Project, read_stack_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    return tmp_path


def run(project: Path, *args: str) -> int:
    return main([*args, "--project-dir", str(project)])


def test_the_written_file_gives_the_pr_stack_the_config_the_plan_gave_it(project: Path) -> None:
    before = read_stack_config(Project.load(project), "pr-7")

    assert run(project, "stack-file", "pr-7") == 0

    written = yaml.safe_load((project / "stacks" / "Pulumi.pr-7.yaml").read_text())["config"]
    assert written == before.values
    assert "airflow-platform:tier" not in written
    settings = settings_from_values("airflow-platform", "pr-7", written)
    assert settings.tier.value == "ephemeral"


def test_a_pr_stack_with_its_own_config_keeps_its_file(project: Path) -> None:
    own = project / "stacks" / "Pulumi.pr-7.yaml"
    own.write_text("config:\n  aws:region: eu-central-1\n  airflow-platform:owner: team-x\n")
    text = own.read_text()

    assert run(project, "stack-file", "pr-7") == 0

    assert own.read_text() == text


def test_pulumis_own_keys_in_an_existing_file_are_kept(project: Path) -> None:
    own = project / "stacks" / "Pulumi.pr-7.yaml"
    own.write_text("encryptionsalt: v1:abc:def\n")

    assert run(project, "stack-file", "pr-7") == 0

    written = yaml.safe_load(own.read_text())
    assert written["encryptionsalt"] == "v1:abc:def"
    assert written["config"]["aws:region"]


@pytest.mark.parametrize("stack", ["dev", "prod", "pr-7-old", "pr-07x"])
def test_a_stack_that_is_not_pr_number_is_refused(
    project: Path, stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(project, "stack-file", stack) == 2

    assert "only pr-<number> stacks follow dev's config" in capsys.readouterr().err
    assert sorted(p.name for p in (project / "stacks").iterdir()) == sorted(
        p.name for p in (ROOT / "stacks").iterdir()
    )


def test_secrets_encrypted_for_dev_are_refused_naming_them(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dev = project / "stacks" / "Pulumi.dev.yaml"
    doc = yaml.safe_load(dev.read_text())
    doc["config"]["airflow-platform:apiToken"] = {"secure": "v1:AAAA"}
    dev.write_text(yaml.safe_dump(doc))

    assert run(project, "stack-file", "pr-7") == 2

    assert "airflow-platform:apiToken" in capsys.readouterr().err
    assert not (project / "stacks" / "Pulumi.pr-7.yaml").exists()
