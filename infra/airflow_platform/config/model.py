"""The stack configuration schema: every `airflow-platform:*` key a stack file may state.

Keys are camelCase in the stack file (Pulumi's convention) and snake_case in Python.
Each field's docstring is its entry in the README's config reference.
Tier defaults are not here but in `tiers.py`: a field's default below applies to every tier.
"""

from __future__ import annotations

import inspect
import ipaddress
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel


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


# CloudWatch Logs accepts only these retention values (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip

_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$")
_TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{1,256}$")
_TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")


def _matches(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"expected {what}")
        return value

    return AfterValidator(check)


VpcId = Annotated[str, _matches(_VPC_ID, "a VPC id such as vpc-0123456789abcdef0")]
SubnetId = Annotated[str, _matches(_SUBNET_ID, "a subnet id such as subnet-0123456789abcdef0")]
TagValue = Annotated[
    str, _matches(_TAG_VALUE, "1-256 letters, digits, spaces or the characters . : / = + - @ _")
]


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The config section a field holds (`NetworkConfig` for `NetworkConfig | None`), if any."""
    for candidate in (annotation, *(getattr(annotation, "__args__", ()) or ())):
        if inspect.isclass(candidate) and issubclass(candidate, BaseModel):
            return candidate
    return None


class ConfigModel(BaseModel):
    """Base of every config section: camelCase keys, unknown keys refused, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


class ExistingVpc(ConfigModel):
    """An existing VPC to deploy into instead of creating one."""

    vpc_id: VpcId
    """Id of the VPC."""
    private_subnet_ids: list[SubnetId] = Field(min_length=2)
    """Private subnets with a route to a NAT, in at least two AZs (MWAA and RDS need two)."""
    public_subnet_ids: list[SubnetId] = []
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
    flow_log_retention_days: int = 30
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

    @field_validator("flow_log_retention_days")
    @classmethod
    def _retention_allowed(cls, days: int) -> int:
        if days not in LOG_RETENTION_DAYS:
            raise ValueError(f"expected one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return days


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
    def _ordered(self) -> LogArchiveConfig:
        if self.transition_to_glacier_days < self.transition_to_ia_days + 30:
            raise ValueError(
                f"transitionToGlacierDays ({self.transition_to_glacier_days}) must be at least "
                f"30 days after transitionToIaDays ({self.transition_to_ia_days}): "
                "S3 keeps objects 30 days in Standard-IA"
            )
        if self.expire_days <= self.transition_to_glacier_days:
            raise ValueError(
                f"expireDays ({self.expire_days}) must be after "
                f"transitionToGlacierDays ({self.transition_to_glacier_days})"
            )
        return self


class StorageConfig(ConfigModel):
    """`airflow-platform:storage`: the DAG, log-archive and backup buckets."""

    log_archive: LogArchiveConfig = LogArchiveConfig()
    """Lifecycle of the log-archive bucket."""


class BackupConfig(ConfigModel):
    """`airflow-platform:backup`: how long metadata-database backups are kept."""

    retention_days: int = Field(default=7, ge=1, le=35)
    """Days backups are kept: RDS automated backups and dumps in the backup bucket (1-35)."""
    object_lock: bool = False
    """Object lock (governance mode, `retentionDays`) on the backup bucket against overwrite."""


class EncryptionConfig(ConfigModel):
    """`airflow-platform:encryption`: which keys encrypt data at rest."""

    customer_managed_key: bool = False
    """Create the project's KMS key (rotated) and use it for buckets and log groups;
    otherwise S3-managed keys (SSE-S3) are used."""


class EphemeralConfig(ConfigModel):
    """`airflow-platform:ephemeral`: time-to-live of an ephemeral stack."""

    ttl_hours: int = Field(default=72, ge=1, le=720)
    """Hours from the last deploy until the reaper may destroy the stack (1-720)."""
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
    tags: Annotated[dict[str, TagValue], AfterValidator(_tag_keys)] = {}
    """Extra tags for every resource (the platform's own tags cannot be overridden)."""
    network: NetworkConfig = NetworkConfig()
    """The VPC."""
    storage: StorageConfig = StorageConfig()
    """The buckets."""
    backup: BackupConfig = BackupConfig()
    """Backup retention and protection."""
    encryption: EncryptionConfig = EncryptionConfig()
    """Keys for data at rest."""
    ephemeral: EphemeralConfig = EphemeralConfig()
    """Time-to-live; only read on ephemeral stacks."""

    @model_validator(mode="after")
    def _tier_floors(self) -> PlatformConfig:
        # Floors that hold whatever the stack file says: prod keeps a year of logs.
        if self.tier is Tier.PROD and self.storage.log_archive.expire_days < 365:
            raise ValueError(
                "airflow-platform:storage.logArchive.expireDays = "
                f"{self.storage.log_archive.expire_days} is not allowed: "
                "prod keeps logs at least 365 days"
            )
        return self
