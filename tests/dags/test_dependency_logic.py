"""The dependency patterns' logic without a database: the branch on the Variable `mode`, the
conf the controller sends and the target reads, and the sensor's look-back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import jinja2
import pytest

from platform_ops.dependencies import (
    DEFAULT_MODE,
    MODE_VARIABLE,
    SKIP_TASK_ID,
    TRIGGER_LOGICAL_DATE,
    TRIGGER_TASK_ID,
    ConfError,
    Mode,
    TargetRequest,
    choose_branch,
    downstream_summary,
    parse_mode,
    parse_target_conf,
    run_target_task,
    trigger_conf,
    upstream_logical_date,
)

VALID_CONF = {"partition_date": "2026-11-02", "requested_by": "dependency_controller"}


@pytest.mark.parametrize("value", ["dev", "DEV", " dev\n"])
def test_branch_skips_the_trigger_when_mode_is_dev(value: str) -> None:
    assert choose_branch(value) == SKIP_TASK_ID


@pytest.mark.parametrize("value", ["prod", "staging", "Prod "])
def test_branch_triggers_when_mode_is_not_dev(value: str) -> None:
    assert choose_branch(value) == TRIGGER_TASK_ID


def test_branch_triggers_when_the_mode_variable_is_unset() -> None:
    assert parse_mode(None) is DEFAULT_MODE is Mode.PROD
    assert choose_branch(None) == TRIGGER_TASK_ID


@pytest.mark.parametrize("value", ["production", "", "develop", 1])
def test_branch_fails_naming_the_variable_and_what_is_allowed_when_mode_is_unknown(
    value: object,
) -> None:
    with pytest.raises(ValueError, match="allowed: dev, staging, prod") as raised:
        choose_branch(value)
    assert f"Variable {MODE_VARIABLE!r} is {value!r}" in str(raised.value)


def render(template: Any, context: dict[str, Any]) -> Any:
    """Render like Airflow renders a templated field: strings in nested dicts, strictly."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    if isinstance(template, dict):
        return {key: render(value, context) for key, value in template.items()}
    return env.from_string(template).render(**context)


def controller_context(logical_date: datetime) -> dict[str, Any]:
    class Dag:
        dag_id = "dependency_controller"

    return {
        "ds": logical_date.strftime("%Y-%m-%d"),
        "logical_date": logical_date,
        "dag": Dag(),
        "run_id": f"scheduled__{logical_date.isoformat()}",
    }


def test_trigger_conf_renders_to_a_conf_the_target_accepts_for_the_controllers_day() -> None:
    logical_date = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)

    conf = render(trigger_conf(), controller_context(logical_date))

    assert parse_target_conf(conf) == TargetRequest(
        partition_date=date(2026, 11, 2), requested_by="dependency_controller"
    )


def test_trigger_logical_date_renders_to_the_controllers_logical_date() -> None:
    logical_date = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)

    rendered = render(TRIGGER_LOGICAL_DATE, controller_context(logical_date))

    assert datetime.fromisoformat(rendered) == logical_date


def test_target_conf_round_trips_through_the_request() -> None:
    assert parse_target_conf(VALID_CONF).as_dict() == VALID_CONF


def test_target_conf_ignores_keys_it_does_not_use() -> None:
    conf = {**VALID_CONF, "openlineage": {"parentRunId": "x"}}

    assert parse_target_conf(conf).as_dict() == VALID_CONF


@pytest.mark.parametrize("conf", [None, {}])
def test_target_conf_fails_naming_what_it_needs_when_empty(conf: Any) -> None:
    with pytest.raises(ConfError, match="partition_date, requested_by"):
        parse_target_conf(conf)


@pytest.mark.parametrize("missing", ["partition_date", "requested_by"])
def test_target_conf_fails_naming_the_missing_key(missing: str) -> None:
    conf = {k: v for k, v in VALID_CONF.items() if k != missing}

    with pytest.raises(ConfError, match=f"has no {missing} "):
        parse_target_conf(conf)


@pytest.mark.parametrize(
    ("key", "value"),
    [("partition_date", 20261102), ("requested_by", "  "), ("requested_by", None)],
)
def test_target_conf_fails_naming_the_key_when_a_value_is_not_a_non_empty_string(
    key: str, value: Any
) -> None:
    with pytest.raises(ConfError, match=rf"conf\['{key}'\] is {value!r}; expected a non-empty"):
        parse_target_conf({**VALID_CONF, key: value})


@pytest.mark.parametrize(
    "value", ["2026/11/02", "20261102", "02-11-2026", "2026-11-31", "yesterday"]
)
def test_target_conf_fails_naming_the_key_when_partition_date_is_not_a_date(value: str) -> None:
    with pytest.raises(ConfError, match=r"conf\['partition_date'\] is .*YYYY-MM-DD"):
        parse_target_conf({**VALID_CONF, "partition_date": value})


def test_target_task_fails_without_retries_on_a_bad_conf() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="has no requested_by"):
        run_target_task({"partition_date": "2026-11-02"})


def test_target_task_returns_the_request_it_acted_on() -> None:
    assert run_target_task(VALID_CONF) == VALID_CONF


def test_downstream_waits_for_the_upstream_run_five_minutes_earlier() -> None:
    downstream = datetime(2026, 11, 2, 6, 5, tzinfo=UTC)

    assert upstream_logical_date(downstream) == datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    assert downstream_summary(downstream)["upstream_logical_date"] == (
        (downstream - timedelta(minutes=5)).isoformat()
    )
