"""DagBundle on eks stacks: the DAG objects only, under the same keys and with the same
metadata as on MWAA (so `ship-dags` and `pulumi up` agree on both platforms), at the prefix
the eks runtime's S3 DAG bundle reads; no requirements.txt, plugins.zip or startup script
(the eks image carries the requirements and `platform_ops`), and `.airflowignore` still
decides what ships."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_platform.airflow_settings import SettingsInputs, production_settings
from airflow_platform.aws_context import AwsContext
from airflow_platform.bundle import bundle_files
from airflow_platform.components.dag_bundle import (
    PLUGINS_KEY,
    REQUIREMENTS_KEY,
    STARTUP_SCRIPT_KEY,
    DagBundle,
    DagBundleArgs,
)
from airflow_platform.components.storage import Storage, StorageArgs
from airflow_platform.config import Platform, Tier
from airflow_platform.tagging import stack_tags
from airflow_platform.versions import versions
from tests.conftest import REGION, ROOT, settings_for, write_tree

OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
BUCKET = "airflow-staging-dags-123456789012-eu-west-1"


def _bundle(platform: Platform, dags_dir: Path = ROOT / "dags", **args: Any) -> Any:
    def build() -> None:
        DagBundle(
            "dag-bundle",
            DagBundleArgs(
                bucket=BUCKET,
                dags_dir=dags_dir,
                tags={"stack": "staging"},
                platform=platform,
                **args,
            ),
        )

    return build


def _objects(declared: Any) -> dict[str, dict[str, Any]]:
    return {o.inputs["key"]: o.inputs for o in declared.of_type(OBJECT)}


def _mwaa_args() -> dict[str, Any]:
    return {"startup_script": ROOT / "images" / "mwaa" / "startup.sh", "versions": versions()}


def test_eks_bundle_ships_exactly_the_dag_files_under_dags(declare):
    objects = _objects(declare(_bundle(Platform.EKS), "staging"))

    expected = {f.key: f for f in bundle_files(ROOT / "dags")}
    assert set(objects) == set(expected)
    for key, file in expected.items():
        assert objects[key]["bucket"] == BUCKET
        assert objects[key]["sourceHash"] == file.sha256
        assert objects[key]["metadata"] == {"sha256": file.sha256}
        assert objects[key]["source"] == {
            "asset": {"path": file.source.relative_to(ROOT).as_posix()}
        }


def test_eks_bundle_ships_no_requirements_plugins_or_startup_script(declare):
    objects = _objects(declare(_bundle(Platform.EKS), "staging"))

    assert all(key.startswith("dags/") for key in objects)
    for root_key in (REQUIREMENTS_KEY, PLUGINS_KEY, STARTUP_SCRIPT_KEY):
        assert root_key not in objects
    assert "dags/requirements.txt" not in objects, ".airflowignore keeps it out"


def test_eks_bundle_exposes_no_mwaa_object_versions(declare):
    built: list[DagBundle] = []

    def build() -> None:
        args = DagBundleArgs(bucket=BUCKET, dags_dir=ROOT / "dags", tags={}, platform=Platform.EKS)
        built.append(DagBundle("dag-bundle", args))

    declare(build, "staging")
    [bundle] = built
    assert bundle.dag_keys == [f.key for f in bundle_files(ROOT / "dags")]
    assert bundle.requirements_version is None
    assert bundle.plugins_version is None
    assert bundle.startup_script_version is None


def test_eks_and_mwaa_bundles_write_the_same_dag_objects(declare):
    eks = _objects(declare(_bundle(Platform.EKS), "staging"))
    mwaa = _objects(declare(_bundle(Platform.MWAA, **_mwaa_args()), "dev"))

    assert {k: v for k, v in mwaa.items() if k.startswith("dags/")} == eks
    assert {REQUIREMENTS_KEY, PLUGINS_KEY, STARTUP_SCRIPT_KEY} <= set(mwaa)


def test_platform_ops_is_not_a_dag_object_on_eks_because_the_image_carries_it(declare):
    objects = _objects(declare(_bundle(Platform.EKS), "staging"))

    assert (ROOT / "dags" / "platform_ops" / "__init__.py").is_file()
    assert not any(key.startswith("dags/platform_ops/") for key in objects)
    # The DAG files that ship import it: it must come from the image's PYTHONPATH.
    importers = [
        key for key in objects
        if key.endswith(".py") and "platform_ops" in (ROOT / key).read_text()
    ]  # fmt: skip
    assert importers, "the repository's DAG files import platform_ops"


def test_airflowignore_decides_what_the_eks_bundle_ships(declare, tmp_path):
    dags = write_tree(
        tmp_path / "dags",
        {
            ".airflowignore": "lib/\n*.md\n!KEEP.md\n",
            "etl.py": "x = 1\n",
            "lib/helpers.py": "y = 2\n",
            "README.md": "# no\n",
            "KEEP.md": "# re-included\n",
            "sql/report.sql": "select 1;\n",
            "requirements.txt": "apache-airflow-providers-amazon\n",
        },
    )

    objects = _objects(declare(_bundle(Platform.EKS, dags), "staging"))

    assert (
        set(objects)
        == {f.key for f in bundle_files(dags)}
        == {
            "dags/.airflowignore",
            "dags/etl.py",
            "dags/KEEP.md",
            "dags/sql/report.sql",
            "dags/requirements.txt",
        }
    )


def test_eks_bundle_keys_are_under_the_prefix_the_eks_s3_dag_bundle_reads(declare):
    objects = _objects(declare(_bundle(Platform.EKS), "staging"))
    inputs = SettingsInputs("staging", Platform.EKS, "airflow-staging", "b", "l", BUCKET)
    listed = production_settings(Tier.STAGING, inputs)["dag_processor"]["dag_bundle_config_list"]
    [bundle] = json.loads(listed)

    assert bundle["kwargs"]["bucket_name"] == BUCKET
    assert all(key.startswith(bundle["kwargs"]["prefix"]) for key in objects)


def test_eks_bundle_objects_wait_for_the_buckets_versioning_and_public_access_block(declare):
    settings = settings_for(Tier.STAGING)

    def build() -> None:
        storage = Storage(
            "storage",
            StorageArgs(
                stack=settings.stack,
                aws=AwsContext.current(REGION),
                log_archive=settings.config.storage.log_archive,
                backup=settings.config.backup,
                teardown=settings.teardown,
                tags=stack_tags(settings),
            ),
        )
        DagBundle(
            "dag-bundle",
            DagBundleArgs(
                bucket=storage.dag_bucket,
                dags_dir=ROOT / "dags",
                tags=stack_tags(settings),
                platform=Platform.EKS,
                bucket_ready=storage.dag_bucket_ready,
            ),
        )

    declared = declare(build, "staging")
    dags = declared.one("aws:s3/bucket:Bucket", "storage-dags").inputs["bucket"]
    objects = declared.of_type(OBJECT)
    assert objects
    for stored in objects:
        assert stored.inputs["bucket"] == dags
        assert any(u.endswith("::storage-dags-versioning") for u in stored.dependencies)
        assert any(u.endswith("::storage-dags-public-access") for u in stored.dependencies)


def test_mwaa_bundle_without_its_startup_script_or_versions_is_refused(declare):
    with pytest.raises(ValueError, match="startup_script and versions"):
        declare(_bundle(Platform.MWAA), "dev")
