"""eks stacks run their DAGs from the DAG bucket, for real: the repository's DAG bundle shipped
with `airflow-platform ship-dags` to a versioned bucket on moto's S3 server, then read back
by the amazon provider's S3DagBundle built from the rendered production settings exactly as
Airflow builds it (`DagBundlesManager` over `[dag_processor] dag_bundle_config_list`),
synced with `initialize()` / `refresh()` (what the DAG processor calls every refresh
interval; called directly here, no timers) and parsed with Airflow's DagBag. A shipped edit,
a new DAG and a deleted DAG each reach the parsed DAGs after one refresh: a DAG-only deploy
on eks rebuilds no image.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from airflow_platform.airflow_settings import (
    DAG_BUNDLE_NAME,
    SIZING,
    SettingsInputs,
    production_settings,
)
from airflow_platform.bundle import bundle_files
from airflow_platform.cli import app
from airflow_platform.config import Platform, Tier
from tests.conftest import ROOT, copy_dbt_bundle

runner = CliRunner()

# What Pulumi keeps at the bucket root on mwaa stacks: never part of the DAG bundle.
ROOT_OBJECTS = {"requirements.txt": b"--constraint x\n", "startup.sh": b"#!/bin/sh\n"}
NEW_DAG = '''"""shipped_later: a DAG added by a DAG-only deploy."""

from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="shipped_later", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     max_active_runs=1, tags=["test"], default_args={"owner": "data", "retries": 1})
def shipped_later() -> None:
    @task
    def hello() -> str:
        return "hello"

    hello()


shipped_later()
'''


@pytest.fixture
def dag_bucket(s3: Any) -> str:
    name = f"airflow-staging-dags-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    for key, body in ROOT_OBJECTS.items():
        s3.put_object(Bucket=name, Key=key, Body=body)
    return name


@pytest.fixture
def source(tmp_path: Path, dbt_project: Path) -> Path:
    """A copy of the repository's DAG folder with its dbt project (and a current manifest),
    which the test edits and ships."""
    dags = Path(
        shutil.copytree(ROOT / "dags", tmp_path / "dags",
                        ignore=shutil.ignore_patterns("__pycache__"))
    )  # fmt: skip
    copy_dbt_bundle(dbt_project, dags)
    return dags


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where bundles sync to: `[dag_processor] dag_bundle_storage_path`, one per test."""
    path = tmp_path / "dag-bundles"
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH", str(path))
    return path


@pytest.fixture(scope="module")
def repository_dag_ids(dbt_project: Path) -> set[str]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert bag.dag_ids, "the repository has DAGs"
    return set(bag.dag_ids)


def ship(bucket: str, source: Path) -> None:
    """The real command, as a DAG-only deploy runs it."""
    result = runner.invoke(app, ["ship-dags", "staging", "--bucket", bucket, "--no-check",
                                 "--source", str(source)])  # fmt: skip
    assert result.exit_code == 0, result.output


def rendered_bundle_list(bucket: str) -> str:
    inputs = SettingsInputs("staging", Platform.EKS, "airflow-staging", "backups", "logs", bucket)
    return production_settings(Tier.STAGING, inputs)["dag_processor"]["dag_bundle_config_list"]


def bundle_from_settings(bucket: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The bundle as the DAG processor and each task pod build it: Airflow's own manager
    over the rendered `dag_bundle_config_list`."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    monkeypatch.setenv(
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", rendered_bundle_list(bucket)
    )
    return DagBundlesManager().get_bundle(DAG_BUNDLE_NAME)


def parse(bundle: Any) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(bundle.path), bundle_path=bundle.path, bundle_name=bundle.name)


def local_files(bundle: Any) -> set[str]:
    return {p.relative_to(bundle.path).as_posix() for p in bundle.path.rglob("*") if p.is_file()}


def test_the_rendered_bundle_list_builds_the_providers_s3_bundle_on_the_dag_prefix(
    dag_bucket: str, storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.amazon.aws.bundles.s3 import S3DagBundle

    bundle = bundle_from_settings(dag_bucket, monkeypatch)

    assert isinstance(bundle, S3DagBundle)
    assert (bundle.name, bundle.bucket_name, bundle.prefix) == ("dags-folder", dag_bucket, "dags/")
    assert bundle.aws_conn_id is None, "boto3's own chain: the pods' EKS Pod Identity role"
    assert bundle.refresh_interval == SIZING[Tier.STAGING].refresh_interval_seconds
    assert bundle.supports_versioning is False
    assert bundle.path == storage / DAG_BUNDLE_NAME


def test_a_shipped_bundle_syncs_and_parses_every_repository_dag(
    dag_bucket: str,
    source: Path,
    storage: Path,
    repository_dag_ids: set[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ship(dag_bucket, source)
    bundle = bundle_from_settings(dag_bucket, monkeypatch)

    bundle.initialize()

    # Exactly the shipped files: not platform_ops (the image's), not the bucket root's objects.
    assert local_files(bundle) == {f.path for f in bundle_files(source)}
    assert not (bundle.path / "platform_ops").exists()
    bag = parse(bundle)
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == repository_dag_ids
    assert all(Path(dag.fileloc).is_relative_to(bundle.path) for dag in bag.dags.values())


def test_an_edit_a_new_dag_and_a_deletion_each_reach_the_dags_after_one_refresh(
    dag_bucket: str,
    source: Path,
    storage: Path,
    repository_dag_ids: set[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ship(dag_bucket, source)
    bundle = bundle_from_settings(dag_bucket, monkeypatch)
    bundle.initialize()
    edited_id = "dependency_target"
    edited = source / f"{edited_id}.py"
    assert "tags=[" in edited.read_text()
    assert "shipped-on-eks" not in parse(bundle).dags[edited_id].tags

    # An edit (a tag) and a new DAG file, shipped together.
    edited.write_text(edited.read_text().replace("tags=[", 'tags=["shipped-on-eks", ', 1))
    (source / "shipped_later.py").write_text(NEW_DAG)
    ship(dag_bucket, source)
    bundle.refresh()

    bag = parse(bundle)
    assert bag.import_errors == {}
    assert "shipped-on-eks" in bag.dags[edited_id].tags
    assert set(bag.dag_ids) == repository_dag_ids | {"shipped_later"}

    # A deletion.
    (source / "shipped_later.py").unlink()
    ship(dag_bucket, source)
    bundle.refresh()

    assert not (bundle.path / "shipped_later.py").exists()
    assert set(parse(bundle).dag_ids) == repository_dag_ids
    assert local_files(bundle) == {f.path for f in bundle_files(source)}


def test_a_new_task_pod_runs_the_latest_shipped_dag_file(
    dag_bucket: str, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each KubernetesExecutor pod starts with an empty bundle folder and does what the task
    # runner does (airflow/sdk/execution_time/task_runner.py `parse`): get_bundle,
    # initialize(), and a DagBag of the one DAG file.
    from airflow.dag_processing.dagbag import DagBag

    ship(dag_bucket, source)
    (source / "shipped_later.py").write_text(NEW_DAG)
    ship(dag_bucket, source)
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH", str(tmp_path / "pod"))
    bundle = bundle_from_settings(dag_bucket, monkeypatch)

    bundle.initialize()

    bag = DagBag(dag_folder=str(bundle.path / "shipped_later.py"), bundle_path=bundle.path,
                 bundle_name=bundle.name, load_op_links=False)  # fmt: skip
    assert bag.import_errors == {}
    assert [task.task_id for task in bag.dags["shipped_later"].tasks] == ["hello"]


@pytest.fixture
def s3_requests(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every S3 request any boto3 client in this process makes, while the fixture is on."""
    from botocore.client import BaseClient

    made: list[dict[str, Any]] = []
    original = BaseClient._make_api_call

    def record(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "s3":
            made.append({"operation": operation, **params})
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    return made


def test_the_bundle_reads_only_the_dag_prefix_with_get_and_list_requests(
    dag_bucket: str, source: Path, storage: Path, monkeypatch: pytest.MonkeyPatch, s3_requests
) -> None:
    # What the pods' role must allow (and no more): s3:ListBucket for the listings,
    # s3:GetObject under dags/. The existence check lists the bucket's top level ("",
    # delimiter "/": hooks/s3.py `check_for_prefix`), so a ListBucket statement narrowed with
    # an s3:prefix condition must allow "" as well as "dags/*".
    ship(dag_bucket, source)
    bundle = bundle_from_settings(dag_bucket, monkeypatch)
    s3_requests.clear()

    bundle.initialize()
    bundle.refresh()

    operations = {r["operation"] for r in s3_requests}
    assert operations <= {"HeadBucket", "ListObjects", "ListObjectsV2", "HeadObject", "GetObject"}
    assert {r["Bucket"] for r in s3_requests} == {dag_bucket}
    listed = {
        (r.get("Prefix", ""), r.get("Delimiter")) for r in s3_requests if "List" in r["operation"]
    }
    assert listed == {("", "/"), ("dags/", None)}
    read = {r["Key"] for r in s3_requests if r["operation"] in {"GetObject", "HeadObject"}}
    assert read == {f.key for f in bundle_files(source)}


def test_known_limit_a_same_size_edit_not_newer_than_the_local_copy_is_not_downloaded(
    dag_bucket: str, source: Path, storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The provider re-downloads a key only when its size differs or its LastModified (whole
    # seconds) is later than the local copy's mtime (hooks/s3.py
    # `_sync_to_local_dir_if_changed`). A same-size edit shipped within the second of the
    # previous sync (or under a pod clock running ahead) is missed until the file changes
    # again. The local mtime is moved ahead here to make that moment deterministic. If this
    # test fails, the provider compares content now and the caveat can go.
    ship(dag_bucket, source)
    bundle = bundle_from_settings(dag_bucket, monkeypatch)
    bundle.initialize()
    target = "dependency_target.py"
    local = bundle.path / target
    ahead = time.time() + 3600
    os.utime(local, (ahead, ahead))
    before = (source / target).read_text()
    same_size = before.replace('"""', "'''", 2)  # the module docstring's quotes
    assert len(same_size) == len(before)
    assert same_size != before
    (source / target).write_text(same_size)
    ship(dag_bucket, source)

    bundle.refresh()

    assert local.read_text() == before


def test_the_bundle_list_is_valid_json_airflow_accepts(dag_bucket: str) -> None:
    from airflow.dag_processing.bundles.manager import _parse_bundle_config

    [parsed] = _parse_bundle_config(json.loads(rendered_bundle_list(dag_bucket)))
    assert parsed.name == DAG_BUNDLE_NAME
