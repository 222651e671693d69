"""Log trees on disk for the log cleanup tests: files of a given age, and snapshots that see
symlinks as links (never through them)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

DAY = 86_400


def aged(path: Path, age_seconds: float, now: float, content: bytes = b"log line\n") -> Path:
    """Write `content` at `path` (parents created) with an mtime `age_seconds` before `now`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    set_age(path, age_seconds, now)
    return path


def set_age(path: Path, age_seconds: float, now: float) -> None:
    moment = now - age_seconds
    os.utime(path, (moment, moment), follow_symlinks=False)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under `root` (relative path -> kind and what identifies it): files with
    content and mtime, links with their target, directories with their mtime. Never follows
    a symlink."""
    found: dict[str, tuple] = {}

    def visit(folder: Path) -> None:
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            path = Path(entry.path)
            info = os.lstat(path)
            rel = path.relative_to(root).as_posix()
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", info.st_mtime_ns)
                visit(path)
            elif stat.S_ISREG(info.st_mode):
                found[rel] = ("file", path.read_bytes(), info.st_mtime_ns)
            else:
                found[rel] = ("other", stat.S_IFMT(info.st_mode))

    visit(root)
    return found


def files(root: Path) -> set[str]:
    """Relative paths of the regular files under `root`."""
    return {rel for rel, what in snapshot(root).items() if what[0] == "file"}


def dirs(root: Path) -> set[str]:
    """Relative paths of the directories under `root`."""
    return {rel for rel, what in snapshot(root).items() if what[0] == "dir"}


class Listing:
    """Stands in for a scandir iterator over entries already read."""

    def __init__(self, entries: list[Any]) -> None:
        self.entries = entries

    def __enter__(self) -> Any:
        return iter(self.entries)

    def __exit__(self, *_: Any) -> None:
        return None
