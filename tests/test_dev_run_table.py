"""`dev run`'s table of task instances and its account of a failed run, from
TaskInstanceResponse-shaped rows (the pinned Airflow's REST API), rendered by rich."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from airflow_platform.devenv.run import (
    LocalAirflow,
    failure_report,
    log_places,
    ordered,
    task_table,
)
from airflow_platform.devenv.state import DevState

NOW = datetime(2026, 1, 31, 12, 0, 30, tzinfo=UTC)
RUN_ID = "manual__2026-01-31T12:00:00+00:00"


def ti(task_id: str, state: str | None, **fields: Any) -> dict[str, Any]:
    return {"task_id": task_id, "state": state, "map_index": -1, "try_number": 0,
            "start_date": None, "end_date": None, "duration": None, **fields}  # fmt: skip


def render(table: Any) -> list[str]:
    console = Console(width=160, record=True, color_system="truecolor")
    console.print(table)
    return console.export_text(styles=False).splitlines()


def rows(lines: list[str]) -> dict[str, list[str]]:
    found = {}
    for line in lines:
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells and cells[0] not in ("", "task id"):
            found[cells[0] + (f"[{cells[1]}]" if len(cells) == 5 and cells[1] else "")] = cells
    return found


def local(tmp_path: Path) -> LocalAirflow:
    state = DevState(
        home=str(tmp_path), dags_folder=str(tmp_path / "dags"), api_url="http://127.0.0.1:8793",
        username="admin", password_file=str(tmp_path / "passwords.json"), ports={},
        moto_endpoint="", slack_url="", pg_dsn="", pg_password_file="",
    )  # fmt: skip
    return LocalAirflow(tmp_path / ".dev" / "state.json", state, tmp_path / "logs" / "tasks")


def test_table_shows_state_try_and_duration_of_each_task_without_a_map_column() -> None:
    table = task_table("etl", RUN_ID, "running", [
        ti("extract", "success", try_number=1, start_date="2026-01-31T12:00:01Z",
           end_date="2026-01-31T12:00:03.5Z", duration=2.5),
        ti("transform", "running", try_number=1, start_date="2026-01-31T12:00:10+00:00"),
        ti("load", None),
    ], NOW)  # fmt: skip

    lines = render(table)

    assert f"etl run {RUN_ID}: running" in lines[0]
    assert "map index" not in "\n".join(lines)
    found = rows(lines)
    assert found["extract"] == ["extract", "success", "1", "2.5 s"]
    assert found["transform"] == ["transform", "running", "1", "20.0 s"]  # so far, at NOW
    assert found["load"] == ["load", "none", "-", "-"]


def test_table_shows_a_map_index_column_when_a_task_is_mapped() -> None:
    table = task_table("fan_out", RUN_ID, "running", [
        ti("split", "success", try_number=1, start_date="2026-01-31T12:00:00Z", duration=1),
        ti("work", "failed", map_index=0, try_number=2, start_date="2026-01-31T12:00:02Z",
           duration=75),
        ti("work", "success", map_index=1, rendered_map_index="eu", try_number=1,
           start_date="2026-01-31T12:00:03Z", duration=4000),
    ], NOW)  # fmt: skip

    found = rows(render(table))

    assert found["split"] == ["split", "", "success", "1", "1.0 s"]
    assert found["work[0]"] == ["work", "0", "failed", "2", "1m15s"]
    assert found["work[1 eu]"] == ["work", "1 eu", "success", "1", "1h06m"]


def test_table_colours_each_state() -> None:
    console = Console(width=120, record=True, color_system="truecolor", force_terminal=True)
    console.print(task_table("etl", RUN_ID, "failed", [ti("a", "failed"), ti("b", "success")],
                             NOW))  # fmt: skip

    html = console.export_html(inline_styles=True)

    assert (
        '<span style="color: #800000; text-decoration-color: #800000; font-weight: bold">failed'
        in html
    )
    assert '<span style="color: #008000; text-decoration-color: #008000">success' in html


def test_rows_keep_their_places_in_start_order_with_tasks_not_started_last() -> None:
    found = ordered([
        ti("z_last", None), ti("b", "running", start_date="2026-01-31T12:00:05Z"),
        ti("a", "success", start_date="2026-01-31T12:00:09Z"), ti("c", "queued"),
    ])  # fmt: skip

    assert [row["task_id"] for row in found] == ["b", "a", "c", "z_last"]


def test_an_empty_run_says_its_tasks_are_not_scheduled_yet() -> None:
    text = "\n".join(render(task_table("etl", RUN_ID, "queued", [], NOW)))

    assert "no task instance yet" in text


def test_failure_report_names_failed_tasks_with_their_ui_page_and_log_file(
    tmp_path: Path,
) -> None:
    where = local(tmp_path)
    log = (where.log_folder / "dag_id=etl" / f"run_id={RUN_ID}" / "task_id=work"
           / "map_index=3" / "attempt=2.log")  # fmt: skip
    log.parent.mkdir(parents=True)
    log.write_text("Traceback ...\n")

    lines = failure_report(where, "etl", RUN_ID, [
        ti("extract", "success", try_number=1),
        ti("work", "failed", map_index=3, try_number=2),
        ti("check", "failed", try_number=1),
        ti("load", "upstream_failed"), ti("report", "upstream_failed"),
    ])  # fmt: skip

    page = "http://127.0.0.1:8793/dags/etl/runs/manual__2026-01-31T12%3A00%3A00%2B00%3A00/tasks"
    assert lines == [
        f"check failed (try 1): log at {page}/check",
        f"work[3] failed (try 2): log at {page}/work/mapped/3 and {log}",
        "not run (upstream failed): load, report",
    ]


def test_log_places_leave_out_a_log_file_that_does_not_exist(tmp_path: Path) -> None:
    places = log_places(local(tmp_path), "etl", RUN_ID, ti("t", "failed", try_number=1))

    assert len(places) == 1
    assert places[0].endswith("/tasks/t")
