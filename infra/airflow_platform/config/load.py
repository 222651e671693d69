"""Read a stack's config, apply its tier's defaults, validate it in full, once.

`load_settings()` is what the Pulumi program calls; it reads through `pulumi.Config`.
`settings_from_values()` does the work on plain values so the CLI and tests can call it
without a Pulumi runtime. Keys may be nested or flat (`airflow-platform:network.azCount`, as
`pulumi config set` writes them without --path), values native or strings ("3", "true").
Every problem (bad values, rules across keys, tier floors, the checks here) is found in one
pass and raised as one `ConfigError`, a `pulumi.RunError`, so `pulumi up` prints the message
alone, without a Python traceback.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pulumi
from pydantic import BaseModel, ValidationError

from airflow_platform.config.keys import (
    MISSING,
    Path,
    Resolved,
    Unresolved,
    dotted,
    field_at,
    field_path,
    fields_of,
    leaf_paths,
    lookup,
    overlaps,
    rank,
    resolve,
)
from airflow_platform.config.model import (
    REGION,
    Platform,
    PlatformConfig,
    RuleCollector,
    Tier,
    nested_model,
)
from airflow_platform.config.tiers import TEARDOWN, TIER_DEFAULTS, Teardown

NAMESPACE = "airflow-platform"
EPHEMERAL_STACK = re.compile(r"^pr-(\d+)$")
_STACK_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
# Longest bucket name the platform derives: airflow-<stack>-backups-<account id>-<region>.
_LONGEST_BUCKET_PURPOSE = "backups"
_ACCOUNT_ID_LENGTH = 12


class ConfigError(pulumi.RunError):
    """The stack's config is invalid; the message names each key, value and what is allowed."""


@dataclass(frozen=True)
class Settings:
    """Everything the program needs to know about the stack, validated."""

    project: str
    stack: str
    region: str
    config: PlatformConfig
    expires_at: datetime | None
    """When an ephemeral stack may be reaped; None on long-lived tiers."""

    @property
    def tier(self) -> Tier:
        return self.config.tier

    @property
    def platform(self) -> Platform:
        return self.config.platform

    @property
    def teardown(self) -> Teardown:
        return TEARDOWN[self.config.tier]


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` wins; nested mappings merge key by key; lists and scalars replace."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def settings_from_values(
    project: str,
    stack: str,
    values: Mapping[str, Any],
    now: datetime | None = None,
) -> Settings:
    """Validate `values` (namespaced keys such as `airflow-platform:tier` and `aws:region`,
    objects already parsed or as JSON text; flat dotted keys such as
    `airflow-platform:network.azCount` name the nested key) for `stack`, or raise one
    ConfigError listing every problem."""
    settings, problems = _evaluate(project, stack, values, now)
    if settings is None:
        raise ConfigError(_message(stack, problems))
    return settings


def load_settings(now: datetime | None = None) -> Settings:
    """Read and validate the current stack's config through `pulumi.Config`."""
    # Like the AWS provider, fall back to the environment's region when the stack sets none.
    region = (
        pulumi.Config("aws").get("region")
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
    )
    values: dict[str, Any] = {"aws:region": region}
    problems: list[str] = []
    config = pulumi.Config(NAMESPACE)
    for key in _namespace_keys():
        # A flat key (`network.azCount`, from `pulumi config set` without --path) is read as
        # it is stored, then unflattened; objects and lists arrive as JSON text.
        target = resolve(key)
        structured = isinstance(target, Resolved) and target.structured
        try:
            values[f"{NAMESPACE}:{key}"] = config.get_object(key) if structured else config.get(key)
        except Exception as error:
            problems.append(f"{NAMESPACE}:{key} is not valid YAML/JSON: {error}")
    values = {key: value for key, value in values.items() if value is not None}
    settings, found = _evaluate(pulumi.get_project(), pulumi.get_stack(), values, now)
    problems += found
    if problems or settings is None:
        raise ConfigError(_message(pulumi.get_stack(), problems))
    return settings


def _evaluate(
    project: str, stack: str, values: Mapping[str, Any], now: datetime | None
) -> tuple[Settings | None, list[str]]:
    problems: list[str] = []
    ours = {
        key.split(":", 1)[1]: value
        for key, value in values.items()
        if key.startswith(f"{NAMESPACE}:")
    }

    region = values.get("aws:region")
    if region is None:
        problems.append("aws:region is required; set it to an AWS region such as eu-west-1")
    elif not isinstance(region, str) or not REGION.fullmatch(region):
        problems.append(
            f"aws:region = {region!r} is not allowed: expected a region such as eu-west-1"
        )

    problems += _stack_name_problems(stack, region if isinstance(region, str) else "us-east-1")
    tier = _resolve_tier(stack, ours, problems)
    user, key_problems = _nest(ours)
    problems += key_problems

    # Problems about config keys, listed in the schema's order.
    keyed: list[tuple[Path, str]] = _existing_vpc_problems(user.get("network"))
    config, found, reset = _validate(user, tier)
    keyed += found
    if config is not None:
        keyed += _settings_problems(config, region, reset)
    problems += [message for _, message in sorted(keyed, key=lambda item: rank(item[0]))]
    problems = list(dict.fromkeys(problems))
    if problems or config is None or tier is None:
        return None, problems

    expires_at = None
    if config.tier is Tier.EPHEMERAL:
        expires_at = config.ephemeral.expires_at or _expiry(now, config.ephemeral.ttl_hours)
    return Settings(project, stack, str(region), config, expires_at), []


# Validation rounds before giving up on resetting invalid values (each round resets more).
_MAX_ROUNDS = 5
_TIER: Path = ("tier",)


def _validate(
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


def _settings_problems(
    config: PlatformConfig, region: Any, reset: set[Path]
) -> list[tuple[Path, str]]:
    # Rules across the stack's config and its aws:region.
    replica: Path = ("backup", "replicaRegion")
    if config.backup.replica_region is None or config.backup.replica_region != region:
        return []
    if any(overlaps(replica, done) for done in reset):
        return []
    return [
        (
            replica,
            f"{NAMESPACE}:backup.replicaRegion = {region!r} is not allowed: it is the stack's "
            "own aws:region; choose a second region",
        )
    ]


def _nest(ours: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
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
            problems.append(_unknown_key(f"{NAMESPACE}:{key}", key, sorted(known)))
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
    message = _unknown_key(full, target.part, target.allowed)
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


def _namespace_keys() -> list[str]:
    # pulumi.Config reads one key at a time; unknown keys (typos) are found by listing the
    # whole namespace, from the runtime's map and from PULUMI_CONFIG.
    from pulumi.runtime import config as runtime_config

    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    names = set()
    for key in keys:
        namespace, _, name = key.partition(":")
        name = name.removeprefix("config:")  # the legacy "ns:config:key" form
        if namespace == NAMESPACE and name:
            names.add(name)
    return sorted(names)


def _resolve_tier(stack: str, ours: Mapping[str, Any], problems: list[str]) -> Tier | None:
    allowed = ", ".join(t.value for t in Tier)
    raw = ours.get("tier")
    if EPHEMERAL_STACK.fullmatch(stack):
        if raw not in (None, Tier.EPHEMERAL.value):
            problems.append(
                f"{NAMESPACE}:tier = {raw!r} is not allowed for stack {stack!r}: "
                "stacks named pr-<number> are always ephemeral"
            )
            return None
        return Tier.EPHEMERAL
    if raw is None:
        problems.append(f"{NAMESPACE}:tier is required; allowed: {allowed}")
        return None
    try:
        return Tier(raw)
    except ValueError:
        problems.append(f"{NAMESPACE}:tier = {raw!r} is not allowed; allowed: {allowed}")
        return None


def _stack_name_problems(stack: str, region: str) -> list[str]:
    if not _STACK_NAME.fullmatch(stack):
        return [
            f"stack name {stack!r} is not allowed: use lowercase letters, digits and hyphens "
            "(it becomes part of bucket names)"
        ]
    if "--" in stack:
        return [
            f"stack name {stack!r} is not allowed: two hyphens in a row cannot appear in RDS "
            "identifiers (airflow-<stack>-metadata)"
        ]
    longest = (
        len(f"airflow-{stack}-{_LONGEST_BUCKET_PURPOSE}-") + _ACCOUNT_ID_LENGTH + len(f"-{region}")
    )
    if longest > 63:
        room = len(stack) - (longest - 63)
        return [
            f"stack name {stack!r} is too long for bucket names in {region}: "
            f"at most {room} characters are allowed"
        ]
    return []


def _existing_vpc_problems(network: Any) -> list[tuple[Path, str]]:
    # "Exactly one of create / existing": judged on what the stack file says, before the
    # tier's create-mode defaults are merged in.
    if not isinstance(network, Mapping) or "existingVpc" not in network:
        return []
    clash = sorted(key for key in network if key != "existingVpc")
    if not clash:
        return []
    return [
        (
            ("network", "existingVpc"),
            f"{NAMESPACE}:network sets existingVpc together with {', '.join(clash)}: "
            "either create a VPC (vpcCidr, azCount, natGatewayPerAz, flowLogs, ...) or use "
            "existingVpc, not both",
        )
    ]


def _unknown_key(full_key: str, key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{full_key} is not a known key{hint}; allowed here: {', '.join(allowed)}"


def _describe(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error["loc"]]
    key = f"{NAMESPACE}:{'.'.join(loc)}" if loc else NAMESPACE
    if error["type"] == "extra_forbidden":
        return _unknown_key(key, loc[-1], _allowed_keys(loc[:-1]))
    if error["type"] == "missing":
        return f"{key} is required"
    message = str(error["msg"]).removeprefix("Value error, ")
    if not loc:  # a rule across several keys; its message names them
        return message
    if isinstance(error["input"], Mapping):  # a rule across the keys of one section
        return f"{key}: {message}"
    return f"{key} = {error['input']!r} is not allowed: {message}"


def _allowed_keys(path: list[str]) -> list[str]:
    model: type[BaseModel] | None = PlatformConfig
    for part in path:
        fields = fields_of(model)
        model = nested_model(fields[part].annotation) if part in fields else None
        if model is None:
            return []
    return sorted(fields_of(model))


def _expiry(now: datetime | None, ttl_hours: int) -> datetime:
    # Floored to the hour: repeated plans within an hour agree, so a preview does not show
    # every resource's expires-at tag changing.
    start = (now or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return start + timedelta(hours=ttl_hours)


def _message(stack: str, problems: list[str]) -> str:
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return f"invalid config for stack {stack!r}:\n{lines}"
