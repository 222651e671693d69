"""The DAG dependency patterns, run by the pinned Airflow (`dag.test()`, SQLite metadata DB):
the controller's branch and trigger, the target reading the conf it was given, and the
downstream's sensor waiting for the upstream run five minutes earlier.

`dag.test()` runs one DAG and no scheduler, so the target run a trigger creates would stay
queued. `standin` starts `tests.dags.scheduler_standin` in a second process, which runs each
queued `dependency_target` run as the scheduler would; everything the tests assert on is
read back from the metadata database both processes share.

Tests change task objects only where production values would make them slow (a 60 s poke
interval, 2 h sensor timeout, retry delays) or to make the upstream fail.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from platform_ops.dependencies import (
    BRANCH_TASK_ID,
    CONTROLLER_DAG_ID,
    DOWNSTREAM_DAG_ID,
    EXECUTION_DELTA,
    SENSOR_TASK_ID,
    SKIP_TASK_ID,
    TARGET_DAG_ID,
    TARGET_TASK_ID,
    TRIGGER_TASK_ID,
    UPSTREAM_DAG_ID,
)
from tests.conftest import ROOT

OUR_DAGS = (CONTROLLER_DAG_ID, TARGET_DAG_ID, UPSTREAM_DAG_ID, DOWNSTREAM_DAG_ID)
EXPECTED_CONF = {"partition_date": "2026-11-02", "requested_by": CONTROLLER_DAG_ID}
CONTROLLER_DATE = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
TARGET_WAIT_SECONDS = 120  # a stuck stand-in fails the test after this, instead of hanging it


@dataclass
class Run:
    """One DAG run as the metadata database has it, with its task instances."""

    run_id: str
    run_type: str
    logical_date: datetime | None
    state: str
    conf: dict[str, Any]
    tasks: dict[str, tuple[str | None, int]]  # task_id -> (state, try_number)

    def task_state(self, task_id: str) -> str | None:
        return self.tasks[task_id][0]


def runs_of(dag_id: str) -> list[Run]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [
            Run(
                run_id=run.run_id,
                run_type=str(run.run_type),
                logical_date=run.logical_date,
                state=str(run.state),
                conf=dict(run.conf or {}),
                tasks={
                    ti.task_id: (None if ti.state is None else str(ti.state), ti.try_number)
                    for ti in run.get_task_instances(session=session)
                },
            )
            for run in session.scalars(select(DagRun).where(DagRun.dag_id == dag_id))
        ]


def run_of(dag_id: str, run_id: str) -> Run:
    found = [run for run in runs_of(dag_id) if run.run_id == run_id]
    assert len(found) == 1, f"{dag_id} has no run {run_id}"
    return found[0]


def returned(dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
    """What a task returned (its `return_value` XCom), or pushed under `key`."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(run_id=run_id, key=key, task_ids=task_id, dag_ids=dag_id)
        values = [XComModel.deserialize_value(row) for row in session.scalars(query)]
    assert len(values) == 1, f"{dag_id}.{task_id} in {run_id} returned nothing"
    return values[0]


def reschedules(dag_id: str, run_id: str, task_id: str) -> int:
    """How often a task instance gave its slot back (rows in `task_reschedule`)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(
            select(func.count())
            .select_from(TaskReschedule)
            .join(TaskInstance, TaskInstance.id == TaskReschedule.ti_id)
            .where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
            )
        )


@pytest.fixture(autouse=True)
def no_earlier_runs(airflow_db: Path) -> None:
    """Each test starts without runs of the four DAGs (the database is the session's)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        for run in session.scalars(select(DagRun).where(DagRun.dag_id.in_(OUR_DAGS))):
            session.delete(run)


@pytest.fixture
def load() -> Any:
    """A fresh copy of a DAG from its own file (tests change task objects; no test leaks)."""
    from airflow.dag_processing.dagbag import DagBag

    def load_dag(dag_id: str) -> Any:
        bag = DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py"))
        assert bag.import_errors == {}
        return bag.get_dag(dag_id)

    return load_dag


@dataclass
class Standin:
    process: subprocess.Popen
    log: Path

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


@pytest.fixture(scope="module")
def standin(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standin]:
    """The scheduler's part for `dependency_target`, in its own process (see module doc)."""
    log = tmp_path_factory.mktemp("standin") / "standin.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.dags.scheduler_standin", TARGET_DAG_ID],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    yield Standin(process, log)
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def target_watchdog(seconds: float) -> Iterator[threading.Event]:
    """Fails unfinished target runs after `seconds`, so a trigger waiting for a run nobody
    runs ends (and the test with it) instead of polling forever; the event says it fired."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from sqlalchemy import update

    fired = threading.Event()

    def fail_unfinished() -> None:
        fired.set()
        with create_session() as session:
            session.execute(
                update(DagRun)
                .where(DagRun.dag_id == TARGET_DAG_ID)
                .where(DagRun.state.in_([DagRunState.QUEUED, DagRunState.RUNNING]))
                .values(state=DagRunState.FAILED)
            )

    timer = threading.Timer(seconds, fail_unfinished)
    timer.start()
    try:
        yield fired
    finally:
        timer.cancel()


def run_controller(load: Any, logical_date: datetime = CONTROLLER_DATE, **trigger: Any) -> Run:
    """Run the controller: polling its target every second, not every minute, and without
    retries (a failure is under test, not the retry delay `dag.test()` would sit out)."""
    controller = load(CONTROLLER_DAG_ID)
    for task in controller.tasks:
        task.retries = 0
    trigger_task = controller.get_task(TRIGGER_TASK_ID)
    trigger_task.poke_interval = 1
    for name, value in trigger.items():
        setattr(trigger_task, name, value)
    with target_watchdog(TARGET_WAIT_SECONDS) as fired:
        dag_run = controller.test(logical_date=logical_date)
    assert not fired.is_set(), "no target run finished in time: is the stand-in running?"
    return run_of(CONTROLLER_DAG_ID, dag_run.run_id)


# --- trigger -> conf, and the branch that lets it through -----------------------------------


@pytest.mark.parametrize("mode", ["prod", None], ids=["mode-prod", "mode-unset"])
def test_controller_triggers_the_target_for_its_own_day_and_the_target_reads_the_conf(
    mode: str | None, load: Any, standin: Standin, monkeypatch: pytest.MonkeyPatch
) -> None:
    if mode is None:
        monkeypatch.delenv("AIRFLOW_VAR_MODE", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW_VAR_MODE", mode)

    controller = run_controller(load)

    assert controller.state == "success", standin.tail()
    assert controller.task_state(TRIGGER_TASK_ID) == "success"
    assert controller.task_state(SKIP_TASK_ID) == "skipped"
    targets = runs_of(TARGET_DAG_ID)
    assert len(targets) == 1, standin.tail()
    target = targets[0]
    assert target.run_type == "operator_triggered"
    assert target.logical_date == CONTROLLER_DATE, "the target's day is the controller's"
    assert target.conf == EXPECTED_CONF
    assert target.state == "success", standin.tail()
    assert returned(TARGET_DAG_ID, target.run_id, TARGET_TASK_ID) == EXPECTED_CONF
    pushed = returned(CONTROLLER_DAG_ID, controller.run_id, TRIGGER_TASK_ID, key="trigger_run_id")
    assert pushed == target.run_id


def test_rerunning_the_controller_for_a_day_reruns_that_days_target_run(
    load: Any, standin: Standin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_MODE", "prod")

    first = run_controller(load)
    second = run_controller(load)

    assert (first.state, second.state) == ("success", "success"), standin.tail()
    targets = runs_of(TARGET_DAG_ID)
    assert len(targets) == 1, "reset_dag_run re-runs the day's run, it makes no second one"
    assert targets[0].state == "success"
    assert targets[0].tasks[TARGET_TASK_ID] == ("success", 2), "the target's task ran again"
    assert targets[0].conf == EXPECTED_CONF


def test_controller_fails_when_the_target_rejects_its_conf(
    load: Any, standin: Standin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_MODE", "prod")
    bad_conf = {"partition_date": "{{ ds_nodash }}", "requested_by": "{{ dag.dag_id }}"}

    controller = run_controller(load, conf=bad_conf)

    (target,) = runs_of(TARGET_DAG_ID)
    assert target.conf["partition_date"] == "20261102"
    assert target.state == "failed", standin.tail()
    assert target.tasks[TARGET_TASK_ID] == ("failed", 1), "a bad conf is not retried"
    assert controller.task_state(TRIGGER_TASK_ID) == "failed", "failed_states ends the wait"
    assert controller.state == "failed"


# --- branch ------------------------------------------------------------------------------------


def test_controller_in_dev_mode_skips_the_trigger_and_creates_no_target_run(
    load: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_MODE", "dev")

    controller = run_controller(load)

    assert controller.state == "success"
    assert controller.task_state(BRANCH_TASK_ID) == "success"
    assert controller.task_state(TRIGGER_TASK_ID) == "skipped"
    assert controller.task_state(SKIP_TASK_ID) == "success"
    assert runs_of(TARGET_DAG_ID) == []


def test_controller_with_an_unknown_mode_fails_the_branch_and_triggers_nothing(
    load: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_MODE", "production")
    controller = load(CONTROLLER_DAG_ID)
    controller.get_task(BRANCH_TASK_ID).retries = 0

    run = run_of(CONTROLLER_DAG_ID, controller.test(logical_date=CONTROLLER_DATE).run_id)

    assert run.state == "failed"
    assert run.task_state(BRANCH_TASK_ID) == "failed"
    assert run.task_state(TRIGGER_TASK_ID) == "upstream_failed"
    assert runs_of(TARGET_DAG_ID) == []


# --- sensor ------------------------------------------------------------------------------------

DOWNSTREAM_DATE = datetime(2026, 11, 2, 6, 5, tzinfo=UTC)
UPSTREAM_DATE = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def quick_sensor(downstream: Any, timeout: float) -> Any:
    sensor = downstream.get_task(SENSOR_TASK_ID)
    sensor.poke_interval = 1
    sensor.timeout = timeout
    # Were a failure retried, a retry would come at once (and show in try_number), not in
    # 10 minutes: the test would fail instead of hanging.
    sensor.retry_delay = timedelta(0)
    return sensor


def test_downstream_sensor_succeeds_when_the_upstream_run_five_minutes_earlier_succeeded(
    load: Any,
) -> None:
    upstream_run = load(UPSTREAM_DAG_ID).test(logical_date=UPSTREAM_DATE)
    assert upstream_run.state == "success"
    published = returned(UPSTREAM_DAG_ID, upstream_run.run_id, "publish")
    assert published["published_for"] == UPSTREAM_DATE.isoformat()
    downstream = load(DOWNSTREAM_DAG_ID)
    quick_sensor(downstream, timeout=30)

    run = run_of(DOWNSTREAM_DAG_ID, downstream.test(logical_date=DOWNSTREAM_DATE).run_id)

    assert run.state == "success"
    assert run.tasks[SENSOR_TASK_ID] == ("success", 1)
    assert reschedules(DOWNSTREAM_DAG_ID, run.run_id, SENSOR_TASK_ID) == 0, "found at once"
    consumed = returned(DOWNSTREAM_DAG_ID, run.run_id, "consume")
    assert consumed["upstream_logical_date"] == UPSTREAM_DATE.isoformat()


def test_downstream_sensor_reschedules_then_times_out_when_no_upstream_run_is_5_minutes_earlier(
    load: Any,
) -> None:
    # An upstream run at the downstream's own logical date is not the one it waits for.
    assert load(UPSTREAM_DAG_ID).test(logical_date=DOWNSTREAM_DATE).state == "success"
    downstream = load(DOWNSTREAM_DAG_ID)
    sensor = quick_sensor(downstream, timeout=2)
    assert sensor.retries >= 1, "the production retries stay: a timeout must not use them"

    run = run_of(DOWNSTREAM_DAG_ID, downstream.test(logical_date=DOWNSTREAM_DATE).run_id)

    assert run.state == "failed"
    assert run.tasks[SENSOR_TASK_ID] == ("failed", 1), "a sensor timeout is final, no retry"
    assert reschedules(DOWNSTREAM_DAG_ID, run.run_id, SENSOR_TASK_ID) >= 1, "reschedule mode"
    assert run.task_state("consume") == "upstream_failed"


def test_downstream_sensor_fails_at_once_when_the_upstream_run_failed(load: Any) -> None:
    upstream = load(UPSTREAM_DAG_ID)
    publish = upstream.get_task("publish")
    publish.retries = 0

    def fail() -> None:
        raise RuntimeError("upstream broke")

    publish.python_callable = fail
    assert upstream.test(logical_date=UPSTREAM_DATE).state == "failed"
    downstream = load(DOWNSTREAM_DAG_ID)
    sensor = quick_sensor(downstream, timeout=60)
    sensor.retries = 0

    started = time.monotonic()
    run = run_of(DOWNSTREAM_DAG_ID, downstream.test(logical_date=DOWNSTREAM_DATE).run_id)

    assert run.state == "failed"
    assert run.tasks[SENSOR_TASK_ID] == ("failed", 1)
    assert reschedules(DOWNSTREAM_DAG_ID, run.run_id, SENSOR_TASK_ID) == 0, "no waiting"
    assert time.monotonic() - started < 30


# --- schedules ---------------------------------------------------------------------------------


def test_downstream_execution_delta_maps_each_scheduled_run_to_an_upstream_scheduled_run(
    load: Any,
) -> None:
    """The sensor's arithmetic against the two DAGs' own timetables, over a month: a schedule
    changed on one side only (or a delta that no longer matches) fails here."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    def logical_dates(dag_id: str) -> list[datetime]:
        dag = load(dag_id)
        timetable = coerce_to_core_timetable(dag.timetable)
        restriction = TimeRestriction(
            earliest=datetime(2026, 10, 1, tzinfo=UTC), latest=None, catchup=True
        )
        dates, last = [], None
        for _ in range(31):
            info = timetable.next_dagrun_info(
                last_automated_data_interval=last, restriction=restriction
            )
            dates.append(info.logical_date)
            last = info.data_interval
        return dates

    downstream = load(DOWNSTREAM_DAG_ID)
    assert downstream.get_task(SENSOR_TASK_ID).execution_delta == EXECUTION_DELTA
    assert downstream.get_task(SENSOR_TASK_ID).mode == "reschedule"
    upstream_dates = logical_dates(UPSTREAM_DAG_ID)
    assert [d - EXECUTION_DELTA for d in logical_dates(DOWNSTREAM_DAG_ID)] == upstream_dates
