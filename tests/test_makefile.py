"""The set-up commands: `make help` lists the targets, and a Python older than the project
needs is refused with one line before any virtualenv is created."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_make_help_lists_each_target_with_what_it_does():
    done = _make("help")
    assert done.returncode == 0, done.stderr
    listed = {line.split()[1] for line in done.stdout.splitlines() if line.strip()}
    assert {"plan", "test", "lint", "bench", "bench-backup", "bench-ship", "clean"} <= listed
    plan_line = next(line for line in done.stdout.splitlines() if line.split()[1] == "plan")
    assert "offline plan" in plan_line


def _python_reporting(tmp_path: Path, version: tuple[int, int, int]) -> Path:
    """A stand-in interpreter: the real one, reporting an older `sys.version_info`."""
    fake = tmp_path / "python-old"
    fake.write_text(
        "#!/bin/sh\n"
        f'exec {sys.executable} -c "import sys; sys.version_info = {version!r}; '
        'exec(sys.argv[1])" "$2"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake


def test_make_plan_refuses_a_python_older_than_3_11_before_creating_a_venv(tmp_path):
    venv = tmp_path / "venv"
    done = _make("plan", f"PYTHON={_python_reporting(tmp_path, (3, 10, 12))}", f"VENV={venv}")
    assert done.returncode != 0
    assert "is Python 3.10.12; this project needs 3.11 or newer" in done.stderr
    assert "make PYTHON=python3.12 plan" in done.stderr
    assert not venv.exists()


def test_make_plan_names_a_python_that_is_not_there(tmp_path):
    venv = tmp_path / "venv"
    done = _make("plan", f"PYTHON={tmp_path / 'no-such-python'}", f"VENV={venv}")
    assert done.returncode != 0
    assert "not found" in done.stderr
    assert not venv.exists()
