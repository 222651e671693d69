"""Logical backups of the metadata database: pg_dump streamed to S3 and restored from it.

The backup DAG's task and `airflow-platform backup` call the same function:

    from platform_ops.backup import BackupSettings, run_backup

    result = run_backup(BackupSettings(dsn=dsn, bucket=bucket))  # -> BackupResult

and `airflow-platform restore` calls `run_restore(RestoreSettings(...))`. Each dump has a
manifest beside it (`manifest.py`: row counts and checksums taken in the dump's snapshot,
`fingerprint.py`), which the restore drill (`platform_ops.restore_drill`) checks a restore
against. Metric names and dimensions: `metrics.py`.
"""

from platform_ops.backup.backup import (
    DEFAULT_NAMESPACE,
    DEFAULT_PART_SIZE,
    BackupResult,
    BackupSettings,
    run_backup,
)
from platform_ops.backup.conninfo import ConnInfo, ConnInfoError
from platform_ops.backup.errors import (
    BackupError,
    MetricsError,
    RestoreDrillError,
    RestoreError,
)
from platform_ops.backup.location import DEFAULT_PREFIX, LocationError, S3Location
from platform_ops.backup.restore import RestoreResult, RestoreSettings, run_restore
from platform_ops.backup.s3 import AwsClients

__all__ = [
    "DEFAULT_NAMESPACE",
    "DEFAULT_PART_SIZE",
    "DEFAULT_PREFIX",
    "AwsClients",
    "BackupError",
    "BackupResult",
    "BackupSettings",
    "ConnInfo",
    "ConnInfoError",
    "LocationError",
    "MetricsError",
    "RestoreDrillError",
    "RestoreError",
    "RestoreResult",
    "RestoreSettings",
    "S3Location",
    "run_backup",
    "run_restore",
]
