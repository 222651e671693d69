"""Deterministic zip archives: the same files give the same bytes, whatever their times,
their order on disk, the machine's umask or its zlib, so what is uploaded (MWAA's
plugins.zip, the health probe's Lambda code) and the update it triggers change only when the
content does."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

# The earliest time a zip entry can carry; a fixed time erases the files' mtimes.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16  # a regular file, rw-r--r--
_SKIPPED_DIRS = frozenset({"__pycache__", "tests"})


def archive_members(root: Path, packages: list[str]) -> list[tuple[str, Path]]:
    """(name in the zip, file) for every file of the `packages` directories under `root`,
    sorted by name: no bytecode, no `__pycache__` or `tests` directory, no dotfile (editor
    locks and the like)."""
    members: list[tuple[str, Path]] = []
    for package in packages:
        base = root / package
        if not base.is_dir():
            raise FileNotFoundError(f"{base} is not a directory")
        for path in base.rglob("*"):
            parts = path.relative_to(root).parts
            if not path.is_file() or _SKIPPED_DIRS.intersection(parts):
                continue
            if path.suffix in {".pyc", ".pyo"} or path.name.startswith("."):
                continue
            members.append((path.relative_to(root).as_posix(), path))
    return sorted(members)


def deterministic_zip(root: Path, packages: list[str]) -> bytes:
    """A zip of the `packages` directories under `root`, entries named from `root`.

    Entries are stored, not deflated: deflate output may differ between zlib builds (zlib-ng
    replaces zlib on some systems), which would make two machines plan different bytes for
    the same sources; the archives here are small.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, path in archive_members(root, packages):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = _FILE_MODE
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # Unix, so that external_attr holds the mode on every OS
            zf.writestr(info, path.read_bytes())
    return buffer.getvalue()
