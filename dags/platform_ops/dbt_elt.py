"""The elt_dbt DAG's parts: the dbt project rendered by astronomer-cosmos, then its docs site.

* **Where the project is**: `dbt/` beside the DAG file (how it ships: the DAG bucket's
  `dags/dbt/`, which MWAA syncs and eks reads through the S3 DAG bundle), else `../dbt/` (the
  repository's layout, for tests and local runs).
* **Parsing**: from the manifest built at ship time (`target/manifest.json`, Cosmos's
  `LoadMode.DBT_MANIFEST`), so a parse never runs dbt; `check-dags` refuses a stale one.
* **Running**: Cosmos's local execution mode calls the dbt of dbt's own virtualenv
  (`PLATFORM_DBT_EXECUTABLE`) as a subprocess: dbt never shares Airflow's packages or its
  constraints (Cosmos's "Apache Airflow and dbt dependencies conflicts" guide recommends
  exactly this: `ExecutionConfig(dbt_executable_path=...)`, InvocationMode.SUBPROCESS).
* **Profile**: built by Cosmos from the Airflow connection `dwh`
  (`PostgresUserPasswordProfileMapping`), resolved when a task runs; no profiles.yml with
  credentials.
* **Tests**: each model's tests run right after it (`TestBehavior.AFTER_EACH`) with cautious
  indirect selection, so a model's test task runs only the tests of that model; a test over
  several models (a relationship, a reconciliation) becomes its own task after all of them.
* **Docs**: `dbt docs generate` after the build succeeds, and index.html, catalog.json and
  manifest.json uploaded to `s3://<bucket>/dbt-docs/`: the Variable `dbt_docs_bucket`, else the
  stack's log-archive bucket (the Airflow option `[platform] log_archive_bucket`), read when
  the task runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PROJECT_NAME = "platform_elt"
PROFILE_NAME = "platform_elt"
TARGET_NAME = "airflow"
CONNECTION_ID = "dwh"
"""The warehouse connection the dbt profile is built from."""
TARGET_SCHEMA = "analytics"
"""The profile's schema; dbt_project.yml derives analytics_raw, _staging, _snapshots."""
AWS_CONNECTION_ID = "aws_default"
DBT_EXECUTABLE_ENV = "PLATFORM_DBT_EXECUTABLE"
DEFAULT_DBT_EXECUTABLE = "dbt"
DOCS_BUCKET_VARIABLE = "dbt_docs_bucket"
ARCHIVE_BUCKET_OPTION = ("platform", "log_archive_bucket")
DOCS_PREFIX = "dbt-docs"
MANIFEST = "target/manifest.json"
PROJECT_DIR = "dbt"
"""The project's folder: beside `dags/` in the repository, inside it in the bucket."""
PROJECT_FILE = "dbt_project.yml"


def project_dir(dag_folder: Path) -> Path:
    """`<dag folder>/dbt` (shipped), else `<dag folder>/../dbt` (repository); FileNotFoundError
    naming both when neither holds a dbt_project.yml."""
    candidates = [dag_folder / PROJECT_DIR, dag_folder.parent / PROJECT_DIR]
    for candidate in candidates:
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    raise FileNotFoundError(
        f"no dbt project ({PROJECT_FILE}) in " + " or ".join(str(c) for c in candidates)
    )


def dbt_executable() -> str:
    return os.environ.get(DBT_EXECUTABLE_ENV) or DEFAULT_DBT_EXECUTABLE


def profile_config() -> Any:
    from cosmos import ProfileConfig
    from cosmos.profiles import PostgresUserPasswordProfileMapping

    return ProfileConfig(
        profile_name=PROFILE_NAME,
        target_name=TARGET_NAME,
        profile_mapping=PostgresUserPasswordProfileMapping(
            conn_id=CONNECTION_ID, profile_args={"schema": TARGET_SCHEMA}
        ),
    )


def execution_config() -> Any:
    from cosmos import ExecutionConfig, ExecutionMode, InvocationMode, TestIndirectSelection

    return ExecutionConfig(
        execution_mode=ExecutionMode.LOCAL,
        invocation_mode=InvocationMode.SUBPROCESS,
        dbt_executable_path=dbt_executable(),
        test_indirect_selection=TestIndirectSelection.CAUTIOUS,
    )


def dbt_task_group(dag_folder: Path, group_id: str = "dbt") -> Any:
    """The project as a Cosmos task group: seeds, snapshot and models (each with its tests) in
    dependency order, rendered from the shipped manifest."""
    from cosmos import DbtTaskGroup, LoadMode, ProjectConfig, RenderConfig, TestBehavior

    project = project_dir(dag_folder)
    project_config = ProjectConfig(
        dbt_project_path=project,
        manifest_path=project / MANIFEST,
        project_name=PROJECT_NAME,
        # No packages (dbt/packages.yml), so no `dbt deps` before each command.
        install_dbt_deps=False,
    )
    # ProjectConfig wraps any manifest path in an ObjectStoragePath (for s3:// and gs://
    # manifests); opening one initialises every provider's filesystems and the hook-lineage
    # collector, which loads all plugins (Cosmos's own FastAPI one included): about half a
    # second in each fresh parsing process, for a file that is local. A plain Path has the
    # `open` and `exists` Cosmos calls on it (cosmos/dbt/graph.py `_load_manifest_from_file`,
    # cosmos/config.py `is_manifest_available`), and the annotation admits it.
    project_config.manifest_path = project / MANIFEST
    return DbtTaskGroup(
        group_id=group_id,
        project_config=project_config,
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.AFTER_EACH,
            should_detach_multiple_parents_tests=True,
        ),
        execution_config=execution_config(),
        profile_config=profile_config(),
    )


def docs_bucket() -> str:
    """The Variable `dbt_docs_bucket`, else `[platform] log_archive_bucket`; ValueError naming
    both when neither is set. Read when the docs task runs, never at parse."""
    from airflow.sdk import Variable, conf

    bucket = (Variable.get(DOCS_BUCKET_VARIABLE, default=None) or "").strip()
    bucket = bucket or (conf.get(*ARCHIVE_BUCKET_OPTION, fallback="") or "").strip()
    if not bucket:
        section, key = ARCHIVE_BUCKET_OPTION
        raise ValueError(
            f"no bucket for the dbt docs: set the Variable {DOCS_BUCKET_VARIABLE!r} or the "
            f"Airflow option [{section}] {key} (the stack's log-archive bucket)"
        )
    return bucket


def docs_task(dag_folder: Path, task_id: str = "dbt_docs_to_s3") -> Any:
    """`dbt docs generate` and the site's three files to `s3://<docs_bucket()>/dbt-docs/`."""
    from cosmos.operators.local import DbtDocsS3LocalOperator

    class DbtDocsToS3(DbtDocsS3LocalOperator):
        """Cosmos's operator with the bucket resolved when the task runs. Cosmos binds the
        upload as the operator's callback when the task is built, so the resolution lives in
        the upload itself (an attribute set in `execute` would land on another copy)."""

        def upload_to_cloud_storage(self, project_dir: str, **kwargs: Any) -> None:
            self.bucket_name = docs_bucket()
            super().upload_to_cloud_storage(project_dir, **kwargs)

    return DbtDocsToS3(
        task_id=task_id,
        project_dir=str(project_dir(dag_folder)),
        profile_config=profile_config(),
        dbt_executable_path=dbt_executable(),
        invocation_mode=execution_config().invocation_mode,
        connection_id=AWS_CONNECTION_ID,
        bucket_name="(resolved when the task runs)",
        folder_dir=DOCS_PREFIX,
    )
