"""What each tier supplies, so that a stack file states only what differs.

Two tables: `TIER_DEFAULTS`, config values in the stack file's own shape (camelCase), merged
under the stack's values; and `TEARDOWN`, the protection a tier gets, which no stack file can
change. The ephemeral row of `TEARDOWN` is the one place protection is turned off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_platform.config.model import Tier

TIER_DEFAULTS: dict[Tier, dict[str, Any]] = {
    Tier.EPHEMERAL: {
        "platform": "mwaa",
        "network": {"azCount": 2, "natGatewayPerAz": False, "flowLogs": False},
        "storage": {
            "logArchive": {
                "transitionToIaDays": 30,
                "transitionToGlacierDays": 60,
                "expireDays": 90,
                "noncurrentVersionExpireDays": 1,
            }
        },
        "backup": {"retentionDays": 1, "objectLock": False},
        "database": {
            "instanceClass": "db.t4g.micro",
            "allocatedStorageGb": 20,
            "maxAllocatedStorageGb": 50,
            "multiAz": False,
            "logRetentionDays": 7,
        },
        "mwaa": {
            "environmentClass": "mw1.micro",
            "minWorkers": 1,
            "maxWorkers": 1,
            "schedulers": 1,
            "webserverAccess": "PRIVATE_ONLY",
            "logLevel": "INFO",
            "taskLogLevel": "INFO",
            "logRetentionDays": 7,
        },
        "eks": {
            "publicAccessCidrs": [],
            "taskCapacityTypes": ["spot", "on-demand"],
            "logRetentionDays": 7,
        },
        "monitoring": {
            "alarms": {
                "unhealthyMinutes": 15,
                "databaseFreeStorageGb": 2,
                "databaseFreeMemoryMb": 64,
                "databaseConnections": 60,
                "queuedTasks": 10,
                "databaseCpuPercent": 80,
            },
            "probeLogRetentionDays": 7,
        },
        "encryption": {"customerManagedKey": False},
    },
    Tier.DEV: {
        "platform": "mwaa",
        "network": {"azCount": 2, "natGatewayPerAz": False, "flowLogs": False},
        "storage": {
            "logArchive": {
                "transitionToIaDays": 30,
                "transitionToGlacierDays": 90,
                "expireDays": 180,
                "noncurrentVersionExpireDays": 7,
            }
        },
        "backup": {"retentionDays": 7, "objectLock": False},
        "database": {
            "instanceClass": "db.t4g.micro",
            "allocatedStorageGb": 20,
            "maxAllocatedStorageGb": 100,
            "multiAz": False,
            "logRetentionDays": 30,
        },
        "mwaa": {
            "environmentClass": "mw1.small",
            "minWorkers": 1,
            "maxWorkers": 2,
            "schedulers": 2,
            "webserverAccess": "PRIVATE_ONLY",
            "logLevel": "INFO",
            "taskLogLevel": "DEBUG",
            "logRetentionDays": 30,
        },
        "eks": {
            "publicAccessCidrs": [],
            "taskCapacityTypes": ["spot", "on-demand"],
            "logRetentionDays": 30,
        },
        "monitoring": {
            "alarms": {
                "unhealthyMinutes": 10,
                "databaseFreeStorageGb": 2,
                "databaseFreeMemoryMb": 64,
                "databaseConnections": 60,
                "queuedTasks": 10,
                "databaseCpuPercent": 80,
            },
            "probeLogRetentionDays": 30,
        },
        "encryption": {"customerManagedKey": False},
    },
    Tier.STAGING: {
        "platform": "eks",
        "network": {"azCount": 2, "natGatewayPerAz": False, "flowLogs": False},
        "storage": {
            "logArchive": {
                "transitionToIaDays": 30,
                "transitionToGlacierDays": 90,
                "expireDays": 365,
                "noncurrentVersionExpireDays": 14,
            }
        },
        "backup": {"retentionDays": 14, "objectLock": False},
        "database": {
            "instanceClass": "db.t4g.medium",
            "allocatedStorageGb": 50,
            "maxAllocatedStorageGb": 200,
            "multiAz": False,
            "logRetentionDays": 30,
        },
        "mwaa": {
            "environmentClass": "mw1.medium",
            "minWorkers": 1,
            "maxWorkers": 5,
            "schedulers": 2,
            "webserverAccess": "PRIVATE_ONLY",
            "logLevel": "INFO",
            "taskLogLevel": "INFO",
            "logRetentionDays": 30,
        },
        "eks": {
            "publicAccessCidrs": [],
            "taskCapacityTypes": ["spot", "on-demand"],
            "logRetentionDays": 30,
        },
        "monitoring": {
            "alarms": {
                "unhealthyMinutes": 5,
                "databaseFreeStorageGb": 5,
                "databaseFreeMemoryMb": 256,
                "databaseConnections": 300,
                "queuedTasks": 20,
                "databaseCpuPercent": 80,
            },
            "probeLogRetentionDays": 30,
        },
        "encryption": {"customerManagedKey": False},
    },
    Tier.PROD: {
        "platform": "eks",
        "network": {
            "azCount": 3,
            "natGatewayPerAz": True,
            "flowLogs": True,
            "flowLogRetentionDays": 365,
        },
        "storage": {
            "logArchive": {
                "transitionToIaDays": 30,
                "transitionToGlacierDays": 90,
                "glacierClass": "GLACIER",
                "expireDays": 730,
                "noncurrentVersionExpireDays": 30,
            },
            # Who read or changed which object: the s3-access-logging policy requires it here.
            "accessLogging": True,
        },
        "backup": {"retentionDays": 35, "objectLock": True},
        "database": {
            "instanceClass": "db.m7g.large",
            "allocatedStorageGb": 100,
            "maxAllocatedStorageGb": 1000,
            "multiAz": True,
            "monitoringIntervalSeconds": 15,
            "logRetentionDays": 365,
        },
        "mwaa": {
            "environmentClass": "mw1.large",
            "minWorkers": 2,
            "maxWorkers": 10,
            "schedulers": 3,
            "webserverAccess": "PRIVATE_ONLY",
            "logLevel": "WARNING",
            "taskLogLevel": "INFO",
            "logRetentionDays": 365,
        },
        "eks": {
            "publicAccessCidrs": [],
            "taskCapacityTypes": ["on-demand"],
            "logRetentionDays": 365,
        },
        "monitoring": {
            "alarms": {
                "unhealthyMinutes": 3,
                "databaseFreeStorageGb": 10,
                "databaseFreeMemoryMb": 512,
                "databaseConnections": 600,
                "queuedTasks": 50,
                "databaseCpuPercent": 80,
            },
            "probeLogRetentionDays": 365,
        },
        "encryption": {"customerManagedKey": True},
    },
}


@dataclass(frozen=True)
class Teardown:
    """How a tier's resources behave on `pulumi destroy`."""

    protect_data: bool
    """Data stores (log archive, backups, the KMS key, the database) refuse deletion until
    unprotected; the database also gets RDS deletion protection and keeps its automated
    backups after it is deleted."""
    force_destroy: bool
    """Buckets are emptied and the database skips its final snapshot on delete, so a destroy
    leaves nothing behind. Everywhere else the database leaves a named final snapshot."""
    key_deletion_window_days: int = 30
    """Days a deleted KMS key stays recoverable (KMS allows 7-30): the longest where data may
    need it, the shortest on ephemeral stacks, whose keys encrypt nothing worth recovering."""


TEARDOWN: dict[Tier, Teardown] = {
    Tier.DEV: Teardown(protect_data=False, force_destroy=False),
    Tier.STAGING: Teardown(protect_data=False, force_destroy=False),
    Tier.PROD: Teardown(protect_data=True, force_destroy=False),
    Tier.EPHEMERAL: Teardown(protect_data=False, force_destroy=True, key_deletion_window_days=7),
}
