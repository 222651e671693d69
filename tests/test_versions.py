"""versions.env is the one place for versions: everything that installs Airflow or the
PostgreSQL client agrees with it."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from airflow_platform.config.model import POSTGRES_MAJORS
from airflow_platform.versions import parse_versions, versions
from tests.conftest import ROOT

STARTUP = ROOT / "images" / "mwaa" / "startup.sh"
DOCKERFILE = ROOT / "images" / "eks" / "Dockerfile"


def test_the_test_environment_runs_the_pinned_airflow() -> None:
    assert version("apache-airflow") == versions().airflow


def test_the_postgres_client_is_at_least_the_newest_server_the_config_allows() -> None:
    # pg_dump refuses servers newer than itself.
    assert versions().postgres_client_major >= max(POSTGRES_MAJORS)


def test_the_mwaa_startup_script_installs_the_pinned_client_major() -> None:
    pinned = re.search(r"^POSTGRES_CLIENT_MAJOR=(\d+)$", STARTUP.read_text(), re.MULTILINE)
    assert pinned
    assert int(pinned[1]) == versions().postgres_client_major


def test_the_image_takes_every_version_from_build_args_without_defaults() -> None:
    text = DOCKERFILE.read_text()
    for key in ("AIRFLOW_VERSION", "AIRFLOW_PYTHON_VERSION", "POSTGRES_CLIENT_MAJOR"):
        assert re.search(rf"^ARG {key}$", text, re.MULTILINE), f"ARG {key} without a default"
    assert not re.search(r"\b\d+\.\d+\.\d+\b", text), "no version literal in the Dockerfile"
    makefile = (ROOT / "Makefile").read_text()
    assert "include versions.env" in makefile
    assert '"apache-airflow==$(AIRFLOW_VERSION)"' in makefile


def test_constraints_url_names_the_airflow_and_python_versions() -> None:
    pinned = parse_versions("AIRFLOW_VERSION=3.3.1\nAIRFLOW_PYTHON_VERSION=3.12\n"
                            "POSTGRES_CLIENT_MAJOR=17\n")  # fmt: skip
    assert pinned.constraints_url == (
        "https://raw.githubusercontent.com/apache/airflow/constraints-3.3.1/constraints-3.12.txt"
    )


@pytest.mark.parametrize(
    ("text", "complaint"),
    [("AIRFLOW_VERSION 3.3.1\n", "expected KEY=VALUE"), ("AIRFLOW_VERSION=3.3.1\n", "lacks")],
)
def test_a_malformed_versions_file_is_refused_with_the_line(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_versions(text)


def _fake_tools(bin_dir: Path, pg_dump_version: str, dnf_exit: int = 0) -> Path:
    """`sudo` that runs its arguments, `dnf` that records them and 'installs' a pg_dump
    printing `pg_dump_version`: the script's own logic runs for real around them."""
    log = bin_dir / "dnf.log"
    scripts = {
        "sudo": '#!/bin/sh\nexec "$@"\n',
        "dnf": (
            f'#!/bin/sh\necho "$@" >> {log}\n'
            f"printf '#!/bin/sh\\necho \"pg_dump (PostgreSQL) {pg_dump_version}\"\\n' "
            f"> {bin_dir}/pg_dump\nchmod +x {bin_dir}/pg_dump\nexit {dnf_exit}\n"
        ),
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return log


def _run_startup(tmp_path: Path, component: str, pg_dump_version: str, dnf_exit: int = 0):
    log = _fake_tools(tmp_path, pg_dump_version, dnf_exit)
    env = {**os.environ, "PATH": f"{tmp_path}:/usr/bin:/bin", "MWAA_AIRFLOW_COMPONENT": component}
    result = subprocess.run(
        ["/bin/sh", str(STARTUP)], env=env, capture_output=True, text=True, check=False
    )
    return result, (log.read_text() if log.exists() else "")


@pytest.mark.parametrize("component", ["worker", "scheduler"])
def test_startup_installs_the_client_on_components_that_run_tasks(
    tmp_path: Path, component: str
) -> None:
    major = versions().postgres_client_major
    result, dnf_calls = _run_startup(tmp_path, component, f"{major}.6")

    assert result.returncode == 0, result.stderr
    assert dnf_calls.split() == ["install", "-y", "--quiet", f"postgresql{major}"]
    assert f"pg_dump (PostgreSQL) {major}.6 ready" in result.stdout


def test_startup_leaves_the_web_server_alone(tmp_path: Path) -> None:
    result, dnf_calls = _run_startup(tmp_path, "webserver", "17.6")
    assert result.returncode == 0
    assert dnf_calls == ""


def test_startup_fails_loudly_when_the_installed_client_is_the_wrong_major(
    tmp_path: Path,
) -> None:
    result, _ = _run_startup(tmp_path, "worker", "15.4")
    assert result.returncode == 1
    assert f"expected pg_dump {versions().postgres_client_major}.x" in result.stderr


def test_startup_fails_loudly_when_the_package_cannot_be_installed(tmp_path: Path) -> None:
    result, _ = _run_startup(tmp_path, "worker", "17.6", dnf_exit=1)
    assert result.returncode == 1
    assert "could not install" in result.stderr
