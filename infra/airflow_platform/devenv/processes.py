"""Child processes of a local Airflow: started in a session (so a process group) of their own
with their output in `.dev/logs/<component>.log`, stopped with SIGTERM and, after a grace
period, SIGKILL to what is left of their group; only processes recorded in the state file,
and only while their start time still matches (`state.Proc`).

The four Airflow components are `airflow api-server`, `airflow scheduler`,
`airflow dag-processor` and `airflow triggerer` (the pinned Airflow's CLI,
airflow/cli/cli_config.py). Each stops its own children on SIGTERM (the LocalExecutor's
workers, the triggerer's runner, the DAG processor's parsers) and marks its job finished, so
the health endpoint reports it unhealthy at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from airflow_platform.devenv.state import Proc

AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
"""Started in this order; stopped in the reverse (the API server last, so the others can
still reach the execution API while they finish)."""
STOP_GRACE_SECONDS = 15.0


def python() -> str:
    """The running Python (the project's .venv), for moto's server and the Slack sink."""
    return sys.executable


def airflow_executable() -> str:
    """The pinned Airflow's `airflow`, beside the running Python (the project's .venv)."""
    return str(Path(sys.executable).with_name("airflow"))


def spawn(args: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path | None = None) -> Proc:
    """`args` in a session of its own, stdout and stderr appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - list argv of our own, no shell
            list(args), env=dict(env), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=cwd,
        )  # fmt: skip
    # Not waited for here: it outlives this process after `dev up --detach`. A child that
    # exits while we run is reaped by `exited()`.
    return Proc.of(process.pid, log)


def exited(proc: Proc) -> bool:
    """Whether `proc` has finished (reaping it when it is our child)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(proc.pid, os.WNOHANG)
    return not proc.alive()


def _signal(proc: Proc, signum: int) -> None:
    if proc.alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signum)


def stop(procs: Sequence[Proc], grace: float = STOP_GRACE_SECONDS) -> list[Proc]:
    """SIGTERM to each recorded process at once, then, after `grace` seconds, SIGKILL to any
    still running and to what is left of its group. Returns those that needed SIGKILL."""
    for proc in procs:
        _signal(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    killed = []
    for proc in procs:
        while not exited(proc) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not exited(proc):
            killed.append(proc)
            _signal(proc, signal.SIGKILL)
        for pid in proc.group_members():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for proc in killed:
        end = time.monotonic() + 5
        while not exited(proc) and time.monotonic() < end:
            time.sleep(0.05)
    return killed


def tail(path: Path | str, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
