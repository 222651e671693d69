"""The log cleanup's rules on small real trees (no Airflow, no S3): the age rule against GNU
find, symlinks and `..` names, empty directories, nested and duplicate folders, races that
the cleanup must tolerate, and the refusals."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from platform_ops import log_cleanup
from platform_ops.log_cleanup import (
    ArchiveTarget,
    CleanupOptions,
    CleanupReport,
    LogCleanupError,
    archive_key,
    clean_logs,
    cutoff_ns,
    run_name,
)
from tests.conftest import ROOT
from tests.dags.logtrees import DAY, Listing, aged, dirs, files, set_age, snapshot

DAYS = 7
OLD = (DAYS + 1) * DAY + 3600  # safely past the boundary
YOUNG = DAYS * DAY  # older than DAYS days, but not DAYS + 1 whole days


@pytest.fixture
def now() -> float:
    """Whole seconds, so mtimes set from it are exact at the day boundary."""
    return float(int(time.time()))


@pytest.fixture
def base(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    return folder


def clean(*folders: Path, now: float | None = None, **options: Any) -> CleanupReport:
    moment = datetime.fromtimestamp(now, UTC) if now is not None else None
    folder_names = tuple(str(f) for f in folders)
    return clean_logs(
        CleanupOptions(folders=folder_names, older_than_days=DAYS, now=moment, **options)
    )


# --- the age rule -------------------------------------------------------------------------


def test_cutoff_is_n_plus_one_whole_days_before_now() -> None:
    assert cutoff_ns(10 * DAY * 10**9, 3) == 6 * DAY * 10**9


def test_age_rule_deletes_at_exactly_n_plus_one_days_and_keeps_a_second_younger(
    base: Path, now: float
) -> None:
    aged(base / "exactly.log", (DAYS + 1) * DAY, now)
    aged(base / "one-second-younger.log", (DAYS + 1) * DAY - 1, now)
    aged(base / "n-days-and-a-bit.log", DAYS * DAY + 1, now)
    aged(base / "future.log", -3600, now)

    report = clean(base, now=now)

    assert files(base) == {"one-second-younger.log", "n-days-and-a-bit.log", "future.log"}
    assert (report.files_deleted, report.kept_young) == (1, 3)


def test_deleted_files_are_exactly_those_find_mtime_plus_n_lists_on_the_same_tree(
    base: Path,
) -> None:
    now = time.time()
    ages = [0, DAY, DAYS * DAY - 60, DAYS * DAY + 60, (DAYS + 1) * DAY - 60,
            (DAYS + 1) * DAY + 60, 30 * DAY, 400 * DAY]  # fmt: skip
    for number, age in enumerate(ages):
        aged(base / f"d{number % 3}" / f"f{number}.log", age, now)
    listed = subprocess.run(
        ["find", str(base), "-mindepth", "1", "-type", "f", "-mtime", f"+{DAYS}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    before = files(base)

    report = clean(base)

    expected = {Path(p).relative_to(base).as_posix() for p in listed}
    assert before - files(base) == expected
    assert report.files_deleted == len(expected) == 3


# --- what is deleted, and what never is -----------------------------------------------------


def test_symlinks_are_left_and_never_followed_to_old_files_outside(
    tmp_path: Path, base: Path, now: float
) -> None:
    outside = tmp_path / "outside"
    aged(outside / "target.log", OLD, now)
    aged(outside / "dir" / "deep.log", OLD, now)
    set_age(outside / "dir", OLD, now)
    (base / "to-file.log").symlink_to(outside / "target.log")
    (base / "to-dir").symlink_to(outside / "dir")
    (base / "dangling.log").symlink_to(tmp_path / "nowhere")
    before = snapshot(tmp_path / "outside")

    report = clean(base, now=now)

    assert snapshot(outside) == before
    assert {p.name for p in base.iterdir()} == {"to-file.log", "to-dir", "dangling.log"}
    assert report.left_not_regular == 3
    assert report.files_deleted == 0


def test_a_symlink_to_a_file_inside_is_left_while_its_old_target_goes(
    base: Path, now: float
) -> None:
    aged(base / "real" / "old.log", OLD, now)
    (base / "alias.log").symlink_to(base / "real" / "old.log")

    clean(base, now=now)

    assert (base / "alias.log").is_symlink()
    assert not (base / "real").exists()


def test_a_folder_given_as_a_symlink_is_resolved_once_and_its_target_cleaned(
    tmp_path: Path, base: Path, now: float
) -> None:
    aged(base / "old.log", OLD, now)
    link = tmp_path / "current-logs"
    link.symlink_to(base)

    report = clean(link, now=now)

    assert report.folders == [str(base.resolve())]
    assert link.is_symlink()
    assert not (base / "old.log").exists()


def test_names_containing_dots_are_ordinary_files_and_nothing_outside_changes(
    tmp_path: Path, base: Path, now: float
) -> None:
    sibling = tmp_path / "logs-sibling"  # shares the folder's name as a prefix
    aged(sibling / "old.log", OLD, now)
    for name in ["..log", "a..b", "...", "..hidden/..inner.log"]:
        aged(base / name, OLD, now)
    aged(base / "..young", 0, now)
    before = snapshot(tmp_path)

    report = clean(base, now=now)

    assert files(base) == {"..young"}
    assert snapshot(sibling) == {k.removeprefix("logs-sibling/"): v for k, v in before.items()
                                 if k.startswith("logs-sibling/")}  # fmt: skip
    assert report.files_deleted == 4


def test_sockets_and_fifos_are_left_alone(base: Path, now: float) -> None:
    os.mkfifo(base / "old.fifo")
    set_age(base / "old.fifo", OLD, now)

    report = clean(base, now=now)

    assert (base / "old.fifo").exists()
    assert report.left_not_regular == 1


# --- empty directories ------------------------------------------------------------------------


def test_directories_emptied_by_the_cleanup_are_removed_bottom_up_but_never_the_folder(
    base: Path, now: float
) -> None:
    aged(base / "dag_id=a" / "run_id=1" / "task_id=t" / "attempt=1.log", OLD, now)
    aged(base / "dag_id=a" / "run_id=1" / "task_id=u" / "attempt=1.log", OLD, now)

    report = clean(base, now=now)

    assert base.is_dir()
    assert list(base.iterdir()) == []
    assert report.dirs_removed == 4


def test_a_directory_keeping_a_young_file_or_a_link_is_kept(base: Path, now: float) -> None:
    aged(base / "mixed" / "old.log", OLD, now)
    aged(base / "mixed" / "new.log", 60, now)
    aged(base / "linked" / "old.log", OLD, now)
    (base / "linked" / "link").symlink_to("old.log")

    report = clean(base, now=now)

    assert dirs(base) == {"mixed", "linked"}
    assert report.dirs_removed == 0


def test_an_empty_directory_is_removed_only_when_it_is_old_itself(base: Path, now: float) -> None:
    (base / "old-empty" / "inner").mkdir(parents=True)
    set_age(base / "old-empty" / "inner", OLD, now)
    set_age(base / "old-empty", OLD, now)
    (base / "just-created").mkdir()  # Airflow makes a task's directory before its log file

    report = clean(base, now=now)

    assert dirs(base) == {"just-created"}
    assert report.dirs_removed == 2


def test_a_directory_written_to_before_its_removal_is_kept_without_an_error(
    base: Path, now: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    aged(base / "busy" / "old.log", OLD, now)
    real_rmdir = os.rmdir

    def rmdir_after_a_write(name: str, *, dir_fd: int) -> None:
        fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
        try:
            with open(os.open("new.log", os.O_CREAT | os.O_WRONLY, dir_fd=fd), "w") as stream:
                stream.write("written meanwhile\n")
        finally:
            os.close(fd)
        real_rmdir(name, dir_fd=dir_fd)

    monkeypatch.setattr(log_cleanup.os, "rmdir", rmdir_after_a_write)
    report = clean(base, now=now)

    assert files(base) == {"busy/new.log"}
    assert report.ok
    assert report.dirs_removed == 0


# --- several folders ---------------------------------------------------------------------------


def test_a_folder_nested_in_another_is_cleaned_once_as_its_own_and_never_removed(
    base: Path, now: float
) -> None:
    processor = base / "dag_processor"
    aged(processor / "2026-01-01" / "dag.py.log", OLD, now)
    aged(base / "dag_id=a" / "attempt=1.log", OLD, now)

    report = clean(base, processor, now=now)

    assert report.folders == [str(base.resolve()), str(processor.resolve())]
    assert report.files_deleted == 2
    assert processor.is_dir()
    assert list(processor.iterdir()) == []
    assert dirs(base) == {"dag_processor"}


def test_the_same_folder_given_twice_is_cleaned_once(
    tmp_path: Path, base: Path, now: float
) -> None:
    aged(base / "old.log", OLD, now, b"12345")
    (tmp_path / "alias").symlink_to(base)

    report = clean(base, tmp_path / "alias", now=now)

    assert report.folders == [str(base.resolve())]
    assert (report.files_deleted, report.bytes_deleted) == (1, 5)


# --- races and errors ---------------------------------------------------------------------------


def test_a_file_vanishing_before_its_unlink_is_counted_not_an_error(
    base: Path, now: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    aged(base / "a.log", OLD, now)
    aged(base / "b.log", OLD, now)
    real_unlink = os.unlink

    def unlink_raced(name: str, *, dir_fd: int) -> None:
        if name == "a.log":
            real_unlink(name, dir_fd=dir_fd)  # someone else got there first
        real_unlink(name, dir_fd=dir_fd)

    monkeypatch.setattr(log_cleanup.os, "unlink", unlink_raced)
    report = clean(base, now=now)

    assert report.ok
    assert (report.vanished, report.files_deleted) == (1, 1)
    assert files(base) == set()


def test_an_unlink_error_is_reported_with_its_path_and_the_rest_still_cleaned(
    base: Path, now: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    aged(base / "locked" / "a.log", OLD, now)
    aged(base / "other" / "b.log", OLD, now)
    real_unlink = os.unlink

    def unlink_refused(name: str, *, dir_fd: int) -> None:
        if name == "a.log":
            raise PermissionError(errno.EACCES, "Permission denied")
        real_unlink(name, dir_fd=dir_fd)

    monkeypatch.setattr(log_cleanup.os, "unlink", unlink_refused)
    report = clean(base, now=now)

    assert not report.ok
    assert report.errors == [f"{base.resolve()}/locked/a.log: Permission denied"]
    assert files(base) == {"locked/a.log"}
    assert dirs(base) == {"locked"}


def test_a_directory_swapped_for_a_symlink_after_listing_is_not_followed(
    tmp_path: Path, base: Path, now: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    aged(outside / "precious.log", OLD, now)
    aged(base / "run" / "old.log", OLD, now)
    real_scandir = os.scandir

    def scandir_then_swap(fd: Any) -> Any:
        with real_scandir(fd) as listing:
            entries = list(listing)
        if any(e.name == "run" for e in entries):
            (base / "run" / "old.log").unlink()
            (base / "run").rmdir()
            (base / "run").symlink_to(outside)
        return Listing(entries)

    monkeypatch.setattr(log_cleanup.os, "scandir", scandir_then_swap)
    report = clean(base, now=now)

    assert (outside / "precious.log").exists()
    assert (base / "run").is_symlink()
    assert report.left_not_regular == 1
    assert report.ok


def test_a_tree_deeper_than_the_limit_is_reported_not_descended(
    base: Path, now: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_cleanup, "MAX_DEPTH", 2)
    aged(base / "a" / "b" / "c" / "deep.log", OLD, now)
    aged(base / "a" / "shallow.log", OLD, now)

    report = clean(base, now=now)

    assert files(base) == {"a/b/c/deep.log"}
    assert report.errors == [f"{base.resolve()}/a/b/c: deeper than 2 levels, not cleaned"]


def test_dry_run_changes_nothing_and_reports_what_a_real_run_then_does(
    base: Path, now: float
) -> None:
    aged(base / "dag_id=a" / "run_id=1" / "attempt=1.log", OLD, now, b"x" * 10)
    aged(base / "dag_id=a" / "run_id=2" / "attempt=1.log", 60, now)
    aged(base / "old.log", OLD, now, b"y" * 3)
    before = snapshot(base)

    dry = clean(base, now=now, dry_run=True)
    assert snapshot(base) == before
    real = clean(base, now=now)

    counts = ("files_deleted", "bytes_deleted", "dirs_removed", "kept_young")
    assert [getattr(dry, c) for c in counts] == [getattr(real, c) for c in counts] == [2, 13, 1, 1]
    assert dry.dry_run
    assert dry.summary().startswith("would delete 2 files (13 bytes)")


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("/", "refusing to clean '/': it is the root directory"),
        ("missing", "does not exist"),
        ("a-file", "is not a directory"),
    ],
)
def test_cleanup_refuses_a_folder_that_is_root_missing_or_a_file(
    tmp_path: Path, folder: str, message: str
) -> None:
    (tmp_path / "a-file").write_text("x")
    path = folder if folder == "/" else str(tmp_path / folder)

    with pytest.raises(LogCleanupError, match=message):
        clean_logs(CleanupOptions(folders=(path,), older_than_days=DAYS))


def test_cleanup_refuses_a_symlink_that_resolves_to_root(tmp_path: Path) -> None:
    (tmp_path / "root").symlink_to("/")

    with pytest.raises(LogCleanupError, match="root directory"):
        clean_logs(CleanupOptions(folders=(str(tmp_path / "root"),), older_than_days=DAYS))


@pytest.mark.parametrize("days", [0, -1, True, 1.5, "7"])
def test_options_refuse_a_retention_that_is_not_a_whole_number_of_days_at_least_one(
    days: Any,
) -> None:
    with pytest.raises(LogCleanupError, match="expected a whole number of days, at least 1"):
        CleanupOptions(folders=("/tmp",), older_than_days=days)


@pytest.mark.parametrize("workers", [0, 65, True, 2.0])
def test_options_refuse_a_number_of_workers_outside_one_to_sixty_four(workers: Any) -> None:
    with pytest.raises(LogCleanupError, match="expected a whole number from 1 to 64"):
        CleanupOptions(folders=("/tmp",), older_than_days=1, workers=workers)


MOUNTS = """\
overlay / overlay rw,relatime 0 0
tmpfs /dev/shm tmpfs rw,nosuid 0 0
/dev/nvme1n1 /opt/airflow/logs ext4 rw,relatime 0 0
127.0.0.1:/ /opt/airflow/logs/shared\\040logs nfs4 rw 0 0
tmpfs /opt/airflow/logs/scratch tmpfs rw 0 0
"""


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/opt/airflow/logs", "ext4"),
        ("/opt/airflow/logs/dag_id=a", "ext4"),
        ("/opt/airflow/logs-old", "overlay"),
        ("/opt/airflow/logs/shared logs/x", "nfs4"),
        ("/opt/airflow/logs/scratch", "tmpfs"),
        ("/dev/shm/logs", "tmpfs"),
    ],
)
def test_filesystem_type_is_that_of_the_longest_mount_point_above_the_path(
    path: str, kind: str
) -> None:
    assert log_cleanup.filesystem_type(path, MOUNTS) == kind


def test_default_workers_is_one_on_a_memory_filesystem_and_four_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(log_cleanup, "filesystem_type", lambda path: {"/m": "tmpfs"}.get(path))

    assert log_cleanup.default_workers("/m") == 1
    assert log_cleanup.default_workers("/d") == log_cleanup.DEFAULT_WORKERS == 4


def test_one_worker_and_many_leave_the_same_tree_and_counts(tmp_path: Path, now: float) -> None:
    results = []
    for workers in (1, 4):
        base = tmp_path / f"logs-{workers}"
        for dag in range(6):
            aged(base / f"dag_id={dag}" / "run_id=1" / "attempt=1.log", OLD, now)
            aged(base / f"dag_id={dag}" / "run_id=2" / "attempt=1.log", OLD if dag % 2 else 0, now)
        aged(base / "top.log", OLD, now)
        report = clean(base, now=now, workers=workers)
        results.append((files(base), dirs(base), report.files_deleted, report.dirs_removed))

    young = (0, 2, 4)
    expected = (
        {f"dag_id={d}/run_id=2/attempt=1.log" for d in young},
        {f"dag_id={d}" for d in young} | {f"dag_id={d}/run_id=2" for d in young},
        10,
        12,
    )
    assert results[0] == expected
    assert results[1] == expected


def test_options_refuse_a_single_path_a_naive_time_and_no_folder() -> None:
    with pytest.raises(LogCleanupError, match="not one path"):
        CleanupOptions(folders="/var/log/airflow", older_than_days=1)  # type: ignore[arg-type]
    with pytest.raises(LogCleanupError, match="no timezone"):
        CleanupOptions(folders=("/tmp",), older_than_days=1, now=datetime(2026, 1, 1))
    with pytest.raises(LogCleanupError, match="at least one"):
        CleanupOptions(folders=(), older_than_days=1)


def test_archiving_refuses_two_folders_with_the_same_name(tmp_path: Path) -> None:
    (tmp_path / "a" / "logs").mkdir(parents=True)
    (tmp_path / "b" / "logs").mkdir(parents=True)
    options = CleanupOptions(
        folders=(str(tmp_path / "a" / "logs"), str(tmp_path / "b" / "logs")),
        older_than_days=1,
        archive=ArchiveTarget("bucket", "p"),
    )

    with pytest.raises(LogCleanupError, match="both named 'logs'"):
        clean_logs(options)


# --- archive locations and keys -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("s3://log-archive", ArchiveTarget("log-archive", "")),
        ("s3://log-archive/", ArchiveTarget("log-archive", "")),
        ("s3://log-archive/airflow-logs/", ArchiveTarget("log-archive", "airflow-logs")),
        ("s3://a.b-c/x/y", ArchiveTarget("a.b-c", "x/y")),
    ],
)
def test_archive_target_parses_bucket_and_prefix(url: str, target: ArchiveTarget) -> None:
    assert ArchiveTarget.parse(url) == target


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("log-archive/x", "is not s3://<bucket>"),
        ("https://log-archive/x", "is not s3://<bucket>"),
        ("s3://Log_Archive/x", "not a valid S3 bucket name"),
        ("s3:///x", "not a valid S3 bucket name"),
    ],
)
def test_archive_target_refuses_what_is_not_an_s3_url(url: str, message: str) -> None:
    with pytest.raises(LogCleanupError, match=message):
        ArchiveTarget.parse(url)


def test_archive_key_is_prefix_folder_day_then_host_time_and_run_id() -> None:
    run = run_name(datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), host="worker-1.internal")

    key = archive_key("airflow-logs", "dag_processor", date(2026, 2, 28), run)

    prefix = "airflow-logs/dag_processor/2026/02/28/worker-1.internal-20260304T050607Z-"
    assert key.startswith(prefix)
    assert len(key) == len(prefix) + 8 + len(".tar.gz")
    assert key.endswith(".tar.gz")


def test_run_names_differ_between_runs_in_the_same_second_and_host() -> None:
    moment = datetime(2026, 3, 4, tzinfo=UTC)

    assert run_name(moment, host="h") != run_name(moment, host="h")


def test_archive_key_and_run_name_keep_unsafe_characters_out_of_keys() -> None:
    assert archive_key("", "my logs", date(2026, 1, 2), "h-1") == "my_logs/2026/01/02/h-1.tar.gz"
    assert run_name(datetime(2026, 1, 1, tzinfo=UTC), host="a b/c").startswith("a_b_c-2026")


# --- the report and the module ------------------------------------------------------------------


def test_report_is_json_ready_and_keeps_a_bounded_number_of_errors() -> None:
    report = CleanupReport(["/l"], 7, "2026-01-01T00:00:00+00:00", False, None)
    for number in range(log_cleanup.MAX_ERRORS_KEPT + 5):
        report.add_error(f"/l/{number}", OSError(errno.EIO, "I/O error"))

    data = json.loads(json.dumps(report.as_dict()))

    assert data["error_count"] == log_cleanup.MAX_ERRORS_KEPT + 5
    assert len(data["errors"]) == log_cleanup.MAX_ERRORS_KEPT
    assert data["errors"][0] == "/l/0: I/O error"
    assert not report.ok


def test_the_logic_imports_without_airflow_or_boto3() -> None:
    code = (
        "import sys, platform_ops.log_cleanup, platform_ops.log_cleanup_task\n"
        "loaded = sorted(m for m in ('airflow', 'boto3', 'botocore') if m in sys.modules)\n"
        "print(loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT / "dags", capture_output=True, text=True, check=True
    )

    assert done.stdout.strip() == "[]"
