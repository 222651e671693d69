"""The elt_dbt DAG as parsed: its task graph is the dbt lineage of the manifest, it keeps the
platform's DAG rules, and `check-dags` refuses its manifest when missing or stale, naming the
file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from airflow_platform.bundle.rules import dag_problems, source_problems
from airflow_platform.cli import app
from tests.conftest import ROOT, copy_dbt_bundle

runner = CliRunner()


@pytest.fixture(scope="module")
def dag(dbt_project: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "elt_dbt.py"))
    assert bag.import_errors == {}
    return bag.dags["elt_dbt"]


@pytest.fixture(scope="module")
def manifest(dbt_project: Path) -> dict[str, Any]:
    return json.loads((dbt_project / "target" / "manifest.json").read_text())


def finishing_task(dag: Any, node: dict[str, Any]) -> str:
    """The task after which a node's output may be used: its group's `test` task when it has
    tests, else its only task (a seed without tests renders as `<seed>_seed`)."""
    name, kind = node["name"], node["resource_type"]
    for task_id in (f"dbt.{name}.test", f"dbt.{name}_{kind}", f"dbt.{name}.{kind}"):
        if dag.has_task(task_id):
            return task_id
    raise AssertionError(f"no task renders {node['unique_id']}")


def test_each_model_runs_after_exactly_the_nodes_it_refs(
    dag: Any, manifest: dict[str, Any]
) -> None:
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert {m["name"] for m in models} >= {"stg_customers", "stg_orders", "stg_payments"}
    for model in models:
        depends_on = model["depends_on"]["nodes"]
        # Sources are not tasks (Cosmos's default SourceRenderingBehavior.NONE).
        assert {u for u in depends_on if u.startswith("source.")} <= set(manifest["sources"])
        refs = [manifest["nodes"][u] for u in depends_on if not u.startswith("source.")]
        upstream = dag.get_task(f"dbt.{model['name']}.run").upstream_task_ids
        assert upstream == {finishing_task(dag, ref) for ref in refs}, model["unique_id"]
        tests = dag.get_task(f"dbt.{model['name']}.test")
        assert tests.upstream_task_ids == {f"dbt.{model['name']}.run"}


def test_every_seed_and_snapshot_of_the_manifest_has_its_task(
    dag: Any, manifest: dict[str, Any]
) -> None:
    nodes = [n for n in manifest["nodes"].values() if n["resource_type"] in {"seed", "snapshot"}]
    assert {n["resource_type"] for n in nodes} == {"seed", "snapshot"}
    for node in nodes:
        finishing_task(dag, node)


def test_the_docs_are_published_only_after_every_dbt_task(dag: Any) -> None:
    docs = dag.get_task("dbt_docs_to_s3")
    ancestors = {t.task_id for t in docs.get_flat_relatives(upstream=True)}
    assert ancestors == {t.task_id for t in dag.tasks} - {"dbt_docs_to_s3"}
    assert docs.folder_dir == "dbt-docs"


def test_the_dbt_dag_keeps_the_platform_dag_rules(dag: Any) -> None:
    from platform_ops.alerts import SLACK_CONNECTION_ID

    assert dag_problems(dag) == []
    assert source_problems((ROOT / "dags" / "elt_dbt.py").read_text()) == []
    assert dag.catchup is False
    assert dag.schedule is not None
    for task in dag.tasks:
        callbacks = task.on_failure_callback
        notifier = callbacks[0] if isinstance(callbacks, list) else callbacks
        assert notifier.slack_webhook_conn_id == SLACK_CONNECTION_ID, task.task_id


def test_the_dbt_dag_builds_its_profile_from_the_dwh_connection_not_a_profiles_file(
    dag: Any,
) -> None:
    run = dag.get_task("dbt.stg_orders.run")
    assert run.profile_config.profile_mapping.conn_id == "dwh"
    assert run.profile_config.profiles_yml_filepath is None


def check(dags: Path) -> Any:
    return runner.invoke(app, ["check-dags", "--source", str(dags)])


@pytest.fixture
def shipped(tmp_path: Path, dbt_project: Path) -> Path:
    """The bundle as it ships (dags/elt_dbt.py, dags/dbt/ with the manifest)."""
    copy_dbt_bundle(dbt_project, tmp_path / "dags")
    (tmp_path / "dags" / ".airflowignore").write_text("dbt/\n")
    return tmp_path / "dags"


def test_check_dags_passes_the_shipped_layout_with_a_current_manifest(shipped: Path) -> None:
    result = check(shipped)

    assert result.exit_code == 0, result.output
    assert "elt_dbt" in result.stdout


def test_check_dags_refuses_a_stale_manifest_naming_it_and_the_changed_file(
    shipped: Path,
) -> None:
    model = shipped / "dbt" / "models" / "staging" / "stg_orders.sql"
    model.write_text(model.read_text() + "\n-- edited after the manifest was built\n")

    result = check(shipped)

    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "dbt/target/manifest.json is stale" in output
    assert "dbt/models/staging/stg_orders.sql changed" in output


def test_check_dags_refuses_a_manifest_when_a_model_was_added_since(shipped: Path) -> None:
    (shipped / "dbt" / "models" / "marts" / "new_mart.sql").write_text("select 1 as one\n")

    result = check(shipped)

    assert result.exit_code == 1
    assert "dbt/models/marts/new_mart.sql added" in " ".join(result.output.split())


def test_check_dags_refuses_a_missing_manifest_naming_the_file(shipped: Path) -> None:
    (shipped / "dbt" / "target" / "manifest.json").unlink()

    result = check(shipped)

    assert result.exit_code == 1
    assert "dbt/target/manifest.json is missing" in " ".join(result.output.split())


def test_the_shipped_manifest_keeps_what_cosmos_renders_from_and_drops_the_macros(
    manifest: dict[str, Any],
) -> None:
    assert "macros" not in manifest
    kinds = {node["resource_type"] for node in manifest["nodes"].values()}
    assert kinds == {"model", "seed", "snapshot", "test"}
    assert manifest["sources"]
    assert manifest["metadata"]["project_name"] == "platform_elt"


def test_trimming_a_manifest_removes_only_the_macros(tmp_path: Path) -> None:
    from airflow_platform.bundle.dbt import trim_manifest

    whole = {
        "metadata": {"dbt_version": "1.11.16"},
        "nodes": {"model.p.a": {"depends_on": {"nodes": ["seed.p.b"]}}},
        "sources": {"source.p.raw.t": {}},
        "exposures": {},
        "selectors": {},
        "macros": {"macro.dbt.run_query": {"macro_sql": "{% macro run_query() %}"}},
        "docs": {"doc.p.d": {}},
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(whole, indent=2))

    trim_manifest(path)

    assert json.loads(path.read_text()) == {k: v for k, v in whole.items() if k != "macros"}
