"""Benchmark: `airflow-platform dev up` against the bare `airflow standalone` of the same
Airflow, each from nothing to every component healthy, measured side by side in one run.

Each round runs both, interleaved (the order alternates between rounds, so a slow spell of
the machine hits both alike), each in a fresh temporary folder and stopped before the next:

    dev up        `airflow-platform dev up --detach --home <fresh> --dags <repository>/dags`:
                  moto, the Slack sink, a new embedded PostgreSQL cluster, `airflow db
                  migrate`, the four Airflow components, the dev tier's settings, the
                  repository's DAGs. Stopped with `airflow-platform dev down`.
    standalone    `airflow standalone` (.venv's Airflow, so the same version), a fresh
                  AIRFLOW_HOME: SQLite, the LocalExecutor, the simple auth manager creating
                  its admin, a free port through AIRFLOW__API__PORT, no example DAGs (its
                  DAG folder is empty). Stopped with SIGTERM to its process group (SIGKILL
                  to what is left after a grace period).

Each is timed from its process's start until `GET /api/v2/monitor/health` answers every
component (metadatabase, scheduler, triggerer, dag_processor) healthy, polled every 0.2 s.
The result is the ratio dev up / standalone (median, min-max over the rounds) against the
aim (<= 1.2); seconds are printed for context only. Where each side's time goes is shown as
shares of its own total: dev up's steps (the lines it prints), standalone's database
initialisation (until it logs "Database ready") and the rest. dev up's steps are its own
account, which runs from after the CLI has started until its own health check (every second)
passes, so they are shares of their sum, not of the time measured here.

    .venv/bin/python bench/dev_up.py                # 3 rounds
    .venv/bin/python bench/dev_up.py --repeat 1     # quick look
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from ratios import median_range  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from airflow_platform.devenv.services import free_port  # noqa: E402
from airflow_platform.devenv.up import health, unhealthy  # noqa: E402

RATIO_AIM = 1.2
SIDES = ("dev up", "standalone")
BIN = Path(sys.executable).parent
POLL = 0.2
STOP_GRACE = 20.0
# dev up's step lines: "✓ <step> (<seconds> s)".
_STEP = re.compile(r"✓ (.+?) \((\d+(?:\.\d+)?) s\)")


@dataclass
class Start:
    """One start: seconds until all healthy, and where they went (by phase)."""

    seconds: float
    phases: dict[str, float] = field(default_factory=dict)


def all_healthy(url: str) -> bool:
    """Every component healthy, by the rule `dev up` waits on (devenv.up)."""
    return not unhealthy(health(url, timeout=2))


def clean_environment() -> dict[str, str]:
    """This shell's environment without any Airflow settings of its own."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
        and name != "AIRFLOW_HOME"
    }


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's group, SIGKILL to it after STOP_GRACE seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(STOP_GRACE)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def dev_up(work: Path, timeout: float) -> Start:
    home = work / "home"
    program = str(BIN / "airflow-platform")
    env = clean_environment()
    started = time.monotonic()
    up = subprocess.Popen(
        [program, "dev", "up", "--detach", "--home", str(home), "--dags",
         str(REPO_ROOT / "dags"), "--timeout", str(int(timeout))],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    state_file = home / ".dev" / "state.json"
    url = None
    try:
        while time.monotonic() - started < timeout:
            if url is None and state_file.exists():
                with contextlib.suppress(ValueError, KeyError, OSError):
                    url = json.loads(state_file.read_text())["api_url"]
            if url is not None and all_healthy(url):
                seconds = time.monotonic() - started
                break
            if up.poll() not in (None, 0):
                output = up.stdout.read().decode(errors="replace") if up.stdout else ""
                raise SystemExit(f"dev up exited {up.returncode}:\n{output[-3000:]}")
            time.sleep(POLL)
        else:
            raise SystemExit(f"dev up: not healthy after {timeout:g} s")
        output = up.communicate(timeout=timeout)[0].decode(errors="replace")
        steps = {re.sub(r" on port \d+", "", name): float(value)
                 for name, value in _STEP.findall(output)}  # fmt: skip
        return Start(seconds, steps)
    finally:
        if up.poll() is None:
            stop_group(up)
        subprocess.run([program, "dev", "down", "--home", str(home)], env=env,
                       capture_output=True, timeout=120, check=False)  # fmt: skip


def standalone(work: Path, timeout: float) -> Start:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = clean_environment()
    env.update({
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # standalone starts its components as `airflow <command>` from PATH: .venv's.
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    })  # fmt: skip
    log_path = work / "standalone.log"  # it prints the admin's password: never shown
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "airflow"), "standalone"], stdout=log, stderr=subprocess.STDOUT,
            env=env, start_new_session=True, cwd=work,
        )  # fmt: skip
    database_ready = None
    try:
        while time.monotonic() - started < timeout:
            if database_ready is None and b"Database ready" in log_path.read_bytes():
                database_ready = time.monotonic() - started
            if all_healthy(url):
                seconds = time.monotonic() - started
                break
            if process.poll() is not None:
                raise SystemExit(f"airflow standalone exited {process.returncode}: see {log_path}")
            time.sleep(POLL)
        else:
            raise SystemExit(f"airflow standalone: not healthy after {timeout:g} s")
    finally:
        stop_group(process)
    ready = database_ready if database_ready is not None else seconds
    return Start(seconds, {"database initialised": ready, "components healthy": seconds - ready})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds; medians")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per start, at most")
    args = parser.parse_args()

    console = Console(width=120)
    rounds: list[dict[str, Start]] = []
    for number in range(1, args.repeat + 1):
        order = SIDES if number % 2 else SIDES[::-1]
        console.print(f"round {number}/{args.repeat}: {', '.join(order)}")
        measured: dict[str, Start] = {}
        for side in order:
            work = Path(tempfile.mkdtemp(prefix="bench-dev-up-"))
            try:
                measured[side] = (dev_up if side == "dev up" else standalone)(work, args.timeout)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        rounds.append(measured)
    report(console, rounds)
    return 0


def report(console: Console, rounds: list[dict[str, Start]]) -> None:
    ratios = [r["dev up"].seconds / r["standalone"].seconds for r in rounds]
    table = Table(title=f"from nothing to every component healthy; median (min-max) of "
                  f"{len(rounds)} interleaved rounds, each in a fresh folder")  # fmt: skip
    table.add_column("start")
    table.add_column("time / airflow standalone", justify="right")
    table.add_column("aim")
    table.add_column("met")
    met = statistics.median(ratios) <= RATIO_AIM
    table.add_row("dev up --detach", median_range(ratios), f"<= {RATIO_AIM}",
                  "yes" if met else "no")  # fmt: skip
    table.add_row("airflow standalone", "1 (baseline)", "", "")
    console.print(table)

    shares = Table(title="where each side's time goes: share of its own account (median)")
    shares.add_column("start")
    shares.add_column("phase")
    shares.add_column("share", justify="right")
    for side in SIDES:
        names = list(dict.fromkeys(name for r in rounds for name in r[side].phases))
        for name in names:
            share = statistics.median(
                r[side].phases.get(name, 0.0) / sum(r[side].phases.values()) for r in rounds
            )
            shares.add_row(side, name, f"{share:.0%}")
    console.print(shares)

    seconds = Table(title="seconds, for context only (same run; process start to all healthy)")
    seconds.add_column("round", justify="right")
    for side in SIDES:
        seconds.add_column(side, justify="right")
    for number, r in enumerate(rounds, start=1):
        seconds.add_row(str(number), *(f"{r[side].seconds:.1f}" for side in SIDES))
    console.print(seconds)


if __name__ == "__main__":
    raise SystemExit(main())
