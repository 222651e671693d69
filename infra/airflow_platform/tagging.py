"""Tags, merged in one place: stack tags + component tags + a Name."""

from __future__ import annotations

from collections.abc import Mapping

from airflow_platform.config import Settings

EXPIRES_AT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def stack_tags(settings: Settings) -> dict[str, str]:
    """The tags every resource of the stack carries (the reaper reads `expires-at`)."""
    tags = {
        **settings.config.tags,
        "project": settings.project,
        "stack": settings.stack,
        "tier": settings.tier.value,
        "owner": settings.config.owner,
    }
    if settings.expires_at is not None:
        tags["expires-at"] = settings.expires_at.strftime(EXPIRES_AT_FORMAT)
    return tags


def without_expiry(tags: Mapping[str, str]) -> dict[str, str]:
    """The stack's tags less `expires-at`, for what a new tag value would replace rather than
    retag: an Auto Mode NodeClass (changed tags are drift, so every task node would be
    replaced on every deploy of an ephemeral stack, whose expiry moves each time) and a
    StorageClass (immutable, so recreated). `project` and `stack`, which the orphan audit and
    the destroy's waits look for, stay; the reaper reads the expiry from the stack's
    `expiresAt` output, not from these tags."""
    return {key: value for key, value in tags.items() if key != "expires-at"}


def resource_tags(
    base: Mapping[str, str], name: str, component: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Tags for one resource; the stack's own tags win over a component's."""
    return {**(component or {}), **base, "Name": name}
