"""The DAG quality gate: beyond importing, every DAG sets an owner, retries, a failure
callback and tags, gives `catchup` and `max_active_runs` explicitly, and imports nothing
heavy at the top of its file. `check-dags` fails on each, naming the file; the repository's
bundle passes all of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from airflow_platform.bundle.check import check_bundle
from airflow_platform.bundle.rules import HEAVY_MODULES, dag_problems, source_problems
from airflow_platform.cli import app
from tests.conftest import ROOT, write_tree

runner = CliRunner()

HEADER = """from datetime import datetime

from airflow.sdk import DAG, dag, task


def alert(context):
    print("failed", context)


"""
FULL = (
    'catchup=False, max_active_runs=1, tags=["t"], '
    'default_args={"owner": "data", "retries": 1, "on_failure_callback": alert}'
)


def dag_file(dag_id: str, arguments: str = FULL, top: str = "") -> str:
    return (
        top
        + HEADER
        + f'with DAG(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), '
        + f"{arguments}):\n"
        + "    @task\n    def work() -> int:\n        return 1\n\n    work()\n"
    )


# Rules read from the file's text.


@pytest.mark.parametrize("module", ["boto3", "pandas", "requests", "pulumi", "sqlalchemy.orm"])
def test_a_heavy_import_at_module_level_is_named_with_its_line(module: str) -> None:
    problems = source_problems(f"import os\nimport {module}\n")

    assert problems == [f"line 2: imports {module} at module level; import it inside the task"]


def test_a_heavy_from_import_and_one_inside_a_top_level_try_are_both_flagged() -> None:
    text = (
        "from boto3.session import Session\n"
        "try:\n    import pandas as pd\nexcept ImportError:\n    pd = None\n"
    )

    assert [p.split(":")[0] for p in source_problems(text)] == ["line 1", "line 3"]


def test_heavy_imports_inside_functions_or_type_checking_blocks_are_allowed() -> None:
    text = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import pandas\n"
        "def run():\n    import boto3\n    return boto3\n"
        "class Loader:\n    def load(self):\n        import requests\n"
    )

    assert source_problems(text) == []


def test_a_module_whose_name_only_starts_like_a_heavy_one_is_not_flagged() -> None:
    assert source_problems("import boto3_type_annotations\nimport pandasql_like\n") == []
    assert "boto3" in HEAVY_MODULES


@pytest.mark.parametrize(
    ("arguments", "missing"),
    [
        ("tags=['t']", "catchup or max_active_runs"),
        ("catchup=False", "max_active_runs"),
        ("max_active_runs=1", "catchup"),
    ],
)
def test_a_dag_call_must_give_catchup_and_max_active_runs_explicitly(
    arguments: str, missing: str
) -> None:
    problems = source_problems(f"from airflow.sdk import DAG\nDAG(dag_id='x', {arguments})\n")

    assert problems == [f"line 2: DAG(...) does not set {missing} explicitly"]


def test_a_bare_dag_decorator_sets_nothing_explicitly() -> None:
    text = "from airflow.sdk import dag\n\n@dag\ndef flow():\n    pass\n"

    assert source_problems(text) == [
        "line 3: @dag without arguments does not set catchup or max_active_runs explicitly"
    ]


def test_a_dag_call_with_unpacked_arguments_is_not_guessed_at() -> None:
    assert (
        source_problems("from airflow.sdk import dag\n@dag(**COMMON)\ndef f():\n    pass\n") == []
    )


def test_a_file_that_does_not_parse_is_left_to_the_import_check() -> None:
    assert source_problems("def broken(:\n") == []


# Rules read from the parsed DAG.


@pytest.fixture(scope="module")
def parse():
    from airflow.dag_processing.dagbag import DagBag

    def build(tmp: Path, text: str) -> Any:
        path = tmp / "flow.py"
        path.write_text(text)
        bag = DagBag(dag_folder=str(path))
        assert bag.import_errors == {}
        [dag] = bag.dags.values()
        return dag

    return build


def test_a_dag_with_everything_set_breaks_no_rule(parse: Any, tmp_path: Path) -> None:
    assert dag_problems(parse(tmp_path, dag_file("full"))) == []


def arguments_without(name: str) -> str:
    """FULL's arguments with one production setting left out."""
    defaults = {"owner": '"d"', "retries": "1", "on_failure_callback": "alert"}
    default_args = ", ".join(f'"{k}": {v}' for k, v in defaults.items() if k != name)
    tags = "" if name == "tags" else 'tags=["t"], '
    return f"catchup=False, max_active_runs=1, {tags}default_args={{{default_args}}}"


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ("owner", "full: no owner (set default_args owner): work"),
        ("retries", "full: no retries (set default_args retries >= 1): work"),
        (
            "on_failure_callback",
            "full: no failure callback (set on_failure_callback, e.g. task_failure_alert()): work",
        ),
        ("tags", "full: no tags"),
    ],
)
def test_each_missing_production_setting_is_named_with_the_tasks_lacking_it(
    parse: Any, tmp_path: Path, missing: str, expected: str
) -> None:
    dag = parse(tmp_path, dag_file("full", arguments_without(missing)))

    assert dag_problems(dag) == [expected]


def test_a_dag_level_failure_callback_covers_every_task(parse: Any, tmp_path: Path) -> None:
    arguments = (
        'catchup=False, max_active_runs=1, tags=["t"], on_failure_callback=alert, '
        'default_args={"owner": "d", "retries": 1}'
    )

    assert dag_problems(parse(tmp_path, dag_file("full", arguments))) == []


# The gate through check-dags.


def test_check_dags_fails_on_broken_rules_naming_each_file(tmp_path: Path) -> None:
    source = write_tree(
        tmp_path / "dags",
        {
            "good.py": dag_file("good"),
            "team/heavy.py": dag_file("heavy", top="import boto3\n"),
            "team/bare.py": dag_file("bare", 'tags=["t"]'),
        },
    )

    report = check_bundle(source)
    result = runner.invoke(app, ["check-dags", "--source", str(source)])

    assert report.errors == []
    broken = sorted({problem.file for problem in report.violations})
    assert broken == ["team/bare.py", "team/heavy.py"]
    assert result.exit_code == 1, result.output
    assert "team/heavy.py" in result.stderr
    assert "imports boto3" in result.stderr
    assert "quality-gate rule(s) broken in 2 file(s)" in result.stderr


def test_the_repository_bundle_passes_the_gate(dbt_project: Path) -> None:
    report = check_bundle(ROOT / "dags")

    assert report.errors == []
    assert report.violations == []
    assert {"metadata_backup", "metadata_cleanup"} <= {dag.dag_id for dag in report.dags}
