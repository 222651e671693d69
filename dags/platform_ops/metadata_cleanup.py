"""Metadata database cleanup: Airflow's own `airflow db clean`, run where Airflow 3 allows.

Airflow 3 tasks cannot reach the metadata database (workers talk to the API server only), so
`db clean` cannot run inside a task. Each runtime has its documented way instead:

- **MWAA**: AWS documents running `airflow db clean` through the environment's CLI endpoint
  (`CreateCliToken`, then a POST of the command to `https://<web server>/aws_mwaa/cli`). The
  `metadata_cleanup` DAG does exactly that for its own environment; its execution role may
  create CLI tokens for that environment only.
- **eks**: the official Helm chart's `databaseCleanup` CronJob runs `airflow db clean` with
  the metadata connection it already has (`airflow_settings.helm_values`); no DAG needed.

Rows older than the retention are deleted with `--skip-archive`: `db clean` would otherwise
copy them into `_airflow_deleted__*` tables in the same database, which then grows instead of
shrinking. The daily `metadata_backup` dump (03:30, before this runs) is the archive.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

RETENTION_VARIABLE = "metadata_cleanup_retention_days"
ENVIRONMENT_VARIABLE = "metadata_cleanup_environment"
DEFAULT_RETENTION_DAYS = 90
MIN_RETENTION_DAYS = 7
"""Below a week, a failed run could lose rows before anyone has looked at them."""
CLI_PATH = "/aws_mwaa/cli"
REQUEST_TIMEOUT_SECONDS = 1800
# Airflow's table names (db clean's own list); anything else is refused before a request.
_TABLE = re.compile(r"^[a-z_]+$")
# `db clean --dry-run` / `--verbose` report per table, e.g. "Found 12 rows meeting deletion
# criteria" after "Checking table dag_run".
_CHECKING = re.compile(r"Checking table (\w+)")
_FOUND = re.compile(r"Found (\d+) rows meeting deletion criteria")
# How `warnings` prints: "<file>:<line>: <Category>Warning: <message>".
_PY_WARNING = re.compile(r"^\S.*:\d+: \w*Warning: ")


class MetadataCleanupError(Exception):
    """The cleanup could not run or `db clean` failed; the message says which and why."""


@dataclass(frozen=True)
class CleanupOptions:
    """What to clean, and how."""

    retention_days: int = DEFAULT_RETENTION_DAYS
    tables: Sequence[str] = ()
    """Only these tables (db clean's names); empty: every table db clean knows."""
    dry_run: bool = False
    batch_size: int | None = 10_000
    """Rows per delete statement, so a large backlog never holds one long lock."""

    def __post_init__(self) -> None:
        if isinstance(self.retention_days, bool) or not isinstance(self.retention_days, int):
            raise MetadataCleanupError(
                f"retention must be a whole number of days, not {self.retention_days!r}"
            )
        if self.retention_days < MIN_RETENTION_DAYS:
            raise MetadataCleanupError(
                f"retention of {self.retention_days} days is below the minimum of "
                f"{MIN_RETENTION_DAYS}: rows a failed run needs would be gone"
            )
        bad = [table for table in self.tables if not _TABLE.match(table)]
        if bad:
            raise MetadataCleanupError(f"not a table name: {', '.join(map(repr, bad))}")
        if self.batch_size is not None and self.batch_size < 1:
            raise MetadataCleanupError(f"batch size must be at least 1, not {self.batch_size}")


@dataclass(frozen=True)
class CleanupResult:
    """What `db clean` printed, and the rows it reported per table."""

    command: str
    clean_before: datetime
    stdout: str
    stderr: str
    rows: dict[str, int] = field(default_factory=dict)
    """Rows meeting the deletion criteria, by table (deleted unless a dry run)."""


def clean_before(now: datetime, retention_days: int) -> datetime:
    """The cut-off: rows older than this go. Whole seconds, UTC."""
    return (now.astimezone(UTC) - timedelta(days=retention_days)).replace(microsecond=0)


def db_clean_command(before: datetime, options: CleanupOptions) -> str:
    """The `airflow db clean` arguments (without `airflow`), as MWAA's CLI endpoint takes them."""
    parts = [
        "db",
        "clean",
        "--clean-before-timestamp",
        before.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "--skip-archive",
        # Without it a table that fails to clean is only a warning and the command exits 0.
        "--error-on-cleanup-failure",
        "--verbose",
        "--yes",
    ]
    if options.tables:
        parts += ["--tables", ",".join(options.tables)]
    if options.batch_size is not None:
        parts += ["--batch-size", str(options.batch_size)]
    if options.dry_run:
        parts.append("--dry-run")
    return " ".join(parts)


def rows_by_table(output: str) -> dict[str, int]:
    """Per-table row counts from db clean's verbose output."""
    rows: dict[str, int] = {}
    table = None
    for line in output.splitlines():
        if checking := _CHECKING.search(line):
            table = checking.group(1)
        elif (found := _FOUND.search(line)) and table is not None:
            rows[table] = rows.get(table, 0) + int(found.group(1))
    return rows


def run_mwaa_cli(environment: str, command: str, *, mwaa: Any = None) -> tuple[str, str]:
    """Run an Airflow CLI command on an MWAA environment's CLI endpoint; (stdout, stderr).

    `mwaa` is a boto3 MWAA client (default: boto3's chain, so the usual AWS environment
    applies). The token is valid for 60 seconds and one request; AWS asks for one command
    at a time per environment, which `max_active_runs=1` on the DAG keeps.
    """
    import boto3
    import requests
    from botocore.exceptions import BotoCoreError, ClientError

    client = mwaa or boto3.client("mwaa")
    try:
        token = client.create_cli_token(Name=environment)
    except (BotoCoreError, ClientError) as error:
        raise MetadataCleanupError(
            f"CreateCliToken for MWAA environment {environment!r} failed: {error}"
        ) from None
    url = f"https://{token['WebServerHostname']}{CLI_PATH}"
    try:
        response = requests.post(
            url,
            data=command.encode(),
            headers={
                "Authorization": f"Bearer {token['CliToken']}",
                "Content-Type": "text/plain",
            },
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    except requests.RequestException as error:
        raise MetadataCleanupError(f"POST {url} failed: {error}") from None
    if response.status_code != 200:
        raise MetadataCleanupError(
            f"POST {url} answered {response.status_code}: {response.text[:500]}"
        )
    try:
        body = response.json()
        stdout = base64.b64decode(body.get("stdout", "")).decode(errors="replace")
        stderr = base64.b64decode(body.get("stderr", "")).decode(errors="replace")
    except ValueError as error:
        raise MetadataCleanupError(f"POST {url}: not the CLI endpoint's answer ({error})") from None
    return stdout, stderr


def failed(stderr: str) -> bool:
    """Whether the command failed. The CLI endpoint answers 200 whatever the exit status, and
    Airflow 3's CLI logs (warnings included) to stdout: what reaches stderr is an error
    message or a traceback, so anything there but Python warnings counts as a failure."""
    follows_warning = False
    for line in stderr.splitlines():
        if not line.strip():
            continue
        if _PY_WARNING.match(line):
            follows_warning = True
        elif follows_warning and line[:1].isspace():
            continue  # the source line `warnings` prints under its message
        else:
            return True
    return False


def clean_mwaa_metadata(
    environment: str,
    options: CleanupOptions,
    *,
    now: datetime | None = None,
    mwaa: Any = None,
) -> CleanupResult:
    """`airflow db clean` of rows older than the retention, on `environment`'s database."""
    before = clean_before(now or datetime.now(UTC), options.retention_days)
    command = db_clean_command(before, options)
    stdout, stderr = run_mwaa_cli(environment, command, mwaa=mwaa)
    if failed(stderr):
        raise MetadataCleanupError(
            f"`airflow {command}` failed on {environment}:\n{stderr.strip()[-2000:]}"
        )
    return CleanupResult(command, before, stdout, stderr, rows_by_table(stdout + stderr))


def runs_on_mwaa() -> bool:
    """Whether this DAG has work here: on eks stacks the chart's CronJob cleans the database
    (`[platform] runtime`, set by the stack; without it, assume MWAA and let the task say
    what is missing)."""
    from airflow.configuration import conf

    return conf.get("platform", "runtime", fallback="mwaa") == "mwaa"


def run_cleanup_task(dry_run: bool = False) -> dict[str, Any]:
    """The DAG's task: environment and retention from Variables, else `[platform]` options
    (the stack sets `environment_name` and `metadata_retention_days`), else defaults."""
    import logging

    from airflow.configuration import conf
    from airflow.sdk import Variable

    environment = Variable.get(ENVIRONMENT_VARIABLE, default=None) or conf.get(
        "platform", "environment_name", fallback=None
    )
    if not environment:
        raise MetadataCleanupError(
            f"no MWAA environment to clean: set the Variable {ENVIRONMENT_VARIABLE} or the "
            "option [platform] environment_name (the stack sets it)"
        )
    raw = Variable.get(RETENTION_VARIABLE, default=None) or conf.get(
        "platform", "metadata_retention_days", fallback=str(DEFAULT_RETENTION_DAYS)
    )
    try:
        retention = int(raw)
    except ValueError:
        raise MetadataCleanupError(
            f"{RETENTION_VARIABLE}/[platform] metadata_retention_days must be a whole number "
            f"of days (at least {MIN_RETENTION_DAYS}), not {raw!r}"
        ) from None
    result = clean_mwaa_metadata(environment, CleanupOptions(retention, dry_run=dry_run))
    total = sum(result.rows.values())
    logging.getLogger(__name__).info(
        "%s %d rows older than %s on %s: %s",
        "would delete" if dry_run else "deleted",
        total,
        result.clean_before.isoformat(),
        environment,
        ", ".join(f"{table} {rows}" for table, rows in sorted(result.rows.items())) or "none",
    )
    return {
        "environment": environment,
        "clean_before": result.clean_before.isoformat(),
        "dry_run": dry_run,
        "rows": result.rows,
    }
