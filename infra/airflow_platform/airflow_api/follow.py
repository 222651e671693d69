"""Following one DAG run to its end by polling the REST API: what `dags trigger --wait` and
`dev run` share. Each caller shows the run its own way (a status line, a table of task
instances) from the `on_poll` callback; the loop, its timeout and its tolerance of a few
failed looks in a row are here, once."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_platform.airflow_api.client import TERMINAL_STATES, ApiError

if TYPE_CHECKING:
    from airflow_platform.airflow_api.client import AirflowApi

POLL_FAILURES = 3
"""Consecutive failed looks tolerated (a network blip, an API server restarting)."""
_TRANSIENT = (None, 502, 503, 504)
"""ApiError statuses worth another look: no answer, or a gateway's or a restarting server's."""


class FollowError(Exception):
    """Following stopped before the run ended: it outlasted the timeout, or it could not be
    looked up. The message names the run and says that it goes on in Airflow."""


def follow_run(
    api: AirflowApi,
    dag_id: str,
    run_id: str,
    state: str,
    *,
    poll_interval: float,
    timeout: float | None,
    on_poll: Callable[[dict[str, Any], float], None],
) -> str:
    """Look at the run every `poll_interval` seconds until it reaches a terminal state, and
    answer that state. After each look, `on_poll(run, elapsed seconds)`; an ApiError it
    raises counts as a failed look, like one of the run's own. FollowError after `timeout`
    seconds, or after POLL_FAILURES failed looks in a row (at once for an error that another
    look will not cure: 401, 403, 404)."""
    started = time.monotonic()
    failures = 0
    while state not in TERMINAL_STATES:
        if timeout is not None and time.monotonic() - started >= timeout:
            raise FollowError(
                f"run {run_id} of {dag_id} is still {state} after {timeout:g} s (the run goes on)"
            )
        time.sleep(poll_interval)
        try:
            run = api.dag_run(dag_id, run_id)
            on_poll(run, time.monotonic() - started)
        except ApiError as error:
            failures += 1
            if failures >= POLL_FAILURES or error.status not in _TRANSIENT:
                raise FollowError(f"lost track of run {run_id} of {dag_id}: {error}") from None
            continue
        failures = 0
        state = str(run.get("state"))
    return state
