"""dbt/requirements.txt is the one place for dbt's versions: the test environment's .venv-dbt,
the MWAA startup script and the eks image install exactly those pins, in a virtualenv of their
own, and the pinned releases support the platform's Python. The project's profile and packages
need no credential and no network."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from airflow_platform.versions import versions
from tests.conftest import ROOT
from tests.test_image import instructions

REQUIREMENTS = ROOT / "dbt" / "requirements.txt"
STARTUP = ROOT / "images" / "mwaa" / "startup.sh"
DOCKERFILE = ROOT / "images" / "eks" / "Dockerfile"
DBT_PYTHON = ROOT / ".venv-dbt" / "bin" / "python"
PACKAGES = ("dbt-core", "dbt-postgres")


def dbt_pins(path: Path) -> dict[str, str]:
    """{distribution: version} of a requirements file of `name==version` lines only."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.]*)", line)
        if not match:
            raise ValueError(f"{path}:{number}: {line!r} is not an exact pin (name==version)")
        pins[match[1].lower()] = match[2]
    return pins


def _installed_metadata() -> dict[str, dict[str, object]]:
    """Version, Requires-Python and Python classifiers of the pinned packages in .venv-dbt."""
    if not DBT_PYTHON.exists():
        pytest.fail(
            f"{DBT_PYTHON} is missing: `make test` builds it (make .venv-dbt/.installed-dbt)"
        )
    script = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    meta = m.metadata(name)\n"
        "    out[name] = {'version': meta['Version'],\n"
        "                 'requires_python': meta['Requires-Python'],\n"
        "                 'classifiers': meta.get_all('Classifier') or []}\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [str(DBT_PYTHON), "-c", script, *PACKAGES],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(done.stdout)


def test_dbt_requirements_pin_exactly_dbt_core_and_dbt_postgres() -> None:
    assert set(dbt_pins(REQUIREMENTS)) == set(PACKAGES)


def test_a_requirement_that_is_not_an_exact_pin_is_refused_with_its_line(tmp_path: Path) -> None:
    loose = tmp_path / "requirements.txt"
    loose.write_text("# comment\ndbt-core==1.11.16\ndbt-postgres>=1.10\n")
    with pytest.raises(ValueError, match=r"requirements.txt:3: 'dbt-postgres>=1.10'"):
        dbt_pins(loose)


def test_the_test_environments_dbt_venv_runs_the_pinned_dbt() -> None:
    installed = _installed_metadata()
    assert {name: meta["version"] for name, meta in installed.items()} == dbt_pins(REQUIREMENTS)


def test_the_pinned_dbt_supports_the_python_of_mwaa_and_the_eks_image() -> None:
    # From the installed wheels' own metadata: Requires-Python admits it and a classifier names it.
    python = versions().python
    major, minor = (int(part) for part in python.split("."))
    for name, meta in _installed_metadata().items():
        assert f"Programming Language :: Python :: {python}" in meta["classifiers"], name
        floor = re.fullmatch(r">=\s*(\d+)\.(\d+)(?:\.\d+)?", str(meta["requires_python"]))
        assert floor, f"{name}: Requires-Python {meta['requires_python']!r}"
        assert (major, minor) >= (int(floor[1]), int(floor[2])), name


def test_the_mwaa_startup_script_installs_the_pinned_dbt() -> None:
    # How the script behaves under MWAA's wrapper: tests/test_startup_script.py.
    found = re.search(r'^_startup_dbt_requirements="([^"]+)"$', STARTUP.read_text(), re.MULTILINE)
    assert found, f"{STARTUP}: no _startup_dbt_requirements line"
    pins = dict(item.split("==") for item in found[1].split())
    assert pins == dbt_pins(REQUIREMENTS)


def test_the_image_installs_dbt_requirements_into_its_own_venv_and_exports_the_executable() -> None:
    dockerfile = instructions(DOCKERFILE.read_text())
    copies = [args.split() for keyword, args in dockerfile if keyword == "COPY"]
    [copied] = [parts[-1] for parts in copies if parts[-2] == "dbt/requirements.txt"]
    [install] = [
        args for keyword, args in dockerfile if keyword == "RUN" and "/opt/dbt-venv" in args
    ]
    assert "python -m venv /opt/dbt-venv" in install
    assert f"/opt/dbt-venv/bin/pip install --no-cache-dir -r {copied}" in install
    # Apart from Airflow's constraints: the virtualenv's pip is given none.
    assert "--constraint" not in install
    env = [args for keyword, args in dockerfile if keyword == "ENV" and "DBT" in args]
    assert env == ["PLATFORM_DBT_EXECUTABLE=/opt/dbt-venv/bin/dbt"]


def test_make_builds_the_dbt_venv_from_the_requirements_before_the_tests() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^\$\(DBT_STAMP\): dbt/requirements\.txt", makefile, re.MULTILINE)
    assert "$(DBT_VENV)/bin/python -m pip install --quiet -r dbt/requirements.txt" in makefile
    assert re.search(r"^test: .*\$\(DBT_STAMP\)", makefile, re.MULTILINE)
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert {"/.venv-dbt/", "/dbt/target/", "/dbt/logs/", "/dbt/dbt_packages/"} <= set(ignored)


def test_the_local_profile_reads_every_connection_value_from_the_environment() -> None:
    profile = yaml.safe_load((ROOT / "dbt" / "profiles.yml").read_text())
    output = profile["platform_elt"]["outputs"][profile["platform_elt"]["target"]]
    assert profile["platform_elt"]["target"] == "airflow"
    for key in ("host", "port", "user", "password", "dbname", "schema"):
        assert str(output[key]).startswith("{{ env_var("), f"profiles.yml: {key} is not env_var"
    # dbt scrubs DBT_ENV_SECRET_* values from its logs.
    assert "env_var('DBT_ENV_SECRET_PASSWORD')" in output["password"]


def test_the_project_needs_no_package_download() -> None:
    # The test environment (and a private MWAA) cannot reach the dbt Hub: dbt deps has nothing
    # to fetch, and the generic tests are dbt's built-in ones.
    packages = yaml.safe_load((ROOT / "dbt" / "packages.yml").read_text())
    assert packages == {"packages": []}
    project = yaml.safe_load((ROOT / "dbt" / "dbt_project.yml").read_text())
    assert (project["name"], project["profile"]) == ("platform_elt", "platform_elt")
