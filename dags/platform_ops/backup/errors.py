"""Errors of backups and restores. Their messages are complete sentences meant for an
operator (and the Airflow task log): what failed, what was cleaned up, never a password."""

from __future__ import annotations

from botocore.exceptions import ClientError


class BackupError(RuntimeError):
    """A backup failed; the message says why and what was left behind (normally nothing)."""


class RestoreError(BackupError):
    """A restore failed or was refused; the message says why and the state of the target."""


class RestoreDrillError(BackupError):
    """A restore drill failed: the dump did not restore, or restored to other data than its
    manifest recorded (the message lists every difference), or the drill could not run."""


class MetricsError(BackupError):
    """The dump was stored and verified, but its CloudWatch metrics could not be published."""


def describe_error(error: BaseException) -> str:
    """One line for an operator: S3's error code and message, else the exception text."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        operation = getattr(error, "operation_name", "S3")
        return f"{operation} returned {info.get('Code')}: {info.get('Message')}"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    text = str(error).strip().rstrip(".")
    return text or type(error).__name__
