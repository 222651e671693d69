"""Benchmark: wall time of a stack's offline plan, relative to a baseline from the same run.

What it measures
    * baseline: a fresh Python process that imports `pulumi` and `pulumi_aws`, starts the
      Pulumi mock runtime (`pulumi.runtime.set_mocks` with a trivial `Mocks` subclass, as a
      preview of the same stack) and exits without declaring anything. This is the floor
      every offline plan pays before the program runs.
    * measured: a fresh process running `airflow-platform plan <stack> --json <tmpfile>`,
      the console script installed next to this interpreter.

Both are run `--repeat` times, interleaved (baseline, measured, baseline, ...), after one
uncounted warm-up of each. The result is median(measured) / median(baseline): a ratio, not
seconds, because absolute timings on a small shared machine say more about the machine than
about the code. The aim is a ratio of at most 2.0; missing it is reported but is not an
error. The exit status is non-zero only when a subprocess fails or the plan JSON has no steps.

Run it from the repository root:

    .venv/bin/python bench/plan.py                 # prod, 5 rounds
    .venv/bin/python bench/plan.py --repeat 10 --stack staging
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

AIM = 2.0
BASELINE = "baseline: import pulumi_aws + set_mocks"
PROVIDER_MODULES = "reference: baseline + the provider modules used"
PLAN = "plan"
PROJECT = "airflow-platform"
REPO_ROOT = Path(__file__).resolve().parents[1]

# Imports the provider and starts the mock runtime; declares nothing.
BASELINE_CODE = """\
import sys

import pulumi
import pulumi_aws  # noqa: F401


class NoopMocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        return args.name + "_id", args.inputs

    def call(self, args):
        return {}


pulumi.runtime.set_mocks(NoopMocks(), sys.argv[1], sys.argv[2], preview=True)
"""


# The baseline plus loading the provider modules the program declares resources from:
# pulumi_aws imports a module on first use, and each loads every class it holds. Not part of
# the aim; it shows how much of the gap is the provider's import cost rather than this code.
PROVIDER_MODULES_CODE = (
    BASELINE_CODE
    + """
for module, cls in [("ec2", "Vpc"), ("s3", "Bucket"), ("iam", "Role"), ("kms", "Key"),
                    ("cloudwatch", "LogGroup")]:
    getattr(getattr(pulumi_aws, module), cls)
"""
)


class BenchError(RuntimeError):
    """A benchmarked subprocess did not do what it should."""


def clean_env() -> dict[str, str]:
    """The environment for the subprocesses, without the CLI's own settings.

    `AIRFLOW_PLATFORM_*` variables would change what `plan` does (write markdown, diff
    against a base plan, ...) and so what is timed.
    """
    return {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_PLATFORM_")}


def timed_run(argv: Sequence[str], env: dict[str, str]) -> float:
    """Run `argv` with its output discarded; return its wall time in seconds."""
    start = time.perf_counter()
    completed = subprocess.run(
        list(argv),
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        shown = " ".join(argv) if "-c" not in argv else f"{argv[0]} -c <baseline code>"
        raise BenchError(f"exit status {completed.returncode} from: {shown}")
    return elapsed


def run_baseline(stack: str, env: dict[str, str]) -> float:
    """Time one baseline process: import pulumi and pulumi_aws, start the mocks, exit."""
    return timed_run([sys.executable, "-c", BASELINE_CODE, PROJECT, stack], env)


def run_provider_modules(stack: str, env: dict[str, str]) -> float:
    """Time the baseline plus loading the provider modules the program uses."""
    return timed_run([sys.executable, "-c", PROVIDER_MODULES_CODE, PROJECT, stack], env)


def run_plan(cli: Path, stack: str, json_path: Path, env: dict[str, str]) -> float:
    """Time one `plan` of `stack`, then check it wrote a plan JSON with steps."""
    json_path.unlink(missing_ok=True)
    argv = [
        str(cli),
        "plan",
        stack,
        "--json",
        str(json_path),
        "--project-dir",
        str(REPO_ROOT),
    ]
    elapsed = timed_run(argv, env)
    try:
        plan = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(f"no readable plan JSON from: {' '.join(argv)} ({exc})") from exc
    steps = plan.get("steps") if isinstance(plan, dict) else None
    if not isinstance(steps, list) or not steps:
        raise BenchError(f"plan JSON has no steps, from: {' '.join(argv)}")
    return elapsed


def measure(
    repeat: int, runs: dict[str, Callable[[], float]], console: Console
) -> dict[str, list[float]]:
    """Warm up each once, then run `repeat` interleaved rounds; return each one's times."""
    times: dict[str, list[float]] = {label: [] for label in runs}
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("warm-up", total=len(runs) * (repeat + 1))
        for run in runs.values():
            run()
            progress.advance(task)
        for round_no in range(1, repeat + 1):
            progress.update(task, description=f"round {round_no}/{repeat}")
            for label, run in runs.items():
                times[label].append(run())
                progress.advance(task)
    return times


def report(stack: str, times: dict[str, list[float]], console: Console) -> float:
    """Print the table and the verdict line; return median(plan) / median(baseline)."""
    baseline_times, plan_times = times[BASELINE], times[PLAN]
    unit = statistics.median(baseline_times)
    table = Table(title=f"offline plan of {stack!r}, relative to the baseline (= 1.00)")
    table.add_column("what")
    table.add_column("median", justify="right")
    table.add_column("min", justify="right")
    table.add_column("max", justify="right")
    table.add_column("runs", justify="right")
    for label, run_times in times.items():
        table.add_row(
            label,
            f"{statistics.median(run_times) / unit:.2f}",
            f"{min(run_times) / unit:.2f}",
            f"{max(run_times) / unit:.2f}",
            str(len(run_times)),
        )
    pairs = [p / b for p, b in zip(plan_times, baseline_times, strict=True)]
    table.add_row(
        "per-round ratio plan / baseline",
        f"{statistics.median(pairs):.2f}",
        f"{min(pairs):.2f}",
        f"{max(pairs):.2f}",
        str(len(pairs)),
    )
    console.print(table)
    ratio = statistics.median(plan_times) / unit
    verdict = "[green]aim met[/]" if ratio <= AIM else "[red]aim not met[/]"
    console.print(f"plan {stack} / baseline = {ratio:.2f} (aim <= {AIM}): {verdict}")
    modules = statistics.median(times[PROVIDER_MODULES])
    console.print(
        f"plan {stack} / (baseline + provider modules) = "
        f"{statistics.median(plan_times) / modules:.2f} (for reading the gap, no aim)"
    )
    return ratio


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Time a stack's offline plan as a ratio to importing pulumi_aws "
        "and starting the mock runtime."
    )
    parser.add_argument(
        "--repeat",
        type=positive_int,
        default=5,
        help="counted rounds of each, after one warm-up (default: 5)",
    )
    parser.add_argument("--stack", default="prod", help="stack to plan (default: prod)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 unless a subprocess failed."""
    args = parse_args(argv)
    console = Console()
    cli = Path(sys.executable).with_name("airflow-platform")
    if not cli.exists():
        console.print(f"[red]error:[/] no console script at {cli}; install the project first")
        return 1
    env = clean_env()
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        json_path = Path(tmp) / "plan.json"
        try:
            times = measure(
                args.repeat,
                {
                    BASELINE: lambda: run_baseline(args.stack, env),
                    PROVIDER_MODULES: lambda: run_provider_modules(args.stack, env),
                    PLAN: lambda: run_plan(cli, args.stack, json_path, env),
                },
                console,
            )
        except BenchError as exc:
            console.print(f"[red]error:[/] {exc}", highlight=False)
            return 1
    report(args.stack, times, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
