"""Benchmark: `airflow-platform ship-dags` against `aws s3 sync --delete`, measured side by
side in one run, on the same emulator, on a generated DAG bundle.

The bundle: `--files` (1,000) DAG-like Python files of a few KB each, in team and domain
subfolders, generated from a fixed seed. S3 is moto's server over HTTP on loopback, in its own
process; each tool ships to a versioned bucket of its own that it filled itself (the bundle
shipped once by that tool), so each starts from a state it produced.

Each round then makes a fresh copy of the bundle as a checkout or a CI workspace would
(`shutil.copytree`, then every file touched: all times new) with one file changed, and ships
it with each tool, interleaved (the order rotates between rounds, so a slow spell of the
machine hits all alike):

    ship-dags                 the CLI, `--no-check` (aws s3 sync imports nothing either):
                              compares content (size, then MD5 ETag or sha256 metadata)
    ship-dags --verify-metadata
                              the same, trusting only the sha256 metadata: one HEAD per
                              same-size object (the strategy without the ETag shortcut)
    aws s3 sync --delete      awscli's own comparison, size and modification time; its
                              default 10 concurrent requests

Both are timed as what an operator runs: a CLI process from start to exit. Objects uploaded
are counted from the emulator (new object versions under `dags/`, and their bytes) and checked
against each tool's own account (ship-dags' summary, aws s3 sync's `upload:` lines).

Ratios, not seconds, are the result (ship-dags' time / aws s3 sync's time, median of the
rounds); seconds are printed for context only.

awscli: `awscli==<pin>` of requirements-dev.txt, installed in .venv (`make bench-ship` installs
it). awscli 1.46 vendors its own botocore (`awscli.botocore`), so it does not pin the botocore
that boto3 uses; `pip check` stays clean beside boto3 1.44.8.

    .venv/bin/python bench/ship.py                 # 1,000 files, 3 rounds
    .venv/bin/python bench/ship.py --files 200 --repeat 1   # quick look
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from ratios import median_range  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

RATIO_AIM = 0.1
TEAMS = ["finance", "growth", "marketing", "ops", "platform", "risk", "sales", "search"]
DOMAINS = ["ingest", "transform", "export", "quality"]
SOURCES = ["postgres", "s3", "salesforce", "stripe", "kafka", "bigquery", "snowflake", "api"]
TOOLS = ("ship-dags", "ship-dags --verify-metadata", "aws s3 sync")
BUCKETS = {tool: f"bench-ship-{n}" for n, tool in enumerate(TOOLS)}

DAG_TEMPLATE = '''"""{title}

Loads {source} data for the {team} team into the warehouse, {schedule_text}. Owner:
{team}-data@example.com. Generated for the ship-dags benchmark (bench/ship.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

SOURCE = "{source}"
TABLES = {tables!r}
DEFAULT_ARGS = {{
    "owner": "{team}",
    "retries": {retries},
    "retry_delay": timedelta(minutes={retry_minutes}),
}}


@dag(
    dag_id="{dag_id}",
    schedule="{schedule}",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["{team}", "{domain}", "{source}"],
    default_args=DEFAULT_ARGS,
)
def {dag_id}() -> None:
{tasks}


{dag_id}()
'''
TASK_TEMPLATE = '''    @task(task_id="{name}")
    def {name}(table: str = "{table}") -> dict:
        """{verb} {table} from {source} ({n} of {count})."""
        rows = sum(len(part) for part in ("{table}", SOURCE, "{verb}"))
        return {{"table": table, "rows": rows, "source": SOURCE, "step": {n}}}
'''


def generate(root: Path, count: int, seed: int = 20261125) -> int:
    """`count` DAG files under root/<team>/<domain>/; returns their total size."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    total = 0
    for n in range(count):
        team, domain, source = rng.choice(TEAMS), rng.choice(DOMAINS), rng.choice(SOURCES)
        dag_id = f"{team}_{domain}_{source}_{n:04d}"
        kinds = ["orders", "users", "events", "invoices"]
        tables = [f"{source}_{rng.choice(kinds)}_{i}" for i in range(rng.randint(3, 8))]
        steps = rng.randint(4, 12)
        names = [f"step_{i}_{rng.choice(['extract', 'load', 'check', 'merge'])}"
                 for i in range(steps)]  # fmt: skip
        tasks = [
            TASK_TEMPLATE.format(
                name=name,
                table=rng.choice(tables),
                verb=name.split("_")[2],
                source=source,
                n=i,
                count=steps,
            )
            for i, name in enumerate(names)
        ]
        chain = " >> ".join(f"{name}()" for name in names)
        schedule = rng.choice(["@hourly", "@daily", "0 4 * * *", "*/30 * * * *"])
        text = DAG_TEMPLATE.format(
            title=f"{team.title()} {domain}: {source} ({n})",
            source=source,
            team=team,
            domain=domain,
            schedule=schedule,
            schedule_text=f"on the schedule {schedule}",
            tables=tables,
            retries=rng.randint(1, 3),
            retry_minutes=rng.choice([5, 10, 15]),
            dag_id=dag_id,
            tasks="\n".join(tasks) + f"\n    {chain}",
        )
        path = root / team / domain / f"{dag_id}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        total += len(text.encode())
    return total


def fresh_copy(source: Path, target: Path, change: int) -> str:
    """Copy `source` as a checkout would (all times new) and change one file."""
    shutil.copytree(source, target)
    now = time.time()
    files = sorted(p for p in target.rglob("*") if p.is_file())
    for path in files:
        os.utime(path, (now, now))
    changed = files[(change * 7919) % len(files)]
    with changed.open("a") as stream:
        stream.write(f"# changed in round {change}\n")
    return changed.relative_to(target).as_posix()


@dataclass
class Run:
    seconds: float
    uploaded: int
    """New object versions under dags/, counted in the emulator."""
    uploaded_bytes: int
    reported: int
    """What the tool itself says it uploaded."""


class Bench:
    def __init__(self, console: Console, endpoint: str, work: Path) -> None:
        import boto3

        self.console = console
        self.work = work
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BOTO"))},
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "COLUMNS": "200",
        }
        self.s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106 - the emulator's
        )
        bin_dir = Path(sys.executable).parent
        self.cli = str(bin_dir / "airflow-platform")
        aws = bin_dir / "aws"
        self.aws = str(aws) if aws.exists() else shutil.which("aws")
        if self.aws is None:
            raise SystemExit("aws (awscli) is not installed: make bench-ship installs it")

    def versions(self, bucket: str) -> dict[tuple[str, str], int]:
        found = {}
        for page in self.s3.get_paginator("list_object_versions").paginate(
            Bucket=bucket, Prefix="dags/"
        ):
            for version in page.get("Versions", []):
                found[(version["Key"], version["VersionId"])] = int(version["Size"])
        return found

    def run(self, tool: str, source: Path) -> Run:
        bucket = BUCKETS[tool]
        if tool == "aws s3 sync":
            argv = [self.aws, "s3", "sync", str(source), f"s3://{bucket}/dags/", "--delete",
                    "--no-progress"]  # fmt: skip
        else:
            argv = [self.cli, "ship-dags", "bench", "--source", str(source), "--bucket", bucket,
                    "--no-check", *tool.split()[1:]]  # fmt: skip
        before = self.versions(bucket)
        started = time.perf_counter()
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{tool} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        new = {key: size for key, size in self.versions(bucket).items() if key not in before}
        if tool == "aws s3 sync":
            reported = sum(line.startswith("upload: ") for line in done.stdout.splitlines())
        else:
            match = re.search(r"│ uploaded\s*│\s*([\d,]+)\s*│", done.stdout)
            reported = int(match[1].replace(",", "")) if match else -1
        return Run(seconds, len(new), sum(new.values()), reported)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000, help="DAG files in the bundle")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds; medians")
    args = parser.parse_args()

    from tests.integration.servers import MotoServer

    console = Console(width=120)
    work = Path(tempfile.mkdtemp(prefix="bench-ship-"))
    moto = MotoServer().start()
    try:
        bench = Bench(console, moto.endpoint, work)
        original = work / "bundle-0"
        size = generate(original, args.files)
        console.print(f"[bold]bundle[/bold]: {args.files:,} files, {size / 1024:.0f} KiB, "
                      f"in {len({p.parent for p in original.rglob('*.py')})} folders")  # fmt: skip
        for tool, bucket in BUCKETS.items():
            bench.s3.create_bucket(Bucket=bucket)
            bench.s3.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
            )
            first = bench.run(tool, original)
            console.print(f"initial ship with {tool}: {first.uploaded:,} objects uploaded")
            if first.uploaded != args.files:
                raise SystemExit(f"{tool}: the initial ship uploaded {first.uploaded} objects")

        rounds: list[dict[str, Run]] = []
        current = original
        for number in range(1, args.repeat + 1):
            copy = work / f"bundle-{number}"
            changed = fresh_copy(current, copy, number)
            order = TOOLS[number - 1 :] + TOOLS[: number - 1]
            console.print(f"round {number}/{args.repeat}: fresh copy, {changed} changed; "
                          f"{', '.join(order)}")  # fmt: skip
            rounds.append({tool: bench.run(tool, copy) for tool in order})
            current = copy
        report(console, args, size, rounds)
    finally:
        moto.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(console: Console, args: Any, size: int, rounds: list[dict[str, Run]]) -> None:
    table = Table(title=f"a fresh copy of a {args.files:,}-file bundle ({size / 1024:.0f} KiB) "
                  f"with one file changed, shipped to moto over HTTP; median (min-max) of "
                  f"{len(rounds)} interleaved rounds")  # fmt: skip
    table.add_column("tool")
    table.add_column("objects uploaded", justify="right")
    table.add_column("bytes uploaded", justify="right")
    table.add_column("time / aws s3 sync", justify="right")
    table.add_column("aim")
    table.add_column("met")
    for tool in TOOLS:
        runs = [r[tool] for r in rounds]
        for run in runs:
            if run.reported != run.uploaded:
                raise SystemExit(f"{tool} reported {run.reported} uploads, the emulator saw "
                                 f"{run.uploaded}")  # fmt: skip
        uploaded = statistics.median(r.uploaded for r in runs)
        sent = statistics.median(r.uploaded_bytes for r in runs)
        ratios = [r[tool].seconds / r["aws s3 sync"].seconds for r in rounds]
        if tool == "aws s3 sync":
            table.add_row(tool, f"{uploaded:,.0f}", f"{sent:,.0f}", "1 (baseline)", "", "")
            continue
        if tool == "ship-dags":
            met = statistics.median(ratios) <= RATIO_AIM and uploaded == 1
            aim, verdict = f"<= {RATIO_AIM}, 1 object", "yes" if met else "no"
        else:
            aim, verdict = "(context)", ""
        table.add_row(tool, f"{uploaded:,.0f}", f"{sent:,.0f}", median_range(ratios, digits=3), aim,
                      verdict)  # fmt: skip
    console.print(table)

    seconds = Table(title="seconds, for context only (same run; CLI process start to exit)")
    seconds.add_column("round", justify="right")
    for tool in TOOLS:
        seconds.add_column(tool, justify="right")
    for number, r in enumerate(rounds, start=1):
        seconds.add_row(str(number), *(f"{r[tool].seconds:.2f}" for tool in TOOLS))
    console.print(seconds)


if __name__ == "__main__":
    sys.exit(main())
