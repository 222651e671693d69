"""Properties of the log cleanup on random trees (hypothesis): files of random ages on both
sides of the retention, nested directories, names containing `..`, symlinks pointing out of
the folder (to old files and directories that must survive), empty directories old and new;
and, while the cleanup runs, entries vanishing and old files being rewritten.

Each property is checked against a model computed from the tree before the run: a file
remains iff it is younger than the retention, a link or special file always remains, a
directory remains iff something in it remains or it was empty and young. Nothing outside the
folder may change at all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platform_ops import log_cleanup
from platform_ops.log_cleanup import CleanupOptions, CleanupReport, clean_logs
from tests.dags.logtrees import DAY, Listing, aged, set_age, snapshot

DAYS = 2
BOUNDARY = (DAYS + 1) * DAY
# Names a directory may hold, `..` in several places (a name can never be `..` itself).
NAMES = st.sampled_from(["a", "b", "dag_id=x", "..a", "a..", "...", "a..b", ". .", "ü"])
PATHS = st.lists(NAMES, min_size=1, max_size=4).map("/".join)
LINK_TARGETS = ["outside-file", "outside-dir", "sibling-dir", "inside", "dangling"]
WORKERS = st.sampled_from([1, 4])  # one thread, and the top-level directories on four
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@dataclass
class Tree:
    files: list[tuple[str, bool, int, bytes]]
    """(path, old?, seconds away from the boundary, content)"""
    links: list[tuple[str, str]]
    empty_dirs: list[tuple[str, bool]]
    """(path, old?)"""


TREES = st.builds(
    Tree,
    files=st.lists(
        st.tuples(PATHS, st.booleans(), st.integers(1, 3 * DAY), st.binary(max_size=40)),
        max_size=25,
    ),
    links=st.lists(st.tuples(PATHS, st.sampled_from(LINK_TARGETS)), max_size=5),
    empty_dirs=st.lists(st.tuples(PATHS, st.booleans()), max_size=4),
)


@dataclass
class Built:
    root: Path
    base: Path
    now: datetime
    taken: dict[str, str] = field(default_factory=dict)

    @property
    def now_s(self) -> float:
        return self.now.timestamp()

    def free(self, rel: str) -> bool:
        """Whether `rel` can be created: not taken, and no parent of it is a file or link."""
        parts = rel.split("/")
        parents = ["/".join(parts[:n]) for n in range(1, len(parts))]
        return rel not in self.taken and all(self.taken.get(p, "dir") == "dir" for p in parents)

    def take(self, rel: str, kind: str) -> None:
        parts = rel.split("/")
        for n in range(1, len(parts)):
            self.taken["/".join(parts[:n])] = "dir"
        self.taken[rel] = kind


@contextmanager
def built(tree: Tree) -> Iterator[Built]:
    """The tree on disk: `logs/` (the folder cleaned), and beside it `outside/` and
    `logs-sibling/` full of old files that links point into."""
    root = Path(tempfile.mkdtemp(prefix="log-cleanup-prop-"))
    try:
        now = datetime.fromtimestamp(round(time.time()), UTC)
        result = Built(root, root / "logs", now)
        result.base.mkdir()
        for outside in ("outside/dir/deep.log", "outside/old.log", "logs-sibling/old.log"):
            aged(root / outside, BOUNDARY + 10 * DAY, result.now_s, b"must survive")
        targets = {
            "outside-file": root / "outside" / "old.log",
            "outside-dir": root / "outside" / "dir",
            "sibling-dir": root / "logs-sibling",
            "inside": result.base / "a",
            "dangling": root / "nowhere",
        }
        for rel, old, offset, content in tree.files:
            if result.free(rel):
                age = BOUNDARY + offset if old else BOUNDARY - offset
                aged(result.base / rel, age, result.now_s, content)
                result.take(rel, "file")
        for rel, target in tree.links:
            if result.free(rel):
                (result.base / rel).parent.mkdir(parents=True, exist_ok=True)
                (result.base / rel).symlink_to(targets[target])
                result.take(rel, "link")
        empties = []
        for rel, old in tree.empty_dirs:
            if result.free(rel):
                (result.base / rel).mkdir(parents=True)
                result.take(rel, "dir")
                empties.append((rel, old))
        for rel, old in reversed(empties):  # after their contents, which change their mtime
            set_age(result.base / rel, BOUNDARY + DAY if old else 60, result.now_s)
        yield result
    finally:
        shutil.rmtree(root)


def outside_of(b: Built) -> dict[str, tuple]:
    """Everything beside the folder (the folder's own mtime changes when it is cleaned)."""
    return {k: v for k, v in snapshot(b.root).items() if k.partition("/")[0] != "logs"}


def remaining(
    before: dict[str, tuple],
    cutoff: int,
    gone: frozenset[str] = frozenset(),
    rewritten: frozenset[str] = frozenset(),
) -> set[str]:
    """What the rules leave of `before` (a snapshot of the folder) when the entries `gone`
    vanish and the old files `rewritten` are rewritten while the cleanup runs.

    A directory stays when something in it stays; else it goes when the cleanup removed
    something from it; else (empty, or emptied by someone else, which makes it new) it stays
    when it is younger than the retention.
    """
    children: dict[str, list[str]] = defaultdict(list)
    for rel in before:
        children[rel.rpartition("/")[0]].append(rel)
    kept: set[str] = set()

    def visit(rel: str) -> str:
        kind = before[rel][0]
        if rel in gone:
            return "gone"
        if rel in rewritten:
            fate = "stays"
        elif kind == "file":
            fate = "stays" if before[rel][2] > cutoff else "removed"
        elif kind != "dir":
            fate = "stays"
        else:
            kids = [visit(child) for child in children[rel]]
            if "stays" in kids:
                fate = "stays"
            elif "removed" in kids:
                fate = "removed"
            else:
                young = before[rel][1] > cutoff or "gone" in kids
                fate = "stays" if young else "removed"
        if fate == "stays":
            kept.add(rel)
        return fate

    for top in children[""]:
        visit(top)
    return kept


def run(b: Built, workers: int, dry_run: bool = False) -> CleanupReport:
    options = CleanupOptions(
        folders=(str(b.base),), older_than_days=DAYS, now=b.now, dry_run=dry_run, workers=workers
    )
    return clean_logs(options)


def cutoff_of(b: Built) -> int:
    """The newest mtime that is expired, from the rule itself (not the code under test):
    at least DAYS + 1 whole days before now."""
    return (int(b.now.timestamp()) - BOUNDARY) * 10**9


@given(TREES, WORKERS)
@PROPERTY_SETTINGS
def test_cleanup_deletes_exactly_the_old_files_and_nothing_outside_the_folder(
    tree: Tree, workers: int
) -> None:
    with built(tree) as b:
        before, outside = snapshot(b.base), outside_of(b)
        cutoff = cutoff_of(b)

        report = run(b, workers)

        after = snapshot(b.base)
        assert set(after) == remaining(before, cutoff)
        for rel, what in after.items():
            if what[0] != "dir":
                assert what == before[rel], f"{rel} changed"
        assert outside_of(b) == outside
        old = [rel for rel, w in before.items() if w[0] == "file" and w[2] <= cutoff]
        assert report.files_deleted == len(old)
        assert report.bytes_deleted == sum(len(before[rel][1]) for rel in old)
        assert report.kept_young == sum(w[0] == "file" for w in after.values())
        assert report.left_not_regular == sum(w[0] == "link" for w in before.values())
        dirs_before = sum(w[0] == "dir" for w in before.values())
        assert report.dirs_removed == dirs_before - sum(w[0] == "dir" for w in after.values())
        assert report.ok
        assert report.vanished == 0


@given(TREES, WORKERS)
@PROPERTY_SETTINGS
def test_dry_run_changes_nothing_anywhere_and_predicts_the_real_run(
    tree: Tree, workers: int
) -> None:
    with built(tree) as b:
        everything = snapshot(b.root)

        dry = run(b, workers, dry_run=True)

        assert snapshot(b.root) == everything
        real = run(b, workers)
        for count in ("files_deleted", "bytes_deleted", "dirs_removed", "kept_young"):
            assert getattr(dry, count) == getattr(real, count), count


def _disjoint(paths: list[str]) -> list[str]:
    """`paths` without any that lies inside another of them."""
    return [p for p in paths if not any(p.startswith(q + "/") for q in paths if q != p)]


@given(TREES, WORKERS, st.data())
@PROPERTY_SETTINGS
def test_cleanup_tolerates_entries_vanishing_and_files_rewritten_while_it_runs(
    tree: Tree, workers: int, data: st.DataObject
) -> None:
    with built(tree) as b:
        before, outside = snapshot(b.base), outside_of(b)
        cutoff = cutoff_of(b)
        candidates = sorted(rel for rel, w in before.items() if w[0] in ("file", "dir"))
        drawn = data.draw(st.lists(st.sampled_from(candidates), unique=True)) if candidates else []
        victims = _disjoint(drawn)
        old_files = {r for r in victims if before[r][0] == "file" and before[r][2] <= cutoff}
        roles = {}
        for rel in victims:
            choices = ["vanish", "unlink-race", "rewrite"] if rel in old_files else ["vanish"]
            roles[rel] = data.draw(st.sampled_from(choices), label=f"role of {rel}")

        with _races(b, roles):
            report = run(b, workers)

        rewritten = frozenset(rel for rel, role in roles.items() if role == "rewrite")
        gone = frozenset(rel for rel, role in roles.items() if role != "rewrite")
        expected = remaining(before, cutoff, gone, rewritten)
        assert set(snapshot(b.base)) == expected
        assert outside_of(b) == outside
        assert report.ok, report.errors
        assert report.vanished == len(gone)
        for rel in rewritten:
            assert (b.base / rel).read_bytes().endswith(b"rewritten")


@contextmanager
def _races(b: Built, roles: dict[str, str]) -> Iterator[None]:
    """Make the victims vanish right after their directory is listed ("vanish") or just
    before their unlink ("unlink-race"), or rewrite them right after the listing.

    The patches are process-wide (the cleanup calls `os.scandir` and `os.unlink`), so they
    pass through any call that is not the cleanup's own: by path, or made by a hook itself
    (in the same thread: the cleanup's workers list directories at the same time).
    """
    real_scandir, real_unlink = os.scandir, os.unlink
    base = str(b.base.resolve())
    hooking = threading.local()

    def rel_of(dir_fd: int, name: str) -> str:
        folder = os.readlink(f"/proc/self/fd/{dir_fd}")
        return os.path.relpath(os.path.join(folder, name), base)

    def scandir(fd: Any = ".") -> Any:
        if getattr(hooking, "busy", False) or not isinstance(fd, int):
            return real_scandir(fd)
        with real_scandir(fd) as listing:
            entries = list(listing)
        hooking.busy = True
        try:
            for entry in entries:
                rel = rel_of(fd, entry.name)
                path = b.base / rel
                if roles.get(rel) == "vanish":
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(path)
                    else:
                        real_unlink(path)
                elif roles.get(rel) == "rewrite":
                    with path.open("ab") as stream:
                        stream.write(b"rewritten")
                    os.utime(path, (b.now_s, b.now_s))
        finally:
            hooking.busy = False
        return Listing(entries)

    def unlink(path: Any, *, dir_fd: int | None = None) -> None:
        if dir_fd is not None and roles.get(rel_of(dir_fd, path)) == "unlink-race":
            real_unlink(path, dir_fd=dir_fd)  # someone else deletes it first
        real_unlink(path, dir_fd=dir_fd)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(log_cleanup.os, "scandir", scandir)
        patch.setattr(log_cleanup.os, "unlink", unlink)
        yield
