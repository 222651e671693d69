"""Benchmark: `airflow-platform clean-logs` against the seed's two find commands, measured side
by side in one run, on identical copies of a generated Airflow log tree.

The tree: `--files` (200,000) log files in Airflow 3's layout, generated from a fixed seed:
`dag_id=<dag>/run_id=<run>/task_id=<task>/attempt=<n>.log` (most tasks one attempt, some
two or three) and, for about 8% of the files, the DAG processor's
`dag_processor/<YYYY-MM-DD>/<team>/<file>.py.log`. Each run's files are written within
minutes of each other, at an age drawn uniformly from 0 to twice the retention plus a day,
so about half the tree is expired; no age falls within 6 hours of the boundary (the tools
start seconds or minutes apart). A directory's mtime is that of its newest entry, as when
Airflow creates it just before writing into it; 0.2% of task directories are old and empty
(a task that never wrote a log).

Each round makes a fresh copy of that tree per tool with `cp -a` (mtimes preserved,
directories' included), flushes them to disk (`sync`), and cleans one with each tool; the
order rotates between rounds, and a `sync` (not timed) before each run keeps one tool's
delayed writes from landing on the next one's time:

    clean-logs    `airflow-platform clean-logs DIR --older-than N`: the CLI process, from
                  start to exit, start-up and imports included (the DAG runs the same
                  function inside its task), with its default number of threads for that
                  filesystem: 4, or 1 on a memory filesystem
    clean-logs --workers M
                  the same with the other choice (1 where the default is 4, 4 on tmpfs),
                  for context
    find && find  `find DIR -mindepth 1 -mtime +N -delete && find DIR -mindepth 1 -type d
                  -empty -delete`: the seed's commands; the second also gets -mindepth 1,
                  or it deletes DIR itself once everything in it has gone

Both must delete exactly the same files and directories (checked on disk, by listing each
copy before and after, and against the generator's expected set); a young *empty*
directory would differ on purpose (clean-logs keeps it, Airflow may be about to write
into it; find deletes it), so the tree has none.

Ratios, not seconds, are the result: each tool's time / find's time in the same round,
median (min-max) of the rounds. Seconds, CPU time and clean-logs' fixed cost (the CLI on an empty
folder) are printed for context. `--work-dir` picks the filesystem: the default is the
system temp folder (a disk, as a log folder is); /dev/shm measures the syscalls and the
code without the disk.

    .venv/bin/python bench/log_cleanup.py                          # 200,000 files, 3 rounds
    .venv/bin/python bench/log_cleanup.py --work-dir /dev/shm      # on tmpfs
    .venv/bin/python bench/log_cleanup.py --files 20000 --repeat 1 # quick look
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "dags"))

from ratios import median_range  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from platform_ops.log_cleanup import DEFAULT_WORKERS, default_workers  # noqa: E402

RATIO_AIM = 1.0
DAY = 86_400
MARGIN = 6 * 3600
BASELINE = "find && find"
TEAMS = ["finance", "growth", "marketing", "ops", "platform", "risk", "sales", "search"]
TASKS = ["extract", "transform", "load", "check", "publish", "notify", "merge", "export"]
LOG_LINE = "[{stamp}] {{taskinstance.py:{line}}} INFO - {message}\n"


@dataclass
class Tree:
    files: int
    dirs: int
    bytes: int
    expired: set[str]
    """Relative paths of the files older than the retention (the generator's account)."""


def generate(root: Path, count: int, older_than: int, seed: int = 20261129) -> Tree:
    """About `count` log files under `root` in Airflow's layout; see the module docstring."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    now = time.time()
    boundary = (older_than + 1) * DAY
    span = 2 * older_than * DAY + DAY
    expired: set[str] = set()
    made = dirs = size = 0

    def age() -> float:
        while True:
            value = rng.uniform(0, span)
            if abs(value - boundary) > MARGIN:
                return value

    def write(path: Path, moment: float) -> None:
        nonlocal made, size
        lines = rng.randint(2, 8)
        text = "".join(
            LOG_LINE.format(stamp=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)),
                            line=rng.randint(100, 3000), message="x" * rng.randint(20, 90))
            for _ in range(lines)
        )  # fmt: skip
        path.write_text(text)
        os.utime(path, (moment, moment))
        made += 1
        size += len(text)
        if now - moment >= boundary:
            expired.add(path.relative_to(root).as_posix())

    processor_share = 0.08
    dag = 0
    while made < count * (1 - processor_share):
        dag_dir = root / f"dag_id={rng.choice(TEAMS)}_pipeline_{dag:04d}"
        dag += 1
        run_moments = []
        for _ in range(rng.randint(3, 30)):
            started = now - age()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(started))
            run_dir = dag_dir / f"run_id=scheduled__{stamp}"
            task_moments = []
            for task in rng.sample(TASKS, rng.randint(1, 6)):
                task_dir = run_dir / f"task_id={task}"
                task_dir.mkdir(parents=True)
                dirs += 1
                moment = started + rng.uniform(0, 1800)
                if rng.random() < 0.002 and now - moment >= boundary:
                    os.utime(task_dir, (moment, moment))  # an old task that never logged
                    task_moments.append(moment)
                    continue
                for attempt in range(1, rng.choice([2, 2, 2, 2, 2, 2, 3, 4])):
                    moment += rng.uniform(0, 600) * (attempt > 1)
                    write(task_dir / f"attempt={attempt}.log", moment)
                os.utime(task_dir, (moment, moment))
                task_moments.append(moment)
            dirs += 1
            os.utime(run_dir, (max(task_moments),) * 2)
            run_moments.append(max(task_moments))
        dirs += 1
        os.utime(dag_dir, (max(run_moments),) * 2)

    processor = root / "dag_processor"
    days: dict[str, float] = {}
    while made < count:
        moment = now - age()
        day = time.strftime("%Y-%m-%d", time.gmtime(moment))
        path = processor / day / rng.choice(TEAMS) / f"{rng.choice(TASKS)}_{made % 400:03d}.py.log"
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path, moment)
        days[path.parent.relative_to(root).as_posix()] = max(
            moment, days.get(path.parent.relative_to(root).as_posix(), 0)
        )
    for rel, moment in days.items():  # the team folders, then the days holding them
        os.utime(root / rel, (moment, moment))
    for day_dir in processor.iterdir():
        newest = max(p.stat().st_mtime for p in day_dir.iterdir())
        os.utime(day_dir, (newest, newest))
    dirs += len(days) + len(list(processor.iterdir())) + 1
    return Tree(made, dirs, size, expired)


def listing(root: Path) -> tuple[set[str], set[str]]:
    """(files, directories) under `root`, relative."""
    files: set[str] = set()
    dirs: set[str] = set()
    for folder, subdirs, names in os.walk(root):
        rel = os.path.relpath(folder, root)
        prefix = "" if rel == "." else rel + "/"
        files.update(prefix + n for n in names)
        dirs.update(prefix + d for d in subdirs)
    return files, dirs


@dataclass
class Run:
    seconds: float
    cpu_user: float
    cpu_system: float
    deleted_files: set[str]
    deleted_dirs: set[str]
    reported: int
    """Files deleted as the tool itself says (clean-logs' summary); -1 for find."""


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime, done.stdout


def run_tool(tool: str, copy: Path, older_than: int, cli: str, env: dict[str, str]) -> Run:
    files_before, dirs_before = listing(copy)
    subprocess.run(["sync"], check=True)
    if tool.startswith("clean-logs"):
        argv = [cli, "clean-logs", str(copy), "--older-than", str(older_than), *tool.split()[1:]]
    else:
        argv = ["sh", "-c", f'find "$1" -mindepth 1 -mtime +{older_than} -delete && '
                'find "$1" -mindepth 1 -type d -empty -delete', "sh", str(copy)]  # fmt: skip
    seconds, user, system, stdout = timed(argv, env)
    files_after, dirs_after = listing(copy)
    reported = -1
    if tool.startswith("clean-logs"):
        match = re.search(r"│ files deleted\s*│\s*([\d,]+)\s*│", stdout)
        reported = int(match[1].replace(",", "")) if match else -2
    return Run(seconds, user, system, files_before - files_after, dirs_before - dirs_after,
               reported)  # fmt: skip


def filesystem(path: Path) -> str:
    """The filesystem holding `path` (from /proc/mounts): its type, and `discard` when it
    trims on every delete (which slows deletes down for any tool)."""
    best, kind = "", "unknown"
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount, fstype, options, *_ = line.split()
        if str(path.resolve()).startswith(mount) and len(mount) > len(best):
            best = mount
            kind = fstype + (" (mounted with discard)" if "discard" in options.split(",") else "")
    return kind


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200_000, help="log files in the tree")
    parser.add_argument("--older-than", type=int, default=30, help="retention in days (N)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds; medians")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the trees go (its filesystem is what is measured)")  # fmt: skip
    args = parser.parse_args()

    console = Console(width=130)
    cli = str(Path(sys.executable).with_name("airflow-platform"))
    env = {**os.environ, "COLUMNS": "200"}
    work = Path(tempfile.mkdtemp(prefix="bench-log-cleanup-", dir=args.work_dir))
    default = default_workers(str(work.resolve()))
    other = 1 if default > 1 else DEFAULT_WORKERS
    tools = ("clean-logs", f"clean-logs --workers {other}", BASELINE)
    try:
        original = work / "original"
        started = time.perf_counter()
        tree = generate(original, args.files, args.older_than)
        console.print(
            f"[bold]tree[/bold]: {tree.files:,} files ({tree.bytes / 2**20:.0f} MiB) in "
            f"{tree.dirs:,} directories, {len(tree.expired):,} files expired at "
            f"--older-than {args.older_than}; on {filesystem(work)} at {work}; generated in "
            f"{time.perf_counter() - started:.0f} s"
        )
        empty = work / "empty"
        empty.mkdir()
        fixed = [timed([cli, "clean-logs", str(empty), "--older-than", "1"], env)[0]
                 for _ in range(3)]  # fmt: skip

        rounds: list[dict[str, Run]] = []
        for number in range(1, args.repeat + 1):
            shift = (number - 1) % len(tools)
            order = tools[shift:] + tools[:shift]
            copies = {}
            for index, tool in enumerate(order):
                copies[tool] = work / f"round{number}-{index}"
                subprocess.run(["cp", "-a", str(original), str(copies[tool])], check=True)
            results = {}
            for tool in order:
                results[tool] = run_tool(tool, copies[tool], args.older_than, cli, env)
                console.print(f"round {number}/{args.repeat}: {tool}: "
                              f"{results[tool].seconds:.2f} s")  # fmt: skip
            for copy in copies.values():
                shutil.rmtree(copy)
            check(results, tree)
            rounds.append(results)
        report(console, args, tree, tools, rounds, fixed, default)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def check(results: dict[str, Run], tree: Tree) -> None:
    """Each clean-logs run deleted exactly what find did, which is what the generator
    expired, and said so in its summary."""
    find = results[BASELINE]
    if find.deleted_files != tree.expired:
        raise SystemExit("find deleted other files than the generator's expired ones")
    for tool in [t for t in results if t != BASELINE]:
        ours = results[tool]
        if ours.deleted_files != find.deleted_files:
            only = sorted(ours.deleted_files ^ find.deleted_files)[:5]
            raise SystemExit(f"{tool} and find deleted different files, e.g. {only}")
        if ours.deleted_dirs != find.deleted_dirs:
            only = sorted(ours.deleted_dirs ^ find.deleted_dirs)[:5]
            raise SystemExit(f"{tool} and find removed different directories, e.g. {only}")
        if ours.reported != len(ours.deleted_files):
            raise SystemExit(f"{tool} reported {ours.reported} files deleted, the disk says "
                             f"{len(ours.deleted_files)}")  # fmt: skip


def report(
    console: Console, args: argparse.Namespace, tree: Tree, tools: tuple[str, ...],
    rounds: list[dict[str, Run]], fixed: list[float], default: int,
) -> None:  # fmt: skip
    first = rounds[0]["clean-logs"]
    table = Table(
        title=f"{tree.files:,} log files, {len(first.deleted_files):,} older than "
        f"{args.older_than} days; a fresh copy per tool and round; median (min-max) of "
        f"{len(rounds)} interleaved rounds"
    )
    table.add_column("tool (CLI process)")
    table.add_column("files deleted", justify="right")
    table.add_column("dirs removed", justify="right")
    table.add_column("same as find", justify="center")
    table.add_column(f"time / {BASELINE}", justify="right")
    table.add_column("aim")
    table.add_column("met")
    for tool in tools:
        deleted = rounds[0][tool]
        counts = [f"{len(deleted.deleted_files):,}", f"{len(deleted.deleted_dirs):,}"]
        if tool == BASELINE:
            table.add_row(tool, *counts, "", "1 (baseline)", "", "")
            continue
        ratios = [r[tool].seconds / r[BASELINE].seconds for r in rounds]
        label = tool
        if tool == "clean-logs":
            met = "yes" if statistics.median(ratios) <= RATIO_AIM else "no"
            aim = f"<= {RATIO_AIM}"
            label = f"clean-logs (default here: {default} worker{'s' * (default > 1)})"
        else:
            met, aim = "", "(context)"
        table.add_row(label, *counts, "yes", median_range(ratios), aim, met)
    console.print(table)

    seconds = Table(title="seconds, for context only (same run; process start to exit; CPU "
                    "as user + system)")  # fmt: skip
    seconds.add_column("round", justify="right")
    for tool in tools:
        seconds.add_column(f"{tool} wall", justify="right")
        seconds.add_column(f"{tool} CPU", justify="right")
    for number, r in enumerate(rounds, start=1):
        cells = []
        for tool in tools:
            run = r[tool]
            cells += [f"{run.seconds:.2f}", f"{run.cpu_user:.2f} + {run.cpu_system:.2f}"]
        seconds.add_row(str(number), *cells)
    console.print(seconds)
    console.print(
        f"clean-logs' fixed cost (start-up and imports, on an empty folder): "
        f"{statistics.median(fixed):.2f} s"
    )


if __name__ == "__main__":
    sys.exit(main())
