"""The logic of the DAG dependency patterns: which branch the controller takes, what it
passes the DAG it triggers, how that DAG reads it, and which upstream run a sensor waits for.

Four DAG files use it:

* `dependency_controller`: a branch on the Variable `mode` (`choose_branch`), then a
  `TriggerDagRunOperator` that starts `dependency_target` with `trigger_conf()` and the
  controller's own logical date;
* `dependency_target`: reads that conf (`parse_target_conf`), failing with the key at fault;
* `dependency_upstream` / `dependency_downstream`: schedules five minutes apart, the
  downstream's `ExternalTaskSensor` looking back `EXECUTION_DELTA` to the upstream's run.

The DAG files import this module while they are parsed, so it imports the standard library
only; Airflow is imported inside the task bodies (`run_*_task`) that need it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)

CONTROLLER_DAG_ID = "dependency_controller"
TARGET_DAG_ID = "dependency_target"
UPSTREAM_DAG_ID = "dependency_upstream"
DOWNSTREAM_DAG_ID = "dependency_downstream"

BRANCH_TASK_ID = "choose_branch"
TRIGGER_TASK_ID = "trigger_target"
SKIP_TASK_ID = "note_trigger_skipped"
TARGET_TASK_ID = "process_request"
SENSOR_TASK_ID = "wait_for_upstream"

MODE_VARIABLE = "mode"

EXECUTION_DELTA = timedelta(minutes=5)
"""How far the downstream's sensor looks back: upstream runs at 06:00, downstream at 06:05
(both cron schedules), so the upstream run to wait for has logical date 06:05 - 5 min."""


class Mode(StrEnum):
    """What the Variable `mode` may say about the environment the DAGs run in."""

    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


DEFAULT_MODE = Mode.PROD
"""What an unset `mode` Variable means. Triggering is the default: an environment that lost
(or never had) the Variable keeps its downstream data flowing, and a dev environment opts
out by saying so. A wrong value is not guessed at: the branch fails and says what is allowed."""

ALLOWED_MODES = ", ".join(m.value for m in Mode)


def parse_mode(value: object) -> Mode:
    """The `Mode` a Variable value names (case and surrounding blanks ignored); `None`, an
    unset Variable, is `DEFAULT_MODE`. Anything else is an error naming the Variable."""
    if value is None:
        return DEFAULT_MODE
    try:
        return Mode(str(value).strip().lower())
    except ValueError:
        raise ValueError(
            f"Variable {MODE_VARIABLE!r} is {value!r}; allowed: {ALLOWED_MODES} "
            f"(unset means {DEFAULT_MODE.value})"
        ) from None


def choose_branch(mode: object) -> str:
    """The controller's branch: the task id to follow for this `mode` Variable value. Only
    `dev` skips the trigger; `staging`, `prod` and an unset Variable run it."""
    if parse_mode(mode) is Mode.DEV:
        return SKIP_TASK_ID
    return TRIGGER_TASK_ID


def run_branch_task() -> str:
    """The branch task's body: read `mode` now, at run time (not while the file is parsed,
    which would query the Variable backend on every parse), and choose."""
    from airflow.sdk import Variable

    value = Variable.get(MODE_VARIABLE, default=None)
    chosen = choose_branch(value)
    log.info("Variable %r is %r: following %s", MODE_VARIABLE, value, chosen)
    return chosen


def trigger_conf() -> dict[str, str]:
    """The conf the controller passes `dependency_target`: Jinja templates that the
    `TriggerDagRunOperator` renders (its `conf` is a templated field) in the controller's run.

    Only what follows from the controller's logical date: when a re-run of the controller
    resets an existing target run, Airflow keeps that run's original conf (a run's conf is
    immutable), so anything run-specific here (a run id, a time of triggering) would go stale."""
    return {
        "partition_date": "{{ ds }}",
        "requested_by": "{{ dag.dag_id }}",
    }


TRIGGER_LOGICAL_DATE = "{{ logical_date.isoformat() }}"
"""The triggered run's logical date: the controller's, so both runs describe the same day and
re-running the controller for a day lands on the same target run (its run id is derived
from that date), which `reset_dag_run` then clears and runs again. The target's data
interval is the moment it was triggered (the operator's `run_after` is not templated in
this provider version): the target reads its day from `ds` / `logical_date` or the conf."""


class ConfError(ValueError):
    """The triggered run's conf cannot say what to process; retrying would not change it."""


@dataclass(frozen=True)
class TargetRequest:
    """What a `dependency_target` run was asked to do."""

    partition_date: date
    """The day to process (the controller's `ds`)."""
    requested_by: str
    """The dag_id that triggered the run (or who did, when triggered by hand)."""

    def as_dict(self) -> dict[str, str]:
        """JSON-ready, the same keys as the conf (what the target's task returns)."""
        values = asdict(self)
        values["partition_date"] = self.partition_date.isoformat()
        return values


REQUIRED_KEYS = tuple(f.name for f in fields(TargetRequest))
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_target_conf(conf: Mapping[str, Any] | None) -> TargetRequest:
    """The request in a triggered run's `dag_run.conf`, checked once, naming the bad key.

    Keys beyond these are ignored: the trigger operator may add its own (OpenLineage's
    parent-run information when that provider is enabled)."""
    if not conf:
        raise ConfError(
            f"dag_run.conf is empty; {TARGET_DAG_ID} needs {', '.join(REQUIRED_KEYS)}: "
            f"let {CONTROLLER_DAG_ID} trigger it, or give them when triggering by hand"
        )
    missing = [key for key in REQUIRED_KEYS if key not in conf]
    if missing:
        raise ConfError(f"dag_run.conf has no {', '.join(missing)} (it has: {sorted(conf)})")
    for key in REQUIRED_KEYS:
        value = conf[key]
        if not isinstance(value, str) or not value.strip():
            raise ConfError(f"dag_run.conf[{key!r}] is {value!r}; expected a non-empty string")
    text = conf["partition_date"].strip()
    try:
        # Only the extended form: fromisoformat also reads "20261102", and the date ends up in
        # partition paths, where one spelling per day matters.
        if not ISO_DATE.fullmatch(text):
            raise ValueError(text)
        partition_date = date.fromisoformat(text)
    except ValueError:
        raise ConfError(
            f"dag_run.conf['partition_date'] is {conf['partition_date']!r}; "
            "expected a date as YYYY-MM-DD"
        ) from None
    return TargetRequest(partition_date=partition_date, requested_by=conf["requested_by"].strip())


def run_target_task(conf: Mapping[str, Any] | None) -> dict[str, str]:
    """The target's task body: a bad conf fails the task without retries (a retry would read
    the same conf), and the request it acted on is its return value (XCom)."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        request = parse_target_conf(conf)
    except ConfError as error:
        raise AirflowFailException(str(error)) from None
    log.info("processing %s for %s", request.partition_date, request.requested_by)
    return request.as_dict()


def upstream_logical_date(downstream_logical_date: datetime) -> datetime:
    """The logical date of the upstream run a downstream run waits for: what the sensor's
    `execution_delta` computes."""
    return downstream_logical_date - EXECUTION_DELTA


def upstream_summary(logical_date: datetime) -> dict[str, str]:
    """What the upstream's task returns: the day it published."""
    return {"dag_id": UPSTREAM_DAG_ID, "published_for": logical_date.isoformat()}


def downstream_summary(logical_date: datetime) -> dict[str, str]:
    """What the downstream's task returns: the upstream run it waited for."""
    return {
        "dag_id": DOWNSTREAM_DAG_ID,
        "consumed_upstream": UPSTREAM_DAG_ID,
        "upstream_logical_date": upstream_logical_date(logical_date).isoformat(),
    }
