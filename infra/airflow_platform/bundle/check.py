"""`airflow-platform check-dags`: import the DAG bundle in the pinned Airflow, as the DAG
processor would, and report every import error, cycle and quality-gate violation
(`rules.py`: owner, retries, failure callback, tags, explicit catchup and max_active_runs, no
heavy top-level import) with its file, and a missing or stale dbt manifest (`dbt.py`) naming
the manifest and the changed file.

The import runs in a child process of the same interpreter (`python -m
airflow_platform.bundle.check <folder>`): user DAG code can do anything at import time
(change `sys.modules`, start threads, print, exit), none of which may reach the CLI. The
child parses with Airflow's own `DagBag` (the `.airflowignore` rules, safe-mode discovery,
the per-file import timeout, `dag.check_cycle()` and duplicate dag_id detection all come
from Airflow) and writes one JSON document to its stdout; anything the DAGs or Airflow print
goes to its stderr instead. Without `AIRFLOW_HOME`, the child gets a throwaway one.

Airflow 3 checks cycles when it bags a DAG, so a cyclic DAG is an import error of its file
(`AirflowDagCycleException: Cycle detected in Dag: ...`); tests/dags/test_check_dags.py
holds it to that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHECK_TIMEOUT_SECONDS = 900
"""Whole-check limit; Airflow's own per-file limit (`core.dagbag_import_timeout`, 30 s by
default) stops a single slow file first."""
_STDERR_TAIL = 4000


class AirflowMissingError(Exception):
    """Airflow cannot be imported by this interpreter."""


class CheckCrashedError(Exception):
    """The child process died without a report."""


@dataclass(frozen=True)
class FoundDag:
    dag_id: str
    file: str
    """Relative to the checked folder."""
    tasks: int


@dataclass(frozen=True)
class Problem:
    file: str
    message: str


@dataclass(frozen=True)
class CheckResult:
    airflow_version: str
    dags: list[FoundDag] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    """Import errors, cycles and duplicate dag_ids, one per file."""
    warnings: list[Problem] = field(default_factory=list)
    violations: list[Problem] = field(default_factory=list)
    """Quality-gate rules a DAG or DAG file breaks (`airflow_platform.bundle.rules`)."""

    @property
    def ok(self) -> bool:
        return not self.errors and not self.violations


def check_bundle(source: Path, timeout: float = CHECK_TIMEOUT_SECONDS) -> CheckResult:
    """Parse `source` in a child interpreter; AirflowMissingError or CheckCrashedError when
    there is no report."""
    source = source.resolve()
    env = dict(os.environ)
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(source)
    # The bundle's own packages (dags/platform_ops) are imported from the folder checked,
    # ahead of any installed copy, as on the workers.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(source), env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="check-dags-") as home:
        env.setdefault("AIRFLOW_HOME", home)
        try:
            child = subprocess.run(  # noqa: S603 - this interpreter, list argv, no shell
                [sys.executable, "-m", "airflow_platform.bundle.check", str(source)],
                env=env,
                capture_output=True,
                timeout=timeout,
                check=False,
                cwd=home,
            )
        except subprocess.TimeoutExpired:
            raise CheckCrashedError(
                f"importing the DAGs took longer than {timeout:.0f} s"
            ) from None
    try:
        report = json.loads(child.stdout)
    except ValueError:
        tail = child.stderr.decode(errors="replace")[-_STDERR_TAIL:]
        raise CheckCrashedError(
            f"the check process exited with {child.returncode} without a report:\n{tail}"
        ) from None
    if "airflow_missing" in report:
        raise AirflowMissingError(report["airflow_missing"])
    return CheckResult(
        airflow_version=report["airflow_version"],
        dags=[FoundDag(**dag) for dag in report["dags"]],
        errors=[Problem(**problem) for problem in report["errors"]] + _dbt_problems(source),
        warnings=[Problem(**problem) for problem in report["warnings"]],
        violations=[Problem(**problem) for problem in report["violations"]],
    )


def _dbt_problems(source: Path) -> list[Problem]:
    """The dbt project's manifest (`bundle.dbt`), missing or stale, as an error of its file."""
    from airflow_platform.bundle.dbt import MANIFEST, find_project, manifest_problem

    project = find_project(source)
    problem = manifest_problem(project) if project else None
    return [Problem(file=project.named(MANIFEST), message=problem)] if project and problem else []


def _relative(path: str, source: Path) -> str:
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            return candidate.resolve().relative_to(source).as_posix()
        except ValueError:
            return path
    return candidate.as_posix()


def _report(source: Path) -> dict[str, Any]:
    """Runs in the child: DagBag over `source`, as JSON-able data."""
    try:
        import airflow
        from airflow.dag_processing.dagbag import DagBag
    except ImportError as error:
        return {"airflow_missing": str(error)}

    bag = DagBag(dag_folder=str(source), bundle_path=source)
    dags = [
        {"dag_id": dag_id, "file": _relative(dag.fileloc, source), "tasks": len(dag.tasks)}
        for dag_id, dag in sorted(bag.dags.items())
    ]
    errors = [
        {"file": _relative(path, source), "message": str(message)}
        for path, message in sorted(bag.import_errors.items())
    ]
    warnings = [
        {"file": _relative(path, source), "message": message}
        for path, messages in sorted(bag.captured_warnings.items())
        for message in messages
    ]
    return {
        "airflow_version": airflow.__version__,
        "dags": dags,
        "errors": errors,
        "warnings": warnings,
        "violations": _violations(bag, source),
    }


def _violations(bag: Any, source: Path) -> list[dict[str, str]]:
    """The quality gate's rules over every parsed DAG and every file that holds one."""
    from airflow_platform.bundle.rules import dag_problems, source_problems

    found: list[dict[str, str]] = []
    for _, dag in sorted(bag.dags.items()):
        file = _relative(dag.fileloc, source)
        found += [{"file": file, "message": message} for message in dag_problems(dag)]
    for path in sorted({dag.fileloc for dag in bag.dags.values()}):
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        file = _relative(path, source)
        found += [{"file": file, "message": message} for message in source_problems(text, path)]
    return found


def main(argv: list[str]) -> int:
    """The child: the report on the original stdout, everything else on stderr."""
    report_fd = os.dup(1)
    os.dup2(2, 1)
    report = _report(Path(argv[0]).resolve())
    with os.fdopen(report_fd, "w") as out:
        json.dump(report, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
