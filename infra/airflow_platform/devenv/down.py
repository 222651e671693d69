"""`dev down`: stop what `dev up` started, and only that.

The Airflow components first (triggerer, DAG processor, scheduler, then the API server, so
the others can report to it while they finish), then the Slack sink and moto, then
PostgreSQL (a fast shutdown: its data stays under `.dev/postgres`). Only processes the state
file records, and only while their start time matches (`state.Proc`). The state file goes
last; a foreground `dev up` sees it gone and exits.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from airflow_platform.devenv import processes
from airflow_platform.devenv.state import DevEnvError, DevState, Layout, locked, read_state

STOP_ORDER = ("triggerer", "dag-processor", "scheduler", "api-server", "slack", "moto")


def stop_state(layout: Layout, state: DevState, grace: float) -> None:
    """Stop every process `state` records (the caller holds the lock); remove the state file."""
    from airflow_platform.devenv.services import Postgres

    recorded = state.processes
    airflow = [recorded[n] for n in STOP_ORDER[:4] if n in recorded]
    processes.stop(airflow, grace)
    others = [recorded[n] for n in STOP_ORDER[4:] if n in recorded]
    processes.stop(others, grace=min(grace, 5))
    if "postgres" in recorded:
        Postgres(layout).stop(recorded["postgres"], grace)
    layout.state.unlink(missing_ok=True)


def stop(home: Path, grace: float = processes.STOP_GRACE_SECONDS) -> DevState | None:
    """Stop the local Airflow of `home/.dev`; what was running, or None when nothing was."""
    layout = Layout.of(home)
    if not layout.root.is_dir():
        return None
    with locked(layout):
        state = read_state(layout)
        if state is None:
            return None
        stop_state(layout, state, grace)
    return state


def reset(home: Path) -> bool:
    """Delete `home/.dev` (database, passwords, logs); refused while it runs. Whether there
    was anything to delete."""
    layout = Layout.of(home)
    if not layout.root.is_dir():
        return False
    with locked(layout):
        state = read_state(layout)
        if state is not None and state.running():
            raise DevEnvError(
                f"the local Airflow of {layout.root} is running: `airflow-platform dev down` first"
            )
        shutil.rmtree(layout.root)
    return True
