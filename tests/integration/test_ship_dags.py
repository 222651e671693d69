"""`ship-dags` against moto's S3 server over HTTP: only new and changed files travel, files
that are gone are deleted, `.airflowignore` decides what ships, and nothing outside `dags/`
is ever touched."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from airflow_platform.bundle import bundle_files
from airflow_platform.bundle import ship as ship_module
from airflow_platform.bundle.ship import (
    SHA256_METADATA,
    ShipError,
    ShipResult,
    plan_ship,
    s3_client,
    ship_dags,
)
from airflow_platform.cli import app
from tests.conftest import ROOT, write_tree

runner = CliRunner()

DAG_TEMPLATE = '''"""{name}: a small DAG."""

from datetime import datetime

from airflow.sdk import dag, task


def alert(context) -> None:
    print("failed", context)


@dag(
    dag_id="{name}",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["test"],
    default_args={{"owner": "data", "retries": 1, "on_failure_callback": alert}},
)
def {name}() -> None:
    @task
    def hello() -> str:
        return "{name}"

    hello()


{name}()
'''
# Objects Pulumi owns at the bucket's root, and a key that only looks like it is under dags/.
FOREIGN = {
    "requirements.txt": b"--constraint x\n",
    "plugins.zip": b"PK\x05\x06" + bytes(18),
    "startup.sh": b"#!/bin/sh\n",
    "dags-archive/old.py": b"# not under dags/\n",
}


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return write_tree(
        tmp_path / "dags",
        {
            "etl_daily.py": DAG_TEMPLATE.format(name="etl_daily"),
            "etl_hourly.py": DAG_TEMPLATE.format(name="etl_hourly"),
            "reports/weekly.py": DAG_TEMPLATE.format(name="weekly"),
            "reports/sql/weekly.sql": "select 1;\n",
            "lib/helpers.py": "def helper() -> int:\n    return 1\n",
            "README.md": "# the bundle\n",
            ".airflowignore": "lib/\nREADME.md\n",
        },
    )


@pytest.fixture
def dag_bucket(s3: Any) -> str:
    """A versioned bucket like the DAG bucket, holding Pulumi's objects at its root."""
    name = f"airflow-test-dags-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    for key, body in FOREIGN.items():
        s3.put_object(Bucket=name, Key=key, Body=body)
    return name


def ship(bucket: str, source: Path, **options: Any) -> ShipResult:
    return ship_dags(s3_client(), bucket, bundle_files(source), **options)


def dag_objects(s3: Any, bucket: str) -> dict[str, str]:
    """Key under dags/ -> ETag of its current version."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="dags/").get("Contents", [])
    return {entry["Key"]: entry["ETag"] for entry in listed}


def all_versions(s3: Any, bucket: str) -> list[tuple[str, str, bool]]:
    listed = s3.list_object_versions(Bucket=bucket)
    return sorted(
        [(v["Key"], v["VersionId"], True) for v in listed.get("Versions", [])]
        + [(m["Key"], m["VersionId"], False) for m in listed.get("DeleteMarkers", [])]
    )


def foreign_objects(s3: Any, bucket: str) -> dict[str, bytes]:
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in FOREIGN}


def counting(client: Any, operation: str) -> Counter[str]:
    """Count the calls of `operation` the client makes, by key."""
    calls: Counter[str] = Counter()

    def count(params: dict[str, Any], **_: Any) -> None:
        calls[params.get("Key", "")] += 1

    client.meta.events.register(f"before-parameter-build.s3.{operation}", count)
    return calls


def test_first_ship_uploads_every_bundle_file_with_its_sha256_metadata(
    s3: Any, dag_bucket: str, bundle: Path
) -> None:
    result = ship(dag_bucket, bundle)

    files = bundle_files(bundle)
    assert result.uploaded == len(files) == 5
    assert result.bytes_uploaded == sum(f.size for f in files)
    assert set(dag_objects(s3, dag_bucket)) == {f.key for f in files}
    for file in files:
        head = s3.head_object(Bucket=dag_bucket, Key=file.key)
        assert head["Metadata"][SHA256_METADATA] == file.sha256, file.key
        assert head["ContentLength"] == file.size, file.key
    assert s3.head_object(Bucket=dag_bucket, Key="dags/etl_daily.py")["ContentType"] == (
        "text/x-python"
    )


def test_second_ship_uploads_nothing_when_no_file_changed(
    s3: Any, dag_bucket: str, bundle: Path
) -> None:
    ship(dag_bucket, bundle)
    before = all_versions(s3, dag_bucket)

    result = ship(dag_bucket, bundle)

    assert (result.uploaded, result.deleted, result.unchanged) == (0, 0, 5)
    assert result.plan.head_requests == 0, "MD5 ETags should decide without a HEAD"
    assert all_versions(s3, dag_bucket) == before


@pytest.mark.parametrize(
    "new_text",
    [
        pytest.param("x = 2\n", id="same-size"),
        pytest.param("x = 2  # now longer\n", id="other-size"),
    ],
)
def test_ship_uploads_exactly_the_changed_file_when_one_file_changes(
    s3: Any, dag_bucket: str, bundle: Path, new_text: str
) -> None:
    write_tree(bundle, {"reports/sql/weekly.sql": "x = 1\n"})
    ship(dag_bucket, bundle)
    write_tree(bundle, {"reports/sql/weekly.sql": new_text})
    client = s3_client()
    puts = counting(client, "PutObject")

    result = ship_dags(client, dag_bucket, bundle_files(bundle))

    assert [u.file.key for u in result.plan.uploads] == ["dags/reports/sql/weekly.sql"]
    assert puts == Counter({"dags/reports/sql/weekly.sql": 1})
    assert (result.uploaded, result.unchanged, result.bytes_uploaded) == (1, 4, len(new_text))
    body = s3.get_object(Bucket=dag_bucket, Key="dags/reports/sql/weekly.sql")["Body"].read()
    assert body == new_text.encode()


def test_ship_deletes_the_object_of_a_removed_file(s3: Any, dag_bucket: str, bundle: Path) -> None:
    ship(dag_bucket, bundle)
    (bundle / "etl_hourly.py").unlink()

    result = ship(dag_bucket, bundle)

    assert (result.uploaded, result.deleted) == (0, 1)
    assert result.plan.deletes == ("dags/etl_hourly.py",)
    assert "dags/etl_hourly.py" not in dag_objects(s3, dag_bucket)
    # The bucket is versioned: the old file stays restorable under a delete marker.
    kept = [v for v in all_versions(s3, dag_bucket) if v[0] == "dags/etl_hourly.py"]
    assert sorted(is_version for _, _, is_version in kept) == [False, True]


def test_ship_deletes_in_batches_of_at_most_the_batch_size(
    s3: Any, dag_bucket: str, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ship(dag_bucket, bundle)
    stale = [f"dags/stale/{n}.py" for n in range(7)]
    for key in stale:
        s3.put_object(Bucket=dag_bucket, Key=key, Body=b"# gone\n")
    monkeypatch.setattr(ship_module, "DELETE_BATCH", 3)
    client = s3_client()
    batches: list[int] = []
    client.meta.events.register(
        "before-parameter-build.s3.DeleteObjects",
        lambda params, **_: batches.append(len(params["Delete"]["Objects"])),
    )

    result = ship_dags(client, dag_bucket, bundle_files(bundle))

    assert result.deleted == 7
    assert batches == [3, 3, 1]
    assert not set(stale) & set(dag_objects(s3, dag_bucket))


def test_ship_never_uploads_what_airflowignore_excludes(
    s3: Any, dag_bucket: str, tmp_path: Path
) -> None:
    source = write_tree(
        tmp_path / "dags",
        {
            ".airflowignore": "# scratch work\n*.tmp\n!keep.tmp\n/scratch/   # root only\nbuild/\n",
            "dag.py": "x = 1\n",
            "a.tmp": "ignored by *.tmp",
            "keep.tmp": "re-included by !keep.tmp",
            "scratch/x.py": "anchored: ignored",
            "sub/scratch/y.py": "/scratch/ is anchored to the root: ships",
            "build/b.py": "ignored",
            "sub/build/c.py": "build/ matches at any level: ignored",
            "sub/.airflowignore": "local_only.py\n/anchored.py\n",
            "sub/local_only.py": "ignored by the nested file",
            "local_only.py": "the nested file's rules apply below it only: ships",
            "sub/anchored.py": "ignored",
            "sub/deeper/anchored.py": "anchored to sub/: ships",
            "sub/deeper/x.tmp": "the root's *.tmp applies below: ignored",
        },
    )

    ship(dag_bucket, source)

    assert set(dag_objects(s3, dag_bucket)) == {
        "dags/.airflowignore",
        "dags/dag.py",
        "dags/keep.tmp",
        "dags/sub/scratch/y.py",
        "dags/sub/.airflowignore",
        "dags/local_only.py",
        "dags/sub/deeper/anchored.py",
    }


def test_ship_leaves_keys_outside_dags_untouched_when_it_uploads_and_deletes(
    s3: Any, dag_bucket: str, bundle: Path
) -> None:
    before = {v for v in all_versions(s3, dag_bucket) if not v[0].startswith("dags/")}
    ship(dag_bucket, bundle)
    (bundle / "etl_daily.py").unlink()
    write_tree(bundle, {"etl_hourly.py": "changed = True\n"})
    ship(dag_bucket, bundle)

    after = {v for v in all_versions(s3, dag_bucket) if not v[0].startswith("dags/")}
    assert after == before
    assert foreign_objects(s3, dag_bucket) == FOREIGN


def test_dry_run_changes_nothing_and_reports_what_it_would_do(
    s3: Any, dag_bucket: str, bundle: Path
) -> None:
    ship(dag_bucket, bundle)
    (bundle / "etl_daily.py").unlink()
    write_tree(bundle, {"etl_hourly.py": "changed = True\n", "new_dag.py": "new = True\n"})
    before = all_versions(s3, dag_bucket)

    result = ship(dag_bucket, bundle, dry_run=True)

    assert result.dry_run
    assert [u.file.key for u in result.plan.uploads] == ["dags/etl_hourly.py", "dags/new_dag.py"]
    assert [u.reason for u in result.plan.uploads] == ["changed", "new"]
    assert result.plan.deletes == ("dags/etl_daily.py",)
    assert all_versions(s3, dag_bucket) == before


def test_ship_reads_sha256_metadata_when_the_etag_is_not_an_md5(
    s3: Any, dag_bucket: str, bundle: Path
) -> None:
    # A multipart upload's ETag is not the MD5 of the bytes (as with SSE-KMS): the stored
    # sha256 metadata decides, through one HEAD.
    file = next(f for f in bundle_files(bundle) if f.path == "etl_daily.py")
    upload = s3.create_multipart_upload(
        Bucket=dag_bucket, Key=file.key, Metadata={SHA256_METADATA: file.sha256}
    )
    part = s3.upload_part(Bucket=dag_bucket, Key=file.key, UploadId=upload["UploadId"],
                          PartNumber=1, Body=file.source.read_bytes())  # fmt: skip
    s3.complete_multipart_upload(Bucket=dag_bucket, Key=file.key, UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"ETag": part["ETag"],
                                                             "PartNumber": 1}]})  # fmt: skip
    assert "-" in s3.head_object(Bucket=dag_bucket, Key=file.key)["ETag"]
    client = s3_client()
    heads = counting(client, "HeadObject")

    plan = plan_ship(client, dag_bucket, bundle_files(bundle))

    assert heads == Counter({file.key: 1})
    assert file in plan.unchanged
    assert file.key not in {u.file.key for u in plan.uploads}


def test_ship_uploads_an_object_without_sha256_metadata_only_when_verifying_metadata(
    s3: Any, dag_bucket: str, bundle: Path
) -> None:
    # Same bytes written by another tool (no metadata): its MD5 ETag proves the content, so
    # it is left alone; --verify-metadata re-uploads it with the metadata.
    file = next(f for f in bundle_files(bundle) if f.path == "etl_daily.py")
    s3.put_object(Bucket=dag_bucket, Key=file.key, Body=file.source.read_bytes())

    assert file in plan_ship(s3_client(), dag_bucket, bundle_files(bundle)).unchanged
    verified = ship(dag_bucket, bundle, verify_metadata=True)

    assert file.key in {u.file.key for u in verified.plan.uploads}
    assert verified.plan.head_requests == 1
    head = s3.head_object(Bucket=dag_bucket, Key=file.key)
    assert head["Metadata"][SHA256_METADATA] == file.sha256


def test_ship_counts_an_object_with_a_different_sha256_as_changed_when_sizes_match(
    s3: Any, dag_bucket: str, bundle: Path
) -> None:
    file = next(f for f in bundle_files(bundle) if f.path == "etl_daily.py")
    other = bytes(reversed(file.source.read_bytes()))
    s3.put_object(Bucket=dag_bucket, Key=file.key, Body=other,
                  Metadata={SHA256_METADATA: hashlib.sha256(other).hexdigest()})  # fmt: skip

    result = ship(dag_bucket, bundle, verify_metadata=True)

    assert file.key in {u.file.key for u in result.plan.uploads}
    body = s3.get_object(Bucket=dag_bucket, Key=file.key)["Body"].read()
    assert body == file.source.read_bytes()


def test_ship_deletes_nothing_when_an_upload_fails(s3: Any, dag_bucket: str, bundle: Path) -> None:
    ship(dag_bucket, bundle)
    (bundle / "etl_hourly.py").unlink()
    write_tree(bundle, {"etl_daily.py": "changed = True\n"})
    client = s3_client()

    def refuse(params: dict[str, Any], **_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "PutObject")

    client.meta.events.register("before-parameter-build.s3.PutObject", refuse)

    with pytest.raises(ShipError, match=r"uploading etl_daily\.py to s3://.*injected"):
        ship_dags(client, dag_bucket, bundle_files(bundle))

    assert "dags/etl_hourly.py" in dag_objects(s3, dag_bucket)


def test_ship_names_the_bucket_when_it_does_not_exist(bundle: Path, moto: Any) -> None:
    with pytest.raises(ShipError, match="listing s3://no-such-bucket-here/dags/ failed"):
        ship("no-such-bucket-here", bundle)


# The command line: options, the bucket name, the check before shipping.


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Any:
    return runner.invoke(app, ["ship-dags", *args], env=env)


def test_cli_dry_run_prints_the_plan_and_changes_nothing(
    s3: Any, dag_bucket: str, bundle: Path
) -> None:
    before = all_versions(s3, dag_bucket)

    result = invoke("dev", "--source", str(bundle), "--bucket", dag_bucket, "--dry-run",
                    "--no-check")  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "upload (new)" in result.stdout
    assert "dags/reports/weekly.py" in result.stdout
    assert "would be uploaded" in result.stdout
    assert all_versions(s3, dag_bucket) == before


def test_cli_bucket_flag_beats_its_variable_when_both_are_given(
    s3: Any, dag_bucket: str, bundle: Path
) -> None:
    env = {"AIRFLOW_PLATFORM_DAGS_BUCKET": "not-this-bucket"}

    result = invoke("dev", "--source", str(bundle), "--bucket", dag_bucket, "--no-check",
                    env=env)  # fmt: skip

    assert result.exit_code == 0, result.output
    assert len(dag_objects(s3, dag_bucket)) == 5


def test_cli_reads_bucket_and_source_from_variables_when_no_flags_are_given(
    s3: Any, dag_bucket: str, bundle: Path
) -> None:
    env = {
        "AIRFLOW_PLATFORM_DAGS_BUCKET": dag_bucket,
        "AIRFLOW_PLATFORM_DAGS_SOURCE": str(bundle),
        "AIRFLOW_PLATFORM_SHIP_NO_CHECK": "1",
    }

    result = invoke("dev", env=env)

    assert result.exit_code == 0, result.output
    assert len(dag_objects(s3, dag_bucket)) == 5


def test_cli_derives_the_stack_bucket_from_the_account_and_the_stack_region(
    s3: Any, bundle: Path
) -> None:
    # pr-<n> follows dev's file: mwaa in eu-west-1; moto's STS answers account 123456789012.
    stack = f"pr-{uuid.uuid4().int % 100000}"
    bucket = f"airflow-{stack}-dags-123456789012-eu-west-1"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

    result = invoke(stack, "--source", str(bundle), "--project-dir", str(ROOT), "--no-check")

    assert result.exit_code == 0, result.output
    assert f"s3://{bucket}/dags/" in result.stdout
    assert len(dag_objects(s3, bucket)) == 5


def project_with_stack(root: Path, stack_file: str) -> Path:
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: airflow-platform\nruntime: python\n"
                                      "stackConfigDir: stacks\n")  # fmt: skip
    (root / "stacks" / "Pulumi.qa.yaml").write_text(stack_file)
    return root


def test_cli_takes_the_region_from_aws_region_when_the_stack_sets_none(
    s3: Any, bundle: Path, tmp_path: Path
) -> None:
    project = project_with_stack(tmp_path / "project", "config:\n  airflow-platform:tier: dev\n")
    bucket = "airflow-qa-dags-123456789012-us-west-2"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})

    result = invoke("qa", "--source", str(bundle), "--project-dir", str(project), "--no-check",
                    env={"AWS_REGION": "us-west-2"})  # fmt: skip

    assert result.exit_code == 0, result.output
    assert len(dag_objects(s3, bucket)) == 5


def test_cli_exits_2_asking_for_bucket_when_no_region_is_known(
    moto: Any, bundle: Path, tmp_path: Path
) -> None:
    project = project_with_stack(tmp_path / "project", "config:\n  airflow-platform:tier: dev\n")

    result = invoke("qa", "--source", str(bundle), "--project-dir", str(project), "--no-check",
                    env={"AWS_REGION": None, "AWS_DEFAULT_REGION": None})  # fmt: skip

    assert result.exit_code == 2, result.output
    assert "aws:region is required" in result.stderr
    assert "--bucket" in result.stderr


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_cli_ships_to_an_eks_stack_bucket_named_by_the_same_rule(
    s3: Any, bundle: Path, stack: str
) -> None:
    # eks pods read the DAG bucket's dags/ prefix through Airflow's S3 DAG bundle, so an eks
    # stack takes a DAG-only deploy exactly as an mwaa one does.
    from airflow_platform.config import Platform, settings_from_values
    from airflow_platform.plan.project import Project, read_stack_config

    project = Project.load(ROOT)
    settings = settings_from_values(
        project.name, stack, dict(read_stack_config(project, stack).values)
    )
    assert settings.platform is Platform.EKS
    bucket = f"airflow-{stack}-dags-123456789012-{settings.region}"
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        where = {"LocationConstraint": settings.region}
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=where)

    result = invoke(stack, "--source", str(bundle), "--project-dir", str(ROOT), "--no-check")

    assert result.exit_code == 0, result.output
    assert f"s3://{bucket}/dags/" in result.stdout
    assert set(dag_objects(s3, bucket)) == {f.key for f in bundle_files(bundle)}


def test_cli_exits_2_when_the_stack_account_cannot_be_found(bundle: Path, moto: Any) -> None:
    # No endpoint answering STS: the account, hence the bucket name, is unknown.
    result = invoke("dev", "--source", str(bundle), "--project-dir", str(ROOT), "--no-check",
                    env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                         "AWS_MAX_ATTEMPTS": "1"})  # fmt: skip

    assert result.exit_code == 2, result.output
    assert "STS GetCallerIdentity" in result.stderr
    assert "--bucket" in result.stderr


def test_cli_refuses_an_empty_bundle_rather_than_deleting_every_dag(
    s3: Any, dag_bucket: str, bundle: Path, tmp_path: Path
) -> None:
    ship(dag_bucket, bundle)
    empty = tmp_path / "empty"
    empty.mkdir()

    result = invoke("dev", "--source", str(empty), "--bucket", dag_bucket, "--no-check")

    assert result.exit_code == 2, result.output
    assert "no file to ship" in result.stderr
    assert len(dag_objects(s3, dag_bucket)) == 5


def test_cli_refuses_to_ship_a_bundle_whose_dags_fail_to_import(
    s3: Any, dag_bucket: str, bundle: Path
) -> None:
    write_tree(bundle, {"broken_dag.py": "from airflow.sdk import dag\n\ndef broken(:\n"})

    result = invoke("dev", "--source", str(bundle), "--bucket", dag_bucket)

    assert result.exit_code == 1, result.output
    assert "broken_dag.py" in result.stderr
    assert "not shipping" in result.stderr
    assert dag_objects(s3, dag_bucket) == {}


def test_cli_checks_then_ships_a_bundle_whose_dags_import(
    s3: Any, dag_bucket: str, bundle: Path
) -> None:
    result = invoke("dev", "--source", str(bundle), "--bucket", dag_bucket)

    assert result.exit_code == 0, result.output
    assert "3 DAG(s) import cleanly" in result.stderr
    assert len(dag_objects(s3, dag_bucket)) == 5
    assert os.environ.get("AWS_ENDPOINT_URL"), "the test must talk to moto"


@pytest.mark.parametrize("layout", ["repository", "shipped"])
def test_ship_sends_the_dbt_project_and_its_manifest_under_dags_dbt_but_no_other_dbt_output(
    s3: Any, dag_bucket: str, tmp_path: Path, dbt_project: Path, layout: str
) -> None:
    from tests.conftest import copy_dbt_bundle

    dags = tmp_path / "dags"
    project = copy_dbt_bundle(dbt_project, dags)
    (dags / ".airflowignore").write_text("dbt/\n")
    if layout == "repository":  # dbt/ beside dags/, as in this repository
        project = project.rename(tmp_path / "dbt")
    write_tree(project, {"target/run_results.json": "{}", "logs/dbt.log": "log\n"})

    result = ship(dag_bucket, dags)

    keys = set(dag_objects(s3, dag_bucket))
    assert result.uploaded == len(keys)
    dbt_keys = {k for k in keys if k.startswith("dags/dbt/")}
    expected = {
        f"dags/dbt/{p.relative_to(project).as_posix()}"
        for p in project.rglob("*")
        if p.is_file() and p.relative_to(project).parts[0] not in {"target", "logs"}
    }
    assert dbt_keys - expected == {
        "dags/dbt/target/manifest.json", "dags/dbt/target/manifest.sources.json"
    }  # fmt: skip
    assert expected <= dbt_keys
    assert "dags/dbt/models/staging/stg_orders.sql" in dbt_keys
    assert "dags/elt_dbt.py" in keys
