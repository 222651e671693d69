"""Typed, validated stack configuration."""

from airflow_platform.config.load import (
    NAMESPACE,
    ConfigError,
    Settings,
    load_settings,
    settings_from_values,
)
from airflow_platform.config.model import Platform, PlatformConfig, Tier
from airflow_platform.config.tiers import TEARDOWN, TIER_DEFAULTS, Teardown

__all__ = [
    "NAMESPACE",
    "TEARDOWN",
    "TIER_DEFAULTS",
    "ConfigError",
    "Platform",
    "PlatformConfig",
    "Settings",
    "Teardown",
    "Tier",
    "load_settings",
    "settings_from_values",
]
