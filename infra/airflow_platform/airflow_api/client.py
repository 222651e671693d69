"""The few Airflow REST API (/api/v2, the pinned Airflow) calls the CLI makes, over either of
the health probe's transports: MWAA's InvokeRestApi or plain HTTP(S).

Shapes, from the pinned Airflow's airflow/api_fastapi/core_api: `GET /dags` answers
`{"dags": [DAGResponse...], "total_entries": n}` a page at a time (`limit`, `offset`);
`POST /dags/{dag_id}/dagRuns` takes TriggerDAGRunPostBody, whose `logical_date` is required
but may be null (a run without a logical date, as the UI's trigger makes), and answers the
DAGRunResponse (`dag_run_id`, `state`, ...); `GET /dags/{dag_id}/dagRuns/{dag_run_id}` answers
one run; `GET /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances` answers
`{"task_instances": [TaskInstanceResponse...], "total_entries": n}` a page at a time;
`PATCH /dags/{dag_id}?update_mask=is_paused` with `{"is_paused": false}` unpauses a DAG. The
auth manager's `POST /auth/token` (SimpleAuthManager and FAB alike) exchanges a
user name and password for a JWT: `{"access_token": "..."}`.

InvokeRestApi takes paths of at most 64 characters: a run id (`manual__<ISO time>`) makes
`/dags/<id>/dagRuns/<run id>` longer than that, so on MWAA a run is looked up by searching
`/dags/~/dagRuns` (every DAG) for its DAG and run id instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

from health_probe.health import HealthReport
from health_probe.transports import HttpTransport, Transport, TransportError, read_health

TERMINAL_STATES = frozenset({"success", "failed"})
"""DagRunState values after which a run changes no more."""
PAGE_SIZE = 100


class ApiError(Exception):
    """A call failed: Airflow answered an error (`status`), or could not be reached
    (`status` None). The message names the call and Airflow's own explanation."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _segment(value: str) -> str:
    return quote(value, safe="")


class AirflowApi:
    """The REST API of one Airflow, through `transport`."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @property
    def description(self) -> str:
        return self.transport.description

    def _fits(self, path: str) -> bool:
        limit = self.transport.max_path_length
        return limit is None or len(path) <= limit

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        what = f"{method} {path}"
        try:
            answer = self.transport.request(method, path, query=query, body=body)
        except TransportError as error:
            raise ApiError(str(error)) from None
        if not answer.ok:
            raise ApiError(
                f"{self.description}: {what} answered {answer.status}: {answer.detail()}",
                answer.status,
            )
        return answer.body

    def health(self) -> tuple[HealthReport, float]:
        """Airflow's health report and how long it took (ms); never raises for an
        unreachable Airflow (the report says so)."""
        return read_health(self.transport)

    def dags(self) -> list[dict[str, Any]]:
        """Every DAG Airflow knows (stale ones excluded, as the API does), by dag_id."""
        return list(self._pages())

    def _pages(self) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = self._call(
                "GET", "/dags", query={"limit": PAGE_SIZE, "offset": offset, "order_by": "dag_id"}
            )
            dags = page.get("dags", []) if isinstance(page, dict) else []
            yield from dags
            offset += len(dags)
            if not dags or offset >= int(page.get("total_entries", 0)):
                return

    def dag(self, dag_id: str) -> dict[str, Any]:
        return self._call("GET", f"/dags/{_segment(dag_id)}")

    def trigger(
        self, dag_id: str, conf: dict[str, Any], logical_date: datetime | None = None
    ) -> dict[str, Any]:
        """A new manual run of `dag_id` (queued); its DAGRunResponse."""
        path = f"/dags/{_segment(dag_id)}/dagRuns"
        if not self._fits(path):
            raise ApiError(
                f"{self.description}: the trigger path {path!r} is longer than the "
                f"{self.transport.max_path_length} characters this transport takes"
            )
        body = {
            "logical_date": logical_date.isoformat() if logical_date else None,
            "conf": conf,
        }
        return self._call("POST", path, body=body)

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """One run of `dag_id`; ApiError with status 404 when there is none."""
        path = f"/dags/{_segment(dag_id)}/dagRuns/{_segment(run_id)}"
        # Through MWAA, only a short path made of plain characters goes as it is: how the
        # service encodes one holding `+` or `:` (every manual run id) is not documented.
        plain = _segment(run_id) == run_id and _segment(dag_id) == dag_id
        if self._fits(path) and (plain or self.transport.max_path_length is None):
            return self._call("GET", path)
        found = self._call(
            "GET",
            "/dags/~/dagRuns",
            query={"dag_id_pattern": dag_id, "run_id_pattern": run_id, "limit": PAGE_SIZE},
        )
        for run in found.get("dag_runs", []) if isinstance(found, dict) else []:
            if run.get("dag_id") == dag_id and run.get("dag_run_id") == run_id:
                return run
        raise ApiError(f"{self.description}: no run {run_id!r} of DAG {dag_id!r}", 404)

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        """Pause or unpause `dag_id` (`PATCH /dags/{dag_id}`, DAGPatchBody); its DAGResponse."""
        return self._call(
            "PATCH",
            f"/dags/{_segment(dag_id)}",
            query={"update_mask": "is_paused"},
            body={"is_paused": paused},
        )

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of one run (mapped ones one per map index), every page, as
        TaskInstanceResponse."""
        path = f"/dags/{_segment(dag_id)}/dagRuns/{_segment(run_id)}/taskInstances"
        if not self._fits(path):
            raise ApiError(
                f"{self.description}: the task instances path {path!r} is longer than the "
                f"{self.transport.max_path_length} characters this transport takes"
            )
        found: list[dict[str, Any]] = []
        while True:
            page = self._call("GET", path, query={"limit": PAGE_SIZE, "offset": len(found)})
            batch = page.get("task_instances", []) if isinstance(page, dict) else []
            found.extend(batch)
            total = page.get("total_entries") if isinstance(page, dict) else None
            if not batch or total is None or len(found) >= int(total):
                return found


def login(transport: HttpTransport, username: str, password: str) -> str:
    """A JWT for `username` from the auth manager's `POST /auth/token`; the password travels
    in the request body only and appears in no message."""
    try:
        answer = transport.request(
            "POST", "/auth/token", body={"username": username, "password": password}, prefix=""
        )
    except TransportError as error:
        raise ApiError(str(error)) from None
    if not answer.ok:
        # A validation error's detail echoes the request's input: never the password.
        detail = answer.detail().replace(password, "***") if password else answer.detail()
        raise ApiError(
            f"{transport.description}: logging in as {username!r} (POST /auth/token) answered "
            f"{answer.status}: {detail}",
            answer.status,
        )
    token = answer.body.get("access_token") if isinstance(answer.body, dict) else None
    if not isinstance(token, str) or not token:
        raise ApiError(f"{transport.description}: POST /auth/token answered no access_token")
    return token
