"""Shared fixtures: the project on disk, and components built under the recording mocks.

Nothing is declared at import time: each test builds what it checks inside `declare(...)`,
which runs it through the same mock runtime and recording monitor as the offline plan.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_platform.config import Settings, Tier, settings_from_values
from airflow_platform.plan.project import Project, StackConfig
from airflow_platform.plan.runner import DeclaredResource, ProgramRun, run_function

ROOT = Path(__file__).resolve().parents[1]

# Airflow reads its configuration once, when first imported: before any test module can
# import it, point it at a throwaway home (the DAG tests' SQLite database and task logs),
# the repository's DAG folder, and no example DAGs. These are test settings, not the
# production ones (Postgres, remote logging), which the runtime components set.
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-home-"))
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)
os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(AIRFLOW_HOME / "logs"),
    }
)
REGION = "eu-west-1"
EXAMPLE_SLACK = {"workspaceId": "T0EXAMPLE01", "channelId": "C0EXAMPLE01"}
TIER_STACKS = {Tier.DEV: "dev", Tier.STAGING: "staging", Tier.PROD: "prod", Tier.EPHEMERAL: "pr-7"}


@dataclass
class Declared:
    """What one run declared, with lookups that name the resource on failure."""

    run: ProgramRun

    def of_type(self, token: str) -> list[DeclaredResource]:
        return [r for r in self.run.resources if r.type == token]

    def one(self, token: str, name: str) -> DeclaredResource:
        found = [r for r in self.of_type(token) if r.name == name]
        assert len(found) == 1, f"expected one {token} named {name}, found {len(found)}"
        return found[0]

    def for_bucket(self, token: str, bucket: DeclaredResource) -> DeclaredResource:
        found = [
            r for r in self.of_type(token) if r.inputs.get("bucket") == bucket.inputs["bucket"]
        ]
        assert len(found) == 1, f"expected one {token} for {bucket.urn}, found {len(found)}"
        return found[0]


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write `files` (relative path -> text or bytes) under `root`; returns `root`."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def with_slack(values: dict[str, Any]) -> dict[str, Any]:
    """`values` plus a Slack channel when its tier requires one and it states none (tests
    about other sections of a staging or prod stack)."""
    tier = values.get("airflow-platform:tier")
    if tier in {"staging", "prod"} and not any(
        key.startswith("airflow-platform:monitoring") for key in values
    ):
        return {**values, "airflow-platform:monitoring": {"slack": EXAMPLE_SLACK}}
    return values


def settings_for(tier: Tier, **overrides: Any) -> Settings:
    """Validated settings of a stack of `tier`, with stack-file style overrides."""
    if tier in {Tier.STAGING, Tier.PROD}:
        # Their alarms must reach a Slack channel (config/model.py); tests about other
        # sections state none.
        overrides.setdefault("monitoring", {"slack": EXAMPLE_SLACK})
    values = {"aws:region": REGION, **{f"airflow-platform:{k}": v for k, v in overrides.items()}}
    stack = TIER_STACKS[tier]
    if tier is not Tier.EPHEMERAL:
        values["airflow-platform:tier"] = tier.value
    return settings_from_values("airflow-platform", stack, values)


@pytest.fixture(scope="session")
def project() -> Project:
    return Project.load(ROOT)


@pytest.fixture
def declare() -> Callable[[Callable[[], Any], str], Declared]:
    def run(build: Callable[[], Any], stack: str = "dev") -> Declared:
        config = StackConfig(values={"aws:region": REGION}, secret_keys=[])
        return Declared(run_function(build, "airflow-platform", stack, config))

    return run


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's metadata database for DAG runs in tests (SQLite in the throwaway home),
    migrated by Airflow's own `airflow db migrate`."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True)
    return AIRFLOW_HOME


DBT_EXECUTABLE = ROOT / ".venv-dbt" / "bin" / "dbt"
"""dbt's own virtualenv (the Makefile builds it from dbt/requirements.txt)."""


@pytest.fixture(scope="session")
def dbt_project() -> Path:
    """The repository's dbt project with a current manifest: built by `dbt parse` (the
    dbt-manifest command's code) when missing or stale, as `make test` would."""
    from airflow_platform.bundle.dbt import build_manifest, find_project, manifest_problem

    if not DBT_EXECUTABLE.is_file():
        pytest.fail(f"{DBT_EXECUTABLE} is missing: the Makefile's test set-up creates it")
    project = find_project(ROOT / "dags")
    assert project is not None, f"no dbt project beside {ROOT / 'dags'}"
    if manifest_problem(project):
        build_manifest(project, str(DBT_EXECUTABLE))
    return project.root


def copy_dbt_bundle(project: Path, dags: Path) -> Path:
    """The shipped layout in `dags`: the thin elt_dbt.py and `dags/dbt/` (project + manifest,
    no other dbt output); the copied project."""
    dags.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "dags" / "elt_dbt.py", dags / "elt_dbt.py")
    copied = dags / "dbt"
    shutil.copytree(project, copied, ignore=shutil.ignore_patterns("target", "logs", ".*"))
    (copied / "target").mkdir()
    for name in ("manifest.json", "manifest.sources.json"):
        shutil.copy2(project / "target" / name, copied / "target" / name)
    return copied
