"""Flat dotted keys (`pulumi config set network.azCount 3`, without `--path`) turned into the
nested config they name, with the problems of the keys themselves: a key set both flat and
nested, a flat key under a single value, a flat key the schema does not know."""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from airflow_platform.config.keys import (
    NAMESPACE,
    Path,
    Resolved,
    Unresolved,
    deep_merge,
    dotted,
    fields_of,
    resolve,
    unknown_key,
)
from airflow_platform.config.model import PlatformConfig


def nest(ours: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The stack's keys as the nested config they name, and problems with the keys.

    Flat dotted keys (what `pulumi config set network.azCount 3` writes without --path) go
    where they point; JSON text where the schema expects an object or list is parsed (Pulumi
    stores such values as text); a key given both flat and nested is refused, naming both.
    """
    problems: list[str] = []
    known = fields_of(PlatformConfig)
    tree: dict[str, Any] = {}
    owners: dict[Path, str] = {}
    for key in sorted(key for key in ours if "." not in key):
        if key not in known:
            problems.append(unknown_key(f"{NAMESPACE}:{key}", key, sorted(known)))
            continue
        tree[key] = _parsed(copy.deepcopy(ours[key]), resolve(key))
        owners[(key,)] = f"{NAMESPACE}:{key}"
    for key in sorted(key for key in ours if "." in key):
        target = resolve(key)
        if isinstance(target, Unresolved):
            problems.append(_unknown_flat_key(key, target, ours[key]))
            continue
        value = _parsed(copy.deepcopy(ours[key]), target)
        problem = _insert(tree, owners, target.path, value, key)
        if problem is not None:
            problems.append(problem)
    return tree, problems


def _parsed(value: Any, target: Resolved | Unresolved) -> Any:
    if isinstance(target, Resolved) and target.structured and isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if isinstance(parsed, dict | list):
            return parsed
    return value


def _insert(
    tree: dict[str, Any], owners: dict[Path, str], path: Path, value: Any, key: str
) -> str | None:
    """Put a flat key's value at its path; or say why not (the place is already taken)."""
    node = tree
    for depth, part in enumerate(path):
        here = path[: depth + 1]
        last = depth == len(path) - 1
        if part not in node:
            node[part] = value if last else {}
            if last:
                owners[path] = f"{NAMESPACE}:{key}"
                return None
            node = node[part]
            continue
        existing = node[part]
        if last and isinstance(existing, Mapping) and isinstance(value, Mapping):
            both = _first_shared(existing, value)
            if both is None:
                node[part] = deep_merge(existing, value)
                owners[path] = f"{NAMESPACE}:{key}"
                return None
            return _set_twice((*path, *both), key, owners)
        if last:
            return _set_twice(path, key, owners)
        if not isinstance(existing, Mapping):
            return _not_a_mapping(here, existing, key, owners)
        if not isinstance(existing, dict):
            node[part] = existing = dict(existing)
        node = existing
    return None


def _first_shared(a: Mapping[str, Any], b: Mapping[str, Any]) -> Path | None:
    # The first key both mappings set to something other than two mappings.
    for key, value in b.items():
        if key not in a:
            continue
        if isinstance(a[key], Mapping) and isinstance(value, Mapping):
            inner = _first_shared(a[key], value)
            if inner is not None:
                return (key, *inner)
        else:
            return (key,)
    return None


def _owner(path: Path, owners: Mapping[Path, str]) -> tuple[Path, str]:
    for length in range(len(path), 0, -1):
        if path[:length] in owners:
            return path[:length], owners[path[:length]]
    return (), NAMESPACE


def _set_twice(path: Path, key: str, owners: Mapping[Path, str]) -> str:
    owner_path, other = _owner(path, owners)
    message = (
        f"{NAMESPACE}:{'.'.join(path)} is set twice: by the flat key {NAMESPACE}:{key} and "
        f"inside {other}; keep one"
    )
    if len(owner_path) == 1:  # the nested form
        return (
            f"{message} (`pulumi config rm {key}` removes the flat key, "
            f"`pulumi config rm --path {dotted(path)}` the nested one)"
        )
    return f"{message} (`pulumi config rm <key>` removes a flat key)"


def _not_a_mapping(here: Path, existing: Any, key: str, owners: Mapping[Path, str]) -> str:
    owner_path, other = _owner(here, owners)
    inner = ".".join(here[len(owner_path) :])
    what = f"{other} = {existing!r}" if not inner else f"{other}, whose {inner} = {existing!r}"
    return (
        f"{NAMESPACE}:{key} conflicts with {what}, which is a single value, not a mapping "
        "of keys: keep one of the two"
    )


def _unknown_flat_key(key: str, target: Unresolved, value: Any) -> str:
    full = f"{NAMESPACE}:{key}"
    if not target.allowed:
        return (
            f"{full} is not a known key: {NAMESPACE}:{'.'.join(target.known)} takes a single "
            "value, not keys"
        )
    message = unknown_key(full, target.part, target.allowed)
    close = difflib.get_close_matches(target.part, target.allowed, n=1)
    if close:
        parts = key.split(".")
        index = len(target.known)
        meant = resolve(".".join([*parts[:index], close[0], *parts[index + 1 :]]))
        if isinstance(meant, Resolved):
            message += (
                f"; `pulumi config set --path {dotted(meant.path)} {_shown(value)}` "
                "writes the nested form"
            )
    return message


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if text and len(text) <= 40 and not re.search(r"[\s'\"`$]", text) else "<value>"
