"""Benchmark: the streamed backup (pg_dump -> S3 multipart, no local file) against two
baselines measured in the same run, on the same generated database.

What it measures, on a database of `--size-gb` (generated in an embedded PostgreSQL 18 with
generate_series and md5 text, so the dump compresses about as much as real text does), with
S3 being moto's server over HTTP on loopback, in its own process:

    (a) throughput: `pg_dump -Fc > /dev/null` time / our time. Ours is reported twice: the
        streaming phase (pg_dump -> CompleteMultipartUpload) and the whole backup (plus
        reading the object back for SHA-256 + `pg_restore --list`, and the server-side copy
        that puts the checksum in the metadata). Aim: streaming >= 0.9.
    (b) against "dump to a local file, then upload it" (`pg_dump -Fc -f`, then boto3's
        `upload_file`, its default multipart threads): time ratio, and bytes written to local
        storage by each (ours: /proc/<pid>/io write_bytes of the backup process tree).
    (c) peak RSS of the backup process (a child; `os.wait4`'s ru_maxrss, the largest of it
        and the pg_dump it waited for) at `--size-gb` and at `--large-size-gb`. Aim: flat,
        <= 150 MB. moto's own peak (it keeps objects in memory) is shown apart: the emulator,
        not us.

Ratios, not seconds, are the result: absolute times on a small shared machine say more about
the machine than about the code. Seconds are printed in a second table for context.

    .venv/bin/python bench/backup.py                          # 1 GB x 3 rounds, RSS also at 2 GB
    .venv/bin/python bench/backup.py --size-gb 0.2 --large-size-gb 0.5   # quick look
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from ratios import median_range  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

GB = 10**9
MIB = 1024 * 1024
RSS_AIM = 150 * 10**6
THROUGHPUT_AIM = 0.9
ROWS_PER_BATCH = 1_000_000
BUCKET = "bench-backups"


@dataclass
class Run:
    """One measured child process."""

    seconds: float
    peak_rss: int
    write_bytes: int
    report: dict[str, Any] = field(default_factory=dict)


def _tree_write_bytes(pid: int, seen: dict[int, int]) -> None:
    """Record /proc/<pid>/io write_bytes of a process and its descendants (latest value)."""
    import psutil

    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                seen[proc.pid] = proc.io_counters().write_bytes
    except psutil.NoSuchProcess:
        pass


def measure(argv: list[str], env: dict[str, str], stdout: Any = subprocess.PIPE) -> Run:
    """Run `argv`, timing it, sampling its tree's storage writes, taking wait4's peak RSS."""
    started = time.monotonic()
    child = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.PIPE)
    writes: dict[int, int] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            _tree_write_bytes(child.pid, writes)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = child.stdout.read() if child.stdout else b""
    err = child.stderr.read() if child.stderr else b""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed ({child.returncode}): {err.decode()[-2000:]}")
    report = json.loads(out) if out.strip().startswith(b"{") else {}
    return Run(seconds, usage.ru_maxrss * 1024, sum(writes.values()), report)


def generate(pg: Any, database: str, size_bytes: int, console: Console) -> int:
    """Grow table `data` of `database` until the database is at least `size_bytes`."""
    with pg.connect(database, autocommit=True) as conn:
        conn.execute(
            "create table if not exists data (id bigint primary key, name text, body text)"
        )
        start = conn.execute("select coalesce(max(id), 0) from data").fetchone()[0]
        size = conn.execute("select pg_database_size(current_database())").fetchone()[0]
        while size < size_bytes:
            conn.execute(
                "insert into data select g, 'item ' || g,"
                " md5(g::text) || md5((g * 7)::text) || ' ' || md5((g * 13)::text)"
                " || repeat(md5((g %% 1000)::text), 2)"
                " from generate_series(%s::bigint, %s::bigint) g",
                (start + 1, start + ROWS_PER_BATCH),
            )
            start += ROWS_PER_BATCH
            size = conn.execute("select pg_database_size(current_database())").fetchone()[0]
            console.print(f"  generated {size / GB:.2f} GB", highlight=False)
        conn.execute("vacuum analyze data")
        return size


def child_backup() -> None:
    """The measured process: one `run_backup`, phases timed, JSON on stdout."""
    from platform_ops.backup import AwsClients, BackupSettings, run_backup

    clients = AwsClients.default()
    marks: dict[str, float] = {}
    started = time.monotonic()
    clients.s3.meta.events.register(
        "after-call.s3.CompleteMultipartUpload",
        lambda **_: marks.setdefault("streamed", time.monotonic() - started),
    )
    result = run_backup(
        BackupSettings(
            dsn=os.environ["BENCH_DSN"],
            bucket=BUCKET,
            prefix="streamed",
            pg_bin_dir=Path(os.environ["BENCH_PG_BIN"]),
            part_size=int(os.environ.get("BENCH_PART_SIZE", 16 * MIB)),
        ),
        clients=clients,
    )
    print(json.dumps({"streamed": marks["streamed"], "total": time.monotonic() - started,
                      "size": result.size, "parts": result.parts, "key": result.key}))  # fmt: skip


def child_upload_file() -> None:
    """Baseline (b): pg_dump to a local file, then boto3's managed upload of it."""
    import boto3

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        path = Path(tmp) / "dump"
        subprocess.run(
            [
                str(Path(os.environ["BENCH_PG_BIN"]) / "pg_dump"),
                "-Fc",
                "-f",
                str(path),
                f"--dbname={os.environ['BENCH_DSN']}",
            ],
            check=True,
        )
        size = path.stat().st_size
        os.sync()  # the dump's bytes reach storage, as they would before an upload
        boto3.client("s3").upload_file(str(path), BUCKET, "local-file/dump")
    print(json.dumps({"size": size}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gb", type=float, default=1.0, help="database size for (a)-(c)")
    parser.add_argument(
        "--large-size-gb", type=float, default=2.0, help="second size for the RSS check (c)"
    )
    parser.add_argument("--part-size-mib", type=int, default=16)
    parser.add_argument(
        "--repeat", type=int, default=3, help="interleaved rounds of (a) and (b); medians"
    )
    parser.add_argument("--child", choices=["backup", "upload-file"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "backup":
        child_backup()
        return 0
    if args.child == "upload-file":
        child_upload_file()
        return 0
    return run_bench(args)


def run_bench(args: argparse.Namespace) -> int:
    import boto3

    from tests.integration.servers import MotoServer, PgServer

    console = Console()
    work = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    pg = PgServer(work / "pg").start()
    moto = MotoServer().start()
    try:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": moto.endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "BENCH_PG_BIN": str(pg.bin_dir),
            "BENCH_PART_SIZE": str(args.part_size_mib * MIB),
            "BENCH_TMP": str(work),
        }
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        database = "bench"
        env["BENCH_DSN"] = pg.create_database(database)
        me = [sys.executable, str(Path(__file__).resolve())]

        console.print(f"[bold]generating {args.size_gb} GB[/bold]")
        db_size = generate(pg, database, int(args.size_gb * GB), console)
        dump_argv = [str(pg.bin_dir / "pg_dump"), "-Fc", f"--dbname={env['BENCH_DSN']}"]
        rounds: list[Round] = []
        for number in range(1, args.repeat + 1):
            # Interleaved, so a slow spell of the machine hits all three alike.
            console.print(f"round {number}/{args.repeat}: pg_dump -Fc > /dev/null")
            devnull = measure(dump_argv, env, stdout=subprocess.DEVNULL)
            console.print(f"round {number}/{args.repeat}: streamed backup")
            moto_cpu = moto.cpu_seconds()
            ours = measure([*me, "--child", "backup"], env)
            ours.report["moto_cpu"] = moto.cpu_seconds() - moto_cpu
            _empty(s3)
            console.print(f"round {number}/{args.repeat}: pg_dump to a file, then upload_file")
            local = measure([*me, "--child", "upload-file"], env)
            _empty(s3)
            rounds.append(Round(devnull, ours, local))
        moto_peak_small = moto.peak_rss_bytes()

        large = None
        if args.large_size_gb > args.size_gb:
            console.print(f"[bold]generating {args.large_size_gb} GB[/bold]")
            large_size = generate(pg, database, int(args.large_size_gb * GB), console)
            console.print("(c) streamed backup at the larger size")
            large = (large_size, measure([*me, "--child", "backup"], env))
            _empty(s3)

        report(console, args, db_size, rounds, large, moto_peak_small, moto)
    finally:
        moto.stop()
        pg.stop()
    return 0


@dataclass
class Round:
    """One interleaved round of the three measured runs."""

    devnull: Run
    ours: Run
    local: Run


def _empty(s3: Any) -> None:
    """Free moto's memory between runs."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=BUCKET, Key=v["Key"], VersionId=v["VersionId"])


def report(
    console: Console,
    args: argparse.Namespace,
    db_size: int,
    rounds: list[Round],
    large: tuple[int, Run] | None,
    moto_peak_small: int | None,
    moto: Any,
) -> None:
    first = rounds[0].ours
    dump_size = first.report["size"]
    table = Table(title=f"streamed backup, {db_size / GB:.2f} GB database "
                  f"({dump_size / GB:.2f} GB dump, {first.report['parts']} parts of "
                  f"{args.part_size_mib} MiB); ratios: median (min-max) of "
                  f"{len(rounds)} interleaved rounds")  # fmt: skip
    table.add_column("measure")
    table.add_column("ratio / value", justify="right")
    table.add_column("aim")
    table.add_column("met")

    def row(name: str, value: str, aim: str, met: bool | None) -> None:
        table.add_row(name, value, aim, "" if met is None else ("yes" if met else "no"))

    def ratios(fn: Any) -> list[float]:
        return [fn(r) for r in rounds]

    a_stream = ratios(lambda r: r.devnull.seconds / r.ours.report["streamed"])
    row("(a) throughput, streaming phase / pg_dump > /dev/null", median_range(a_stream),
        f">= {THROUGHPUT_AIM}", statistics.median(a_stream) >= THROUGHPUT_AIM)  # fmt: skip
    row("(a) throughput, whole backup (+ read-back verify, copy) / pg_dump > /dev/null",
        median_range(ratios(lambda r: r.devnull.seconds / r.ours.seconds)), "(context)",
        None)  # fmt: skip
    moto_share = ratios(lambda r: r.ours.report["moto_cpu"] / r.ours.report["streamed"])
    row("(a) emulator CPU while we stream, cores (taken from pg_dump's 2-core machine)",
        median_range(moto_share), "(context)", None)  # fmt: skip
    b_time = ratios(lambda r: r.ours.seconds / r.local.seconds)
    row("(b) time, whole backup / dump-to-file + upload_file", median_range(b_time),
        "<= 1 is faster", statistics.median(b_time) <= 1)  # fmt: skip
    row("(b) time, streaming phase / dump-to-file + upload_file",
        median_range(ratios(lambda r: r.ours.report["streamed"] / r.local.seconds)),
        "(context)", None)  # fmt: skip
    ours_written = max(r.ours.write_bytes for r in rounds)
    row("(b) local storage written: ours (most of any round)", f"{ours_written / MIB:.1f} MiB",
        "0", ours_written < MIB)  # fmt: skip
    row("(b) local storage written: dump-to-file",
        f"{rounds[0].local.write_bytes / MIB:.1f} MiB", "(context)", None)  # fmt: skip
    small_rss = max(r.ours.peak_rss for r in rounds)
    row(f"(c) peak RSS of the backup at {db_size / GB:.2f} GB", f"{small_rss / 1e6:.0f} MB",
        "<= 150 MB", small_rss <= RSS_AIM)  # fmt: skip
    if large is not None:
        size, run = large
        row(f"(c) peak RSS of the backup at {size / GB:.2f} GB", f"{run.peak_rss / 1e6:.0f} MB",
            "<= 150 MB", run.peak_rss <= RSS_AIM)  # fmt: skip
        row("(c) peak RSS, larger / smaller", f"{run.peak_rss / small_rss:.2f}", "~1 (flat)",
            run.peak_rss / small_rss < 1.15)  # fmt: skip
    row("peak RSS of dump-to-file + upload_file",
        f"{max(r.local.peak_rss for r in rounds) / 1e6:.0f} MB", "(context)", None)  # fmt: skip
    row("moto server's own peak RSS (emulator, not us)",
        f"{(moto.peak_rss_bytes() or 0) / 1e6:.0f} MB", "(context)", None)  # fmt: skip
    console.print(table)

    seconds = Table(title="seconds, for context only (same run)")
    seconds.add_column("round", justify="right")
    for name in ("pg_dump > /dev/null", "ours: streaming", "ours: whole backup",
                 "dump-to-file + upload_file"):  # fmt: skip
        seconds.add_column(name, justify="right")
    for number, r in enumerate(rounds, start=1):
        seconds.add_row(str(number), f"{r.devnull.seconds:.1f}",
                        f"{r.ours.report['streamed']:.1f}", f"{r.ours.seconds:.1f}",
                        f"{r.local.seconds:.1f}")  # fmt: skip
    console.print(seconds)
    streamed = statistics.median(r.ours.report["streamed"] for r in rounds)
    console.print(f"dump throughput (ours, streaming, median): {dump_size / streamed / MIB:.1f} "
                  f"MiB/s of archive; moto peak after the first size: "
                  f"{(moto_peak_small or 0) / 1e6:.0f} MB", highlight=False)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
