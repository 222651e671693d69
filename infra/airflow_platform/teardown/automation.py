"""The Pulumi state backend behind a small interface, `StackBackend`: what `destroy` and the
reaper need from it (list the stacks, a stack's resources and outputs, destroy some or all of
its resources, remove it), so that selection and ordering are tested against an in-memory
stand-in and only `PulumiAutomationBackend` talks to Pulumi.

`PulumiAutomationBackend` drives the Pulumi CLI through the Automation API's `LocalWorkspace`
on the project folder (the SDK runs `pulumi stack ls --json`, `pulumi stack output --json`,
`pulumi stack export`, `pulumi destroy --target ... --target-dependents`, `pulumi stack rm`:
pulumi/automation/_local_workspace.py and _stack.py of the installed SDK). It therefore needs
at run time the `pulumi` binary on PATH (LocalWorkspace runs `pulumi version` when it is
built) and the backend's login in the environment: PULUMI_BACKEND_URL (unset: Pulumi Cloud)
with PULUMI_ACCESS_TOKEN for Pulumi Cloud, PULUMI_CONFIG_PASSPHRASE for a passphrase secrets
provider, and the cloud credentials the program's providers use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from airflow_platform.config.load import EPHEMERAL_STACK

if TYPE_CHECKING:
    from pulumi.automation import LocalWorkspace

EXPIRES_AT_OUTPUT = "expiresAt"
"""The stack output holding when an ephemeral stack may be reaped (infra/__main__.py)."""


class BackendError(Exception):
    """The backend could not do what was asked; the message says what and why."""


class PulumiMissingError(BackendError):
    """The Pulumi CLI, which the Automation API drives, is not installed."""


@dataclass(frozen=True)
class StackSummary:
    """One stack of the backend, as the reaper sees it."""

    name: str
    """The stack's own name (`pr-7`), without the organisation or project."""
    expires_at: Any | None
    """The `expiresAt` output as stored (a string when well formed), or None when the stack
    has no such output (not yet deployed, or a tier without one)."""
    last_update: datetime | None = None
    outputs_error: str | None = None
    """Why the outputs could not be read, if they could not."""


@dataclass(frozen=True)
class StackResource:
    """One resource of a stack's state."""

    urn: str
    type: str
    """Its type token, e.g. `aws:lambda/function:Function`, `kubernetes:helm.sh/v3:Release`."""


class StackBackend(Protocol):
    """What tearing a stack down needs from the Pulumi state backend."""

    def list_stacks(self) -> list[StackSummary]:
        """The project's stacks in the backend."""
        ...

    def resources(self, stack: str) -> list[StackResource]:
        """The resources in the stack's state (its deployment)."""
        ...

    def outputs(self, stack: str) -> dict[str, Any]:
        """The stack's outputs, name to plain value."""
        ...

    def destroy(self, stack: str, targets: Sequence[str] | None) -> None:
        """Destroy `targets` (URNs) and everything that depends on them; None: everything
        left in the stack. Raises BackendError when Pulumi reports a failure."""
        ...

    def remove(self, stack: str) -> None:
        """Remove the (empty) stack from the backend."""
        ...


def resources_of_deployment(deployment: Mapping[str, Any] | None) -> list[StackResource]:
    """The resources of `pulumi stack export`'s `deployment` object (its `resources` list,
    each with `urn` and `type`)."""
    return [
        StackResource(urn=str(resource["urn"]), type=str(resource["type"]))
        for resource in (deployment or {}).get("resources") or []
        if "urn" in resource and "type" in resource
    ]


def short_name(listed: str) -> str:
    """`pr-7` of `pr-7`, `org/pr-7` or `org/project/pr-7` (how `pulumi stack ls` names a
    stack depends on the backend)."""
    return listed.rsplit("/", 1)[-1]


class PulumiAutomationBackend:
    """`StackBackend` on the Pulumi Automation API: a `LocalWorkspace` on the project folder
    (the program is the project's own, `main:` of Pulumi.yaml).

    The workspace is built on first use: building it runs `pulumi version`, so a missing CLI
    is reported as a BackendError naming PATH, not at import or construction time.
    """

    def __init__(
        self,
        work_dir: Path,
        org: str | None = None,
        on_output: Callable[[str], None] | None = None,
        workspace: LocalWorkspace | None = None,
    ) -> None:
        self.work_dir = work_dir
        self.org = org
        """The Pulumi Cloud organisation to qualify stack names with (`org/pr-7`)."""
        self.on_output = on_output
        """Receives the Pulumi CLI's output lines while a destroy runs."""
        self._workspace = workspace
        self._listed: dict[str, str] = {}

    @property
    def workspace(self) -> LocalWorkspace:
        if self._workspace is None:
            from pulumi.automation import LocalWorkspace

            try:
                self._workspace = LocalWorkspace(work_dir=str(self.work_dir))
            except FileNotFoundError:
                raise PulumiMissingError(
                    "the Pulumi CLI (`pulumi`) is not on PATH: the Automation API drives it; "
                    "install it (https://www.pulumi.com/docs/install/) or add it to PATH"
                ) from None
        return self._workspace

    def _ref(self, stack: str) -> str:
        """The name to give the CLI: as listed, else qualified with the organisation."""
        if stack in self._listed:
            return self._listed[stack]
        return f"{self.org}/{stack}" if self.org else stack

    def _run(self, what: str, call: Callable[[], Any]) -> Any:
        from pulumi.automation.errors import CommandError

        try:
            return call()
        except CommandError as error:
            raise BackendError(f"{what} failed: {_last_lines(str(error))}") from None

    def list_stacks(self) -> list[StackSummary]:
        listed = self._run("listing the stacks", self.workspace.list_stacks)
        stacks = []
        for summary in listed:
            name = short_name(summary.name)
            self._listed[name] = summary.name
            expires_at, problem = None, None
            # Only a pr-<n> stack's outputs are read: reading them decrypts secrets
            # (`stack output --show-secrets`), which no other stack should need for this,
            # and no other stack is ever reaped whatever its outputs say.
            if EPHEMERAL_STACK.fullmatch(name):
                try:
                    expires_at = self.outputs(name).get(EXPIRES_AT_OUTPUT)
                except BackendError as error:
                    problem = str(error)
            stacks.append(StackSummary(name, expires_at, summary.last_update, problem))
        return stacks

    def resources(self, stack: str) -> list[StackResource]:
        ref = self._ref(stack)
        deployment = self._run(f"exporting {ref}", lambda: self.workspace.export_stack(ref))
        return resources_of_deployment(deployment.deployment)

    def outputs(self, stack: str) -> dict[str, Any]:
        ref = self._ref(stack)
        outputs = self._run(f"reading {ref}'s outputs", lambda: self.workspace.stack_outputs(ref))
        return {name: output.value for name, output in outputs.items()}

    def destroy(self, stack: str, targets: Sequence[str] | None) -> None:
        from pulumi.automation import Stack

        ref = self._ref(stack)
        selected = self._run(f"selecting {ref}", lambda: Stack.select(ref, self.workspace))
        what = f"destroying {len(targets)} resource(s) of {ref}" if targets else f"destroying {ref}"
        self._run(
            what,
            lambda: selected.destroy(
                target=list(targets) if targets else None,
                target_dependents=True if targets else None,
                on_output=self.on_output,
                color="never",
            ),
        )

    def remove(self, stack: str) -> None:
        ref = self._ref(stack)
        self._run(f"removing {ref}", lambda: self.workspace.remove_stack(ref))


def _last_lines(text: str, count: int = 8) -> str:
    """The end of the CLI's output, where Pulumi prints the error."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:]) if lines else "(no output)"
