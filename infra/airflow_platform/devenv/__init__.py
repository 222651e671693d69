"""A local Airflow for DAG authors (`airflow-platform dev up`): the pinned Airflow from the
project's .venv, the repository's DAGs, the dev tier's settings, local stand-ins for AWS and
Slack, everything under `.dev/`.

* `state`: the `.dev/` layout, the lock, the state file (`DevState`), processes by pid and
  start time (`Proc`);
* `services`: the embedded PostgreSQL, moto's server and what is seeded into it, the Slack
  sink (`slack_sink`, a module run as its own process);
* `settings`: the local Airflow configuration and what differs from the dev tier, and why;
* `processes`: child processes in their own process groups, logs, stopping them;
* `up`: `start()` (and `DevEnv`, for tests and `dev run`), the health wait, `watch()`;
* `down`: `stop()` and `reset()`;
* `run`: `dev run <dag_id>`.
"""
