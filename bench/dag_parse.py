"""Benchmark: how long each DAG file of the bundle takes to parse, as a ratio to an empty DAG
file parsed the same way in the same run.

What the DAG processor pays for a file is its import: the file's own code plus every module
it pulls in that is not loaded yet. So each measurement is one fresh interpreter that first
imports what the processor already has loaded (Airflow, `airflow.sdk`, DagBag, and, as the
processor does before each parse, every `airflow.*` module the file imports), then times
`DagBag(dag_folder=<file>)` for that one file, and reports the seconds and the DAGs found.
What is left is the file's own cost: its code and its non-Airflow imports (`platform_ops`
and whatever that pulls in).
The empty DAG file (a DAG with no tasks, from `airflow.sdk`) is the baseline: a ratio of 1.0
means the file costs no more than the DAG machinery itself.

Files and the baseline are measured interleaved, `--repeat` rounds (default 7) with the
order rotated every round, so a slow spell of the machine hits all alike; the result is the
median ratio per file (min-max across rounds of file / same-round baseline). Aim: <= 1.5
each. A one-@task DAG is measured too: what it costs over the empty one is Airflow's task
decorator, loaded on first use in every parse process, which no DAG with a task avoids.
Seconds are printed for context only.

    .venv/bin/python bench/dag_parse.py                 # every DAG file of dags/
    .venv/bin/python bench/dag_parse.py --repeat 3      # quicker look
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "infra"))

from ratios import median_range  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402

RATIO_AIM = 1.5
EMPTY_DAG = '''"""An empty DAG: the baseline."""

from datetime import datetime

from airflow.sdk import DAG

with DAG(dag_id="empty", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         max_active_runs=1):
    pass
'''
# The smallest real DAG: one @task. What it costs beyond the empty DAG is Airflow's own (the
# standard provider's task decorator, loaded on first use), which every @task DAG pays.
ONE_TASK_DAG = '''"""One @task: the smallest real DAG."""

from datetime import datetime

from airflow.sdk import DAG, task

with DAG(dag_id="one_task", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         max_active_runs=1):

    @task
    def work() -> int:
        return 1

    work()
'''
# The elt_dbt DAG as it would be with Cosmos's `dbt ls` load mode (dbt runs at every parse):
# context for the manifest load mode's figure. Cosmos's dbt ls cache is turned off for it
# (DBT_LS_ENV), or every parse after the first would measure the cache instead.
DBT_LS_DAG = '''"""elt_dbt with LoadMode.DBT_LS (context only)."""

import sys
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG
from cosmos import DbtTaskGroup, InvocationMode, LoadMode, ProjectConfig, RenderConfig

sys.path.insert(0, {dags!r})  # not PYTHONPATH: see DBT_LS_ENV
from platform_ops.dbt_elt import execution_config, profile_config  # noqa: E402

with DAG(dag_id="elt_dbt_ls", schedule=None, start_date=datetime(2026, 1, 1),
         catchup=False, max_active_runs=1):
    DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(dbt_project_path=Path({project!r})),
        render_config=RenderConfig(load_method=LoadMode.DBT_LS, dbt_executable_path={dbt!r},
                                   invocation_mode=InvocationMode.SUBPROCESS),
        execution_config=execution_config(),
        profile_config=profile_config(),
    )
'''
DBT_RATIO_AIM = 3.0
"""The dbt DAG's aim, against the one-@task DAG."""
# PYTHONPATH is emptied for it: `dbt ls` is a child of the parse and inherits it, and dbt
# imports every module named `dbt_*` on its path as a plugin (dbt/plugins/manager.py), which
# would include dags/elt_dbt.py.
DBT_LS_ENV = {
    "PYTHONPATH": "",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "AIRFLOW__COSMOS__ENABLE_CACHE_DBT_LS": "False",
    # dbt ls builds a profile from the connection but never connects.
    "AIRFLOW_CONN_DWH": '{"conn_type": "postgres", "host": "localhost", "login": "parse", '
    '"password": "parse", "schema": "parse", "port": 5432}',
}
# Runs in the child: what the DAG processor has loaded before it parses a file, then the file.
# The processor also imports every `airflow.*` module the file names before it forks the
# parse (`[dag_processor] parsing_pre_import_modules`), so those are loaded here too, and it
# freezes its heap (`gc.freeze()`) before the parsing loop, so a parse's garbage collections
# do not walk the manager's objects.
CHILD = """
import importlib, json, sys, time
import airflow, airflow.sdk
import airflow.dag_processing.manager, airflow.dag_processing.processor
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.file import iter_airflow_imports
for module in iter_airflow_imports(sys.argv[1]):
    importlib.import_module(module)
import gc
gc.freeze()  # as the processor manager does before its parsing loop
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "dags": len(bag.dags), "errors": len(bag.import_errors),
                  "error": next(iter(bag.import_errors.values()), "")[-1500:]}))
"""


def dag_files(folder: Path) -> list[Path]:
    """The bundle's Python files that hold a DAG (what the processor parses)."""
    from airflow_platform.bundle import bundle_files

    def might_hold_a_dag(path: Path) -> bool:  # Airflow's safe-mode test
        text = path.read_bytes().lower()
        return b"dag" in text and b"airflow" in text

    candidates = (folder / file.path for file in bundle_files(folder))
    return [path for path in candidates if path.suffix == ".py" and might_hold_a_dag(path)]


def parse_once(path: Path, env_home: str, extra_env: dict[str, str] | None = None) -> dict:
    import os

    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": env_home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(path.parent),
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "dags"), env.get("PYTHONPATH", "")]),
        }
    )
    env.update(extra_env or {})
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"parsing {path} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=REPO_ROOT / "dags")
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds; medians")
    args = parser.parse_args()

    console = Console(width=120)
    with tempfile.TemporaryDirectory(prefix="bench-dag-parse-") as work:
        empty = Path(work) / "empty_dag.py"
        empty.write_text(EMPTY_DAG)
        one_task = Path(work) / "one_task_dag.py"
        one_task.write_text(ONE_TASK_DAG)
        files = dag_files(args.folder)
        dbt_ls = Path(work) / "elt_dbt_ls.py"
        dbt = REPO_ROOT / ".venv-dbt" / "bin" / "dbt"
        dbt_ls.write_text(
            DBT_LS_DAG.format(
                project=str(REPO_ROOT / "dbt"), dbt=str(dbt), dags=str(REPO_ROOT / "dags")
            )
        )
        dbt_files = [p for p in files if p.name == "elt_dbt.py"] + [dbt_ls]
        subjects = [empty, one_task, *files, dbt_ls]
        seconds: dict[Path, list[float]] = {path: [] for path in subjects}
        ratios: dict[Path, list[float]] = {path: [] for path in [one_task, *files, dbt_ls]}
        over_one_task: dict[Path, list[float]] = {path: [] for path in dbt_files}
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("parsing", total=args.repeat * len(subjects))
            for round_number in range(args.repeat):
                shift = round_number % len(subjects)
                measured: dict[Path, float] = {}
                for path in subjects[shift:] + subjects[:shift]:
                    result = parse_once(path, work, DBT_LS_ENV if path == dbt_ls else None)
                    if result["errors"] or result["dags"] < 1:
                        raise SystemExit(f"{path}: {result}")
                    measured[path] = result["seconds"]
                    progress.advance(task)
                for path, value in measured.items():
                    seconds[path].append(value)
                for path in [one_task, *files, dbt_ls]:
                    ratios[path].append(measured[path] / measured[empty])
                for path in dbt_files:
                    over_one_task[path].append(measured[path] / measured[one_task])

    table = Table(
        title=f"DAG file parse time / an empty DAG file's, fresh interpreter each, median "
        f"(min-max) of {args.repeat} interleaved rounds"
    )
    table.add_column("DAG file")
    table.add_column("ratio", justify="right")
    table.add_column("aim")
    table.add_column("met")
    table.add_column("ms (context)", justify="right")
    worst = 0.0
    one_task_median = statistics.median(ratios[one_task])
    for path in files:
        if path.name == "elt_dbt.py":
            continue  # its own table below: Cosmos's parse has an aim of its own
        median = statistics.median(ratios[path])
        worst = max(worst, median)
        table.add_row(
            path.relative_to(args.folder).as_posix(),
            f"{median:.2f} ({min(ratios[path]):.2f}-{max(ratios[path]):.2f})",
            f"<= {RATIO_AIM}",
            "yes" if median <= RATIO_AIM else "no",
            f"{statistics.median(seconds[path]) * 1000:.0f}",
        )
    table.add_row(
        "(one @task DAG: Airflow's own cost)",
        f"{one_task_median:.2f} ({min(ratios[one_task]):.2f}-{max(ratios[one_task]):.2f})",
        "(context)",
        "",
        f"{statistics.median(seconds[one_task]) * 1000:.0f}",
    )
    table.add_row(
        "(empty DAG file, baseline)",
        "1",
        "",
        "",
        f"{statistics.median(seconds[empty]) * 1000:.0f}",
    )
    console.print(table)
    dbt_table = Table(title="The dbt DAG (Cosmos) / the one-@task DAG, same rounds")
    dbt_table.add_column("DAG file")
    dbt_table.add_column("ratio to one @task", justify="right")
    dbt_table.add_column("aim")
    dbt_table.add_column("met")
    dbt_table.add_column("ms (context)", justify="right")
    for path in dbt_files:
        median = statistics.median(over_one_task[path])
        manifest_mode = path != dbt_ls
        dbt_table.add_row(
            "elt_dbt.py (manifest load mode)" if manifest_mode else "elt_dbt, dbt ls load mode",
            median_range(over_one_task[path]),
            f"<= {DBT_RATIO_AIM}" if manifest_mode else "(context)",
            ("yes" if median <= DBT_RATIO_AIM else "no") if manifest_mode else "",
            f"{statistics.median(seconds[path]) * 1000:.0f}",
        )
    console.print(dbt_table)
    console.print(
        f"worst file: {worst:.2f} x the empty DAG file, {worst / one_task_median:.2f} x the "
        "one-@task DAG"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
