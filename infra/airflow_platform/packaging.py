"""Deterministic zip archives: the same files give the same bytes, whatever their times,
their order on disk or the machine's umask, so what is uploaded (MWAA's plugins.zip, a
Lambda's code) and the update it triggers change only when the content does."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

# The earliest time a zip entry can carry; a fixed time erases the files' mtimes.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16
_SKIPPED_DIRS = frozenset({"__pycache__", "tests"})


def deterministic_zip(root: Path, packages: list[str]) -> bytes:
    """A zip of the `packages` directories under `root`, entries named from `root`, without
    bytecode caches or `tests` directories."""
    entries: list[tuple[str, Path]] = []
    for package in packages:
        base = root / package
        if not base.is_dir():
            raise FileNotFoundError(f"{base} is not a directory")
        for path in base.rglob("*"):
            parts = path.relative_to(root).parts
            if not path.is_file() or _SKIPPED_DIRS.intersection(parts):
                continue
            if path.suffix in {".pyc", ".pyo"}:
                continue
            entries.append((path.relative_to(root).as_posix(), path))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = _FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever builds it
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    return buffer.getvalue()
