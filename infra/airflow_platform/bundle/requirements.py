"""MWAA's `requirements.txt`: the DAGs' requirements under the pinned Airflow's constraints."""

from __future__ import annotations

from airflow_platform.versions import Versions


def mwaa_requirements(dags_requirements: str, versions: Versions) -> str:
    """`--constraint "<url>"` first (MWAA requires one from Airflow 2.7.2 on; without it MWAA
    picks one), then the bundle's own lines minus any constraint line of theirs."""
    lines = [
        line
        for line in dags_requirements.splitlines()
        if not line.strip().startswith(("--constraint", "-c "))
    ]
    body = "\n".join(lines).strip("\n")
    return f'--constraint "{versions.constraints_url}"\n{body}\n'
