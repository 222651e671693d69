"""Deterministic zips (MWAA's plugins.zip, the health probe's Lambda code): the same bytes for
the same sources, other bytes for other sources, exactly the package's files, fixed times and
modes, stored."""

from __future__ import annotations

import shutil
import zipfile
from io import BytesIO
from pathlib import Path

import health_probe
import pytest

from airflow_platform.components.health_probe import HANDLER, PACKAGE
from airflow_platform.packaging import deterministic_zip

PROBE = Path(health_probe.__file__).parent


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The probe package copied, with a bytecode cache, a tests folder and an editor's lock
    file in it, none of which belongs in the zip."""
    target = tmp_path / PACKAGE
    shutil.copytree(PROBE, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "__pycache__").mkdir()
    (target / "__pycache__" / "handler.cpython-312.pyc").write_bytes(b"\0bytecode")
    (target / "tests").mkdir()
    (target / "tests" / "test_x.py").write_text("def test(): pass\n")
    (target / ".#handler.py").write_text("lock")
    return tmp_path


def _zip(root: Path) -> bytes:
    return deterministic_zip(root, [PACKAGE])


def test_the_same_sources_give_the_same_bytes_whatever_times_and_modes(root: Path) -> None:
    first = _zip(root)
    for path in (root / PACKAGE).rglob("*.py"):
        path.touch()
        path.chmod(0o600)
    assert _zip(root) == first


def test_the_zip_holds_exactly_the_packages_modules_under_the_handlers_package(root: Path):
    names = zipfile.ZipFile(BytesIO(_zip(root))).namelist()
    assert names == sorted(f"{PACKAGE}/{p.name}" for p in PROBE.glob("*.py"))
    assert HANDLER.split(".")[0] == PACKAGE
    assert f"{PACKAGE}/{HANDLER.split('.')[1]}.py" in names


def test_entries_carry_a_fixed_time_and_mode_and_are_stored(root: Path) -> None:
    for info in zipfile.ZipFile(BytesIO(_zip(root))).infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.compress_type == zipfile.ZIP_STORED


def test_a_changed_or_added_module_changes_the_bytes(root: Path) -> None:
    before = _zip(root)
    handler = root / PACKAGE / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    changed = _zip(root)
    assert changed != before
    (root / PACKAGE / "extra.py").write_text("")
    assert _zip(root) != changed


def test_a_missing_package_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="health_probe is not a directory"):
        deterministic_zip(tmp_path, [PACKAGE])
