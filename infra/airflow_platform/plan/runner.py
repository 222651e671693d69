"""Run the Pulumi program in-process under the SDK's mock runtime and record what it declares.

The program is the real `infra/__main__.py`, run by the SDK's own stack runner
(`run_in_stack`), as the Pulumi language host would run it. A recording monitor keeps the
raw registration requests: they carry what the engine would see (parent, protect,
retainOnDelete, dependencies from `dependsOn` and from Output inputs), which the mocks'
own arguments do not.
"""

from __future__ import annotations

import asyncio
import runpy
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as runtime_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack

from airflow_platform.plan.mocks import PLACEHOLDER_ACCOUNT_ID, PlanMocks
from airflow_platform.plan.project import SECRET_PLACEHOLDER, Project, StackConfig
from airflow_platform.versions import REPO_ROOT

STACK_TYPE = "pulumi:pulumi:Stack"
UNKNOWN = rpc.UNKNOWN


@dataclass(frozen=True)
class DeclaredResource:
    """One resource registration, as the engine would receive it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    protect: bool
    retain_on_delete: bool
    dependencies: list[str]
    inputs: dict[str, Any]
    provider: str = ""
    """The explicit provider reference (`<provider urn>::<id>`), empty for the default one:
    the cost estimate reads a resource's region from it (a second region's provider)."""


@dataclass(frozen=True)
class ProgramRun:
    """What one run of the program declared and exported."""

    project: str
    stack: str
    resources: list[DeclaredResource]
    outputs: dict[str, Any]


class _RecordingMonitor(runtime_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks, asset_root: Path) -> None:
        super().__init__(mocks)
        self.asset_root = asset_root
        self.declared: dict[str, DeclaredResource] = {}
        self.stack_outputs: dict[str, Any] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine's rule: the qualified type is the chain of all ancestors' types, the root
        # stack excluded. (The mock monitor keeps only the parent's last type, and includes
        # the stack's, which is not what `pulumi preview` prints.)
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != STACK_TYPE:
                type_ = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        self.declared[response.urn] = DeclaredResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent,
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            dependencies=sorted(set(request.dependencies)),
            inputs=reveal_safely(inputs, self.asset_root),
            provider=str(request.provider or ""),
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        if request.urn.split("::")[2] == STACK_TYPE:
            self.stack_outputs = reveal_safely(
                rpc.deserialize_properties(request.outputs, keep_unknowns=True), self.asset_root
            )
        return super().RegisterResourceOutputs(request)


def reveal_safely(value: Any, asset_root: Path = REPO_ROOT) -> Any:
    """Plain JSON data with every secret replaced by a placeholder, and assets as
    `{"asset": {"path": ...}}` (a path inside `asset_root`, the project, relative to it, so a
    plan does not depend on where the checkout lives)."""
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        kind = "asset" if isinstance(value, pulumi.FileAsset) else "archive"
        return {kind: {"path": _relative(value.path, asset_root)}}
    if isinstance(value, pulumi.StringAsset):
        return {"asset": {"text": value.text}}
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return SECRET_PLACEHOLDER
        return {key: reveal_safely(item, asset_root) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [reveal_safely(item, asset_root) for item in value]
    return value


def _relative(path: str, root: Path) -> str:
    resolved, root = Path(path).resolve(), root.resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(resolved)


def run_program(
    project: Project,
    stack: str,
    config: StackConfig,
    account_id: str = PLACEHOLDER_ACCOUNT_ID,
) -> ProgramRun:
    """Run `project.main` for `stack` under mocks and return what it declared.

    Exceptions the program raises (a `ConfigError`, say) propagate unchanged.
    """
    main = project.main / "__main__.py"
    program_dir = str(project.main)
    added_path = program_dir not in sys.path
    if added_path:
        sys.path.insert(0, program_dir)
    try:
        return run_function(
            lambda: runpy.run_path(str(main), run_name="__main__"),
            project=project.name,
            stack=stack,
            config=config,
            account_id=account_id,
            asset_root=project.root,
        )
    finally:
        if added_path:
            sys.path.remove(program_dir)


def run_function(
    program: Callable[[], Any],
    project: str,
    stack: str,
    config: StackConfig,
    account_id: str = PLACEHOLDER_ACCOUNT_ID,
    asset_root: Path = REPO_ROOT,
) -> ProgramRun:
    """Run `program` as a Pulumi program under mocks and return what it declared (file
    assets' paths relative to `asset_root`)."""
    region = str(config.values.get("aws:region") or "us-east-1")
    # A loop of our own, installed before set_mocks: the runtime binds its futures to the
    # current loop when it is configured.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    monitor = _RecordingMonitor(PlanMocks(region=region, account_id=account_id), asset_root)
    pulumi.runtime.set_mocks(
        monitor.mocks, project=project, stack=stack, preview=True, monitor=monitor
    )
    # set_mocks starts a root stack of its own; the stack runner below starts the real one.
    runtime_settings.set_root_resource(None)
    set_all_config(config.runtime_config(), config.secret_keys)
    try:
        loop.run_until_complete(run_in_stack(program))
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    return ProgramRun(
        project=project,
        stack=stack,
        resources=list(monitor.declared.values()),
        outputs=monitor.stack_outputs,
    )
