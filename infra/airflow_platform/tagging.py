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


def resource_tags(
    base: Mapping[str, str], name: str, component: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Tags for one resource; the stack's own tags win over a component's."""
    return {**(component or {}), **base, "Name": name}
