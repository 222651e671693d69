"""The stack configuration schema: every `airflow-platform:*` key a stack file may state.

Keys are camelCase in the stack file (Pulumi's convention) and snake_case in Python.
Each field's docstring is its entry in the README's config reference.
Tier defaults are not here but in `tiers.py`: a field's default below applies to every tier.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from airflow_platform.config.base import (
    ConfigModel,
    LogRetentionDays,
    RuleProblem,
    enforce,
    matches,
)
from airflow_platform.config.eks import CapacityType, EksConfig
from airflow_platform.config.monitoring import MonitoringConfig
from airflow_platform.config.mwaa import MwaaConfig, WebserverAccess
from airflow_platform.config.policy import PolicyConfig
from airflow_platform.config.windows import (
    parse_daily_window,
    parse_weekly_window,
    windows_overlap,
)


class Tier(StrEnum):
    """Which defaults a stack gets: sizes, retention, protection, teardown."""

    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"
    EPHEMERAL = "ephemeral"


class Platform(StrEnum):
    """Where Airflow runs."""

    MWAA = "mwaa"
    EKS = "eks"


class GlacierClass(StrEnum):
    """The archive class log files move to after Standard-IA."""

    GLACIER_IR = "GLACIER_IR"
    GLACIER = "GLACIER"
    DEEP_ARCHIVE = "DEEP_ARCHIVE"


REGION = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)(-gov)?-[a-z]+-\d$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$")
_TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{1,256}$")
_TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")


VpcId = Annotated[str, matches(_VPC_ID, "a VPC id such as vpc-0123456789abcdef0")]
SubnetId = Annotated[str, matches(_SUBNET_ID, "a subnet id such as subnet-0123456789abcdef0")]
TagValue = Annotated[
    str, matches(_TAG_VALUE, "1-256 letters, digits, spaces or the characters . : / = + - @ _")
]
Region = Annotated[str, matches(REGION, "a region such as eu-west-1")]


class ExistingVpc(ConfigModel):
    """An existing VPC to deploy into instead of creating one."""

    vpc_id: VpcId
    """Id of the VPC."""
    private_subnet_ids: list[SubnetId] = Field(min_length=2)
    """Private subnets with a route to a NAT, in at least two AZs (MWAA and RDS need two)."""
    public_subnet_ids: list[SubnetId] = Field(default_factory=list)
    """Public subnets, only needed for internet-facing load balancers."""


class NetworkConfig(ConfigModel):
    """`airflow-platform:network`: create a VPC, or use `existingVpc`."""

    vpc_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.0.0.0/16")
    """CIDR of a new VPC, /16 to /20; private subnets take 1/8 of it per AZ."""
    az_count: int = Field(default=2, ge=2, le=6)
    """Availability zones to spread subnets over (2-6)."""
    nat_gateway_per_az: bool = False
    """One NAT gateway per AZ (survives an AZ outage) instead of one shared NAT."""
    flow_logs: bool = False
    """Send VPC flow logs (all traffic) to a CloudWatch log group."""
    flow_log_retention_days: LogRetentionDays = 30
    """Retention of the flow-log group, one of CloudWatch's allowed values."""
    existing_vpc: ExistingVpc | None = None
    """Use this VPC instead of creating one; then no other network key may be set."""

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr_size(cls, cidr: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if not 16 <= cidr.prefixlen <= 20:
            raise ValueError("expected a prefix length from /16 to /20")
        if not cidr.is_private:
            raise ValueError("expected a private (RFC 1918) range")
        return cidr


class LogArchiveConfig(ConfigModel):
    """Lifecycle of the log-archive bucket."""

    transition_to_ia_days: int = Field(default=30, ge=30)
    """Days before a log object moves to Standard-IA (S3 requires at least 30)."""
    transition_to_glacier_days: int = 90
    """Days before it moves on to `glacierClass` (at least 30 after the IA transition)."""
    glacier_class: GlacierClass = GlacierClass.GLACIER_IR
    """Archive class: GLACIER_IR, GLACIER or DEEP_ARCHIVE."""
    expire_days: int = 180
    """Days after which log objects are deleted (prod: at least 365)."""
    noncurrent_version_expire_days: int = Field(default=30, ge=1)
    """Days a replaced or deleted version is kept."""
    abort_incomplete_upload_days: int = Field(default=7, ge=1, le=30)
    """Days after which an unfinished multipart upload is aborted."""

    @model_validator(mode="after")
    def _ordered(self, info: ValidationInfo) -> LogArchiveConfig:
        problems = []
        if self.transition_to_glacier_days < self.transition_to_ia_days + 30:
            problems.append(
                RuleProblem(
                    f"transitionToGlacierDays ({self.transition_to_glacier_days}) must be at "
                    f"least 30 days after transitionToIaDays ({self.transition_to_ia_days}): "
                    "S3 keeps objects 30 days in Standard-IA",
                    ("transitionToGlacierDays", "transitionToIaDays"),
                )
            )
        if self.expire_days <= self.transition_to_glacier_days:
            problems.append(
                RuleProblem(
                    f"expireDays ({self.expire_days}) must be after "
                    f"transitionToGlacierDays ({self.transition_to_glacier_days})",
                    ("expireDays", "transitionToGlacierDays"),
                )
            )
        enforce(self, info, problems)
        return self


class StorageConfig(ConfigModel):
    """`airflow-platform:storage`: the DAG, log-archive and backup buckets."""

    log_archive: LogArchiveConfig = LogArchiveConfig()
    """Lifecycle of the log-archive bucket."""
    access_logging: bool = False
    """S3 server access logs of the three buckets, kept in a fourth, `access-logs` bucket (SSE-S3,
    the only default encryption S3 delivers them under), with the log archive's lifecycle."""


class BackupConfig(ConfigModel):
    """`airflow-platform:backup`: how long metadata-database backups are kept."""

    retention_days: int = Field(default=7, ge=1, le=35)
    """Days backups are kept: RDS automated backups and dumps in the backup bucket (1-35;
    prod: at least 14)."""
    object_lock: bool = False
    """Object lock (governance mode, `retentionDays`) on the backup bucket against overwrite."""
    replica_region: Region | None = None
    """Prod only: also keep the database's automated backups in this region (not `aws:region`)."""


# Airflow 3 supports PostgreSQL 13-17 as its metadata database.
POSTGRES_MAJORS = range(13, 18)
# Performance Insights keeps 7 days (free), whole months of 31 days, or 731 days.
PERFORMANCE_INSIGHTS_RETENTION_DAYS = (7, *range(31, 714, 31), 731)
# Enhanced Monitoring's allowed granularities (0, off, is not offered).
MONITORING_INTERVALS = (1, 5, 10, 15, 30, 60)
_ENGINE_VERSION = re.compile(r"^(\d+)(\.\d+)?$")
_INSTANCE_CLASS = re.compile(r"^db\.[a-z0-9-]+\.[a-z0-9]+$")
# gp3's range for RDS PostgreSQL, in GiB.
_GP3_MIN_GB, _GP3_MAX_GB = 20, 65536


def _engine_version(value: str) -> str:
    match = _ENGINE_VERSION.fullmatch(value)
    if not match or int(match.group(1)) not in POSTGRES_MAJORS:
        raise ValueError(
            "expected a PostgreSQL major version Airflow supports, 13 to 17 (such as 16), "
            "optionally with a minor version (16.4)"
        )
    return value


def _daily_window(value: str) -> str:
    parse_daily_window(value)
    return value


def _weekly_window(value: str) -> str:
    parse_weekly_window(value)
    # RDS reports days in lowercase; stating them so keeps previews free of case-only diffs.
    return value.lower()


class DatabaseConfig(ConfigModel):
    """`airflow-platform:database`: the RDS PostgreSQL instance."""

    enabled: bool = True
    """Create the database. Only mwaa stacks may turn it off (MWAA has its own metadata
    database; this one is the DAGs' Postgres). On eks it is Airflow's metadata database."""
    engine_version: Annotated[str, AfterValidator(_engine_version)] = "16"
    """PostgreSQL version, 13-17 (Airflow 3's range); a major version alone takes RDS's
    current minor and lets minor upgrades happen in the maintenance window."""
    instance_class: Annotated[
        str, matches(_INSTANCE_CLASS, "an RDS instance class such as db.t4g.micro")
    ] = "db.t4g.micro"
    """RDS instance class, such as db.t4g.micro or db.m7g.large."""
    allocated_storage_gb: int = Field(default=20, ge=_GP3_MIN_GB, le=_GP3_MAX_GB)
    """Initial gp3 storage in GiB (20-65536)."""
    max_allocated_storage_gb: int = Field(default=100, le=_GP3_MAX_GB)
    """Storage autoscaling ceiling in GiB, at least 10% above `allocatedStorageGb`."""
    multi_az: bool = False
    """A synchronous standby in a second AZ (required in prod)."""
    performance_insights_retention_days: int = 7
    """Days Performance Insights keeps: 7 (free), a multiple of 31 up to 713, or 731."""
    slow_statement_ms: int = Field(default=1000, ge=0, le=2_147_483_647)
    """Statements running at least this long are logged (`log_min_duration_statement`)."""
    monitoring_interval_seconds: int = 60
    """Enhanced Monitoring granularity: 1, 5, 10, 15, 30 or 60 seconds."""
    log_retention_days: LogRetentionDays = 30
    """Retention of the exported PostgreSQL log groups, one of CloudWatch's allowed values."""
    backup_window: Annotated[str, AfterValidator(_daily_window)] = "02:00-03:00"
    """Daily automated-backup window, hh:mm-hh:mm UTC, at least 30 minutes."""
    maintenance_window: Annotated[str, AfterValidator(_weekly_window)] = "sun:04:00-sun:05:00"
    """Weekly maintenance window, ddd:hh:mm-ddd:hh:mm UTC, at least 30 minutes, not
    overlapping `backupWindow`."""

    @field_validator("performance_insights_retention_days")
    @classmethod
    def _pi_retention(cls, days: int) -> int:
        if days not in PERFORMANCE_INSIGHTS_RETENTION_DAYS:
            raise ValueError("expected 7, a multiple of 31 up to 713 (31, 62, ...), or 731")
        return days

    @field_validator("monitoring_interval_seconds")
    @classmethod
    def _monitoring_interval(cls, seconds: int) -> int:
        if seconds not in MONITORING_INTERVALS:
            raise ValueError(f"expected one of {', '.join(map(str, MONITORING_INTERVALS))}")
        return seconds

    @property
    def engine_major(self) -> int:
        """The PostgreSQL major version (the parameter group family's number)."""
        return int(self.engine_version.split(".")[0])

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> DatabaseConfig:
        problems = []
        # RDS refuses an autoscaling ceiling less than 10% above the allocated storage.
        if self.max_allocated_storage_gb * 10 < self.allocated_storage_gb * 11:
            problems.append(
                RuleProblem(
                    f"maxAllocatedStorageGb ({self.max_allocated_storage_gb}) must be at least "
                    f"10% above allocatedStorageGb ({self.allocated_storage_gb}): RDS refuses "
                    "a lower autoscaling ceiling",
                    ("maxAllocatedStorageGb", "allocatedStorageGb"),
                )
            )
        if windows_overlap(
            parse_daily_window(self.backup_window), parse_weekly_window(self.maintenance_window)
        ):
            problems.append(
                RuleProblem(
                    f"backupWindow ({self.backup_window}) overlaps maintenanceWindow "
                    f"({self.maintenance_window}) on at least one day: RDS needs them apart",
                    ("backupWindow", "maintenanceWindow"),
                )
            )
        enforce(self, info, problems)
        return self


class EncryptionConfig(ConfigModel):
    """`airflow-platform:encryption`: which keys encrypt data at rest."""

    customer_managed_key: bool = False
    """Create the project's KMS key (rotated) and use it for buckets and log groups;
    otherwise S3-managed keys (SSE-S3) are used."""


class EphemeralConfig(ConfigModel):
    """`airflow-platform:ephemeral`: time-to-live of an ephemeral stack."""

    ttl_hours: int = Field(default=72, ge=1, le=720)
    """Hours from the last deploy until the stack expires, its `expires-at` tag (1-720)."""
    expires_at: datetime | None = None
    """Fixed expiry time (ISO 8601, UTC) instead of now + `ttlHours`."""

    @field_validator("expires_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("expected a time with a zone, such as 2026-12-01T00:00:00Z")
        return value.astimezone(UTC) if value else None


RESERVED_TAGS = frozenset({"project", "stack", "tier", "owner", "expires-at", "Name"})


def _tag_keys(tags: dict[str, TagValue]) -> dict[str, TagValue]:
    for key in tags:
        if key in RESERVED_TAGS:
            raise ValueError(f"tag {key!r} is set by the platform; choose another key")
        if not _TAG_KEY.fullmatch(key) or key.startswith("aws:"):
            raise ValueError(f"tag key {key!r} is not a valid AWS tag key")
    return tags


class PlatformConfig(ConfigModel):
    """All `airflow-platform:*` keys of a stack, after tier defaults are applied."""

    tier: Tier
    """dev, staging, prod or ephemeral. Stacks named pr-<number> are ephemeral and need no file."""
    platform: Platform
    """mwaa or eks (tier default: mwaa for dev and ephemeral, eks for staging and prod)."""
    owner: TagValue = "data-platform"
    """Team that owns the stack; the `owner` tag of every resource."""
    tags: Annotated[dict[str, TagValue], AfterValidator(_tag_keys)] = Field(default_factory=dict)
    """Extra tags for every resource (the platform's own tags cannot be overridden)."""
    network: NetworkConfig = NetworkConfig()
    """The VPC."""
    storage: StorageConfig = StorageConfig()
    """The buckets."""
    backup: BackupConfig = BackupConfig()
    """Backup retention and protection."""
    database: DatabaseConfig = DatabaseConfig()
    """The RDS PostgreSQL database."""
    encryption: EncryptionConfig = EncryptionConfig()
    """Keys for data at rest."""
    ephemeral: EphemeralConfig = EphemeralConfig()
    """Time-to-live; only read on ephemeral stacks."""
    mwaa: MwaaConfig = MwaaConfig()
    """The MWAA environment; only read on mwaa stacks."""
    eks: EksConfig = EksConfig()
    """The EKS cluster; only read on eks stacks."""
    monitoring: MonitoringConfig = MonitoringConfig()
    """Alarms, their thresholds and where they are sent."""
    policy: PolicyConfig = PolicyConfig()
    """Waivers of the policy rules (`airflow-platform policy list`)."""

    @model_validator(mode="after")
    def _tier_floors(self, info: ValidationInfo) -> PlatformConfig:
        # Floors that hold whatever the stack file says: prod keeps a year of logs, two
        # weeks of database backups and a standby in a second AZ.
        prod = self.tier is Tier.PROD
        problems = []
        if prod and self.storage.log_archive.expire_days < 365:
            problems.append(
                RuleProblem(
                    "airflow-platform:storage.logArchive.expireDays = "
                    f"{self.storage.log_archive.expire_days} is not allowed: "
                    "prod keeps logs at least 365 days",
                    ("storage.logArchive.expireDays", "tier"),
                )
            )
        if prod and self.backup.retention_days < 14:
            problems.append(
                RuleProblem(
                    f"airflow-platform:backup.retentionDays = {self.backup.retention_days} is "
                    "not allowed: prod keeps database backups at least 14 days",
                    ("backup.retentionDays", "tier"),
                )
            )
        if prod and self.database.enabled and not self.database.multi_az:
            problems.append(
                RuleProblem(
                    "airflow-platform:database.multiAz = False is not allowed: "
                    "prod runs the database with a standby in a second AZ",
                    ("database.multiAz", "database.enabled", "tier"),
                )
            )
        if not self.database.enabled and self.platform is Platform.EKS:
            problems.append(
                RuleProblem(
                    "airflow-platform:database.enabled = False is not allowed on platform eks: "
                    "there the database is Airflow's metadata database (only mwaa may turn it "
                    "off)",
                    ("database.enabled", "platform"),
                )
            )
        replica = self.backup.replica_region
        if replica is not None and not prod:
            problems.append(
                RuleProblem(
                    f"airflow-platform:backup.replicaRegion = {replica!r} is not allowed on tier "
                    f"{self.tier.value}: cross-region backup copies are for prod only",
                    ("backup.replicaRegion", "tier"),
                )
            )
        if replica is not None and not self.database.enabled:
            problems.append(
                RuleProblem(
                    f"airflow-platform:backup.replicaRegion = {replica!r} is not allowed with "
                    "database.enabled = False: it replicates the database's backups",
                    ("backup.replicaRegion", "database.enabled"),
                )
            )
        if (
            self.tier in {Tier.PROD, Tier.STAGING}
            and self.mwaa.webserver_access is not WebserverAccess.PRIVATE_ONLY
        ):
            problems.append(
                RuleProblem(
                    "airflow-platform:mwaa.webserverAccess = "
                    f"{self.mwaa.webserver_access.value} is not allowed on tier "
                    f"{self.tier.value}: its Airflow UI stays PRIVATE_ONLY",
                    ("mwaa.webserverAccess", "tier"),
                )
            )
        problems += self._eks_floors()
        problems += self._monitoring_rules()
        enforce(self, info, problems)
        return self

    def _monitoring_rules(self) -> list[RuleProblem]:
        """Staging and prod alarms reach people; a free-storage threshold must be reachable."""
        monitoring, problems = self.monitoring, []
        if self.tier in {Tier.PROD, Tier.STAGING} and monitoring.slack is None:
            problems.append(
                RuleProblem(
                    "airflow-platform:monitoring.slack is required on tier "
                    f"{self.tier.value}: its alarms go to a Slack channel (set "
                    "monitoring.slack.workspaceId and monitoring.slack.channelId)",
                    ("monitoring.slack", "tier"),
                )
            )
        free_gb = monitoring.alarms.database_free_storage_gb
        if self.database.enabled and free_gb >= self.database.allocated_storage_gb:
            problems.append(
                RuleProblem(
                    "airflow-platform:monitoring.alarms.databaseFreeStorageGb = "
                    f"{free_gb} must be below database.allocatedStorageGb "
                    f"({self.database.allocated_storage_gb}), or the alarm fires from the start",
                    ("monitoring.alarms.databaseFreeStorageGb", "database.allocatedStorageGb"),
                )
            )
        return problems

    def _eks_floors(self) -> list[RuleProblem]:
        """Prod's cluster: no public endpoint, task pods on on-demand capacity (spot can be
        reclaimed mid-task), control-plane logs kept a year."""
        if self.tier is not Tier.PROD:
            return []
        eks, problems = self.eks, []
        if eks.public_access_cidrs:
            problems.append(
                RuleProblem(
                    f"airflow-platform:eks.publicAccessCidrs = {eks.public_access_cidrs} is not "
                    "allowed: prod's Kubernetes API endpoint is private only (deploy from inside "
                    "the VPC as eks.deployerRoleArn)",
                    ("eks.publicAccessCidrs", "tier"),
                )
            )
        if CapacityType.SPOT in eks.task_capacity_types:
            problems.append(
                RuleProblem(
                    "airflow-platform:eks.taskCapacityTypes = "
                    f"{[c.value for c in eks.task_capacity_types]} is not allowed: prod runs "
                    "tasks on on-demand capacity only (spot instances can be reclaimed mid-task)",
                    ("eks.taskCapacityTypes", "tier"),
                )
            )
        if eks.log_retention_days < 365:
            problems.append(
                RuleProblem(
                    f"airflow-platform:eks.logRetentionDays = {eks.log_retention_days} is not "
                    "allowed: prod keeps control-plane logs at least 365 days",
                    ("eks.logRetentionDays", "tier"),
                )
            )
        return problems
