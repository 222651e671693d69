"""A deterministic `plugins.zip`: the same files give the same bytes, whatever their times,
their order on disk or the machine's umask, so its S3 object (and the environment update its
new version triggers) changes only when the content does."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

# The earliest time a zip entry can carry; a fixed time erases the files' mtimes.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16
_SKIPPED_DIRS = frozenset({"__pycache__"})


def build_plugins_zip(root: Path, packages: list[str]) -> bytes:
    """A zip of the `packages` directories under `root`, entries named from `root`.

    On MWAA the archive is unpacked to /usr/local/airflow/plugins, which is on sys.path:
    `packages=["platform_ops"]` makes `import platform_ops` work on every component.
    """
    entries: list[tuple[str, Path]] = []
    for package in packages:
        base = root / package
        if not base.is_dir():
            raise FileNotFoundError(f"plugins.zip: {base} is not a directory")
        for path in base.rglob("*"):
            if path.is_file() and not _SKIPPED_DIRS.intersection(path.parts):
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
