"""Find the Pulumi project and read a stack's config file the way the Pulumi CLI would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from airflow_platform.config.load import EPHEMERAL_STACK

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
    """The stack file's `config:`; a `pr-<n>` stack without a file follows dev's."""
    path = project.stack_file(stack)
    if not path.is_file():
        if EPHEMERAL_STACK.fullmatch(stack) and project.stack_file(EPHEMERAL_BASE_STACK).is_file():
            base = read_stack_config(project, EPHEMERAL_BASE_STACK)
            tier_key = f"{project.name}:tier"
            return StackConfig(
                values={k: v for k, v in base.values.items() if k != tier_key},
                secret_keys=[k for k in base.secret_keys if k != tier_key],
            )
        if EPHEMERAL_STACK.fullmatch(stack):
            return StackConfig(values={}, secret_keys=[])
        known = ", ".join(project.known_stacks()) or "none"
        raise ProjectError(
            f"no stack file {path.relative_to(project.root)} for stack {stack!r}; "
            f"stacks with a file: {known}; ephemeral stacks are named pr-<number>"
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ProjectError(f"{path} is not valid YAML: {error}") from None
    raw = data.get("config") or {}
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
