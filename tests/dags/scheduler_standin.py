"""Stands in for the scheduler for one DAG: runs each queued run of it, as the scheduler would.

`dag.test()` runs one DAG in-process and nothing else: the run a `TriggerDagRunOperator`
creates stays queued, and a trigger that waits for it (`wait_for_completion=True`) waits
forever. Tests start this module in a second process (`python -m`; two in-process runs
cannot share a process, the task runner's supervisor channel is a module global):

    python -m tests.dags.scheduler_standin dependency_target

It polls the metadata database (the same `AIRFLOW_HOME`) for queued runs of the DAG and
runs each through `dag.test()`'s own task loop, with the run left as it was created: its
run id, logical date and conf. `dag.test()` would otherwise delete a run of that logical
date and create its own, so its run-creating helper is pointed at the queued run, which it
marks running as the scheduler does. A run queued again (a trigger's `reset_dag_run`
clears it back to queued) is run again. It stops when terminated, when the process that
started it goes away, or after `--lifetime` seconds.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any
from unittest import mock

# Not tests.conftest's ROOT: importing conftest would point this process at a new, empty
# AIRFLOW_HOME instead of the one it inherits from the tests.
DAGS = Path(__file__).resolve().parents[2] / "dags"


def queued_run_id(dag_id: str, skip: set[str]) -> str | None:
    """The oldest queued run of `dag_id` not in `skip`, if any."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(
            select(DagRun.run_id)
            .where(DagRun.dag_id == dag_id, DagRun.state == DagRunState.QUEUED)
            .where(DagRun.run_id.not_in(skip))
            .order_by(DagRun.id)
            .limit(1)
        )


def run_queued(dag: Any, run_id: str) -> str:
    """Run the queued run `run_id` of `dag` to the end; returns its final state."""
    from airflow.models.dagrun import DagRun
    from airflow.sdk import timezone
    from airflow.utils.state import DagRunState
    from sqlalchemy import select

    def adopt_queued_run(*, dag: Any, session: Any, **_: Any) -> DagRun:
        run = session.scalar(
            select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id)
        )
        run.state = DagRunState.RUNNING
        run.start_date = timezone.utcnow()
        session.commit()
        run.dag = dag
        return run

    with mock.patch("airflow.models.dagrun.get_or_create_dagrun", adopt_queued_run):
        logical_date = _logical_date(dag.dag_id, run_id)
        return str(dag.test(logical_date=logical_date).state)


def _logical_date(dag_id: str, run_id: str) -> Any:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(
            select(DagRun.logical_date).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dag_id")
    parser.add_argument("--lifetime", type=float, default=600.0)
    parser.add_argument("--poll", type=float, default=0.2)
    args = parser.parse_args(argv)

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / f"{args.dag_id}.py"))
    if bag.import_errors or args.dag_id not in bag.dags:
        print(f"cannot load {args.dag_id}: {bag.import_errors}", flush=True)
        return 2
    dag = bag.dags[args.dag_id]
    parent = os.getppid()
    deadline = time.monotonic() + args.lifetime
    broken: set[str] = set()  # runs this process failed to run: not picked up again
    print(f"standing in for the scheduler of {args.dag_id}", flush=True)
    while time.monotonic() < deadline and os.getppid() == parent:
        run_id = queued_run_id(args.dag_id, broken)
        if run_id is None:
            time.sleep(args.poll)
            continue
        print(f"running {run_id}", flush=True)
        try:
            state = run_queued(dag, run_id)
        except Exception:
            traceback.print_exc()
            broken.add(run_id)
            state = "error"
        # The task runner leaves a SIGTERM handler behind that ignores the signal outside a
        # task: put the default back, so that terminating this process ends it.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        print(f"ran {run_id}: {state}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
