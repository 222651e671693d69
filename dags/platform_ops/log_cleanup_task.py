"""The log_cleanup DAG's task: resolve the folders, retention and archive, then `clean_logs`.

Where things come from (first found wins):

* the folders: the Variable `log_cleanup_folders` (paths separated by commas or newlines),
  else the Airflow options `[logging] base_log_folder` and
  `[logging] dag_processor_child_process_log_directory` (Airflow 3's name for Airflow 2's
  `[scheduler] child_process_log_directory`; by default `{AIRFLOW_HOME}/logs/dag_processor`,
  inside the first, and then cleaned as a folder of its own). A folder that does not exist on
  the worker running the task is skipped with a warning (a worker may never have run the
  DAG processor); none existing is an error;
* the retention in days: the Variable `log_cleanup_retention_days`, else the Airflow option
  `[platform] log_retention_days` (the stack sets it by tier), else 30;
* the archive: the Variable `log_cleanup_archive` (`s3://bucket/prefix`, or `none` to turn
  archiving off), else the Airflow option `[platform] log_archive_bucket` (the stack's
  log-archive bucket) with the prefix `airflow-logs`, else no archive.

Airflow is imported inside `run_cleanup_task` only, so this module and its tests need no
Airflow installation.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from platform_ops.log_cleanup import (
    ArchiveTarget,
    CleanupOptions,
    CleanupReport,
    LogCleanupError,
    clean_logs,
)

log = logging.getLogger(__name__)

FOLDERS_VARIABLE = "log_cleanup_folders"
RETENTION_VARIABLE = "log_cleanup_retention_days"
ARCHIVE_VARIABLE = "log_cleanup_archive"
CONFIG_SECTION = "platform"
RETENTION_OPTION = "log_retention_days"
ARCHIVE_BUCKET_OPTION = "log_archive_bucket"
FOLDER_OPTIONS = (
    ("logging", "base_log_folder"),
    ("logging", "dag_processor_child_process_log_directory"),
)
DEFAULT_RETENTION_DAYS = 30
DEFAULT_ARCHIVE_PREFIX = "airflow-logs"
NO_ARCHIVE = "none"
# Errors shown in the failure (and so in the Slack alert); the task log has the report.
ERRORS_IN_MESSAGE = 5


class LogCleanupConfigError(LogCleanupError):
    """A Variable or option the task reads has a value it cannot use."""


class LogCleanupRunError(RuntimeError):
    """The cleanup ran but met errors (what it could do, it did)."""


VariableLookup = Callable[[str], str | None]
OptionLookup = Callable[[str, str], str | None]


@dataclass(frozen=True)
class TaskSettings:
    """What the task cleans, once resolved."""

    folders: tuple[str, ...]
    older_than_days: int
    archive: ArchiveTarget | None


def _folders(variable: VariableLookup, option: OptionLookup) -> tuple[str, ...]:
    text = variable(FOLDERS_VARIABLE)
    if text and text.strip():
        found = [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]
    else:
        found = [value.strip() for s, k in FOLDER_OPTIONS if (value := option(s, k))]
    folders = tuple(dict.fromkeys(found))  # in order, once
    if not folders:
        raise LogCleanupConfigError(
            f"no log folder: set the Variable {FOLDERS_VARIABLE!r} or the Airflow option "
            "[logging] base_log_folder"
        )
    return folders


def _retention(variable: VariableLookup, option: OptionLookup) -> int:
    sources = [
        (f"Variable {RETENTION_VARIABLE!r}", variable(RETENTION_VARIABLE)),
        (f"Airflow option [{CONFIG_SECTION}] {RETENTION_OPTION}",
         option(CONFIG_SECTION, RETENTION_OPTION)),
    ]  # fmt: skip
    for source, text in sources:
        if text is None or not text.strip():
            continue
        try:
            days = int(text.strip())
        except ValueError:
            days = 0
        if days < 1:
            raise LogCleanupConfigError(
                f"{source} is {text!r}; expected a whole number of days, at least 1"
            )
        return days
    return DEFAULT_RETENTION_DAYS


def _archive(variable: VariableLookup, option: OptionLookup) -> ArchiveTarget | None:
    text = (variable(ARCHIVE_VARIABLE) or "").strip()
    if text.lower() == NO_ARCHIVE:
        return None
    if text:
        try:
            return ArchiveTarget.parse(text)
        except LogCleanupError as error:
            raise LogCleanupConfigError(
                f"Variable {ARCHIVE_VARIABLE!r}: {error} (or {NO_ARCHIVE!r} for no archive)"
            ) from None
    bucket = (option(CONFIG_SECTION, ARCHIVE_BUCKET_OPTION) or "").strip()
    if not bucket:
        return None
    try:
        return ArchiveTarget.parse(f"s3://{bucket}/{DEFAULT_ARCHIVE_PREFIX}")
    except LogCleanupError as error:
        raise LogCleanupConfigError(
            f"Airflow option [{CONFIG_SECTION}] {ARCHIVE_BUCKET_OPTION}: {error}"
        ) from None


def resolve_settings(variable: VariableLookup, option: OptionLookup) -> TaskSettings:
    """Folders, retention and archive from Variables (`variable(name)`) over Airflow options
    (`option(section, key)`), over the defaults; LogCleanupConfigError names a bad value."""
    return TaskSettings(
        folders=_folders(variable, option),
        older_than_days=_retention(variable, option),
        archive=_archive(variable, option),
    )


def existing_folders(folders: tuple[str, ...]) -> tuple[str, ...]:
    """The folders present on this machine, warning about the others; an error when none is."""
    present = tuple(f for f in folders if os.path.isdir(f))
    for missing in sorted(set(folders) - set(present)):
        log.warning("log folder %s does not exist on this worker; skipped", missing)
    if not present:
        raise LogCleanupConfigError(
            f"none of the log folders exists on this worker: {', '.join(folders)}"
        )
    return present


def failure_message(report: CleanupReport) -> str:
    """Why the task fails: the count and the first few errors, each naming its path."""
    shown = "; ".join(report.errors[:ERRORS_IN_MESSAGE])
    more = report.error_count - min(len(report.errors), ERRORS_IN_MESSAGE)
    return f"log cleanup met {report.error_count} errors: {shown}" + (
        f"; and {more} more (see the task log)" if more > 0 else ""
    )


def run_cleanup_task(dry_run: bool = False) -> dict:
    """The log_cleanup DAG's task body: resolve the settings, clean, return the report."""
    from airflow.sdk import Variable, conf

    settings = resolve_settings(
        lambda name: Variable.get(name, default=None),
        lambda section, key: conf.get(section, key, fallback=None),
    )
    options = CleanupOptions(
        folders=existing_folders(settings.folders),
        older_than_days=settings.older_than_days,
        archive=settings.archive,
        dry_run=dry_run,
    )
    log.info(
        "cleaning %s: files older than %d days%s%s",
        ", ".join(options.folders), options.older_than_days,
        f", archived to {options.archive} first" if options.archive else "",
        " (dry run)" if dry_run else "",
    )  # fmt: skip
    report = clean_logs(options)
    log.info("%s", report.summary())
    for error in report.errors:
        log.error("%s", error)
    if not report.ok:
        raise LogCleanupRunError(failure_message(report))
    return report.as_dict()
