"""The eks image's Dockerfile and build context, read statically (no Docker engine here).

The base is versions.env's Airflow and Python pinned by digest, the image ends as a non-root
user, carries no secret, no DAG file, and hadolint passes. The build itself (and the checks
the Dockerfile runs on its base) happens in the deploy job.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_platform.components.image import (
    DOCKERFILE,
    build_args,
    context_files,
    read_ignore_patterns,
)
from airflow_platform.versions import versions
from tests.conftest import ROOT

# The versions the base image's digest was resolved for: apache/airflow:slim-3.3.1-python3.12.
# Bumping versions.env fails test_the_digest_was_resolved_for_the_pinned_versions until the
# digest is resolved again (`docker buildx imagetools inspect apache/airflow:slim-<v>-python<py>`)
# and this line follows.
DIGEST_RESOLVED_FOR = {
    "sha256:d060a79d6763fa7b47a6ad5e4dc563d402285635c51a6cf2507eb7bfc42d4a49": ("3.3.1", "3.12"),
}
HADOLINT = Path(sys.executable).with_name("hadolint")
ROOT_USERS = {"root", "0"}
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL|AUTH", re.IGNORECASE)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: continuations joined, comments dropped
    (also inside a continued instruction, as Docker drops them)."""
    result: list[tuple[str, str]] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not current):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, arguments = current.strip().partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        current = ""
    return result


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def substitute(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m[1]], text)


def base_image(dockerfile: list[tuple[str, str]]) -> tuple[str, str, str]:
    """(repository, tag, digest) of the only FROM, with versions.env's build arguments."""
    froms = [args for keyword, args in dockerfile if keyword == "FROM"]
    assert len(froms) == 1, froms
    reference = substitute(froms[0], build_args(versions()))
    match = re.fullmatch(
        r"(?P<repo>[^:@\s]+):(?P<tag>[^@\s]+)@(?P<digest>sha256:[0-9a-f]{64})", reference
    )
    assert match, f"FROM is not name:tag@sha256:<digest>: {reference}"
    return match["repo"], match["tag"], match["digest"]


def test_the_base_is_the_pinned_airflow_slim_image(dockerfile):
    pinned = versions()
    repo, tag, _ = base_image(dockerfile)
    assert repo == "apache/airflow"
    assert tag == f"slim-{pinned.airflow}-python{pinned.python}"


def test_the_base_is_pinned_by_digest(dockerfile):
    _, _, digest = base_image(dockerfile)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)


def test_the_digest_was_resolved_for_the_pinned_versions(dockerfile):
    _, _, digest = base_image(dockerfile)
    pinned = versions()
    assert DIGEST_RESOLVED_FOR.get(digest) == (pinned.airflow, pinned.python), (
        f"{digest} was not resolved for slim-{pinned.airflow}-python{pinned.python}: "
        "resolve the tag's digest again and update the Dockerfile and DIGEST_RESOLVED_FOR"
    )


def test_the_build_checks_the_base_is_the_pinned_airflow_and_python(dockerfile):
    # With name:tag@digest the digest alone decides; the build refuses a base of other versions.
    runs = [args for keyword, args in dockerfile if keyword == "RUN"]
    first = runs[0]
    assert 'm.version("apache-airflow")' in first
    assert '= "${AIRFLOW_VERSION}"' in first
    assert '= "${AIRFLOW_PYTHON_VERSION}"' in first


def test_the_image_runs_as_the_airflow_user_not_root(dockerfile):
    final = final_user(dockerfile)
    assert final is not None, "no USER: the image would run as the base's user, unchecked"
    assert final not in ROOT_USERS
    # Numeric, so Kubernetes can check runAsNonRoot; 50000 is the base image's airflow user.
    assert final == "50000"


def secret_looking(dockerfile: list[tuple[str, str]]) -> list[str]:
    """Names set by ENV or ARG that look like credentials (PASSWORD, SECRET, TOKEN, KEY...)."""
    flagged = []
    for keyword, args in dockerfile:
        if keyword in {"ENV", "ARG"}:
            names = re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?==|\s|$)", args)
            flagged += [f"{keyword} {name}" for name in names if SECRET_NAME.search(name)]
    return flagged


def final_user(dockerfile: list[tuple[str, str]]) -> str | None:
    users = [args for keyword, args in dockerfile if keyword == "USER"]
    return users[-1].split(":")[0] if users else None


def test_no_secret_looking_env_or_arg(dockerfile):
    assert secret_looking(dockerfile) == []


def test_the_checks_catch_a_secret_and_a_root_user():
    bad = instructions(
        "FROM x\nARG GITHUB_TOKEN\nENV A=1 \\\n    DB_PASSWORD=hunter2\nUSER 50000\nUSER root\n"
    )
    assert secret_looking(bad) == ["ARG GITHUB_TOKEN", "ENV DB_PASSWORD"]
    assert final_user(bad) in ROOT_USERS


def test_the_build_args_are_exactly_the_versions_the_dockerfile_takes(dockerfile):
    # Nothing else from versions.env reaches the build (or its tag): a Kubernetes bump, say,
    # rebuilds nothing. TARGETARCH is BuildKit's own.
    declared = {a.split("=")[0] for keyword, a in dockerfile if keyword == "ARG"}
    assert set(build_args(versions())) == declared - {"TARGETARCH"}
    assert set(build_args(versions())) == {
        "AIRFLOW_VERSION",
        "AIRFLOW_PYTHON_VERSION",
        "POSTGRES_CLIENT_MAJOR",
    }


def test_dependencies_install_under_the_pinned_constraints(dockerfile):
    # Airflow's pip; dbt's, in its own virtualenv: tests/test_dbt_versions.py.
    pip = [args for keyword, args in dockerfile if keyword == "RUN" and "pip install" in args
           and "/opt/dbt-venv" not in args]  # fmt: skip
    assert len(pip) == 1
    command = substitute(pip[0], build_args(versions()))
    assert f'--constraint "{versions().constraints_url}"' in command
    assert f'"apache-airflow=={versions().airflow}"' in command
    assert "-r /opt/airflow/dags-requirements.txt" in command
    for provider in ("fab", "cncf-kubernetes", "amazon", "postgres"):
        assert f'"apache-airflow-providers-{provider}"' in command


def test_the_postgres_client_comes_from_pgdg(dockerfile):
    runs = " ".join(args for keyword, args in dockerfile if keyword == "RUN")
    assert "apt.postgresql.org" in runs
    assert '"postgresql-client-${POSTGRES_CLIENT_MAJOR}"' in runs


def test_only_requirements_and_platform_ops_are_copied(dockerfile):
    copies = [args.split() for keyword, args in dockerfile if keyword in {"COPY", "ADD"}]
    assert [keyword for keyword, _ in dockerfile if keyword == "ADD"] == []
    sources = sorted(src for *flags_and_sources, _ in copies for src in flags_and_sources
                     if not src.startswith("--"))  # fmt: skip
    assert sources == ["dags/platform_ops/", "dags/requirements.txt", "dbt/requirements.txt"]
    destinations = [parts[-1] for parts in copies]
    assert not any(d.startswith("/opt/airflow/dags/") for d in destinations)


def test_platform_ops_is_on_the_pythonpath(dockerfile):
    copies = [args.split() for keyword, args in dockerfile if keyword == "COPY"]
    destination = next(parts[-1] for parts in copies if parts[-2] == "dags/platform_ops/")
    env = [args for keyword, args in dockerfile if keyword == "ENV" and "PYTHONPATH" in args]
    assert env == [f"PYTHONPATH={Path(destination).parent}"]


def test_the_build_context_sends_no_dag_file():
    sent = context_files(ROOT)
    requirements = {"dags/requirements.txt", "dbt/requirements.txt"}
    assert requirements <= set(sent)
    assert "dags/platform_ops/__init__.py" in sent
    outside = [f for f in sent if f not in requirements and not f.startswith("dags/platform_ops/")]
    assert outside == [], f"the build context sends more than the image needs: {outside}"
    dag_files = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "dags").glob("*.py"))
    assert dag_files, "no DAG files found to check against"
    assert not set(dag_files) & set(sent)
    assert not [f for f in sent if "__pycache__" in f or f.endswith(".pyc")]


def test_dockerignore_starts_from_nothing():
    # Everything is excluded first, then only what the image needs is let back in.
    patterns = read_ignore_patterns((ROOT / ".dockerignore").read_text())
    assert patterns[0] == "*"
    assert sorted(p for p in patterns if p.startswith("!")) == [
        "!dags/platform_ops",
        "!dags/requirements.txt",
        "!dbt/requirements.txt",
    ]


def test_no_per_dockerfile_ignore_file_overrides_it():
    # BuildKit prefers <Dockerfile>.dockerignore; the image's rules live in one place.
    assert not DOCKERFILE.with_name(DOCKERFILE.name + ".dockerignore").exists()


def test_hadolint_passes():
    done = subprocess.run(
        [str(HADOLINT), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_ignores_name_their_reason():
    # An inline ignore is a decision: the comment line above it says why.
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if line.startswith("# hadolint ignore="):
            above = lines[number - 1]
            assert above.startswith("#"), f"line {number + 1}: {line} without a reason above it"
            assert not above.startswith("# hadolint"), f"line {number + 1}: {line}"
