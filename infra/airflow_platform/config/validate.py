"""Validation in rounds, so every problem is found at once.

Pydantic runs a model's after-validators (the rules across keys, the tier floors) only when
all its fields are valid, so a bad value would hide every rule above it. `validate` reports
each invalid value, resets it to its tier default and validates again; rules are collected,
not raised (`RuleCollector`), and dropped only when they read a value that was reset.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from airflow_platform.config.base import RuleCollector
from airflow_platform.config.keys import (
    MISSING,
    NAMESPACE,
    Path,
    allowed_keys,
    deep_merge,
    field_at,
    field_path,
    leaf_paths,
    lookup,
    overlaps,
    unknown_key,
)
from airflow_platform.config.model import PlatformConfig, Tier
from airflow_platform.config.tiers import TIER_DEFAULTS

# Validation rounds before giving up on resetting invalid values (each round resets more).
_MAX_ROUNDS = 5


_TIER: Path = ("tier",)


def validate(
    user: Mapping[str, Any], tier: Tier | None
) -> tuple[PlatformConfig | None, list[tuple[Path, str]], set[Path]]:
    """Validate the stack's values over its tier's defaults, finding every problem at once.

    Pydantic runs a model's after-validators (the rules across keys, the tier floors) only
    when all its fields are valid, so a bad value would hide every rule above it. So each
    invalid value is reported, then reset to its tier default (or removed, so the schema's
    default applies) and the whole config validated again; the rules, collected rather than
    raised (`RuleCollector`), are reported from the round that validates, except those that
    read a reset value: no rule complains about a value the stack file did not state.
    Returns the config (None if no round validated), the problems by key, and the reset keys.
    """
    defaults = TIER_DEFAULTS[tier or Tier.DEV]
    data = deep_merge(defaults, user) | {"tier": (tier or Tier.DEV).value}
    reset: set[Path] = set()
    if tier is None:
        # Without a tier, dev's defaults stand in to check the stated values, and every value
        # the file leaves to them counts as reset.
        reset = {_TIER} | {path for path in leaf_paths(defaults) if lookup(user, path) is MISSING}
    found: list[tuple[Path, str]] = []
    for _ in range(_MAX_ROUNDS):
        collector = RuleCollector()
        try:
            config = PlatformConfig.model_validate(data, context=collector)
        except ValidationError as error:
            fixes = set()
            for item in error.errors():
                path = field_path(item["loc"])
                found.append((path, _describe(item)))
                fixes.add(_reset_target(path, defaults))
            fixes -= {_TIER, ()}
            if fixes <= reset:
                break
            reset |= fixes
            data = _reset(data, fixes, defaults)
            continue
        places = _places(config)
        for model, problem in collector.found:
            section = places.get(id(model))
            if section is None:  # not expected: every validated section sits in the config
                found.append(((), problem.message))
                continue
            paths = [(*section, *key.split(".")) for key in problem.keys]
            if any(overlaps(path, done) for path in paths for done in reset):
                continue
            where = f"{NAMESPACE}:{'.'.join(section)}: " if section else ""
            found.append((paths[0], where + problem.message))
        return config, found, reset
    return None, found, reset


def _reset_target(path: Path, defaults: Mapping[str, Any]) -> Path:
    # A required key without a tier default cannot be reset alone: its section is.
    while path and lookup(defaults, path) is MISSING:
        field = field_at(path)
        if field is None or not field.is_required():
            break
        path = path[:-1]
    return path


def _reset(data: Mapping[str, Any], paths: set[Path], defaults: Mapping[str, Any]) -> dict:
    """`data` with each path set to its tier default, or removed where the tier has none."""
    data = copy.deepcopy(dict(data))
    for path in sorted(paths, key=len):
        default = lookup(defaults, path)
        node: Any = data
        for part in path[:-1]:
            if part not in node and default is not MISSING:
                node[part] = {}
            node = node.get(part) if isinstance(node, dict) else None
            if not isinstance(node, dict):
                break
        else:
            if default is MISSING:
                node.pop(path[-1], None)
            else:
                node[path[-1]] = copy.deepcopy(default)
    return data


def _places(model: BaseModel, path: Path = ()) -> dict[int, Path]:
    """Where each section of a validated config sits, by the section object's identity."""
    places = {id(model): path}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            places |= _places(value, (*path, field.alias or name))
    return places


def _describe(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error["loc"]]
    key = f"{NAMESPACE}:{'.'.join(loc)}" if loc else NAMESPACE
    if error["type"] == "extra_forbidden":
        return unknown_key(key, loc[-1], allowed_keys(loc[:-1]))
    if error["type"] == "missing":
        return f"{key} is required"
    message = str(error["msg"]).removeprefix("Value error, ")
    if not loc:  # a rule across several keys; its message names them
        return message
    if isinstance(error["input"], Mapping):  # a rule across the keys of one section
        return f"{key}: {message}"
    return f"{key} = {error['input']!r} is not allowed: {message}"
