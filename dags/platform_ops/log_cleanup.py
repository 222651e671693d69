"""Deleting old Airflow log files, optionally archiving them to S3 first.

The log_cleanup DAG and `airflow-platform clean-logs` both call `clean_logs(CleanupOptions(...))`
and get a `CleanupReport`. The rules, which the tests check on random trees:

* **Age.** A file is *older than N days* when its age (now minus its mtime, from lstat) is at
  least N+1 whole days: whole days rounded down, more than N. That is exactly GNU find's
  `-mtime +N`, the seed's rule, so the same N deletes the same files it did (`--older-than 30`
  deletes a file once it is 31 days old). Anything younger, or dated in the future, is kept.
* **What is deleted.** Regular files only. Symlinks are never followed, never descended into
  and never deleted (a link is left where it is, whatever it points at); sockets and FIFOs are
  left alone too.
* **Never outside a base folder.** Each folder is resolved once, at the start (a folder given
  as a symlink is followed that once, to its target); `/`, a missing folder and a file are
  refused. Below it everything happens through open directory descriptors: a directory is
  opened with O_NOFOLLOW relative to its parent's descriptor and a file is unlinked by its
  name relative to its directory's descriptor, so a directory swapped for a symlink while the
  cleanup runs is refused by the kernel rather than followed. Names come from the directory
  listing, which never yields `..`; a name like `..x` or `a..b` is an ordinary file name.
* **Empty directories** are removed bottom-up, in the same pass, when nothing is left in them
  and either the cleanup removed something from them or they are themselves older than N days
  (so a task's log directory that Airflow created a moment ago, before its file, is kept). The
  folders themselves are never removed. A directory written to in the meantime is kept
  (rmdir fails with ENOTEMPTY).
* **Races.** A file is lstat-ed immediately before it is unlinked; when archiving, where the
  upload sits between the scan and the delete, it is lstat-ed again before the unlink and kept
  if its inode, size or mtime changed. A file or directory that disappears meanwhile is
  counted as vanished, never as an error.
* **Archive** (optional): the expired files of each (folder, UTC day of mtime) go into one
  tar.gz, streamed into a multipart upload at
  `<prefix>/<folder name>/<YYYY>/<MM>/<DD>/<host>-<UTC run time>-<8 hex>.tar.gz`; they are
  deleted only once that object is complete and its size checked. A failed upload is aborted
  and its files are all kept; the error is reported and the run fails at the end.
* **dry_run** walks and reports what would be deleted, archived and removed; it changes
  nothing, locally or in S3.

Speed (bench/log_cleanup.py measures it against find on 200,000 files): one lstat per file
and nothing logged per file; empty directories go in the same pass, not a second walk; and a
folder's top-level directories (`dag_id=...`) are cleaned by `workers` threads, because on a
disk, and more so on EFS or NFS, deleting is mostly waiting for the filesystem, which threads
overlap (syscalls release the GIL). On a memory filesystem (tmpfs) nothing waits and threads
only contend for the GIL, so there the default is one. The archive's deletes, after each
upload, run in one thread. Only the standard library is imported
here; boto3 is imported (by `platform_ops.log_archive`) only when archiving.
"""

from __future__ import annotations

import errno
import io
import os
import re
import socket
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from platform_ops.s3url import is_bucket_name, split_s3_url

DAY_SECONDS = 86_400
_DAY_NS = DAY_SECONDS * 1_000_000_000
MIB = 1024 * 1024
# 16 MiB parts: at S3's 10,000 parts, one day's archive of one folder may reach 156 GiB.
DEFAULT_PART_SIZE = 16 * MIB
MIN_PART_SIZE = 5 * MIB
# Deeper than any log layout; bounds the open descriptors and the recursion.
MAX_DEPTH = 64
# The report (an XCom) keeps this many error lines; `error_count` has them all.
MAX_ERRORS_KEPT = 50
PROGRESS_EVERY_DIRS = 500
# On a disk (and more so on EFS/NFS) deleting is mostly waiting for the filesystem; a few
# threads overlap those waits. On a memory filesystem nothing waits, and threads only fight
# over the GIL, which every syscall hands over: one thread is 2.5 times faster there than
# four (bench/log_cleanup.py).
DEFAULT_WORKERS = 4
MAX_WORKERS = 64
MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO put in a file's place must not hang the open.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._-]")


class LogCleanupError(ValueError):
    """Options that cannot make a cleanup (nothing was touched); the message names the input
    and what is allowed."""


@dataclass(frozen=True)
class ArchiveTarget:
    """Where archives go: a bucket and a key prefix (no leading or trailing slash)."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> ArchiveTarget:
        """`s3://bucket/some/prefix` -> ArchiveTarget("bucket", "some/prefix")."""
        parts = split_s3_url(url)
        if parts is None:
            raise LogCleanupError(f"archive location {url!r} is not s3://<bucket>[/<prefix>]")
        bucket, prefix = parts
        if not is_bucket_name(bucket):
            raise LogCleanupError(
                f"{bucket!r} is not a valid S3 bucket name (in {url!r}): 3-63 lowercase "
                "letters, digits, dots and hyphens"
            )
        return cls(bucket, prefix)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def cutoff_ns(now_ns: int, older_than_days: int) -> int:
    """The newest mtime (ns since the epoch) that is older than `older_than_days` at `now_ns`:
    `find -mtime +N`, i.e. an age of at least N+1 whole days."""
    return now_ns - (older_than_days + 1) * _DAY_NS


@dataclass(frozen=True)
class CleanupOptions:
    """One cleanup: what to clean, how old is old, and where archives go."""

    folders: tuple[str, ...]
    """Base folders; each is resolved once and nothing outside it is touched."""
    older_than_days: int
    """Delete files at least `older_than_days + 1` whole days old (`find -mtime +N`); >= 1."""
    archive: ArchiveTarget | None = None
    """Archive expired files here before deleting them; None deletes without archiving."""
    dry_run: bool = False
    """Report what would be done; change nothing, locally or in S3."""
    now: datetime | None = None
    """The time ages are measured from (timezone-aware); default: when `clean_logs` starts."""
    part_size: int = DEFAULT_PART_SIZE
    """Multipart part size of the archive upload; memory held is about one part."""
    workers: int | None = None
    """Threads walking a folder's top-level directories at once (1 to MAX_WORKERS); None
    picks per folder: 1 on a memory filesystem, DEFAULT_WORKERS elsewhere."""

    def __post_init__(self) -> None:
        if isinstance(self.folders, str | bytes | os.PathLike):
            raise LogCleanupError("folders must be a list of folders, not one path")
        object.__setattr__(self, "folders", tuple(os.fspath(f) for f in self.folders))
        if not self.folders:
            raise LogCleanupError("no log folder to clean: give at least one")
        days = self.older_than_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise LogCleanupError(
                f"older than {days!r} days: expected a whole number of days, at least 1"
            )
        if self.now is not None and self.now.tzinfo is None:
            raise LogCleanupError(f"now={self.now!r} has no timezone; give an aware datetime")
        if self.part_size < MIN_PART_SIZE:
            raise LogCleanupError(f"part size {self.part_size} is below S3's 5 MiB minimum")
        workers = self.workers
        if isinstance(workers, bool) or not isinstance(workers, int | None):
            workers = 0
        if workers is not None and not 1 <= workers <= MAX_WORKERS:
            raise LogCleanupError(
                f"{self.workers!r} workers: expected a whole number from 1 to {MAX_WORKERS}"
            )


@dataclass
class CleanupReport:
    """What a cleanup did (or, dry run, would do). In a dry run the `*_deleted`,
    `*_archived` and `dirs_removed` counts are what a real run would delete."""

    folders: list[str]
    older_than_days: int
    cutoff: str
    """Files last modified at or before this UTC time were expired."""
    dry_run: bool
    archive: str | None
    files_deleted: int = 0
    bytes_deleted: int = 0
    files_archived: int = 0
    bytes_archived: int = 0
    archives: list[str] = field(default_factory=list)
    dirs_removed: int = 0
    kept_young: int = 0
    """Regular files younger than the retention."""
    kept_rewritten: int = 0
    """Expired files changed between the scan and the delete (archive mode): kept."""
    left_not_regular: int = 0
    """Symlinks, sockets and FIFOs: never followed, never deleted."""
    vanished: int = 0
    """Files and directories that disappeared while the cleanup ran."""
    error_count: int = 0
    errors: list[str] = field(default_factory=list)
    """The first MAX_ERRORS_KEPT errors, each naming its path."""

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def merge(self, other: CleanupReport) -> None:
        """Add `other`'s counts and errors (a worker's report for one subtree)."""
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors[: MAX_ERRORS_KEPT - len(self.errors)])

    def add_error(self, where: str, error: BaseException | str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            text = error if isinstance(error, str) else _describe(error)
            self.errors.append(f"{where}: {text}")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the DAG task's XCom."""
        return asdict(self)

    def summary(self) -> str:
        """One line for a task log."""
        verb = "would delete" if self.dry_run else "deleted"
        line = (
            f"{verb} {self.files_deleted} files ({self.bytes_deleted} bytes) and "
            f"{self.dirs_removed} empty directories older than {self.older_than_days} days "
            f"in {', '.join(self.folders)}"
        )
        if self.archive:
            line += (
                f"; {'would archive' if self.dry_run else 'archived'} {self.files_archived} "
                f"files ({self.bytes_archived} bytes) in {len(self.archives)} archives to "
                f"{self.archive}"
            )
        line += (
            f"; kept {self.kept_young} younger and {self.kept_rewritten} rewritten, "
            f"{self.left_not_regular} links or special files left, {self.vanished} vanished, "
            f"{self.error_count} errors"
        )
        return line


_COUNTS = (
    "files_deleted", "bytes_deleted", "files_archived", "bytes_archived", "dirs_removed",
    "kept_young", "kept_rewritten", "left_not_regular", "vanished", "error_count",
)  # fmt: skip
Progress = Callable[[str, CleanupReport], None]


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


@dataclass(frozen=True)
class BaseFolder:
    """A resolved base folder."""

    path: str
    """Absolute, symlinks resolved."""
    nested: frozenset[str] = frozenset()
    """Paths (relative to this folder) of other base folders inside it: skipped here, each
    cleaned as its own folder (and so never removed)."""

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


def resolve_folders(folders: tuple[str, ...]) -> list[BaseFolder]:
    """Each folder resolved once, duplicates dropped; LogCleanupError for `/`, a missing
    folder or one that is not a directory."""
    resolved: list[str] = []
    for folder in folders:
        if not os.path.lexists(folder):
            raise LogCleanupError(f"log folder {folder!r} does not exist")
        real = os.path.realpath(folder)
        if real == os.path.sep:
            raise LogCleanupError(f"refusing to clean {folder!r}: it is the root directory")
        if not os.path.isdir(real):
            raise LogCleanupError(f"log folder {folder!r} is not a directory")
        if real not in resolved:
            resolved.append(real)
    bases = []
    for path in resolved:
        inside = frozenset(
            os.path.relpath(other, path)
            for other in resolved
            if other.startswith(path.rstrip(os.path.sep) + os.path.sep)
        )
        bases.append(BaseFolder(path, inside))
    return bases


def filesystem_type(path: str, mounts: str | None = None) -> str | None:
    """The type of the filesystem holding `path` (absolute, resolved), e.g. ext4, nfs4 or
    tmpfs: the longest mount point above it in `mounts` (/proc/self/mounts' format, read
    when not given). None when that cannot be read (not Linux)."""
    if mounts is None:
        try:
            with open("/proc/self/mounts") as stream:
                mounts = stream.read()
        except OSError:
            return None
    best, kind = "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        # The kernel writes a space in a mount point as \040, a tab as \011 and so on.
        mount = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[1])
        inside = path == mount or path.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, kind = mount, fields[2]
    return kind


def default_workers(path: str) -> int:
    """Threads for cleaning `path` when not told: 1 on a memory filesystem, where threads
    only slow each other down, else DEFAULT_WORKERS."""
    return 1 if filesystem_type(path) in MEMORY_FILESYSTEMS else DEFAULT_WORKERS


# An expired file found by a scan: (directory relative to its base, name, size, mtime_ns, inode).
Record = tuple[str, str, int, int, int]


class _Walk:
    """One depth-first pass over one base folder, through directory descriptors.

    What the pass does with an expired file: `delete` unlinks it; `pretend` (dry run) counts
    it as deleted; `collect` (a list) records it for archiving. `files=False` leaves files
    alone (the directory pass after archiving). With `remove_dirs`, directories left empty
    are removed on the way back up; `emptied` names directories the archive step deleted
    files from. With `workers` > 1 the folder's top-level directories are walked by that
    many threads, each subtree into a report (and record list) of its own, merged in order.
    """

    def __init__(
        self,
        base: BaseFolder,
        cutoff: int,
        report: CleanupReport,
        *,
        delete: bool = False,
        pretend: bool = False,
        collect: list[Record] | None = None,
        files: bool = True,
        remove_dirs: bool = True,
        emptied: set[str] | None = None,
        progress: Progress | None = None,
        workers: int = 1,
    ) -> None:
        self.base = base
        self.cutoff = cutoff
        self.report = report
        self.delete = delete
        self.pretend = pretend
        self.collect = collect
        self.files = files
        self.remove_dirs = remove_dirs
        self.emptied = emptied or set()
        self.progress = progress
        self.workers = workers
        self.dirs_seen = 0

    def run(self) -> None:
        try:
            fd = os.open(self.base.path, _DIR_FLAGS)
        except OSError as error:
            self.report.add_error(self.base.path, error)
            return
        try:
            if self.workers > 1:
                self._top_in_parallel(fd)
            else:
                self._dir(fd, "", 0)
        except OSError as error:
            self.report.add_error(self.base.path, error)
        finally:
            os.close(fd)

    def _top_in_parallel(self, fd: int) -> None:
        """The folder's own files here, its top-level directories on `workers` threads."""
        with os.scandir(fd) as listing:
            entries = list(listing)
        subdirs = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        self._entries(fd, "", 0, [e for e in entries if not e.is_dir(follow_symlinks=False)])
        with ThreadPoolExecutor(self.workers, thread_name_prefix="log-cleanup") as pool:
            subtrees = [pool.submit(self._subtree, fd, name) for name in subdirs]
            for done, subtree in enumerate(subtrees, start=1):
                walk = subtree.result()
                self.report.merge(walk.report)
                if self.collect is not None and walk.collect is not None:
                    self.collect.extend(walk.collect)
                if self.progress is not None and done % (PROGRESS_EVERY_DIRS // 10) == 0:
                    self.progress(self.base.path, self.report)

    def _subtree(self, parent: int, name: str) -> _Walk:
        """Clean the top-level directory `name` into a walk of its own (a worker's task)."""
        report = CleanupReport([], 0, "", self.report.dry_run, None)
        walk = _Walk(self.base, self.cutoff, report, delete=self.delete, pretend=self.pretend,
                     collect=[] if self.collect is not None else None, files=self.files,
                     remove_dirs=self.remove_dirs, emptied=self.emptied)  # fmt: skip
        try:
            walk._subdir(parent, name, name, 0)
        except FileNotFoundError:
            report.vanished += 1
        except OSError as error:
            report.add_error(walk._path(name), error)
        return walk

    def _dir(self, fd: int, rel: str, depth: int) -> bool:
        """Clean the directory open as `fd` (`rel` below the base); True when it is empty now
        and may be removed."""
        with os.scandir(fd) as listing:
            entries = list(listing)
        return self._entries(fd, rel, depth, entries)

    def _entries(self, fd: int, rel: str, depth: int, entries: list[os.DirEntry[str]]) -> bool:
        """Clean `entries` of the directory open as `fd`; True when the directory is empty
        now and may be removed."""
        report = self.report
        cutoff = self.cutoff
        collect = self.collect
        left = removed = 0
        prefix = f"{rel}/" if rel else ""
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if self._subdir(fd, name, prefix + name, depth):
                        removed += 1
                    else:
                        left += 1
                    continue
                if entry.is_symlink():
                    report.left_not_regular += 1
                    left += 1
                    continue
                if not self.files:
                    left += 1
                    continue
                # lstat through the directory's descriptor, just before the unlink below.
                info = entry.stat(follow_symlinks=False)
                if not stat.S_ISREG(info.st_mode):
                    report.left_not_regular += 1
                    left += 1
                elif info.st_mtime_ns > cutoff:
                    report.kept_young += 1
                    left += 1
                else:
                    if collect is not None:
                        collect.append((rel, name, info.st_size, info.st_mtime_ns, info.st_ino))
                    if self.delete:
                        os.unlink(name, dir_fd=fd)
                    elif not self.pretend:
                        left += 1
                        continue
                    report.files_deleted += 1
                    report.bytes_deleted += info.st_size
                    removed += 1
            except FileNotFoundError:
                report.vanished += 1
            except OSError as error:
                report.add_error(self._path(prefix + name), error)
                left += 1
        self.dirs_seen += 1
        if self.progress is not None and self.dirs_seen % PROGRESS_EVERY_DIRS == 0:
            self.progress(self.base.path, report)
        if left or not self.remove_dirs or not rel:
            return False
        if removed or rel in self.emptied:
            return True
        # Empty before this pass: removed only when old itself (Airflow creates a task's log
        # directory a moment before its file).
        return os.fstat(fd).st_mtime_ns <= cutoff

    def _subdir(self, parent: int, name: str, rel: str, depth: int) -> bool:
        """Clean one subdirectory; True when it was removed (dry run: would be)."""
        if rel in self.base.nested:
            return False
        if depth >= MAX_DEPTH:
            self.report.add_error(self._path(rel), f"deeper than {MAX_DEPTH} levels, not cleaned")
            return False
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as error:
            # Replaced since listed: by a symlink (never followed; Linux says ENOTDIR, or
            # ELOOP) or by a file (the next run sees it).
            if error.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            if stat.S_ISLNK(os.lstat(name, dir_fd=parent).st_mode):
                self.report.left_not_regular += 1
            return False
        try:
            removable = self._dir(fd, rel, depth + 1)
        finally:
            os.close(fd)
        if not removable:
            return False
        if not self.pretend:
            try:
                os.rmdir(name, dir_fd=parent)
            except OSError as error:
                if error.errno in (errno.ENOTEMPTY, errno.EEXIST):  # written to meanwhile
                    return False
                raise
        self.report.dirs_removed += 1
        return True

    def _path(self, rel: str) -> str:
        return os.path.join(self.base.path, rel)


def clean_logs(options: CleanupOptions, progress: Progress | None = None) -> CleanupReport:
    """Delete (and optionally archive first) the files of `options.folders` older than
    `options.older_than_days`, then the directories left empty.

    Raises LogCleanupError before touching anything when the options cannot work; every
    problem met while cleaning is counted in the report instead (`report.ok` is False), so one
    unreadable directory does not stop the rest. `progress(folder, report)` is called every
    few hundred directories and between archives.
    """
    bases = resolve_folders(options.folders)
    now = options.now or datetime.now(UTC)
    cutoff = cutoff_ns(time.time_ns() if options.now is None else _ns(now), options.older_than_days)
    if options.archive is not None:
        _check_distinct_names(bases)
    report = CleanupReport(
        folders=[b.path for b in bases],
        older_than_days=options.older_than_days,
        cutoff=datetime.fromtimestamp(cutoff / 1e9, UTC).isoformat(timespec="seconds"),
        dry_run=options.dry_run,
        archive=str(options.archive) if options.archive else None,
    )
    run = run_name(now)
    for base in bases:
        workers = options.workers or default_workers(base.path)
        if options.archive is None:
            _Walk(base, cutoff, report, delete=not options.dry_run, pretend=options.dry_run,
                  progress=progress, workers=workers).run()  # fmt: skip
        elif options.dry_run:
            records: list[Record] = []
            _Walk(base, cutoff, report, pretend=True, collect=records, progress=progress,
                  workers=workers).run()  # fmt: skip
            for day, group in _by_day(records):
                report.files_archived += len(group)
                report.bytes_archived += sum(r[2] for r in group)
                key = archive_key(options.archive.prefix, base.name, day, run)
                report.archives.append(f"s3://{options.archive.bucket}/{key}")
        else:
            _archive_then_delete(base, cutoff, options, run, report, progress)
        if progress is not None:
            progress(base.path, report)
    return report


def _ns(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _check_distinct_names(bases: list[BaseFolder]) -> None:
    names: dict[str, str] = {}
    for base in bases:
        if base.name in names:
            raise LogCleanupError(
                f"folders {names[base.name]!r} and {base.path!r} are both named {base.name!r}; "
                "their archives would share keys: archive folders with distinct names"
            )
        names[base.name] = base.path


def _by_day(records: list[Record]) -> Iterator[tuple[date, list[Record]]]:
    """Records grouped by the UTC day of their mtime, days in order, each group sorted by
    directory (so a directory is opened once per group)."""
    days: dict[int, list[Record]] = {}
    for record in records:
        days.setdefault(record[3] // _DAY_NS, []).append(record)
    for day in sorted(days):
        yield datetime.fromtimestamp(day * DAY_SECONDS, UTC).date(), sorted(days[day])


def run_name(run_time: datetime, host: str | None = None) -> str:
    """`<host>-<UTC run time>-<8 random hex>`: names one run's archives. The host and the
    time keep hosts and days apart, the random part two runs in the same second."""
    stamp = run_time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    host = _UNSAFE_KEY_CHARS.sub("_", host or socket.gethostname())
    return f"{host}-{stamp}-{uuid.uuid4().hex[:8]}"


def archive_key(prefix: str, folder: str, day: date, run: str) -> str:
    """`<prefix>/<folder name>/<YYYY>/<MM>/<DD>/<run name>.tar.gz`, `day` being the UTC day
    of the files' mtime."""
    parts = [prefix, _UNSAFE_KEY_CHARS.sub("_", folder), f"{day:%Y}", f"{day:%m}", f"{day:%d}"]
    return "/".join([p for p in parts if p] + [f"{run}.tar.gz"])


class _DirOpener:
    """Opens directories below a base by their relative path, one component at a time with
    O_NOFOLLOW, keeping the last one open (callers go through records sorted by directory)."""

    def __init__(self, base_fd: int) -> None:
        self.base_fd = base_fd
        self.rel: str | None = None
        self.fd: int | None = None

    def open(self, rel: str) -> int:
        if rel == self.rel and self.fd is not None:
            return self.fd
        self.close()
        fd = os.dup(self.base_fd)
        try:
            for part in rel.split("/") if rel else []:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        self.rel, self.fd = rel, fd
        return fd

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        self.rel = self.fd = None


class _Member(io.RawIOBase):
    """An archived file's content, exactly `size` bytes: if the file shrank while being read,
    the rest is zeros and `short` is set (the file, changed, is then kept)."""

    def __init__(self, fd: int, size: int) -> None:
        super().__init__()
        self._file = os.fdopen(fd, "rb", buffering=0)
        self._left = size
        self.short = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._left)
        if want == 0:
            return 0
        count = self._file.readinto(memoryview(buffer)[:want]) or 0
        if count == 0:
            self.short = True
            count = want
            buffer[:count] = bytes(count)
        self._left -= count
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


def _members(
    opener: _DirOpener, base: BaseFolder, group: list[Record], report: CleanupReport,
    archived: list[Record],
) -> Iterator[tuple[Any, _Member]]:  # fmt: skip
    """(TarInfo, content) of each file of `group` still as scanned; appends each one added to
    `archived`. A file changed since the scan is skipped (kept); one that cannot be read is
    an error (kept)."""
    import tarfile

    for record in group:
        rel, name, size, mtime_ns, inode = record
        path = f"{rel}/{name}" if rel else name
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=opener.open(rel))
        except FileNotFoundError:
            report.vanished += 1
            continue
        except OSError as error:
            if error.errno == errno.ELOOP:  # replaced by a symlink: left alone
                report.left_not_regular += 1
            else:
                report.add_error(os.path.join(base.path, path), error)
            continue
        member = _Member(fd, size)
        try:
            now = os.fstat(fd)
            if (now.st_ino, now.st_size, now.st_mtime_ns) != (inode, size, mtime_ns):
                report.kept_rewritten += 1
                continue
            info = tarfile.TarInfo(path)
            info.size = size
            info.mtime = mtime_ns / 1e9
            info.mode = stat.S_IMODE(now.st_mode)
            yield info, member
            if member.short:
                report.kept_rewritten += 1
            else:
                archived.append(record)
        finally:
            member.close()


def _archive_then_delete(
    base: BaseFolder,
    cutoff: int,
    options: CleanupOptions,
    run: str,
    report: CleanupReport,
    progress: Progress | None,
) -> None:
    """Scan, then per UTC day: archive, and delete what the completed archive holds; then
    remove the directories left empty."""
    from platform_ops.log_archive import ArchiveUploadError, s3_client, upload_tar_gz

    target = options.archive
    assert target is not None
    records: list[Record] = []
    workers = options.workers or default_workers(base.path)
    _Walk(base, cutoff, report, collect=records, remove_dirs=False, progress=progress,
          workers=workers).run()  # fmt: skip
    if not records:
        return
    s3 = s3_client()
    emptied: set[str] = set()
    base_fd = os.open(base.path, _DIR_FLAGS)
    opener = _DirOpener(base_fd)
    try:
        for day, group in _by_day(records):
            key = archive_key(target.prefix, base.name, day, run)
            url = f"s3://{target.bucket}/{key}"
            archived: list[Record] = []
            members = _members(opener, base, group, report, archived)
            try:
                upload_tar_gz(s3, target.bucket, key, members, options.part_size)
            except ArchiveUploadError as error:
                report.add_error(
                    url, f"{error}; the upload was aborted, so the {len(group)} expired file(s) "
                    f"of {day} in {base.path} were kept",
                )  # fmt: skip
                continue
            finally:
                members.close()  # the file being read when an upload failed
            report.archives.append(url)
            report.files_archived += len(archived)
            report.bytes_archived += sum(r[2] for r in archived)
            for record in archived:
                _delete_if_unchanged(opener, base, record, report, emptied)
            if progress is not None:
                progress(base.path, report)
    finally:
        opener.close()
        os.close(base_fd)
    _Walk(base, cutoff, report, files=False, emptied=emptied, progress=progress,
          workers=workers).run()  # fmt: skip


def _delete_if_unchanged(
    opener: _DirOpener, base: BaseFolder, record: Record, report: CleanupReport, emptied: set[str]
) -> None:
    rel, name, size, mtime_ns, inode = record
    try:
        fd = opener.open(rel)
        now = os.lstat(name, dir_fd=fd)
        if (now.st_ino, now.st_size, now.st_mtime_ns) != (inode, size, mtime_ns):
            report.kept_rewritten += 1
            return
        os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        report.vanished += 1
        return
    except OSError as error:
        report.add_error(os.path.join(base.path, rel, name), error)
        return
    report.files_deleted += 1
    report.bytes_deleted += size
    emptied.add(rel)
