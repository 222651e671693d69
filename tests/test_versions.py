"""versions.env is the one place for versions: everything that installs Airflow or the
PostgreSQL client agrees with it."""

from __future__ import annotations

import re
from importlib.metadata import version

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
    # How the script behaves under MWAA's wrapper: tests/test_startup_script.py.
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
