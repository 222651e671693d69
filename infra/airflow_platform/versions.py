"""The versions in `versions.env`, the repository's one place for them.

The Pulumi program, the Makefile and the image build read that file; nothing else states
an Airflow version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository (the Pulumi project's directory)."""
VERSIONS_FILE = REPO_ROOT / "versions.env"
_LINE = re.compile(r"(?P<key>[A-Z][A-Z0-9_]*)=(?P<value>\S+)")


@dataclass(frozen=True)
class Versions:
    airflow: str
    """Apache Airflow, as MWAA's `airflowVersion` and the image's base tag."""
    python: str
    """major.minor of the Python that Airflow runs on in MWAA and in the image."""
    postgres_client_major: int
    """Major version of pg_dump and pg_restore installed beside Airflow."""
    kubernetes: str | None = None
    """major.minor of the EKS cluster's Kubernetes (`KUBERNETES_VERSION`)."""
    chart: str | None = None
    """The official Apache Airflow Helm chart (`AIRFLOW_CHART_VERSION`) eks stacks deploy;
    `airflow_platform.helm.chart_version()` refuses a versions.env without it."""

    @property
    def constraints_url(self) -> str:
        """Airflow's constraints file for this Airflow and Python."""
        return (
            "https://raw.githubusercontent.com/apache/airflow/"
            f"constraints-{self.airflow}/constraints-{self.python}.txt"
        )


def parse_versions(text: str, source: str = "versions.env") -> Versions:
    """Versions from KEY=VALUE lines (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise ValueError(f"{source}:{number}: expected KEY=VALUE, got {raw!r}")
        values[match["key"]] = match["value"]
    required = ("AIRFLOW_VERSION", "AIRFLOW_PYTHON_VERSION", "POSTGRES_CLIENT_MAJOR")
    missing = [key for key in required if key not in values]
    if missing:
        raise ValueError(f"{source} lacks {', '.join(missing)}")
    return Versions(
        airflow=values["AIRFLOW_VERSION"],
        python=values["AIRFLOW_PYTHON_VERSION"],
        postgres_client_major=int(values["POSTGRES_CLIENT_MAJOR"]),
        kubernetes=values.get("KUBERNETES_VERSION"),
        chart=values.get("AIRFLOW_CHART_VERSION"),
    )


@cache
def versions() -> Versions:
    """The repository's versions."""
    return parse_versions(VERSIONS_FILE.read_text(), str(VERSIONS_FILE))
