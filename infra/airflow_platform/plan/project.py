"""Find the Pulumi project and read a stack's config file the way the Pulumi CLI would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from airflow_platform.config.keys import fields_of
from airflow_platform.config.load import EPHEMERAL_STACK
from airflow_platform.config.model import PlatformConfig

SECRET_PLACEHOLDER = "[secret]"  # noqa: S105 - what a secret is shown as, not one
PROJECT_FILE = "Pulumi.yaml"


class ProjectError(Exception):
    """The project or the stack's config file cannot be used; the message says why."""


@dataclass(frozen=True)
class Project:
    """A Pulumi project on disk."""

    root: Path
    name: str
    main: Path
    """The program directory (`main:`)."""
    stack_dir: Path
    """Where `Pulumi.<stack>.yaml` files live (`stackConfigDir:`)."""

    @classmethod
    def at(cls, project_dir: Path | None) -> Project:
        """The project in `project_dir` (a command's --project-dir), else the one `find`
        finds from the working directory."""
        return cls.load(project_dir.resolve()) if project_dir else cls.find()

    @classmethod
    def find(cls, start: Path | None = None) -> Project:
        """The nearest directory at or above `start` holding a Pulumi.yaml."""
        here = (start or Path.cwd()).resolve()
        for directory in (here, *here.parents):
            if (directory / PROJECT_FILE).is_file():
                return cls.load(directory)
        raise ProjectError(f"no {PROJECT_FILE} in {here} or any parent; pass --project-dir")

    @classmethod
    def load(cls, root: Path) -> Project:
        path = root / PROJECT_FILE
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ProjectError(f"cannot read {path}: {error}") from None
        if "name" not in data:
            raise ProjectError(f"{path} has no name")
        return cls(
            root=root,
            name=str(data["name"]),
            main=root / str(data.get("main", ".")),
            stack_dir=root / str(data.get("stackConfigDir", ".")),
        )

    def stack_file(self, stack: str) -> Path:
        return self.stack_dir / f"Pulumi.{stack}.yaml"

    def known_stacks(self) -> list[str]:
        return sorted(
            p.name.removeprefix("Pulumi.").removesuffix(".yaml")
            for p in self.stack_dir.glob("Pulumi.*.yaml")
        )


@dataclass(frozen=True)
class StackConfig:
    """A stack's config as the Pulumi engine hands it to the program."""

    values: dict[str, Any]
    """Namespaced key to value, objects parsed; secure values replaced by a placeholder."""
    secret_keys: list[str]
    """Keys whose value (or a part of it) is a secret."""

    def runtime_config(self) -> dict[str, str]:
        """Key to string, the form `pulumi.runtime.set_all_config` takes (objects as JSON)."""
        return {key: _as_config_string(value) for key, value in self.values.items()}


EPHEMERAL_BASE_STACK = "dev"
"""A `pr-<n>` stack without a file of its own follows this stack's file, tier aside."""


def read_stack_config(project: Project, stack: str) -> StackConfig:
    """The stack file's `config:`; a `pr-<n>` stack without a file (or with one holding only
    what `pulumi stack init` writes, such as `encryptionsalt:`) follows dev's."""
    path = project.stack_file(stack)
    data = _stack_file(project, path) if path.is_file() else None
    if data is None:
        if EPHEMERAL_STACK.fullmatch(stack) and project.stack_file(EPHEMERAL_BASE_STACK).is_file():
            base = read_stack_config(project, EPHEMERAL_BASE_STACK)
            tier_key = f"{project.name}:tier"
            return StackConfig(
                values={k: v for k, v in base.values.items() if k != tier_key},
                secret_keys=[k for k in base.secret_keys if k != tier_key],
            )
        if EPHEMERAL_STACK.fullmatch(stack):
            return StackConfig(values={}, secret_keys=[])
        if path.is_file():  # empty, or only Pulumi's own keys: a named stack needs its config
            raise ProjectError(_without_config(project, path, yaml.safe_load(path.read_text())))
        known = ", ".join(project.known_stacks()) or "none"
        raise ProjectError(
            f"no stack file {path.relative_to(project.root)} for stack {stack!r}; "
            f"stacks with a file: {known}; ephemeral stacks are named pr-<number>"
        )
    raw = data["config"] or {}
    if not isinstance(raw, dict):
        raise ProjectError(f"{path}: config must be a mapping of keys to values")
    values: dict[str, Any] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        key = str(key)
        if ":" not in key:
            # The Pulumi CLI puts a bare key in the project's namespace.
            key = f"{project.name}:{key}"
        hidden, is_secret = _hide_secrets(value)
        values[key] = hidden
        if is_secret:
            secret_keys.append(key)
    return StackConfig(values=values, secret_keys=secret_keys)


# What a stack file holds besides `config:` (Pulumi's own keys).
_STACK_FILE_KEYS = frozenset(
    {"config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"}
)


def _stack_file(project: Project, path: Path) -> dict[str, Any] | None:
    """The stack file's mapping, or None when it states no config at all: empty, or only
    Pulumi's own keys (`pulumi stack init` writes `encryptionsalt:` alone). A file whose
    other top-level keys are not Pulumi's (config keys left outside `config:`) is refused."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ProjectError(f"{path} is not valid YAML: {error}") from None
    if data is None:
        return None
    if not isinstance(data, dict) or not set(map(str, data)) <= _STACK_FILE_KEYS:
        raise ProjectError(_without_config(project, path, data))
    return data if "config" in data else None


def _without_config(project: Project, path: Path, data: Any) -> str:
    shown = path.relative_to(project.root) if path.is_relative_to(project.root) else path
    what = "is empty" if data is None else "has no top-level `config:`"
    if data is not None and not isinstance(data, dict):
        what = "is not a mapping with a top-level `config:`"
    message = (
        f"{shown} {what}: a stack's keys must sit under a top-level `config:` mapping, "
        f"indented below it (`config:`, then `  {project.name}:tier: dev`)"
    )
    looks_like_config = [
        str(key)
        for key in (data if isinstance(data, dict) else {})
        if str(key) not in _STACK_FILE_KEYS
        and (":" in str(key) or str(key).split(".")[0] in fields_of(PlatformConfig))
    ]
    if looks_like_config:
        message += (
            f"; these top-level keys look like config keys: {', '.join(looks_like_config)} "
            "(move them under `config:`)"
        )
    return message


def _hide_secrets(value: Any) -> tuple[Any, bool]:
    # `{secure: <ciphertext>}` needs the stack's secrets provider to decrypt; offline the
    # program sees a placeholder, and the plan shows it as a secret.
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        items = {k: _hide_secrets(v) for k, v in value.items()}
        return {k: v for k, (v, _) in items.items()}, any(s for _, s in items.values())
    if isinstance(value, list):
        items = [_hide_secrets(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _as_config_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), default=str)
