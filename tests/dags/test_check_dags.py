"""`check-dags` imports a bundle in the pinned Airflow, in a child process, and fails on any
import error or cycle naming the file; the repository's own bundle passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from airflow_platform.bundle.check import AirflowMissingError, CheckCrashedError, check_bundle
from airflow_platform.cli import app
from airflow_platform.versions import versions
from tests.conftest import ROOT, write_tree

runner = CliRunner()

# Passes the quality gate too: owner, retries, a failure callback, tags, explicit catchup
# and max_active_runs.
GOOD_DAG = '''"""{dag_id}"""

from datetime import datetime

from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator


def alert(context):
    print("failed", context)


with DAG(
    dag_id="{dag_id}",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["test"],
    default_args={{"owner": "data", "retries": 1, "on_failure_callback": alert}},
):
    a = EmptyOperator(task_id="a")
    b = EmptyOperator(task_id="b")
    a >> b
'''
CYCLIC_DAG = '''"""A DAG whose tasks form a cycle: a >> b >> c >> a."""

from datetime import datetime

from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG(dag_id="cyclic", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    a = EmptyOperator(task_id="a")
    b = EmptyOperator(task_id="b")
    c = EmptyOperator(task_id="c")
    a >> b >> c >> a
'''
SYNTAX_ERROR = "from airflow.sdk import dag\n\ndef broken(:\n    pass\n"
IMPORT_ERROR = "from airflow.sdk import dag\nimport a_module_that_does_not_exist\n"


def check_dags(source: Path, **env: str) -> Any:
    return runner.invoke(app, ["check-dags", "--source", str(source)], env=env or None)


def test_check_passes_on_the_repository_bundle_and_lists_its_dags(dbt_project: Path) -> None:
    result = check_dags(ROOT / "dags")

    assert result.exit_code == 0, result.output
    assert "metadata_backup" in result.stdout
    assert "metadata_backup.py" in result.stdout


def test_check_lists_one_line_per_dag_with_its_file_when_the_bundle_is_clean(
    tmp_path: Path,
) -> None:
    files = {
        "first.py": GOOD_DAG.format(dag_id="first"),
        "team/second.py": GOOD_DAG.format(dag_id="second"),
    }
    source = write_tree(tmp_path / "dags", files)

    report = check_bundle(source)

    assert report.ok
    assert report.airflow_version == versions().airflow
    assert [(d.dag_id, d.file, d.tasks) for d in report.dags] == [
        ("first", "first.py", 2),
        ("second", "team/second.py", 2),
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(SYNTAX_ERROR, "SyntaxError", id="syntax-error"),
        pytest.param(IMPORT_ERROR, "a_module_that_does_not_exist", id="import-error"),
        pytest.param(CYCLIC_DAG, "Cycle detected in Dag: cyclic", id="cycle"),
    ],
)
def test_check_fails_naming_the_file_when_a_dag_is_broken(
    tmp_path: Path, content: str, expected: str
) -> None:
    source = write_tree(tmp_path / "dags", {"good.py": GOOD_DAG.format(dag_id="good"),
                                        "team/bad_dag.py": content})  # fmt: skip

    report = check_bundle(source)
    result = check_dags(source)

    assert [(p.file, expected in p.message) for p in report.errors] == [("team/bad_dag.py", True)]
    assert result.exit_code == 1, result.output
    assert "team/bad_dag.py" in result.stderr
    assert "1 DAG file(s)" in result.stderr


def test_check_fails_when_two_files_declare_the_same_dag_id(tmp_path: Path) -> None:
    source = write_tree(tmp_path / "dags", {"one.py": GOOD_DAG.format(dag_id="same"),
                                        "two.py": GOOD_DAG.format(dag_id="same")})  # fmt: skip

    report = check_bundle(source)

    # Whichever file Airflow parses second is the one in error; the message names both.
    assert not report.ok
    assert len(report.errors) == 1
    assert report.errors[0].file in {"one.py", "two.py"}
    assert "same" in report.errors[0].message
    assert {"one.py", "two.py"} <= set(report.errors[0].message.replace("/", " ").split())


def test_check_keeps_its_report_when_a_dag_prints_on_import(tmp_path: Path) -> None:
    noisy = 'print("{not json")\n' + GOOD_DAG.format(dag_id="noisy")
    source = write_tree(tmp_path / "dags", {"noisy.py": noisy})

    report = check_bundle(source)

    assert report.ok
    assert [d.dag_id for d in report.dags] == ["noisy"]


def test_check_fails_without_poisoning_the_caller_when_a_dag_exits_the_interpreter(
    tmp_path: Path,
) -> None:
    source = write_tree(
        tmp_path / "dags", {"exits.py": "import os\nimport airflow  # dag\nos._exit(3)\n"}
    )

    with pytest.raises(CheckCrashedError, match="exited with 3"):
        check_bundle(source)

    result = check_dags(source)
    assert result.exit_code == 1, result.output


def test_check_exits_2_naming_the_pinned_version_when_airflow_cannot_be_imported(
    tmp_path: Path,
) -> None:
    # A package named airflow ahead of the real one, failing as an absent one would.
    shadow = write_tree(
        tmp_path / "shadow", {"airflow/__init__.py": "raise ImportError('no airflow')\n"}
    )
    source = write_tree(tmp_path / "dags", {"good.py": GOOD_DAG.format(dag_id="good")})

    with pytest.raises(AirflowMissingError, match="no airflow"):
        check_bundle_with_pythonpath(source, shadow)
    result = check_dags(source, PYTHONPATH=str(shadow))

    assert result.exit_code == 2, result.output
    assert f"apache-airflow=={versions().airflow}" in result.stderr
    assert "versions.env" in result.stderr


def check_bundle_with_pythonpath(source: Path, path: Path) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(path))
        return check_bundle(source)


def test_check_imports_the_bundle_packages_from_the_checked_folder(tmp_path: Path) -> None:
    # A copy of the bundle whose logic package differs from the installed one is checked
    # with its own copy, as the workers would run it.
    source = write_tree(
        tmp_path / "dags",
        {
            "platform_ops/__init__.py": "MARKER = 'copy'\n",
            ".airflowignore": "platform_ops/\n",
            "uses_marker.py": "from platform_ops import MARKER\nassert MARKER == 'copy'\n"
            + GOOD_DAG.format(dag_id="uses_marker"),
        },
    )

    report = check_bundle(source)

    assert report.ok, report.errors
