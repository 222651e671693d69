"""The program's own description of itself: every command's help shows placeholders (FILE,
DIR, STACK, N) instead of Python type names, the top-level help states the exit-code rule,
`--version` names both versions, and starting the program loads none of the heavy modules
the commands import when they run."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import typer

from airflow_platform.cli import COMMANDS, app
from airflow_platform.versions import versions

CLI = str(Path(sys.executable).with_name("airflow-platform"))
# A type name where a placeholder goes: right after an option (`--json <path>`) or an
# argument's name (`STACK <str>`). Click's names are TEXT, PATH, INTEGER...; typer's are
# <str>, <path>, <bool>, <int range>, <list[Path]>... Prose (`default: PATH`) is not matched.
TYPE_NAME = re.compile(
    r"(?:--[a-z][\w-]*|^[│|]?\s*\*?\s*[A-Z][A-Z_]*)[ \t]+"
    r"(TEXT|PATH|INTEGER|BOOLEAN|FLOAT|FILENAME|DIRECTORY|<[a-z][^>]*>)(?=\s|$)",
    re.MULTILINE,
)


def help_of(*command: str) -> str:
    done = subprocess.run([CLI, *command, "--help"], capture_output=True, text=True, timeout=60,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("command", [[], *([name] for name in COMMANDS)], ids=["(top)", *COMMANDS])
def test_help_shows_no_python_type_name_as_a_placeholder(command: list[str]) -> None:
    text = help_of(*command)

    found = sorted({" ".join(match[0].split()) for match in TYPE_NAME.finditer(text)})
    assert found == [], f"type names in the help of {command}: {found}\n{text}"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_option_that_takes_a_value_declares_its_placeholder(name: str) -> None:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]

    missing = [
        param.name
        for param in command.params
        if not getattr(param, "is_flag", False) and not param.metavar
    ]
    assert missing == [], f"{name}: give these a metavar: {missing}"


@pytest.mark.parametrize(
    ("command", "placeholders"),
    [
        ("plan", ["STACK", "--json               FILE", "--account-id         ACCOUNT_ID"]),
        ("backup", ["--from", "DSN", "--to", "S3_URL", "--part-size", "MIB"]),
        ("clean-logs", ["DIR...", "--older-than        DAYS", "--workers           N"]),
    ],
)
def test_help_shows_the_placeholders_it_declares(command: str, placeholders: list[str]) -> None:
    text = help_of(command)

    for placeholder in placeholders:
        assert placeholder in text, placeholder


def test_the_top_level_help_states_the_exit_code_rule() -> None:
    text = " ".join(help_of().split())

    assert "Exit codes, the same for every command: 0 done; 1 the operation failed" in text
    assert "2 a usage, config or environment problem" in text


def test_version_prints_the_package_version_and_the_pinned_airflow_version() -> None:
    done = subprocess.run([CLI, "--version"], capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"airflow-platform {version('airflow-platform')}, Apache Airflow {versions().airflow} "
        "(pinned in versions.env)"
    )


def test_starting_the_program_imports_none_of_the_heavy_modules_the_commands_use() -> None:
    heavy = ["boto3", "botocore", "pulumi", "pulumi_aws", "pydantic", "yaml", "platform_ops"]
    probe = (
        "import sys, airflow_platform.cli; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))"
    )

    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
