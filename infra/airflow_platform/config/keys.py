"""Config keys as paths through the schema.

A stack file may name a nested key two ways. Nested, as `pulumi config set --path
network.azCount 3` writes it (`airflow-platform:network: {azCount: 3}`), or flat, as
`pulumi config set network.azCount 3` writes it without `--path` (`airflow-platform:network.azCount:
"3"`). `resolve` maps a flat key onto the schema: which nested key it names, and whether its value
is an object or list (which Pulumi hands over as JSON text). A key inside a mapping of free keys
(`tags`, `mwaa.airflowOptions`) keeps its own dots: `mwaa.airflowOptions.core.parallelism` names
the option `core.parallelism`.

Paths are tuples of camelCase keys from the namespace's root, such as `("network", "azCount")`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from airflow_platform.config.base import nested_model
from airflow_platform.config.model import PlatformConfig

NAMESPACE = "airflow-platform"
"""The project's config namespace: `airflow-platform:<key>`."""
Path = tuple[str, ...]
_UNKNOWN_RANK = 1_000_000


def fields_of(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """A section's fields by their stack-file (camelCase) key, in the schema's order."""
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _is_mapping_of_free_keys(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is dict


def is_structured(annotation: Any) -> bool:
    """Whether a field holds an object or a list (JSON text in Pulumi's config)."""
    return nested_model(annotation) is not None or getattr(annotation, "__origin__", None) in (
        dict,
        list,
    )


@dataclass(frozen=True)
class Resolved:
    """A key the schema knows."""

    path: Path
    structured: bool
    """Its value is an object or a list, not a single value."""


@dataclass(frozen=True)
class Unresolved:
    """A key the schema does not know."""

    known: Path
    """The leading part that names known keys."""
    part: str
    """The first part that does not."""
    allowed: list[str]
    """The keys allowed in place of `part`; empty when `known` holds a single value."""


def resolve(dotted: str) -> Resolved | Unresolved:
    """The nested key a (possibly flat, dotted) key names."""
    parts = dotted.split(".")
    model: type[BaseModel] = PlatformConfig
    path: list[str] = []
    for index, part in enumerate(parts):
        fields = fields_of(model)
        if part not in fields:
            return Unresolved(tuple(path), part, sorted(fields))
        path.append(part)
        annotation = fields[part].annotation
        rest = parts[index + 1 :]
        nested = nested_model(annotation)
        if nested is not None:
            model = nested
            continue
        if _is_mapping_of_free_keys(annotation):
            if rest:
                return Resolved((*path, ".".join(rest)), structured=False)
            return Resolved(tuple(path), structured=True)
        if rest:
            return Unresolved(tuple(path), rest[0], [])
        return Resolved(tuple(path), structured=is_structured(annotation))
    return Resolved(tuple(path), structured=True)


def field_at(path: Sequence[str]) -> FieldInfo | None:
    """The schema field a path names, if it names one."""
    model: type[BaseModel] | None = PlatformConfig
    field = None
    for part in path:
        if model is None:
            return None
        field = fields_of(model).get(part)
        if field is None:
            return None
        model = nested_model(field.annotation)
    return field


def field_path(loc: Sequence[str | int]) -> Path:
    """The field a validation error's location is about: the location cut after its first
    field that is not a section (a list's item or a mapping's entry is its field's problem);
    an unknown key is its own path."""
    model: type[BaseModel] | None = PlatformConfig
    path: list[str] = []
    for part in loc:
        if model is None:
            break
        fields = fields_of(model)
        path.append(str(part))
        if not isinstance(part, str) or part not in fields:
            break
        model = nested_model(fields[part].annotation)
    return tuple(path)


def rank(path: Path) -> tuple[int, ...]:
    """Sort key: the schema's order (depth first); unknown keys after their section's fields."""
    model: type[BaseModel] | None = PlatformConfig
    ranks = []
    for part in path:
        fields = fields_of(model) if model is not None else {}
        if part not in fields:
            ranks.append(_UNKNOWN_RANK)
            model = None
            continue
        ranks.append(list(fields).index(part))
        model = nested_model(fields[part].annotation)
    return tuple(ranks)


def overlaps(a: Path, b: Path) -> bool:
    """Whether one path is the other or inside it."""
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


MISSING: Any = object()


def lookup(tree: Mapping[str, Any], path: Path) -> Any:
    """The value at `path` in nested mappings, or MISSING."""
    node: Any = tree
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


def leaf_paths(tree: Mapping[str, Any], prefix: Path = ()) -> list[Path]:
    """The paths of the non-mapping values in nested mappings."""
    paths: list[Path] = []
    for key, value in tree.items():
        here = (*prefix, key)
        paths += leaf_paths(value, here) if isinstance(value, Mapping) else [here]
    return paths


def dotted(path: Path) -> str:
    """A path as `pulumi config set --path` takes it (a key holding dots in brackets)."""
    text = ""
    for part in path:
        text += f'["{part}"]' if "." in part else (f".{part}" if text else part)
    return text


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` wins; nested mappings merge key by key; lists and scalars replace."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def unknown_key(full_key: str, key: str, allowed: list[str]) -> str:
    """`<key> is not a known key (did you mean ...?); allowed here: ...`."""
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{full_key} is not a known key{hint}; allowed here: {', '.join(allowed)}"


def allowed_keys(path: list[str]) -> list[str]:
    """The keys a section at `path` allows (empty when `path` is no section)."""
    model: type[BaseModel] | None = PlatformConfig
    for part in path:
        fields = fields_of(model)
        model = nested_model(fields[part].annotation) if part in fields else None
        if model is None:
            return []
    return sorted(fields_of(model))
