"""The `health` and `dags list|trigger` commands' own description and argument checks, without
an Airflow: placeholders instead of type names in every help, the groups registered, bad
arguments refused with exit 2 before anything is asked. (tests/integration/
test_cli_airflow_api.py runs them against a real Airflow.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import typer

from airflow_platform.cli import GROUPS, app
from airflow_platform.cli.airflow_dags import parse_conf, parse_logical_date
from airflow_platform.cli.health import age_text
from tests.test_cli_help import TYPE_NAME, help_of

SUBCOMMANDS = [("dags", "list"), ("dags", "trigger")]


@pytest.mark.parametrize("command", [["dags"], *map(list, SUBCOMMANDS)], ids=str)
def test_the_dags_group_help_shows_no_python_type_name(command: list[str]) -> None:
    text = help_of(*command)

    assert sorted({" ".join(m[0].split()) for m in TYPE_NAME.finditer(text)}) == [], text


@pytest.mark.parametrize(("group", "name"), SUBCOMMANDS)
def test_every_dags_option_that_takes_a_value_declares_its_placeholder(
    group: str, name: str
) -> None:
    command = typer.main.get_command(app).commands[group].commands[name]  # type: ignore[attr-defined]

    missing = [p.name for p in command.params if not getattr(p, "is_flag", False) and not p.metavar]
    assert missing == []


def test_the_top_level_help_lists_health_and_the_dags_group() -> None:
    text = help_of()

    assert "health" in text
    assert "dags" in text
    # The dags group, beside the other groups (prices, policy).
    assert {"dags", "policy"} <= set(GROUPS)


def test_every_dags_option_has_its_airflow_platform_variable() -> None:
    group = typer.main.get_command(app).commands["dags"]  # type: ignore[attr-defined]
    for command in group.commands.values():
        options = [p for p in command.params if p.param_type_name == "option"]
        assert all((p.envvar or "").startswith("AIRFLOW_PLATFORM_") for p in options), command


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, {}), ("{}", {}), ('{"a": [1, 2], "b": null}', {"a": [1, 2], "b": None})],
)
def test_conf_is_a_json_object(text: str | None, expected: dict[str, object]) -> None:
    assert parse_conf(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("{'a': 1}", "not valid JSON"), ("[1]", "a JSON list, not an object"),
     ('"x"', "a JSON str, not an object"), ("", "not valid JSON")],
)  # fmt: skip
def test_conf_that_is_not_a_json_object_is_refused_saying_what_to_give(
    text: str, message: str
) -> None:
    with pytest.raises(typer.BadParameter, match=message):
        parse_conf(text)


def test_a_logical_date_needs_its_offset() -> None:
    assert parse_logical_date("2026-01-31T00:00:00Z") == datetime(2026, 1, 31, tzinfo=UTC)
    assert parse_logical_date(None) is None
    for text in ("2026-01-31T00:00:00", "yesterday"):
        with pytest.raises(typer.BadParameter, match="ISO 8601 time with an offset"):
            parse_logical_date(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0 s"), (59, "59 s"), (192, "3 min 12 s"), (7500, "2 h 5 min"), (273600, "3 d 4 h")],
)
def test_heartbeat_ages_read_as_people_say_them(seconds: float, text: str) -> None:
    assert age_text(seconds) == text
